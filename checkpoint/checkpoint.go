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
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
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
	// Restart ignores an existing checkpoint: its files (complete-source
	// markers included) are moved into DIR/previous (replacing an older set
	// there), so that a mistaken restart can be undone by hand, and the job
	// starts from nothing. Delete DIR/previous to reclaim the space.
	Restart bool
	// AllowMismatch continues despite a fingerprint mismatch: the entries
	// are kept and the checkpoint is rewritten at once under the new
	// Fingerprint, so the next Open does not complain again. The
	// complete-source markers are dropped: under another configuration
	// (a transform that skipped items may not any more) they vouch for
	// nothing, so every source is read again, its items looked up one by one.
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
	// CompactMinBytes is the size of the logs loaded below which loading
	// does not compact; above it, loading compacts when the logs outgrow the
	// snapshot (see the package documentation: a run never compacts while
	// it records). Default 64 MiB; negative disables automatic compaction
	// (Compact still works).
	CompactMinBytes int64
	// ReplaceContent lets an item whose content changed under a user-given
	// input ID be replaced (Lookup answers StateNew with ActionReplace:
	// the sink deletes the input and posts the item again under its ID)
	// instead of being a conflict (StateConflict).
	ReplaceContent bool
	// DigestSalt is mixed into every digest group but the content
	// (digest.OfSalted): a hash of the job's settings that shape what the
	// transforms make of an item, so that a change of them makes the
	// items updates. 0 mixes nothing.
	DigestSalt uint64
	// ReadOnly opens the checkpoint to answer Lookup, LookupDigests and
	// Unseen only (ingest plan): nothing in the directory is created,
	// written, repaired or compacted (a torn tail is reported, not cut
	// off). Record, RecordDeleted and RecordSourceDone return nil and
	// write nothing; Compact and Reopen return ErrReadOnly. The lock is
	// taken as usual, without writing the process ID, when the LOCK file
	// exists (a running job makes Open fail with ErrLocked: its files
	// are being written); a directory that does not exist is an empty
	// checkpoint. Not with Restart.
	ReadOnly bool
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
	case o.ReadOnly && o.Restart:
		return errors.New("checkpoint: Restart moves files and ReadOnly writes nothing: choose one")
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
	// ErrReadOnly: Compact or Reopen of a checkpoint opened ReadOnly.
	ErrReadOnly = errors.New("checkpoint is open read-only")
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
// package documentation for the format and the durability guarantees). It
// also implements pipeline.SourceCheckpoint.
//
// Open checks the files and takes the lock; the entries are loaded into
// memory on first use (Lookup, Record, Entries, Stats, Reopen, Compact,
// LoadReport), so a run that finds all its sources complete never loads
// them. Lookup answers what earlier runs recorded: the records of this
// process go to the log, not to memory (see Record).
//
// Lookup, Stats, Entries, SourceDone and LoadReport are safe for concurrent
// use with everything, Record included. Record, RecordSourceDone, Reopen,
// Sync, Compact and Close are safe for concurrent use with each other, but
// Record is meant to be called from one goroutine (the runner's result
// loop): the order of its calls is the order of the log.
type Checkpoint struct {
	dir  string
	opts Options
	log  *zap.Logger
	lock *os.File

	// loadOnce guards the loading of the entries (load). idx, report and
	// loadErr are written by it and only read after it; Close claims it if
	// nothing did, so that nothing loads after Close.
	loadOnce sync.Once
	idx      *index
	loadErr  error
	report   LoadReport
	// found is what Open saw of the files, for load.
	found found

	// syncMu serializes fsyncs and log rotation, so that a file is never
	// closed while it is being synced. Lock order: syncMu, then mu.
	syncMu sync.Mutex
	// mu guards the fields below; held briefly by Record and the flusher.
	mu      sync.Mutex
	cur     *logFile // nil until loaded
	err     error    // sticky: the first write or sync failure
	closed  bool
	scratch []byte
	// unsynced counts the bytes written to cur since its last fsync.
	unsynced int
	// keepFrom is the first log generation that may hold records not in
	// the index (this process's); a snapshot of the index must be replayed
	// under them, so it starts there (see compact).
	keepFrom uint64

	// recorded counts the records this process appended.
	recorded atomic.Int64

	// compactMu serializes compactions (at load and Compact).
	compactMu   sync.Mutex
	snapBytes   atomic.Int64
	compactions atomic.Int64
	bg          sync.WaitGroup

	syncReq     chan struct{} // capacity 1: "sync soon", never blocks Record
	stop        chan struct{}
	flusherDone chan struct{}

	// markMu guards the complete-source markers (sources.go).
	markMu        sync.Mutex
	marks         map[string]sourceMarker
	sourcesOnDisk bool // sources.json exists

	// runOrphans are the orphan entries this process recorded that are
	// not in the index (see Record), by key hash: their input IDs. Guarded
	// by mu.
	runOrphans map[KeyHash]string

	// dsMu guards the dataset-set dictionary (datasets.go).
	dsMu   sync.RWMutex
	dsets  map[uint64][]string
	dsFile *os.File
	dsNew  bool // dsFile was created by this process; its directory entry is not synced yet
}

