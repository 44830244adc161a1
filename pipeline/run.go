package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Job is everything one run needs. Sources, Sink and at least one source are
// required; the rest is optional.
type Job struct {
	// Sources are read one after the other, in order.
	Sources []Source
	// Transforms run in order on every item.
	Transforms []Transform
	Sink       Sink
	// Checkpoint, if set, lets the run skip what earlier runs finished and
	// records what this run gets acknowledged. If it also implements
	// SourceCheckpoint, sources that implement Fingerprinter are recorded
	// complete when they are, and a rerun does not read them again.
	Checkpoint Checkpoint
	// OnResult, if set, is called for every result from one goroutine, after
	// the checkpoint has recorded it (failure report, progress, metrics). It
	// should return quickly; an error ends the run.
	OnResult func(Result) error
	// Workers is the number of transform workers; default GOMAXPROCS.
	Workers int
	// Counters receives the live counts; a new set is made when nil. Pass
	// your own to watch the run (progress display, metrics).
	Counters *Counters
	// Logger receives one line per failed or skipped item; default no-op.
	Logger *zap.Logger
	// Stop, when closed, stops reading new items: what was read is still
	// delivered, recorded and reported (soft shutdown). Cancelling the
	// context of Run stops everything at once (hard shutdown).
	Stop <-chan struct{}
	// ReadAll reads every source, even one the checkpoint holds complete
	// (see SourceCheckpoint), so that every item is looked up. A run that
	// deletes the inputs whose items left the sources must see every item
	// (see SyncCheckpoint.Unseen and Stats.ReadAll).
	ReadAll bool
}

// ErrNoSink and ErrNoSources are returned by Run for an incomplete Job.
var (
	ErrNoSink    = errors.New("pipeline: job has no sink")
	ErrNoSources = errors.New("pipeline: job has no sources")
)

// Run runs the job to the end and returns the final counts. It blocks until
// every goroutine it started has returned. The error is nil when every item
// read got a final result, even if some items failed (see Stats.Failed); it
// is non-nil when the run was cut short: a fatal sink or checkpoint error, a
// source that could not be read, or ctx cancelled. The Stats returned also
// say whether every item of every source was read and looked up
// (Stats.ReadAll).
//
// With a SyncCheckpoint, an item it answers StateUpdate goes on to the
// transforms and the sink as a new one does (the sink reads it.Sync), and an
// item it answers StateConflict ends failed at stage "sync" with an error
// wrapping ErrContentChanged that names the item and the input an earlier
// run made for it (counted in Stats.Conflicts and Stats.Failed), unless
// it.Sync.VerifyContent asks the sink to compare its bytes first: then it
// goes on as a new item does.
func Run(ctx context.Context, job Job) (Stats, error) {
	if job.Sink == nil {
		return Stats{}, ErrNoSink
	}
	if len(job.Sources) == 0 {
		return Stats{}, ErrNoSources
	}
	if job.Counters == nil {
		job.Counters = NewCounters()
	}
	if job.Logger == nil {
		job.Logger = zap.NewNop()
	}
	workers := job.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &runner{job: job}
	if sc, ok := job.Checkpoint.(SourceCheckpoint); ok {
		r.sources = sc
		r.tallies = make([]sourceTally, len(job.Sources))
	}

	g, gctx := errgroup.WithContext(ctx)
	// Every channel holds at most stageBuffer items (or results): with the
	// fixed worker count and the sink's own batch bound, that bounds the
	// items in memory (stageBuffer × 4 here, each a few hundred bytes: the
	// content of an item is never loaded before the sink builds its
	// batch). The buffers let a stage hand over items without waking the
	// next one for each: unbuffered, the hand-offs were ~10% of the CPU of
	// a run of small items.
	read := make(chan *Item, stageBuffer)
	toTransform := make(chan *Item, stageBuffer)
	toSink := make(chan *Item, stageBuffer)
	results := make(chan Result, stageBuffer)

	// readCtx ends the sources only: on Stop the rest of the pipeline drains.
	readCtx, stopReading := context.WithCancel(gctx)
	defer stopReading()
	readDone := make(chan struct{})
	g.Go(func() error {
		select {
		case <-job.Stop:
			stopReading()
		case <-readDone:
		}
		return nil
	})

	// Three stages produce results; the last one to finish closes results.
	var producers sync.WaitGroup
	producers.Add(3)
	g.Go(func() error {
		defer close(readDone)
		defer close(read)
		return r.readSources(readCtx, gctx, read)
	})
	g.Go(func() error {
		defer producers.Done()
		defer close(toTransform)
		return r.filter(gctx, read, toTransform, results)
	})
	g.Go(func() error {
		defer producers.Done()
		defer close(toSink)
		return r.transform(gctx, workers, toTransform, toSink, results)
	})
	g.Go(func() error {
		defer producers.Done()
		if err := job.Sink.Run(gctx, toSink, results); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		producers.Wait()
		close(results)
		return nil
	})
	g.Go(func() error { return r.consume(results) })

	err := g.Wait()
	st := job.Counters.Snapshot()
	// The filter's notes are read after g.Wait, which orders them after its
	// writes.
	st.ReadAll = r.streamed == len(job.Sources) && !r.sourceFailed
	return st, err
}

