package pipeline

import (
	"errors"
	"sync/atomic"
	"time"
)

// Counters are the live counts of a run. Every field is an atomic counter,
// so any stage may add to it and any reader may take a Snapshot while the
// run goes on. The runner counts items; the sink counts requests, batches,
// retries and throttles.
type Counters struct {
	Read     atomic.Int64 // items read from the sources
	Done     atomic.Int64 // items delivered (and verified, when verifying)
	Skipped  atomic.Int64 // items dropped on purpose
	Failed   atomic.Int64 // items that could not be delivered
	Resumed  atomic.Int64 // items an earlier run finished (also an ActionUpdate done with nothing Changed)
	Bytes    atomic.Int64 // content bytes of delivered items
	Requests atomic.Int64 // API calls made, retries included
	Batches  atomic.Int64 // PostInputs batches delivered
	Retries  atomic.Int64 // calls or inputs re-sent after a retryable error
	Throttle atomic.Int64 // throttling answers received (CONN_THROTTLED and kin)
	// Sync: items an earlier run finished that changed since.
	Updated   atomic.Int64 // inputs updated in place (ActionUpdate done; not in Done)
	Replaced  atomic.Int64 // inputs deleted and posted again (ActionReplace done; also in Done)
	Conflicts atomic.Int64 // failed items whose error wraps ErrContentChanged (also in Failed)
	Deleted   atomic.Int64 // inputs deleted because their items left the sources
	Adopted   atomic.Int64 // items whose input the app already held as it is, taken as theirs (Sync.Adopted; not in Done)

	start time.Time
}

// NewCounters returns counters whose elapsed time starts now.
func NewCounters() *Counters { return &Counters{start: time.Now()} }

// Stats is a point-in-time copy of Counters.
type Stats struct {
	Read, Done, Skipped, Failed, Resumed  int64
	Bytes                                 int64
	Requests, Batches, Retries, Throttle  int64
	Updated, Replaced, Conflicts, Deleted int64
	Adopted                               int64
	Elapsed                               time.Duration

	// ReadAll is set on the Stats that Run returns (never by Snapshot):
	// every source was streamed to its end in this run, none skipped as
	// complete (see Job.ReadAll) and none cut short by Job.Stop or an
	// error, and no item failed in its source (a skip is not a failure).
	// Every item the sources hold was then looked up, so a SyncCheckpoint's
	// Unseen yields only inputs whose items left: a run deletes nothing
	// unless ReadAll is set (and Run returned no error).
	ReadAll bool
}

// Snapshot copies the counters. Each field is read atomically; the set as a
// whole may be a few events apart while the run goes on.
func (c *Counters) Snapshot() Stats {
	s := Stats{
		Read: c.Read.Load(), Done: c.Done.Load(), Skipped: c.Skipped.Load(),
		Failed: c.Failed.Load(), Resumed: c.Resumed.Load(), Bytes: c.Bytes.Load(),
		Requests: c.Requests.Load(), Batches: c.Batches.Load(),
		Retries: c.Retries.Load(), Throttle: c.Throttle.Load(),
		Updated: c.Updated.Load(), Replaced: c.Replaced.Load(),
		Conflicts: c.Conflicts.Load(), Deleted: c.Deleted.Load(), Adopted: c.Adopted.Load(),
	}
	if !c.start.IsZero() {
		s.Elapsed = time.Since(c.start)
	}
	return s
}

// Finished is the number of items with a final result: done, updated,
// adopted, skipped, failed or already done.
func (s Stats) Finished() int64 {
	return s.Done + s.Updated + s.Adopted + s.Skipped + s.Failed + s.Resumed
}

// InFlight is the number of items read but not yet finished.
func (s Stats) InFlight() int64 { return s.Read - s.Finished() }

// Rate returns delivered items per second over the elapsed time.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done) / s.Elapsed.Seconds()
}

// MBps returns delivered megabytes (10^6 bytes) per second over the
// elapsed time.
func (s Stats) MBps() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Bytes) / 1e6 / s.Elapsed.Seconds()
}

// count adds a final result to the counters.
func (c *Counters) count(r Result) {
	switch r.Event {
	case EventDone:
		var sy Sync // the zero Sync: an add
		if r.Item != nil && r.Item.Sync != nil {
			sy = *r.Item.Sync
		}
		switch {
		case sy.Action == ActionUpdate && sy.Changed == 0:
			// Nothing changed on the server (a file touched, its bytes
			// the same): done by an earlier run.
			c.Resumed.Add(1)
		case sy.Action == ActionUpdate:
			c.Updated.Add(1)
		case sy.Adopted:
			// Found on the server as it is, nothing sent.
			c.Adopted.Add(1)
		case sy.Action == ActionReplace:
			c.Done.Add(1)
			c.Replaced.Add(1)
		default:
			c.Done.Add(1)
		}
		c.Bytes.Add(r.Bytes)
	case EventSkipped:
		c.Skipped.Add(1)
	case EventFailed:
		c.Failed.Add(1)
		if errors.Is(r.Err, ErrContentChanged) {
			c.Conflicts.Add(1)
		}
	case EventResumed:
		c.Resumed.Add(1)
	}
}
