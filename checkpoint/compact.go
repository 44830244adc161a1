package checkpoint

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
)

// Compact writes the entries in memory to a new snapshot now and deletes
// the logs it makes redundant (see the package documentation). Only what was
// loaded is in memory, so the logs this process appended to are kept: called
// before this process records anything, Compact folds everything; called
// later, it folds what earlier runs recorded and keeps this run's log. It
// blocks until done, waiting for a compaction started by loading first.
// Record and Lookup may run meanwhile. It returns ErrClosed after Close; a
// failure leaves the checkpoint as it was and usable, unless it was the
// switch to a new log (then Record fails too). With Options.ReadOnly it
// returns ErrReadOnly.
func (c *Checkpoint) Compact() error {
	if c.opts.ReadOnly {
		return ErrReadOnly
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := c.ensureLoaded(); err != nil {
		return err
	}
	return c.compact()
}

// compactAtLoad starts the compaction that loading decided on. The switch
// to a new log happens now, before this process can record anything, so
// that every record of this process lands in logs the snapshot starts
// under; the snapshot is written in the background. A failure is not fatal
// (the logs still hold every record): it is logged, and the next load tries
// again.
func (c *Checkpoint) compactAtLoad() {
	c.compactMu.Lock()
	next, err := c.rotate()
	if err != nil {
		c.compactMu.Unlock()
		c.log.Warn("checkpoint compaction failed; the next open tries again", zap.String("dir", c.dir), zap.Error(err))
		return
	}
	c.report.Compacted = true
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.compactMu.Unlock()
		if err := c.fold(next, time.Now()); err != nil {
			c.log.Warn("checkpoint compaction failed; the next open tries again", zap.String("dir", c.dir), zap.Error(err))
		}
	}()
}

// compact switches to a new log, writes a snapshot of the index, and deletes
// the logs before the one it starts under (keepFrom).
func (c *Checkpoint) compact() error {
	c.compactMu.Lock()
	defer c.compactMu.Unlock()
	start := time.Now()
	if _, err := c.rotate(); err != nil {
		return err
	}
	c.mu.Lock()
	from := c.keepFrom
	c.mu.Unlock()
	return c.fold(from, start)
}

// fold writes the snapshot that starts under log from and deletes the logs
// before from. The caller holds compactMu.
func (c *Checkpoint) fold(from uint64, start time.Time) error {
	n, size, err := c.writeSnapshot(from)
	if err != nil {
		return err
	}
	c.snapBytes.Store(size)
	c.compactions.Add(1)
	// The snapshot is durable: the logs before from are redundant. Failing
	// to delete one is harmless (the next Open deletes it), so only log it.
	gens, _, err := listFiles(c.dir)
	if err == nil {
		for _, gen := range gens {
			if gen < from {
				if rerr := os.Remove(filepath.Join(c.dir, logName(gen))); rerr != nil {
					err = rerr
				}
			}
		}
	}
	if err != nil {
		c.log.Warn("checkpoint: could not delete an old log; the next open will", zap.Error(err))
	}
	c.log.Info("checkpoint compacted", zap.String("dir", c.dir), zap.Uint64("entries", n),
		zap.Int64("snapshot_bytes", size), zap.Duration("took", time.Since(start)))
	return nil
}

// rotate fsyncs and closes the active log and starts the next one. From
// here on, Record appends to the new log while the snapshot is written. If
// this process has not appended anything yet, the index holds everything
// before the new log, which becomes keepFrom.
func (c *Checkpoint) rotate() (uint64, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	old := c.cur
	err := old.w.Flush()
	if err == nil {
		err = old.f.Sync()
	}
	if err != nil {
		c.err = fmt.Errorf("checkpoint: sync %s: %w", old.path, err)
		return 0, c.err
	}
	c.unsynced = 0
	lf, err := c.startLog(old.gen + 1)
	if err != nil {
		// The old log is still open and whole: keep appending to it.
		return 0, err
	}
	c.cur = lf
	if err := old.f.Close(); err != nil {
		c.log.Warn("checkpoint: close rotated log", zap.String("file", old.path), zap.Error(err))
	}
	if c.recorded.Load() == 0 { // nothing appended by this process yet
		c.keepFrom = c.cur.gen
	}
	return c.cur.gen, nil
}

// writeSnapshot writes the index to the snapshot, atomically
// (durable.WriteFile); its header says to replay the logs from generation
// next on. It holds one shard's read lock at a time, so Record and Lookup
// wait at most for the encoding of 1/64 of the index. Changes recorded
// while it runs may or may not be in it; they are in the logs from next on
// either way, which the loader replays on top.
func (c *Checkpoint) writeSnapshot(next uint64) (count uint64, size int64, err error) {
	err = durable.WriteFile(filepath.Join(c.dir, snapshotName), 0o644, func(w io.Writer) error {
		buf := appendFileStart(nil, header{
			version: formatVersion, kind: kindSnapshot, gen: next, created: time.Now(),
			hint: uint64(c.idx.len()), fingerprint: c.opts.Fingerprint,
		})
		for i := range c.idx.shards {
			s := &c.idx.shards[i]
			s.mu.RLock()
			for h, e := range s.m {
				buf = appendEntry(buf, s, h, &e)
				count++
			}
			s.mu.RUnlock()
			if _, err := w.Write(buf); err != nil {
				return err
			}
			size += int64(len(buf))
			buf = buf[:0]
		}
		buf = appendTrailer(buf, count)
		size += int64(len(buf))
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	return count, size, nil
}
