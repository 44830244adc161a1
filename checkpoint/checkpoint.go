package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Options configures Open. The zero value is usable: every field documents
// its default.
type Options struct {
	// Fingerprint identifies the job's configuration (sources, transforms,
	// target), computed by the caller, for example a hash of the normalized
	// config. It is stored in every file's header. Open fails with an error
	// matching ErrConfigChanged when the stored fingerprint differs, unless
	// AllowMismatch is set. Empty disables the check (and stores "").
	Fingerprint string
	// Restart ignores an existing checkpoint: its files are moved into
	// DIR/previous (replacing an older set there), so that a mistaken
	// restart can be undone by hand, and the job starts from nothing.
	// Delete DIR/previous to reclaim the space.
	Restart bool
	// AllowMismatch continues despite a fingerprint mismatch: the entries
	// are kept and the checkpoint is rewritten at once under the new
	// Fingerprint, so the next Open does not complain again.
	AllowMismatch bool
	// Logger receives load reports, corruption warnings and compaction
	// failures. Default: no-op.
	Logger *zap.Logger
	// SyncInterval bounds how long a record waits in memory before it is
	// written out and fsynced (see the package documentation). Default 1s.
	SyncInterval time.Duration
	// SyncBytes of unsynced records make the flusher sync early. Default
	// 1 MiB.
	SyncBytes int
	// BufferSize is the size of the log's write buffer, which is what a
	// SIGKILL can lose at most. Default 64 KiB.
	BufferSize int
	// CompactMinBytes is the log size below which no compaction runs; above
	// it, compaction runs when the log outgrows the snapshot. Default
	// 64 MiB; negative disables automatic compaction (Compact still works).
	CompactMinBytes int64
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = time.Second
	}
	if o.SyncBytes == 0 {
		o.SyncBytes = 1 << 20
	}
	if o.BufferSize == 0 {
		o.BufferSize = 64 << 10
	}
	if o.CompactMinBytes == 0 {
		o.CompactMinBytes = 64 << 20
	}
	return o
}

// Validate returns an error naming the first invalid field.
func (o Options) Validate() error {
	switch {
	case len(o.Fingerprint) > maxFingerprint:
		return fmt.Errorf("checkpoint: fingerprint is %d bytes; the limit is %d", len(o.Fingerprint), maxFingerprint)
	case o.SyncInterval < 0:
		return fmt.Errorf("checkpoint: SyncInterval %v is negative", o.SyncInterval)
	case o.SyncBytes < 0:
		return fmt.Errorf("checkpoint: SyncBytes %d is negative", o.SyncBytes)
	case o.BufferSize < 0:
		return fmt.Errorf("checkpoint: BufferSize %d is negative", o.BufferSize)
	}
	return nil
}

// Errors returned by Open and the methods of Checkpoint; match them with
// errors.Is.
var (
	// ErrLocked: another process (or another Open in this one) uses the
	// checkpoint directory.
	ErrLocked = errors.New("checkpoint is locked")
	// ErrConfigChanged: the checkpoint was written by a job with another
	// configuration fingerprint.
	ErrConfigChanged = errors.New("checkpoint was written by a job with a different configuration")
	// ErrClosed: the checkpoint was closed.
	ErrClosed = errors.New("checkpoint is closed")
)

type configError struct{ dir string }

func (e *configError) Error() string {
	return fmt.Sprintf("checkpoint in %s was written by a job with a different configuration "+
		"(sources/transforms/target changed); use --restart to start over or --allow-config-change to continue", e.dir)
}

func (e *configError) Is(target error) bool { return target == ErrConfigChanged }