var (
	_ pipeline.Checkpoint     = (*Checkpoint)(nil)
	_ pipeline.SyncCheckpoint = (*Checkpoint)(nil)
)

// logFile is the active log.
type logFile struct {
	path string
	gen  uint64
	f    *os.File
	w    *bufio.Writer
	size int64 // bytes in the file, buffered ones included
}

// LoadReport says what Open and the loading of the entries found.
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
	// SourcesDone is the number of complete-source markers found at Open
	// (see SourceDone).
	SourcesDone int
	// Compacted is set when loading started a compaction, because the logs
	// had outgrown max(Options.CompactMinBytes, the snapshot).
	Compacted bool
	// Duration is how long loading the entries took.
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
// needed. It takes an exclusive lock on the directory, held until Close (the
// lock dies with the process), checks every file's header, and reads the
// complete-source markers. The entries are loaded into memory on first use
// (see Checkpoint), not here: Open reads a few bytes per file.
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
	missing := false
	if opts.ReadOnly {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			missing = true
		} else if err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var lock *os.File
	var err error
	switch {
	case missing:
	case opts.ReadOnly:
		lock, err = lockDirReadOnly(dir)
	default:
		lock, err = lockDir(dir)
	}
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
			c.bg.Wait() // a compaction started by the load below
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
	if missing {
		c.found = found{next: 1}
	} else {
		if err := c.inspect(); err != nil {
			return nil, err
		}
		if err := c.readSources(c.found.snapshot || len(c.found.gens) > 0); err != nil {
			return nil, err
		}
	}
	if c.report.ConfigChanged && opts.ReadOnly {
		// Nothing is rewritten; the markers vouch for nothing.
		c.marks, c.report.SourcesDone = nil, 0
	} else if c.report.ConfigChanged {
		// Under another configuration the markers vouch for nothing, and
		// everything is rewritten under the new fingerprint now (by the
		// load), so that the old one is gone from every file and the next
		// Open agrees.
		if err := c.clearSources(); err != nil {
			return nil, err
		}
		c.report.SourcesDone = 0
		if err := c.ensureLoaded(); err != nil {
			return nil, err
		}
	}
	c.log.Info("checkpoint opened", zap.String("dir", dir), zap.Int("files", len(c.found.gens)+btoi(c.found.snapshot)),
		zap.Int("sources_complete", c.report.SourcesDone))
	go c.flusher()
	ok = true
	return c, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ensureLoaded loads the entries if nothing did yet, and returns the error
// loading met (also made the sticky error, so that Record, Sync and Close
// return it). Lookup, Record and the other readers call it; it must not be
// called with mu or syncMu held.
func (c *Checkpoint) ensureLoaded() error {
	c.loadOnce.Do(func() {
		start := time.Now()
		if err := c.load(); err != nil {
			c.loadErr = err
			if c.idx == nil {
				c.idx = newIndex(0)
			}
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
			return
		}
		c.report.Entries = int(c.idx.len())
		c.report.Duration = time.Since(start)
		for _, cr := range c.report.Corruptions {
			c.log.Warn("checkpoint file has an invalid tail; kept the valid prefix, the items after it will be sent again",
				zap.String("file", cr.File), zap.Int64("offset", cr.Offset), zap.Int64("dropped_bytes", cr.Dropped),
				zap.String("reason", cr.Reason), zap.Bool("truncated", cr.Truncated))
		}
		c.log.Info("checkpoint loaded", zap.String("dir", c.dir), zap.Int("entries", c.report.Entries),
			zap.Int64("records", c.report.Records), zap.Bool("compacting", c.report.Compacted),
			zap.Duration("took", c.report.Duration))
	})
	return c.loadErr
}

// Dir returns the checkpoint directory.
func (c *Checkpoint) Dir() string { return c.dir }

// LoadReport returns what Open and the loading of the entries found; it
// loads them if nothing did yet. It does not change afterwards.
func (c *Checkpoint) LoadReport() LoadReport {
	_ = c.ensureLoaded()
	return c.report
}

