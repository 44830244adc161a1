package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// File names in the checkpoint directory.
const (
	lockName     = "LOCK"
	snapshotName = "snapshot.ckpt"
	snapshotTmp  = snapshotName + durable.TempSuffix
	previousDir  = "previous"
	logPrefix    = "log-"
	logSuffix    = ".ckpt"
)

func logName(gen uint64) string { return fmt.Sprintf("%s%08d%s", logPrefix, gen, logSuffix) }

// parseLogName returns the generation of a log file name.
func parseLogName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, logPrefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, logSuffix)
	if !ok {
		return 0, false
	}
	gen, err := strconv.ParseUint(s, 10, 64)
	return gen, err == nil && gen > 0
}

// listFiles returns the log generations in dir, ascending, and whether a
// snapshot exists.
func listFiles(dir string) (gens []uint64, snapshot bool, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if de.Name() == snapshotName {
			snapshot = true
		} else if gen, ok := parseLogName(de.Name()); ok {
			gens = append(gens, gen)
		}
	}
	slices.Sort(gens)
	return gens, snapshot, nil
}

// scan is the result of reading one file.
type scan struct {
	hdr       header
	hasHeader bool
	valid     int64 // length of the valid prefix
	size      int64
	records   int64
	trailer   bool
	bad       *formatError // the first invalid data; nil if the file is whole
}