type lockedError struct {
	dir, holder string
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("checkpoint in %s is in use by another run of this job (%s); "+
		"wait for it to finish or stop it: two runs cannot share a checkpoint", e.dir, e.holder)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// Checkpoint is a crash-safe, file-based pipeline.Checkpoint (see the
// package documentation for the format and the durability guarantees).
//
// Lookup, Stats and Entries are safe for concurrent use with everything,
// Record included. Record, Sync, Compact and Close are safe for concurrent
// use with each other, but Record is meant to be called from one goroutine
// (the runner's result loop): the order of its calls is the order of the log.
type Checkpoint struct {
	dir  string
	opts Options
	log  *zap.Logger
	lock *os.File
	idx  *index

	// syncMu serializes fsyncs and log rotation, so that a file is never
	// closed while it is being synced. Lock order: syncMu, then mu.
	syncMu sync.Mutex
	// mu guards the fields below; held briefly by Record and the flusher.
	mu           sync.Mutex
	cur          *logFile
	err          error // sticky: the first write or sync failure
	closed       bool
	scratch      []byte
	unsynced     int
	compacting   bool
	compactFloor int64 // after a failed compaction, the log size of the next try

	// compactMu serializes compactions (background and Compact).
	compactMu   sync.Mutex
	snapBytes   atomic.Int64
	compactions atomic.Int64
	bg          sync.WaitGroup

	syncReq     chan struct{} // capacity 1: "sync soon", never blocks Record
	stop        chan struct{}
	flusherDone chan struct{}

	report LoadReport
}

var _ pipeline.Checkpoint = (*Checkpoint)(nil)

// logFile is the active log.
type logFile struct {
	path  string
	gen   uint64
	f     *os.File
	w     *bufio.Writer
	size  int64 // bytes in the file, buffered ones included
	dirty bool  // written since the last sync
}

// LoadReport says what Open found.
type LoadReport struct {
	// Dir is the checkpoint directory.
	Dir string
	// Files are the files replayed, in order.
	Files []string
	// Entries is the number of entries after loading; Records the number of
	// entry records replayed to get them.
	Entries int
	Records int64
	// Corruptions lists the torn or corrupt tails found; the valid prefix
	// of each file was kept.
	Corruptions []Corruption
	// ConfigChanged is set when the fingerprint differed and AllowMismatch
	// let the job continue.
	ConfigChanged bool
	// MovedAside is where Restart moved the old files; empty if there were
	// none or Restart was not set.
	MovedAside string
	// StaleLogs is the number of logs already folded into the snapshot
	// (left by a crash during compaction) that were deleted.
	StaleLogs int
	// Duration is how long loading took.
	Duration time.Duration
}

// Corruption describes an invalid tail of a checkpoint file.
type Corruption struct {
	// File is the damaged file's path.
	File string
	// Offset is the byte offset of the first invalid record; everything
	// before it was kept, Dropped bytes from it on were ignored.
	Offset  int64
	Dropped int64
	Reason  string
	// Truncated is set when the file was truncated to Offset (the active
	// log, which is appended to next).
	Truncated bool
}

// String renders the corruption for messages.
func (c Corruption) String() string {
	s := fmt.Sprintf("%s: offset %d: %s; kept the %d bytes before it, ignored %d", c.File, c.Offset, c.Reason, c.Offset, c.Dropped)
	if c.Truncated {
		s += " (truncated)"
	}
	return s
}

// Open opens the checkpoint in dir, creating dir and an empty checkpoint if
// needed, and loads it into memory. It takes an exclusive lock on the
// directory, held until Close; the lock dies with the process.
//
// Errors: one matching ErrLocked if another process (or Open) holds dir;
// one matching ErrConfigChanged, naming dir and the flags to use, if the
// stored fingerprint differs and opts.AllowMismatch is not set; a
// "written by a newer version" error for an unknown format version; and I/O
// errors. Torn or corrupt tails are not errors: see LoadReport.
func Open(dir string, opts Options) (*Checkpoint, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{
		dir:         dir,
		opts:        opts,
		log:         opts.Logger,
		lock:        lock,
		syncReq:     make(chan struct{}, 1),
		stop:        make(chan struct{}),
		flusherDone: make(chan struct{}),
		report:      LoadReport{Dir: dir},
	}
	ok := false
	defer func() {
		if !ok {
			if c.cur != nil {
				c.cur.f.Close()
			}
			unlockDir(lock)
		}
	}()
	if opts.Restart {
		moved, err := moveAside(dir)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: restart: %w", err)
		}
		c.report.MovedAside = moved
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	if c.report.ConfigChanged {
		// Rewrite everything under the new fingerprint now, so the old one
		// is gone from every file and the next Open agrees.
		if err := c.compact(); err != nil {
			return nil, fmt.Errorf("checkpoint: rewrite under the new configuration: %w", err)
		}
	}
	c.report.Entries = int(c.idx.len())
	c.report.Duration = time.Since(start)
	for _, cr := range c.report.Corruptions {
		c.log.Warn("checkpoint file has an invalid tail; kept the valid prefix, the items after it will be sent again",
			zap.String("file", cr.File), zap.Int64("offset", cr.Offset), zap.Int64("dropped_bytes", cr.Dropped),
			zap.String("reason", cr.Reason), zap.Bool("truncated", cr.Truncated))
	}
	c.log.Info("checkpoint loaded", zap.String("dir", dir), zap.Int("entries", c.report.Entries),
		zap.Int64("records", c.report.Records), zap.Duration("took", c.report.Duration))
	go c.flusher()
	ok = true
	return c, nil
}

// Dir returns the checkpoint directory.
func (c *Checkpoint) Dir() string { return c.dir }

// LoadReport returns what Open found. It does not change afterwards.
func (c *Checkpoint) LoadReport() LoadReport { return c.report }

// Lookup returns what earlier runs (and this one) recorded for it, and
// for StateAccepted and StateDone sets it.ID to the recorded input ID (the
// one on the server), so the sink can verify the item without loading its
// bytes. An item is found by its Key, or, if the Key is empty, by its ID as
// a source would have keyed it (see pipeline.IDKey); an item with neither
// is StateNew. A Failed entry is StateAccepted if the input had been
// accepted before it failed (it exists on the server, so it is verified,
// not re-sent), and StateNew otherwise (the rerun tries it again).
//
// Lookup never blocks on I/O, is safe for concurrent use, and keeps
// answering from memory after Close.
func (c *Checkpoint) Lookup(it *pipeline.Item) pipeline.ResumeState {
	key, ok := itemKey(it)
	if !ok {
		return pipeline.StateNew
	}
	h := HashKey(key)
	s := c.idx.shard(h)
	s.mu.RLock()
	e, found := s.m[h]
	rs := resumeState(e, found)
	var id string
	if rs != pipeline.StateNew && e.idEnc != memNone {
		id = s.idString(&e)
	}
	s.mu.RUnlock()
	if id != "" {
		it.ID = id
	}
	return rs
}

func resumeState(e entry, found bool) pipeline.ResumeState {
	switch {
	case !found:
		return pipeline.StateNew
	case e.state == Done:
		return pipeline.StateDone
	case e.state == Accepted, e.state == Failed && e.flags&flagAccepted != 0:
		return pipeline.StateAccepted
	}
	return pipeline.StateNew
}

// Recorded reports whether Record persists r: accepted, annotated and done
// events, and failures the server decided (a non-zero Code from a stage
// other than a source or a transform).
func Recorded(r pipeline.Result) bool {
	switch r.Event {
	case pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone:
		return true
	case pipeline.EventFailed:
		return r.Code != 0 && r.Stage != "source" && !strings.HasPrefix(r.Stage, "source:") &&
			!strings.HasPrefix(r.Stage, "transform")
	}
	return false
}

// Record persists r if Recorded(r), keyed like Lookup; other results, and
// items with neither Key nor ID, are ignored. An event that changes nothing
// (the same ID, the same state) writes nothing. The ID recorded is
// r.Item.ID, as the sink set it; an empty ID keeps the one recorded before.
//
// Record appends to a buffer and does not wait for the disk: records
// become durable within Options.SyncInterval, or at Sync or Close. It
// returns ErrClosed after Close, and the first write or sync failure (which
// sticks: progress that cannot be saved must not be reported) wrapped with
// the file name. It may start a background compaction.
func (c *Checkpoint) Record(r pipeline.Result) error {
	if !Recorded(r) {
		return nil
	}
	key, ok := itemKey(r.Item)
	if !ok {
		return nil
	}
	id := r.Item.ID
	if len(id) > maxIDLen {
		return fmt.Errorf("checkpoint: input ID of %s is %d bytes long; the limit is %d", r.Item.Prov, len(id), maxIDLen)
	}
	return c.update(HashKey(key), func(s *shard, old entry, had bool) (entry, bool) {
		return transition(s, old, had, r.Event, id), true
	})
}

// Reopen marks the entry of h accepted but not confirmed, whatever its
// state, so that the next run verifies the input again instead of skipping
// it, and sends it again if the server lost it. `ingest verify --repair`
// uses it for inputs missing or failed on the server. An unknown h is
// ignored. Errors are Record's.
func (c *Checkpoint) Reopen(h KeyHash) error {
	return c.update(h, func(_ *shard, old entry, had bool) (entry, bool) {
		e := old
		e.state = Accepted
		e.flags |= flagAccepted
		return e, had
	})
}

// update replaces the entry of h with what next returns (given the shard,
// the current entry and whether there is one), unless next says not to or
// nothing changes, and appends the new entry's record. next runs under the
// shard's write lock.
func (c *Checkpoint) update(h KeyHash, next func(s *shard, old entry, had bool) (entry, bool)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return c.err
	}
	s := c.idx.shard(h)
	s.mu.Lock()
	old, had := s.m[h]
	e, ok := next(s, old, had)
	if !ok || (had && e == old) {
		s.mu.Unlock()
		return nil
	}
	c.idx.put(s, h, e, old, had)
	// Encode under the shard lock: appendEntry may read the shard's arena.
	c.scratch = appendEntry(c.scratch[:0], s, h, &e)
	s.mu.Unlock()

	lf := c.cur
	n, err := lf.w.Write(c.scratch)
	lf.size += int64(n)
	lf.dirty = true
	c.unsynced += n
	if err != nil {
		c.err = fmt.Errorf("checkpoint: append to %s: %w", lf.path, err)
		return c.err
	}
	if c.unsynced >= c.opts.SyncBytes {
		select {
		case c.syncReq <- struct{}{}:
		default: // a sync is already requested
		}
	}
	if c.opts.CompactMinBytes >= 0 && !c.compacting &&
		lf.size >= max(c.opts.CompactMinBytes, c.snapBytes.Load(), c.compactFloor) {
		c.compacting = true
		c.bg.Add(1)
		go c.backgroundCompact()
	}
	return nil
}