// Lookup returns what earlier runs recorded for it (the entries loaded from
// disk, as this process's Records changed them; an item recorded only by
// this process is StateNew) and how it compares with it, as a
// pipeline.SyncCheckpoint: it sets it.Sync on every item it can key, with
// the digests of it as read (digest.OfSalted with Options.DigestSalt: call
// it before the transforms), and marks the entry it finds as seen (see
// Unseen). An item is keyed by its Key, or, if the Key is empty, by its ID
// as a source would have keyed it (see ids.IDKey); an item with neither is
// StateNew with no Sync. The entry is the one of the item's stable key
// (ids.StableKey), or failing that a legacy entry (loaded from a format 1
// or 2 file) of its full key. Then:
//
//   - No entry, a Failed one whose input was never accepted: StateNew
//     (ActionAdd, no PriorID).
//   - Digests not known (a legacy entry, or one recorded without them):
//     as before digests existed: StateDone for a done entry, StateAccepted
//     for an accepted one (or a failed one whose input was accepted);
//     it.ID and Sync.PriorID are the recorded ID.
//   - The content group differs: with a user-given ID (it.ID set as read),
//     StateConflict, or with Options.ReplaceContent StateNew with
//     ActionReplace, and Sync.VerifyContent when the content is a Blob
//     (the sink compares the bytes); with a derived ID, StateNew
//     (ActionAdd, it.ID left empty for the sink to derive); Sync.PriorID is
//     the recorded ID, Sync.Changed the groups that differ and
//     Sync.PriorDatasets the datasets it was put in when FieldDatasets
//     changed (a file touched and moved keeps its derived ID: see the sink).
//   - Other groups differ: StateUpdate with ActionUpdate, Sync.Changed the
//     groups (plus FieldRegions for an accepted, not yet annotated entry
//     of an item with regions), it.ID the recorded ID, Sync.PriorDatasets
//     the datasets it was put in when FieldDatasets changed.
//   - Nothing differs: StateDone, or StateAccepted for an entry not done;
//     it.ID is the recorded ID.
//
// The first call of a process may load the entries (see Checkpoint);
// after that Lookup never blocks on I/O. If loading fails, Lookup answers
// from what it could load, and Record, Sync and Close return the error.
// Lookup is safe for concurrent use, and keeps answering from memory after
// Close.
func (c *Checkpoint) Lookup(it *pipeline.Item) pipeline.ResumeState {
	rs, _, _ := c.LookupDigests(it)
	return rs
}

// LookupDigests is Lookup that also returns the digests recorded for the
// item (those of the item as read by the run that recorded it, under this
// digest.Version), and whether they are known. They are unknown for an
// item never recorded with them: an entry of format 1 or 2 (whose digests
// were of rule version 1), or one recorded without a Sync.
func (c *Checkpoint) LookupDigests(it *pipeline.Item) (pipeline.ResumeState, pipeline.Digests, bool) {
	key, ok := itemKey(it)
	if !ok {
		return pipeline.StateNew, pipeline.Digests{}, false
	}
	// The key's hash is kept with the item: its records (two or three)
	// need it too.
	hs := EntryKey(key)
	sy := &pipeline.Sync{Digests: digest.OfSalted(it, c.opts.DigestSalt), EntryKey: hs}
	given := it.ID
	it.Sync = sy
	_ = c.ensureLoaded()
	// The index holds only what earlier runs recorded and never grows
	// during a run: a first run looks nothing up.
	if c.idx.len() == 0 {
		return pipeline.StateNew, pipeline.Digests{}, false
	}
	h, s := hs, c.idx.shard(hs)
	s.mu.Lock()
	e, found := s.m[h]
	if !found && c.idx.legacy.Load() > 0 {
		if hf := HashKey(key); hf != hs {
			s.mu.Unlock()
			h, s = hf, c.idx.shard(hf)
			s.mu.Lock()
			e, found = s.m[h]
			found = found && e.flags&flagLegacy != 0
		}
	}
	if found && e.flags&flagSeen == 0 {
		e.flags |= flagSeen
		s.m[h] = e // same key: no count changes, no growth
	}
	var prior string
	var old pipeline.Digests
	known := found && e.flags&flagDigests != 0
	if found && e.idEnc != memNone {
		prior = s.idString(&e)
	}
	if known {
		old = *s.digestsAt(e.dig)
	}
	s.mu.Unlock()

	accepted := e.state == Accepted || e.state == Done || e.flags&flagAccepted != 0
	if !found || !accepted {
		return pipeline.StateNew, old, known
	}
	sy.PriorID = prior
	same := func() pipeline.ResumeState {
		if prior != "" {
			it.ID = prior
		}
		if e.state == Done {
			return pipeline.StateDone
		}
		return pipeline.StateAccepted
	}
	if !known {
		return same(), old, known
	}
	diff := sy.Digests.Diff(old)
	if diff.Has(pipeline.FieldDatasets) {
		sy.PriorDatasets = c.datasetsOf(old[pipeline.FieldDatasets])
	}
	switch {
	case diff == 0:
		return same(), old, known
	case diff.Has(pipeline.FieldContent):
		sy.Changed = diff
		// A file's bytes are not read here: under a given ID the sink
		// tells a touched file from a rewritten one.
		sy.VerifyContent = given != "" && it.Blob != nil
		switch {
		case given == "":
			return pipeline.StateNew, old, known // a new input; PriorID left
		case c.opts.ReplaceContent:
			sy.Action = pipeline.ActionReplace
			return pipeline.StateNew, old, known
		}
		return pipeline.StateConflict, old, known
	}
	if e.state != Done && len(it.Regions) > 0 && e.flags&flagAnnotated == 0 {
		diff = diff.With(pipeline.FieldRegions)
	}
	sy.Action, sy.Changed = pipeline.ActionUpdate, diff
	if prior != "" {
		it.ID = prior
	}
	return pipeline.StateUpdate, old, known
}