// stageBuffer is the capacity of the channels between stages: one batch of
// the largest size, so a batch's worth of items can wait between stages.
const stageBuffer = 128

type runner struct {
	job Job
	// sources is job.Checkpoint if it remembers complete sources, else nil
	// (see SourceCheckpoint).
	sources SourceCheckpoint
	// tallies follow each source's items, by index in job.Sources; only
	// with sources. Owned by consume.
	tallies []sourceTally

	// Owned by filter, read by Run once every stage returned (see
	// Stats.ReadAll). streamed counts the sources whose end mark reached
	// the filter after they were streamed (not resumed whole): every item
	// they sent was looked up. sourceFailed: an item failed in its source,
	// so it could not be looked up.
	streamed     int
	sourceFailed bool
}

// readSources streams every source into out, each followed by its end mark
// (see sourceMark). A source that the checkpoint holds complete under its
// fingerprint is not streamed, unless the job reads all (Job.ReadAll): only
// its mark is sent. readSources stops early, without error and without the
// current source's mark, when readCtx ends but the run goes on (soft stop).
func (r *runner) readSources(readCtx, runCtx context.Context, out chan<- *Item) error {
	stopped := func(src Source) bool {
		if readCtx.Err() != nil && runCtx.Err() == nil {
			r.job.Logger.Info("stopped reading", zap.String("source", src.Name()))
			return true
		}
		return false
	}
	for i, src := range r.job.Sources {
		m := &sourceMark{index: int32(i + 1), fp: r.fingerprint(src)}
		if m.fp != "" && !r.job.ReadAll {
			m.counts, m.resumed = r.sources.SourceDone(m.fp)
		}
		if m.resumed {
			r.job.Logger.Info("source complete in an earlier run: not read", zap.String("source", src.Name()),
				zap.Int64("done", m.counts.Done), zap.Int64("skipped", m.counts.Skipped))
		} else {
			err := src.Stream(readCtx, out)
			if stopped(src) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("source %s: %w", src.Name(), err)
			}
			if m.fp != "" && r.fingerprint(src) != m.fp {
				// The input changed while it was read: its items may be
				// a mix of two versions, so nothing vouches for the new one.
				r.job.Logger.Info("source changed while it was read; it is not marked complete", zap.String("source", src.Name()))
				m.fp = ""
			}
		}
		// On the items' own channel, the mark reaches the filter after the
		// source's last item.
		if err := Send(readCtx, out, &Item{mark: m}); err != nil {
			if stopped(src) {
				return nil
			}
			return err
		}
	}
	return nil
}