// transition returns the entry after event ev with input ID id (empty: keep
// the recorded one). The caller holds s's write lock. A done entry stays
// done: nothing later in a run can undo a finished item.
func transition(s *shard, old entry, had bool, ev pipeline.Event, id string) entry {
	e := old
	if !had {
		e = entry{}
	}
	switch ev {
	case pipeline.EventAccepted:
		if e.state != Done {
			e.state = Accepted
		}
		e.flags |= flagAccepted
	case pipeline.EventAnnotated:
		if e.state == 0 {
			e.state = Accepted
		}
		e.flags |= flagAccepted | flagAnnotated
	case pipeline.EventDone:
		e.state = Done
		e.flags |= flagAccepted
	case pipeline.EventFailed:
		if e.state == Done {
			return old
		}
		e.state = Failed
	}
	if id != "" && (e.idEnc == memNone || !sameID(s, &e, id)) {
		packID(s, &e, id)
	}
	return e
}

// Sync writes out and fsyncs every record so far. It blocks for the fsync.
// It returns ErrClosed after Close, or the sticky write or sync failure.
func (c *Checkpoint) Sync() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return c.sync()
}

// sync flushes the buffer under mu, then fsyncs outside it so that Record
// is not held up by the disk. syncMu keeps rotation from closing the file
// meanwhile.
func (c *Checkpoint) sync() error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	if c.err != nil {
		defer c.mu.Unlock()
		return c.err
	}
	lf := c.cur
	if !lf.dirty {
		c.mu.Unlock()
		return nil
	}
	err := lf.w.Flush()
	lf.dirty = false
	c.unsynced = 0
	c.mu.Unlock()
	if err == nil {
		err = lf.f.Sync()
	}
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err == nil {
			c.err = fmt.Errorf("checkpoint: sync %s: %w", lf.path, err)
		}
		return c.err
	}
	return nil
}