// Recorded reports whether Record persists r: accepted, annotated and done
// events, and failures the server decided (a non-zero Code from a stage
// other than a source or a transform). Record may also persist an
// EventResumed, to bring an entry recorded without digests up to date
// (see Record).
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

// Record persists r if Recorded(r), keyed like Lookup (under the item's
// stable key); other results, and items with neither Key nor ID, are
// ignored. The ID recorded is r.Item.ID, as the sink set it.
//
// With r.Item.Sync set (by Lookup), accepted, annotated and done records
// hold Sync.Digests, so that the next run can compare; for an update
// (ActionUpdate) only the done record does, so that an update that fails
// halfway is tried again. A record holding digests is preceded by the
// dictionary record of the item's dataset set, durably (see datasets.go).
// Without a Sync nothing is compared, and records hold no digests.
//
// An entry loaded at Open is updated in memory too (see transition: a done
// entry stays done, a failed one keeps its acceptance, an empty ID keeps
// the recorded one), and an event that changes nothing writes nothing. The
// entry of an item that became a new input (ActionReplace, or ActionAdd
// with a PriorID: its content changed) starts afresh instead. A legacy
// entry moves to the stable key: its record is written there, then a
// tombstone for its old key. Any other item is not kept in memory, so
// that memory stays flat however many items a run records: Lookup answers
// what earlier runs recorded, and each item is looked up once, before it
// is processed. Its record is self-sufficient instead (see fresh): it
// holds the state the event implies, the flags it implies (a failure at
// "annotate" or "verify" follows an acceptance; EventDone of an item with
// regions follows its annotations), and r.Item.ID. Of several records of
// one key, the last wins when the log is loaded. A key that appears twice
// in one run is sent twice; the server's "duplicate ID" answer counts as
// success.
//
// EventResumed (an unchanged done item) writes nothing, unless its entry
// holds no digests (a legacy entry, or one recorded without them) and the
// item has a Sync: then a migration record (done, with the digests, under
// the stable key) brings the entry up to date, so that the next run
// compares it.
//
// When the first acknowledgement of a new input whose content changed
// under a derived ID (Sync.PriorID differs from r.Item.ID) is recorded,
// an orphan entry for PriorID is recorded too (done, keyed by
// HashKey("orphan:"+PriorID)): the earlier input left the source, and
// Unseen yields it. An orphan entry of the item's own ID is removed (a
// tombstone) when the item is done: its input is the item's again.
//
// Record appends to a buffer and does not wait for the disk: records
// become durable within Options.SyncInterval, or at Sync or Close. The
// first call of a process may load the entries. It returns ErrClosed after
// Close, and the first load, write or sync failure (which sticks: progress
// that cannot be saved must not be reported) wrapped with the file name.
// With Options.ReadOnly it returns nil and writes nothing.
func (c *Checkpoint) Record(r pipeline.Result) error {
	it := r.Item
	migrate := r.Event == pipeline.EventResumed && it != nil && it.Sync != nil
	if c.opts.ReadOnly || !migrate && !Recorded(r) {
		return nil
	}
	key, ok := itemKey(it)
	if !ok {
		return nil
	}
	id := it.ID
	if len(id) > maxIDLen {
		return fmt.Errorf("checkpoint: input ID of %s is %d bytes long; the limit is %d", it.Prov, len(id), maxIDLen)
	}
	if err := c.ensureLoaded(); err != nil {
		return err
	}
	sy := it.Sync
	var dig *pipeline.Digests
	if sy != nil {
		switch r.Event {
		case pipeline.EventDone, pipeline.EventResumed:
			dig = &sy.Digests
		case pipeline.EventAccepted, pipeline.EventAnnotated:
			if sy.Action != pipeline.ActionUpdate {
				dig = &sy.Digests
			}
		}
	}
	if dig != nil {
		if err := c.noteDatasets(dig[pipeline.FieldDatasets], it.DatasetIDs); err != nil {
			c.mu.Lock()
			if c.err == nil {
				c.err = err
			}
			c.mu.Unlock()
			return err
		}
	}
	// The item is another input than its entry's: its content changed.
	newInput := sy != nil && (sy.Action == pipeline.ActionReplace || sy.PriorID != "" && sy.PriorID != id)

	hs := KeyHash{}
	if sy != nil {
		hs = sy.EntryKey // set by Lookup
	}
	if hs == (KeyHash{}) {
		hs = EntryKey(key)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	s := c.idx.shard(hs)
	s.mu.Lock()
	old, had := s.m[hs]
	var legacyHash KeyHash
	moved := false
	if !had && c.idx.legacy.Load() > 0 {
		if hf := HashKey(key); hf != hs {
			if lo, ok := c.legacyEntry(hf, s); ok {
				old, had, moved, legacyHash = lo, true, true, hf
			}
		}
	}
	switch {
	case migrate:
		if !had || old.state != Done || old.flags&(flagLegacy|flagDigests) == flagDigests {
			s.mu.Unlock()
			return nil
		}
		e := old
		e.flags &^= flagLegacy
		s.putDigests(&e, dig)
		c.idx.put(s, hs, e, old, !moved)
		c.scratch = appendEntry(c.scratch[:0], s, hs, &e)
		s.mu.Unlock()
	case had && newInput && r.Event == pipeline.EventFailed && old.idEnc != memNone && sameID(s, &old, sy.PriorID):
		// The new input failed before any acknowledgement of it: the
		// entry still describes the earlier one, which is what the server
		// holds.
		s.mu.Unlock()
		return nil
	case had:
		var e entry
		if newInput && r.Event != pipeline.EventFailed {
			// Another input than the entry's: nothing of it carries over
			// but the seen mark (and the place of its digests).
			st, flags := fresh(r)
			e = entry{state: st, flags: flags | old.flags&(flagSeen|flagDigests), dig: old.dig}
			if old.idEnc != memNone && sameID(s, &old, id) {
				e.id, e.idEnc = old.id, old.idEnc
			} else {
				packID(s, &e, id)
			}
			if dig != nil {
				s.putDigests(&e, dig)
			} else {
				e.flags &^= flagDigests
			}
		} else {
			e = transition(s, old, r.Event, id, dig)
			e.flags &^= flagLegacy
			if adopted(r) {
				e.flags |= flagAdopted
			}
		}
		if e == old && !moved {
			s.mu.Unlock()
			return c.orphans(r, sy, id)
		}
		c.idx.put(s, hs, e, old, !moved)
		c.scratch = appendEntry(c.scratch[:0], s, hs, &e)
		s.mu.Unlock()
	default:
		s.mu.Unlock()
		if migrate {
			return nil
		}
		st, flags := fresh(r)
		if dig != nil {
			flags |= flagDigests
		}
		if adopted(r) {
			flags |= flagAdopted
		}
		c.scratch = appendRecord(c.scratch[:0], hs, st, flags, id, dig)
	}
	if err := c.write(c.scratch); err != nil {
		return err
	}
	if moved {
		// The record under the stable key first: a torn tail that keeps
		// the tombstone keeps it too.
		c.idx.drop(legacyHash)
		if err := c.write(appendTombstone(c.scratch[:0], legacyHash)); err != nil {
			return err
		}
	}
	if migrate {
		return nil
	}
	return c.orphans(r, sy, id)
}

// legacyEntry returns the legacy entry of hf, copied into the shard s of
// the stable key (its ID and digests packed there), whose write lock the
// caller holds; ok is false if hf holds no legacy entry. The caller holds
// mu, so nothing but Lookup's seen mark changes the entry meanwhile.
func (c *Checkpoint) legacyEntry(hf KeyHash, s *shard) (entry, bool) {
	ls := c.idx.shard(hf)
	if ls != s {
		ls.mu.RLock()
		defer ls.mu.RUnlock()
	}
	lo, ok := ls.m[hf]
	if !ok || lo.flags&flagLegacy == 0 {
		return entry{}, false
	}
	if ls == s {
		return lo, true
	}
	e := entry{state: lo.state, flags: lo.flags &^ flagDigests}
	if lo.idEnc != memNone {
		var buf [64]byte
		packID(s, &e, ls.appendID(buf[:0], &lo))
	}
	if lo.flags&flagDigests != 0 {
		s.appendDigests(&e, ls.digestsAt(lo.dig))
	}
	return e, true
}

// orphans records what r means for orphan entries: after the first
// acknowledgement of a new input whose content changed under a derived ID,
// the entry of the input it replaces (Sync.PriorID); after EventDone, the
// removal of an orphan entry of the item's own ID. The caller holds mu.
func (c *Checkpoint) orphans(r pipeline.Result, sy *pipeline.Sync, id string) error {
	if sy != nil && sy.PriorID != "" && id != "" && sy.PriorID != id && sy.Action != pipeline.ActionReplace &&
		r.Event != pipeline.EventFailed {
		if err := c.putOrphan(sy.PriorID); err != nil {
			return err
		}
	}
	if r.Event == pipeline.EventDone && id != "" && (c.idx.orphans.Load() > 0 || len(c.runOrphans) > 0) {
		return c.dropOrphan(id)
	}
	return nil
}

func orphanHash(id string) KeyHash { return HashKey("orphan:" + id) }

// putOrphan records the orphan entry of input id, unless it is there. The
// caller holds mu.
func (c *Checkpoint) putOrphan(id string) error {
	h := orphanHash(id)
	if _, ok := c.runOrphans[h]; ok {
		return nil
	}
	had, err := c.updateLocked(h, func(s *shard, old entry) entry {
		e := old
		e.state, e.flags = Done, e.flags&flagSeen|flagAccepted|flagOrphan
		if e.idEnc == memNone || !sameID(s, &e, id) {
			packID(s, &e, id)
		}
		return e
	})
	if had || err != nil {
		return err
	}
	if c.runOrphans == nil {
		c.runOrphans = make(map[KeyHash]string)
	}
	c.runOrphans[h] = id
	c.scratch = appendRecord(c.scratch[:0], h, Done, flagAccepted|flagOrphan, id, nil)
	return c.write(c.scratch)
}

// dropOrphan removes the orphan entry of input id, if there is one. The
// caller holds mu.
func (c *Checkpoint) dropOrphan(id string) error {
	h := orphanHash(id)
	_, inRun := c.runOrphans[h]
	delete(c.runOrphans, h)
	if !c.idx.drop(h) && !inRun {
		return nil
	}
	return c.write(appendTombstone(c.scratch[:0], h))
}

// adopted reports whether r is the final result of an item whose input the
// sink adopted (pipeline.Sync.Adopted). The mark is read with the item's
// done result only: an earlier event is recorded while the sink still holds
// the item and may change the mark (an adopted input deleted and sent
// again is the job's own).
func adopted(r pipeline.Result) bool {
	return r.Event == pipeline.EventDone && r.Item.Sync != nil && r.Item.Sync.Adopted
}

// fresh returns the state and flags of the record of r for an item that
// is not in the index: what the event implies on its own, since the entry
// before it (recorded earlier in this run, if at all) is not in memory.
func fresh(r pipeline.Result) (State, uint8) {
	switch r.Event {
	case pipeline.EventAccepted:
		return Accepted, flagAccepted
	case pipeline.EventAnnotated:
		return Accepted, flagAccepted | flagAnnotated
	case pipeline.EventDone:
		// A sink finishes an item with regions only once its annotations
		// are in (clarifai.Sink: EventAnnotated, then EventDone).
		if len(r.Item.Regions) > 0 {
			return Done, flagAccepted | flagAnnotated
		}
		return Done, flagAccepted
	}
	// EventFailed with a server code (see Recorded). The annotate and verify
	// stages run only on an input the server accepted: it exists there.
	if r.Stage == "annotate" || r.Stage == "verify" {
		return Failed, flagAccepted
	}
	return Failed, 0
}

// Unseen calls yield with every input of the job that no Lookup of this
// process matched (see pipeline.SyncCheckpoint): the entries loaded from
// disk that the server accepted (done, accepted, or failed after being
// accepted) and hold an ID, that are not legacy (an entry of format 1 or
// 2 may be of an item whose key changed form, not one that left), not
// adopted (pipeline.Sync.Adopted: this job may not have created it) and that
// no Lookup found; and the orphan entries this process recorded. The order
// is unspecified. It loads the entries if nothing did yet, copies 1/64 of
// the index at a time and calls yield without holding a lock. Meaningful
// only after every source was read to its end (a source skipped as
// complete looks nothing up).
func (c *Checkpoint) Unseen(yield func(pipeline.Departed) bool) {
	_ = c.ensureLoaded()
	unseen := func(s *shard, h KeyHash, e entry) (pipeline.Departed, bool) {
		if e.flags&(flagSeen|flagLegacy|flagAdopted) != 0 || e.idEnc == memNone ||
			e.state != Done && e.state != Accepted && e.flags&flagAccepted == 0 {
			return pipeline.Departed{}, false
		}
		return pipeline.Departed{ID: s.idString(&e), Key: h}, true
	}
	if !eachEntry(c.idx, unseen, yield) {
		return
	}
	var batch []pipeline.Departed
	c.mu.Lock()
	for h, id := range c.runOrphans {
		batch = append(batch, pipeline.Departed{ID: id, Key: h})
	}
	c.mu.Unlock()
	for _, d := range batch {
		if !yield(d) {
			return
		}
	}
}

// RecordDeleted records that the server deleted d's input (d as Unseen
// yielded it): a tombstone record removes the entry, in memory and for
// later runs, so that it is not yielded again and a later item of its key
// is new. Errors are Record's; with Options.ReadOnly it returns nil and
// writes nothing.
func (c *Checkpoint) RecordDeleted(d pipeline.Departed) error {
	if c.opts.ReadOnly {
		return nil
	}
	if err := c.ensureLoaded(); err != nil {
		return err
	}
	h := KeyHash(d.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	c.idx.drop(h)
	delete(c.runOrphans, h)
	return c.write(appendTombstone(c.scratch[:0], h))
}

// Reopen marks the entry of h accepted but not confirmed, whatever its
// state, so that the next run verifies the input again instead of skipping
// it, and sends it again if the server lost it. `ingest verify --repair`
// uses it for inputs missing or failed on the server. h must be an entry
// loaded from disk (as Entries yields them); any other h is ignored.
//
// Reopening an entry first forgets every complete-source marker, durably:
// otherwise the next run would not read the source of the reopened item and
// never check it again. Errors are Record's, or the error removing the
// markers (nothing is reopened then); ErrReadOnly with Options.ReadOnly.
func (c *Checkpoint) Reopen(h KeyHash) error {
	if c.opts.ReadOnly {
		return ErrReadOnly
	}
	if err := c.ensureLoaded(); err != nil {
		return err
	}
	s := c.idx.shard(h)
	s.mu.RLock()
	_, had := s.m[h]
	s.mu.RUnlock()
	if !had {
		return nil
	}
	if err := c.clearSources(); err != nil {
		return err
	}
	return c.update(h, func(_ *shard, old entry) entry {
		e := old
		e.state = Accepted
		e.flags |= flagAccepted
		return e
	})
}

// update appends the record of h's new entry, for an entry in the index:
// next (given the shard and the current entry) returns the new entry; it
// runs under the shard's write lock, and an entry that does not change
// writes nothing. An h not in the index is left alone.
func (c *Checkpoint) update(h KeyHash, next func(s *shard, old entry) entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	_, err := c.updateLocked(h, next)
	return err
}

// updateLocked is update for a caller that holds mu and checked writable;
// had reports whether h is in the index.
func (c *Checkpoint) updateLocked(h KeyHash, next func(s *shard, old entry) entry) (had bool, err error) {
	s := c.idx.shard(h)
	s.mu.Lock()
	old, had := s.m[h]
	if !had {
		s.mu.Unlock()
		return false, nil
	}
	e := next(s, old)
	if e == old {
		s.mu.Unlock()
		return true, nil
	}
	c.idx.put(s, h, e, old, true)
	// Encode under the shard lock: appendEntry may read the shard's arena.
	c.scratch = appendEntry(c.scratch[:0], s, h, &e)
	s.mu.Unlock()
	return true, c.write(c.scratch)
}

// writable returns ErrClosed after Close, or the sticky failure. The
// caller holds mu.
func (c *Checkpoint) writable() error {
	if c.closed {
		return ErrClosed
	}
	return c.err
}

// write appends encoded records to the active log, and asks the flusher
// for a sync once SyncBytes are waiting. The caller holds mu. A failure
// sticks.
func (c *Checkpoint) write(rec []byte) error {
	lf := c.cur
	n, err := lf.w.Write(rec)
	lf.size += int64(n)
	c.unsynced += n
	if err != nil {
		c.err = fmt.Errorf("checkpoint: append to %s: %w", lf.path, err)
		return c.err
	}
	c.recorded.Add(1)
	if c.unsynced >= c.opts.SyncBytes {
		select {
		case c.syncReq <- struct{}{}:
		default: // a sync is already requested
		}
	}
	return nil
}

// transition returns the entry after event ev with input ID id (empty: keep
// the recorded one), for an entry in the index. The caller holds s's write
// lock. A done entry stays done: nothing later can undo a finished item.
func transition(s *shard, old entry, ev pipeline.Event, id string, dig *pipeline.Digests) entry {
	e := old
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
	if dig != nil {
		s.putDigests(&e, dig)
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
	if c.unsynced == 0 { // nothing written since the last sync, or not loaded
		c.mu.Unlock()
		return nil
	}
	err := lf.w.Flush()
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
// Stats, Entries and SourceDone keep working from memory afterwards; a
// checkpoint whose entries were never loaded answers as an empty one then.
func (c *Checkpoint) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	// Claim the load if nothing did (or wait for one in progress): nothing
	// may load after the lock is released.
	c.loadOnce.Do(func() { c.idx = newIndex(0) })
	close(c.stop)
	<-c.flusherDone
	c.bg.Wait()

	c.syncMu.Lock()
	c.mu.Lock()
	err := c.err
	if lf := c.cur; lf != nil {
		if err == nil {
			if err = lf.w.Flush(); err == nil {
				err = lf.f.Sync()
			}
			if err != nil {
				err = fmt.Errorf("checkpoint: sync %s: %w", lf.path, err)
			}
		}
		if cerr := lf.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("checkpoint: %w", cerr)
		}
	}
	c.mu.Unlock()
	c.syncMu.Unlock()
	if derr := c.closeDatasets(); err == nil && derr != nil {
		err = fmt.Errorf("checkpoint: %w", derr)
	}
	if lerr := unlockDir(c.lock); err == nil && lerr != nil {
		err = fmt.Errorf("checkpoint: release lock: %w", lerr)
	}
	return err
}

// Stats is a snapshot of a checkpoint's size.
type Stats struct {
	// Entries is the number of entries in memory: those loaded from disk,
	// which Lookup answers from. Accepted, Done and Failed split it by
	// state, as this process's Records changed them. Annotated counts
	// entries (of any state) whose annotations were accepted. Items that
	// only this process recorded are not among them (see Record): the next
	// Open counts them.
	Entries, Accepted, Done, Failed, Annotated int64
	// Legacy counts the entries of format 1 and 2 files not yet moved to
	// their stable key; Orphans the orphan entries (see Entry). Both are
	// among Entries.
	Legacy, Orphans int64
	// Recorded is the number of entry records this process appended.
	Recorded int64
	// LogBytes is the size of the active log, buffered records included;
	// SnapshotBytes the size of the snapshot.
	LogBytes, SnapshotBytes int64
	// Compactions is the number of compactions since Open.
	Compactions int64
}

// Stats returns the current counts; it loads the entries if nothing did
// yet. It is safe for concurrent use; the fields may be a few records apart
// while Record runs.
func (c *Checkpoint) Stats() Stats {
	_ = c.ensureLoaded()
	s := Stats{
		Accepted:      c.idx.counts[Accepted].Load(),
		Done:          c.idx.counts[Done].Load(),
		Failed:        c.idx.counts[Failed].Load(),
		Annotated:     c.idx.annotated.Load(),
		Legacy:        c.idx.legacy.Load(),
		Orphans:       c.idx.orphans.Load(),
		Recorded:      c.recorded.Load(),
		SnapshotBytes: c.snapBytes.Load(),
		Compactions:   c.compactions.Load(),
	}
	s.Entries = s.Accepted + s.Done + s.Failed
	c.mu.Lock()
	if c.cur != nil {
		s.LogBytes = c.cur.size
	}
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
	// Legacy is set for an entry of a format 1 or 2 file, keyed by the
	// hash of the item's full key (see Lookup).
	Legacy bool
	// Orphan is set for the entry of an input that an item's earlier
	// version left on the server (see Record); its KeyHash is no item's.
	Orphan bool
}

// Entries calls yield for every entry in memory (those loaded from disk,
// as this process's Records changed them; see Stats), in no particular
// order, until yield returns false; use it as `for e := range cp.Entries`.
// Open a checkpoint afresh to see everything recorded, as `ingest verify`
// does. It loads the entries if nothing did yet, copies 1/64 of the index
// at a time under a read lock and calls yield without holding any lock, so
// yield may call Lookup; changes made meanwhile may or may not be seen. It
// works after Close.
func (c *Checkpoint) Entries(yield func(Entry) bool) {
	_ = c.ensureLoaded()
	eachEntry(c.idx, func(s *shard, h KeyHash, e entry) (Entry, bool) {
		return Entry{
			KeyHash: h, ID: s.idString(&e), State: e.state,
			Accepted: e.flags&flagAccepted != 0, Annotated: e.flags&flagAnnotated != 0,
			Legacy: e.flags&flagLegacy != 0, Orphan: e.flags&flagOrphan != 0,
		}, true
	}, yield)
}

// eachEntry calls yield with what pick makes of each entry of x that it
// picks, copying 1/64 of the index at a time under its shard's read lock
// and calling yield without holding a lock, until yield returns false. It
// reports whether it went through every shard.
func eachEntry[T any](x *index, pick func(s *shard, h KeyHash, e entry) (T, bool), yield func(T) bool) bool {
	var batch []T
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		batch = batch[:0]
		for h, e := range s.m {
			if v, ok := pick(s, h, e); ok {
				batch = append(batch, v)
			}
		}
		s.mu.RUnlock()
		for _, v := range batch {
			if !yield(v) {
				return false
			}
		}
	}
	return true
}