// fingerprint returns src's fingerprint, or "" if the run cannot mark it
// complete: the checkpoint or the source lacks the interface, or the source
// cannot tell this time.
func (r *runner) fingerprint(src Source) string {
	if r.sources == nil {
		return ""
	}
	f, ok := src.(Fingerprinter)
	if !ok {
		return ""
	}
	fp, err := f.Fingerprint()
	if err != nil {
		r.job.Logger.Debug("source has no fingerprint: it is read in full", zap.String("source", src.Name()), zap.Error(err))
		return ""
	}
	return fp
}

// filter counts items read, tags each with its source, reports items that
// already failed in their source, and asks the checkpoint what earlier runs
// did: it reports items done earlier and conflicts, marks items to verify,
// and passes on new and updated items. It passes each source's end mark on
// to the result loop, with the number of items the source sent, and notes
// for Stats.ReadAll which sources it saw to their end.
func (r *runner) filter(ctx context.Context, in <-chan *Item, out chan<- *Item, results chan<- Result) error {
	cur := int32(1) // the source whose items arrive now
	var n int64     // the items it sent so far
	for it := range in {
		if m := it.mark; m != nil {
			m.items, n, cur = n, 0, m.index+1
			if !m.resumed {
				r.streamed++
			}
			if err := Send(ctx, results, Result{mark: m}); err != nil {
				return err
			}
			continue
		}
		// One store and one add per item: the tag is what lets the result
		// loop tell when a source is complete.
		it.source = cur
		n++
		r.job.Counters.Read.Add(1)
		if it.Err != nil {
			if !errors.Is(it.Err, ErrSkip) {
				// A skip is the source leaving the item out on purpose;
				// a failure is an item it could not read, which may be
				// one an earlier run sent.
				r.sourceFailed = true
			}
			if err := Send(ctx, results, failure(it, it.Stage, it.Err)); err != nil {
				return err
			}
			continue
		}
		if r.job.Checkpoint != nil {
			switch r.job.Checkpoint.Lookup(it) {
			case StateDone:
				if err := Send(ctx, results, Result{Item: it, Event: EventResumed}); err != nil {
					return err
				}
				continue
			case StateAccepted:
				it.Resumed = true
			case StateConflict:
				if it.Sync != nil && it.Sync.VerifyContent {
					break // the sink compares the bytes (see Sync.VerifyContent)
				}
				if err := Send(ctx, results, failure(it, StageSync, ContentConflict(it))); err != nil {
					return err
				}
				continue
			}
			// StateNew and StateUpdate go on: the sink reads it.Sync.
		}
		if err := Send(ctx, out, it); err != nil {
			return err
		}
	}
	return nil
}

// StageSync is the stage of the failure of an item the checkpoint found in
// conflict with what an earlier run sent (StateConflict).
const StageSync = "sync"

// ContentConflict is the failure of an item whose content changed under an
// input ID an earlier run used: it wraps ErrContentChanged and names the
// item and that input (Sync.PriorID, else the item's ID). The runner fails
// a StateConflict item with it at StageSync; a sink that finds the bytes
// changed (Sync.VerifyContent) does the same.
func ContentConflict(it *Item) error {
	prior := it.ID
	if it.Sync != nil && it.Sync.PriorID != "" {
		prior = it.Sync.PriorID
	}
	return &ItemError{Prov: it.Prov, Err: fmt.Errorf(
		"%w (input %q): Clarifai cannot change an input's content; allow replacing it (sync.replace_content) or give the item a new ID",
		ErrContentChanged, prior)}
}