// flusher syncs every SyncInterval, or sooner on request, until Close.
func (c *Checkpoint) flusher() {
	defer close(c.flusherDone)
	t := time.NewTicker(c.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.syncReq:
		}
		// A failure sticks in c.err; the next Record or Close returns it.
		_ = c.sync()
	}
}

// Close stops the flusher, waits for a running compaction, flushes and
// fsyncs the log, and releases the lock. It returns the sticky write or
// sync failure if there was one, and ErrClosed if called again. Lookup,
// Stats and Entries keep working from memory afterwards.
func (c *Checkpoint) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.flusherDone
	c.bg.Wait()

	c.syncMu.Lock()
	c.mu.Lock()
	err := c.err
	if err == nil {
		if err = c.cur.w.Flush(); err == nil {
			err = c.cur.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("checkpoint: sync %s: %w", c.cur.path, err)
		}
	}
	if cerr := c.cur.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("checkpoint: %w", cerr)
	}
	c.mu.Unlock()
	c.syncMu.Unlock()
	if lerr := unlockDir(c.lock); err == nil && lerr != nil {
		err = fmt.Errorf("checkpoint: release lock: %w", lerr)
	}
	return err
}

// Stats is a snapshot of a checkpoint's size.
type Stats struct {
	// Entries is the number of items recorded; Accepted, Done and Failed
	// split it by state. Annotated counts entries (of any state) whose
	// annotations were accepted.
	Entries, Accepted, Done, Failed, Annotated int64
	// LogBytes is the size of the active log, buffered records included;
	// SnapshotBytes the size of the snapshot.
	LogBytes, SnapshotBytes int64
	// Compactions is the number of compactions since Open.
	Compactions int64
}