// scanFile reads the file at path: magic, header, records. onHeader is
// called with the header and may abort the scan with an error (returned as
// is). onEntry is called for every entry record, with the format version
// the header names; it returns an error for a record it cannot decode,
// which counts as corruption at that record. A snapshot must end with a
// trailer matching its record count. I/O errors are returned wrapped with
// the path.
func scanFile(path string, onHeader func(header) error, onEntry func(p []byte, version uint64) error) (sc scan, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sc, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		sc.size = fi.Size()
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var magic [len(fileMagic)]byte
	if n, err := io.ReadFull(br, magic[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			sc.bad = &formatError{0, fmt.Sprintf("file is %d bytes, shorter than its header", n)}
			return sc, nil
		}
		return sc, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	if string(magic[:]) != fileMagic {
		sc.bad = &formatError{0, "not a checkpoint file (bad magic)"}
		return sc, nil
	}
	fr := &frameReader{r: br, off: int64(len(fileMagic))}
	for {
		start := fr.off
		p, err := fr.next()
		if err == io.EOF {
			break
		}
		var fe *formatError
		if errors.As(err, &fe) {
			sc.bad = fe
			break
		}
		if err != nil {
			return sc, fmt.Errorf("checkpoint: read %s: %w", path, err)
		}
		if !sc.hasHeader {
			h, err := decodeHeader(p)
			if err != nil {
				sc.bad = &formatError{start, err.Error()}
				break
			}
			sc.hdr, sc.hasHeader = h, true
			sc.valid = fr.off
			if err := onHeader(h); err != nil {
				return sc, err
			}
			continue
		}
		if sc.trailer {
			sc.bad = &formatError{start, "record after the snapshot trailer"}
			break
		}
		switch p[0] {
		case recEntry:
			if err := onEntry(p, sc.hdr.version); err != nil {
				sc.bad = &formatError{start, err.Error()}
			} else {
				sc.records++
			}
		case recTrailer:
			n, err := decodeTrailer(p)
			switch {
			case err != nil:
				sc.bad = &formatError{start, err.Error()}
			case sc.hdr.kind != kindSnapshot:
				sc.bad = &formatError{start, "trailer in a log"}
			case n != uint64(sc.records):
				sc.bad = &formatError{start, fmt.Sprintf("trailer counts %d entries, read %d", n, sc.records)}
			default:
				sc.trailer = true
			}
		default:
			sc.bad = &formatError{start, fmt.Sprintf("unknown record type %q", p[0])}
		}
		if sc.bad != nil {
			break
		}
		sc.valid = fr.off
	}
	if sc.bad == nil && !sc.hasHeader {
		sc.bad = &formatError{sc.valid, "no header record"}
	}
	if sc.bad == nil && sc.hdr.kind == kindSnapshot && !sc.trailer {
		sc.bad = &formatError{sc.valid, "snapshot has no trailer (incomplete)"}
	}
	return sc, nil
}

// found is what Open saw of the files: the generation of the first log
// to replay after the snapshot, and the logs from there on.
type found struct {
	snapshot bool
	next     uint64
	gens     []uint64 // live logs, ascending
	stale    []uint64 // logs already folded into the snapshot
}

// inspect lists the files and checks the header of the snapshot and of each
// live log (version, kind, configuration fingerprint), reading a few bytes
// of each: everything Open must refuse or report is decided here, the rest
// is loaded later (load). A file whose header cannot be read is not an error
// here: load reports it as corruption.
func (c *Checkpoint) inspect() error {
	if !c.opts.ReadOnly {
		_ = os.Remove(filepath.Join(c.dir, snapshotTmp)) // a compaction that did not finish
	}
	gens, hasSnap, err := listFiles(c.dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.found = found{snapshot: hasSnap, next: 1}
	if hasSnap {
		path := filepath.Join(c.dir, snapshotName)
		h, ok, err := readHeader(path)
		if err != nil {
			return err
		}
		if ok {
			if err := c.checkHeader(path, h, kindSnapshot); err != nil {
				return err
			}
			c.found.next = h.gen
		}
		// Without a readable header, replay every log: replaying records
		// already in the snapshot again is harmless.
	}
	for _, gen := range gens {
		if gen < c.found.next {
			c.found.stale = append(c.found.stale, gen)
			continue
		}
		path := filepath.Join(c.dir, logName(gen))
		h, ok, err := readHeader(path)
		if err != nil {
			return err
		}
		if ok {
			if err := c.checkHeader(path, h, kindLog); err != nil {
				return err
			}
		}
		c.found.gens = append(c.found.gens, gen)
	}
	return nil
}

// readHeader reads the header record of the file at path. ok is false if
// the file does not start with a valid one (scanFile tells why).
func readHeader(path string) (h header, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return h, false, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 4<<10)
	var magic [len(fileMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != fileMagic {
		return h, false, nil
	}
	fr := &frameReader{r: br, off: int64(len(fileMagic))}
	p, err := fr.next()
	var fe *formatError
	switch {
	case err == io.EOF || errors.As(err, &fe):
		return h, false, nil
	case err != nil:
		return h, false, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	h, err = decodeHeader(p)
	return h, err == nil, nil
}

// checkHeader returns the error for a header this checkpoint cannot use,
// and records an allowed fingerprint mismatch.
func (c *Checkpoint) checkHeader(path string, h header, kind byte) error {
	if h.version > formatVersion {
		return fmt.Errorf("checkpoint: %s was written by a newer version of this tool (format %d, this one reads %d)",
			path, h.version, formatVersion)
	}
	if h.kind != kind {
		return fmt.Errorf("checkpoint: %s: file kind %q, want %q", path, h.kind, kind)
	}
	if c.opts.Fingerprint != "" && h.fingerprint != c.opts.Fingerprint {
		if !c.opts.AllowMismatch {
			return &configError{c.dir}
		}
		c.report.ConfigChanged = true
	}
	return nil
}

// load reads the snapshot and the logs Open found into a new index,
// deletes stale logs, repairs the active log's tail and opens it for
// appending. If the logs outgrew max(CompactMinBytes, snapshot), or the
// configuration changed, it compacts: the index is complete now, before
// this process records anything. ensureLoaded runs it once.
func (c *Checkpoint) load() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		c.idx = newIndex(0)
		return nil
	}
	ro := c.opts.ReadOnly
	if err := c.loadDatasets(); err != nil {
		return err
	}
	fd := c.found
	if fd.snapshot {
		path := filepath.Join(c.dir, snapshotName)
		var maxEntries uint64
		if fi, err := os.Stat(path); err == nil {
			maxEntries = uint64(fi.Size()) / minEntryRecord
		}
		sc, err := scanFile(path,
			func(h header) error {
				if err := c.checkHeader(path, h, kindSnapshot); err != nil {
					return err
				}
				// The hint sizes the maps at once; the file's size bounds
				// it, should a header ever claim more than the file holds.
				c.idx = newIndex(int(min(h.hint, maxEntries)))
				return nil
			},
			c.applyRecord)
		if err != nil {
			return err
		}
		c.noteScan(path, sc, false)
		c.snapBytes.Store(sc.size)
	}
	if c.idx == nil {
		c.idx = newIndex(0)
	}
	for _, gen := range fd.stale {
		if ro {
			break // folded into the snapshot; the next writer deletes them
		}
		// Folded into the snapshot by a compaction that crashed before
		// deleting it.
		if err := os.Remove(filepath.Join(c.dir, logName(gen))); err != nil {
			return fmt.Errorf("checkpoint: remove stale log: %w", err)
		}
		c.report.StaleLogs++
	}
	var active *scan
	var logBytes int64
	for i, gen := range fd.gens {
		path := filepath.Join(c.dir, logName(gen))
		sc, err := scanFile(path,
			func(h header) error { return c.checkHeader(path, h, kindLog) },
			c.applyRecord)
		if err != nil {
			return err
		}
		last := i == len(fd.gens)-1
		c.noteScan(path, sc, last && !ro)
		logBytes += sc.valid
		if last {
			active = &sc
		}
	}
	if ro {
		// Nothing is appended, repaired or compacted: cur stays nil.
		return nil
	}
	var lf *logFile
	var err error
	if active == nil {
		lf, err = c.startLog(max(fd.next, 1))
	} else {
		lf, err = c.resumeLog(fd.gens[len(fd.gens)-1], *active)
	}
	if err != nil {
		return err
	}
	// Under mu: the flusher and Sync read cur.
	c.mu.Lock()
	c.cur, c.keepFrom = lf, lf.gen
	c.mu.Unlock()
	switch {
	case c.report.ConfigChanged:
		// Rewrite everything under the new fingerprint now (see Open).
		if err := c.compact(); err != nil {
			return fmt.Errorf("checkpoint: rewrite under the new configuration: %w", err)
		}
	case c.opts.CompactMinBytes >= 0 && logBytes >= max(c.opts.CompactMinBytes, c.snapBytes.Load()):
		c.compactAtLoad()
	}
	return nil
}

// applyRecord loads one entry record of a file of format version into the
// index. The entries of format 1 and 2 files are legacy (see flagLegacy);
// a tombstone removes its entry.
func (c *Checkpoint) applyRecord(p []byte, version uint64) error {
	r, err := decodeEntry(p, version)
	if err != nil {
		return err
	}
	s := c.idx.shard(r.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.m[r.hash]
	if r.state == Deleted {
		if had {
			c.idx.remove(s, r.hash, old)
		}
		return nil
	}
	e := entry{state: r.state, flags: r.flags &^ flagDigests}
	if version < 3 {
		e.flags |= flagLegacy
	}
	if r.dig != nil {
		// A key replayed again keeps its place in the arena.
		if had && old.flags&flagDigests != 0 {
			e.dig, e.flags = old.dig, e.flags|flagDigests
		}
		d := digest.FromBinary(r.dig)
		s.setDigests(&e, &d)
	} else if had && old.flags&flagDigests != 0 && r.state != Done {
		// A later record without digests (accepted again, failed,
		// reopened) keeps what the item was done with.
		e.dig, e.flags = old.dig, e.flags|flagDigests
	}
	switch r.enc {
	case diskHex:
		copy(e.id[:], r.id)
		e.idEnc = memHex
	case diskUUID:
		copy(e.id[:], r.id)
		e.idEnc = memUUID
	case diskString:
		if had && old.idEnc != memNone && sameID(s, &old, r.id) {
			e.id, e.idEnc = old.id, old.idEnc // keep the arena from growing on replay
		} else {
			packID(s, &e, r.id)
		}
	}
	c.idx.put(s, r.hash, e, old, had)
	return nil
}

// noteScan adds a scanned file to the report.
func (c *Checkpoint) noteScan(path string, sc scan, active bool) {
	c.report.Files = append(c.report.Files, path)
	c.report.Records += sc.records
	if sc.bad != nil {
		c.report.Corruptions = append(c.report.Corruptions, Corruption{
			File: path, Offset: sc.bad.Offset, Dropped: sc.size - sc.bad.Offset,
			Reason: sc.bad.Reason, Truncated: active,
		})
	}
}

// startLog creates the log of generation gen (replacing a file with that
// name), for the caller to make the active one. Its header is fsynced, and
// the directory too, before it is used, so a log that exists after a crash
// has a valid header unless the crash hit this very function.
func (c *Checkpoint) startLog(gen uint64) (*logFile, error) {
	path := filepath.Join(c.dir, logName(gen))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	start := appendFileStart(nil, header{
		version: formatVersion, kind: kindLog, gen: gen, created: time.Now(), fingerprint: c.opts.Fingerprint,
	})
	if _, err := f.Write(start); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: sync %s: %w", path, err)
	}
	if err := durable.SyncDir(c.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: sync %s: %w", c.dir, err)
	}
	return &logFile{path: path, gen: gen, f: f, w: bufio.NewWriterSize(f, c.opts.BufferSize), size: int64(len(start))}, nil
}

// resumeLog opens the newest log for appending, first truncating it to its
// valid prefix if its tail is invalid (or starting it afresh if even its
// header is).
func (c *Checkpoint) resumeLog(gen uint64, sc scan) (*logFile, error) {
	path := filepath.Join(c.dir, logName(gen))
	if !sc.hasHeader {
		return c.startLog(gen)
	}
	if sc.bad != nil {
		if err := os.Truncate(path, sc.valid); err != nil {
			return nil, fmt.Errorf("checkpoint: truncate %s to its valid prefix: %w", path, err)
		}
	}
	if sc.hdr.version < formatVersion {
		// A file holds only records of the format its header names, so
		// that the version that wrote it can still read it: its valid
		// prefix stays, replayed before the new log. (A crash before the
		// truncation is durable only makes the next load truncate again.)
		return c.startLog(gen + 1)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if sc.bad != nil {
		// Make the truncation durable before appending after it.
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("checkpoint: sync %s: %w", path, err)
		}
	}
	return &logFile{path: path, gen: gen, f: f, w: bufio.NewWriterSize(f, c.opts.BufferSize), size: sc.valid}, nil
}

// moveAside moves the checkpoint files of dir into dir/previous, replacing
// what was there, and returns that directory ("" if there was nothing).
func moveAside(dir string) (string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		if _, isLog := parseLogName(n); isLog || n == snapshotName || n == snapshotTmp || n == sourcesName || n == sourcesTmp || n == datasetsName {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	prev := filepath.Join(dir, previousDir)
	if err := os.RemoveAll(prev); err != nil {
		return "", err
	}
	if err := os.Mkdir(prev, 0o755); err != nil {
		return "", err
	}
	for _, n := range names {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(prev, n)); err != nil {
			return "", err
		}
	}
	if err := durable.SyncDir(prev); err != nil {
		return "", err
	}
	return prev, durable.SyncDir(dir)
}