// transform applies the transforms on a pool of workers.
func (r *runner) transform(ctx context.Context, workers int, in <-chan *Item, out chan<- *Item, results chan<- Result) error {
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for it := range in {
				// Resumed items are transformed too: the sink still needs
				// their regions (normalized) to post annotations again,
				// which is idempotent. They are few: only what was in
				// flight when the earlier run stopped.
				if t, err := r.apply(ctx, it); err != nil {
					if err := Send(ctx, results, failure(it, "transform:"+t, err)); err != nil {
						return err
					}
					continue
				}
				if err := Send(ctx, out, it); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// apply runs the transforms in order and returns the name of the one that
// failed or dropped the item. A panicking transform fails the item instead
// of crashing the run: custom funcs are user code.
func (r *runner) apply(ctx context.Context, it *Item) (name string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	for _, t := range r.job.Transforms {
		name = t.Name()
		if err := t.Apply(ctx, it); err != nil {
			return name, err
		}
	}
	return "", nil
}

// failure builds the final result of an item that failed or was skipped.
func failure(it *Item, stage string, err error) Result {
	ev := EventFailed
	if errors.Is(err, ErrSkip) {
		ev = EventSkipped
	}
	it.Err, it.Stage = err, stage
	return Result{Item: it, Event: ev, Stage: stage, Err: err}
}

// consume is the single reader of results: checkpoint first (so that a
// reported success is a saved one), then counters, log and OnResult; last,
// the source's tally, which records the source complete after its last
// item's final result.
func (r *runner) consume(results <-chan Result) error {
	log := r.job.Logger
	for res := range results {
		if res.mark != nil {
			if err := r.sourceEnded(res.mark); err != nil {
				return err
			}
			continue
		}
		if r.job.Checkpoint != nil {
			if err := r.job.Checkpoint.Record(res); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
		r.job.Counters.count(res)
		switch res.Event {
		case EventFailed:
			log.Warn("item failed", zap.Stringer("item", res.Item.Prov), zap.String("id", res.Item.ID),
				zap.String("stage", res.Stage), zap.Int32("code", res.Code), zap.Error(res.Err))
		case EventSkipped:
			log.Info("item skipped", zap.Stringer("item", res.Item.Prov), zap.String("stage", res.Stage), zap.Error(res.Err))
		}
		if r.job.OnResult != nil {
			if err := r.job.OnResult(res); err != nil {
				return err
			}
		}
		if r.sources != nil && res.Event.Final() {
			if err := r.tally(res); err != nil {
				return err
			}
		}
	}
	return nil
}

// sourceEnded handles a source's end mark in the result loop: it counts
// the items of a source resumed whole, or notes how many items a streamed
// source sent.
func (r *runner) sourceEnded(m *sourceMark) error {
	if m.resumed {
		c := r.job.Counters
		c.Read.Add(m.counts.Done + m.counts.Skipped)
		c.Resumed.Add(m.counts.Done)
		c.Skipped.Add(m.counts.Skipped)
		return nil
	}
	if r.sources == nil {
		return nil
	}
	t := &r.tallies[m.index-1]
	t.end = m
	return r.recordIfComplete(t)
}

// tally counts a final result for its item's source. An item the runner did
// not tag (a sink that reports a new Item) counts for no source, which can
// then never be complete: safe.
func (r *runner) tally(res Result) error {
	i := res.Item.source
	if i <= 0 || int(i) > len(r.tallies) {
		return nil
	}
	t := &r.tallies[i-1]
	t.finals++
	switch res.Event {
	case EventDone, EventResumed:
		t.counts.Done++
	case EventSkipped:
		t.counts.Skipped++
	default:
		t.bad = true
	}
	if res.Item.Blob != nil {
		// Its key holds its file's size and modification time, which the
		// source's fingerprint does not cover (see Fingerprinter).
		t.bad = true
	}
	return r.recordIfComplete(t)
}

// recordIfComplete records t's source complete once it is (see
// sourceTally.complete).
func (r *runner) recordIfComplete(t *sourceTally) error {
	if t.end != nil && t.finals > t.end.items {
		t.bad = true // more final results than items: a sink broke its contract
	}
	if !t.complete() {
		return nil
	}
	t.recorded = true
	if err := r.sources.RecordSourceDone(t.end.fp, t.counts); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	r.job.Logger.Info("source complete: a rerun will not read it again", zap.String("source", r.job.Sources[t.end.index-1].Name()),
		zap.Int64("done", t.counts.Done), zap.Int64("skipped", t.counts.Skipped))
	return nil
}