// Stats returns the current counts. It is safe for concurrent use; the
// fields may be a few records apart while Record runs.
func (c *Checkpoint) Stats() Stats {
	s := Stats{
		Accepted:      c.idx.counts[Accepted].Load(),
		Done:          c.idx.counts[Done].Load(),
		Failed:        c.idx.counts[Failed].Load(),
		Annotated:     c.idx.annotated.Load(),
		SnapshotBytes: c.snapBytes.Load(),
		Compactions:   c.compactions.Load(),
	}
	s.Entries = s.Accepted + s.Done + s.Failed
	c.mu.Lock()
	s.LogBytes = c.cur.size
	c.mu.Unlock()
	return s
}

// Entry is one recorded item, as Entries yields it. The checkpoint keeps a
// hash of each item's key, not the key (see the package documentation); use
// HashKey to match items to entries.
type Entry struct {
	KeyHash KeyHash
	// ID is the recorded input ID; empty if none was recorded.
	ID    string
	State State
	// Accepted is set if the server accepted the input at some point (always
	// for Accepted and Done; for Failed, it means the input exists on the
	// server in a failed state).
	Accepted bool
	// Annotated is set if the item's annotations were accepted.
	Annotated bool
}

// Entries calls yield for every entry, in no particular order, until yield
// returns false; use it as `for e := range cp.Entries`. It copies 1/64 of
// the index at a time under a read lock and calls yield without holding
// any lock, so yield may call Lookup; entries recorded meanwhile may or may
// not be seen. It works after Close.
func (c *Checkpoint) Entries(yield func(Entry) bool) {
	var batch []Entry
	for i := range c.idx.shards {
		s := &c.idx.shards[i]
		s.mu.RLock()
		batch = batch[:0]
		for h, e := range s.m {
			batch = append(batch, Entry{
				KeyHash: h, ID: s.idString(&e), State: e.state,
				Accepted: e.flags&flagAccepted != 0, Annotated: e.flags&flagAnnotated != 0,
			})
		}
		s.mu.RUnlock()
		for _, e := range batch {
			if !yield(e) {
				return
			}
		}
	}
}
