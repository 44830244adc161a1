package checkpoint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// Compact folds the logs into a new snapshot now and deletes them (see the
// package documentation). It blocks until done, waiting for a background
// compaction first if one runs. Record and Lookup may run meanwhile. It
// returns ErrClosed after Close; a failure leaves the checkpoint as it was
// and usable, unless it was the switch to a new log (then Record fails too).
func (c *Checkpoint) Compact() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return c.compact()
}

// backgroundCompact runs one compaction started by Record. Its failure is
// not fatal, since the logs still hold every record: it is logged, and the
// next try waits until the log has doubled.
func (c *Checkpoint) backgroundCompact() {
	defer c.bg.Done()
	err := c.compact()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.compacting = false
	if err != nil {
		c.compactFloor = 2 * c.cur.size
		c.log.Warn("checkpoint compaction failed; the log keeps growing until the next try",
			zap.String("dir", c.dir), zap.Int64("next_try_at_log_bytes", c.compactFloor), zap.Error(err))
		return
	}
	c.compactFloor = 0
}

// compact switches to a new log, writes a snapshot that covers everything
// before it, and deletes the older logs.
func (c *Checkpoint) compact() error {
	c.compactMu.Lock()
	defer c.compactMu.Unlock()
	start := time.Now()
	next, err := c.rotate()
	if err != nil {
		return err
	}
	n, size, err := c.writeSnapshot(next)
	if err != nil {
		return err
	}
	c.snapBytes.Store(size)
	c.compactions.Add(1)
	// The snapshot is durable: the logs before next are redundant. Failing
	// to delete one is harmless (the next Open deletes it), so only log it.
	gens, _, err := listFiles(c.dir)
	if err == nil {
		for _, gen := range gens {
			if gen < next {
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
// here on, Record appends to the new log while the snapshot is written.
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
	old.dirty, c.unsynced = false, 0
	if err := c.startLog(old.gen + 1); err != nil {
		// The old log is still open and whole: keep appending to it.
		return 0, err
	}
	if err := old.f.Close(); err != nil {
		c.log.Warn("checkpoint: close rotated log", zap.String("file", old.path), zap.Error(err))
	}
	return c.cur.gen, nil
}

// writeSnapshot writes the index to the snapshot, atomically: temp file,
// fsync, rename, fsync of the directory. It holds one shard's read lock at
// a time, so Record and Lookup wait at most for the encoding of 1/64 of the
// index. Entries recorded while it runs may or may not be in it; they are
// in the log that starts at next either way, which the loader replays on top.
func (c *Checkpoint) writeSnapshot(next uint64) (count uint64, size int64, err error) {
	tmp := filepath.Join(c.dir, snapshotTmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
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
			return 0, 0, fmt.Errorf("checkpoint: write %s: %w", tmp, err)
		}
		size += int64(len(buf))
		buf = buf[:0]
	}
	buf = appendTrailer(buf, count)
	size += int64(len(buf))
	if _, err := w.Write(buf); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: write %s: %w", tmp, err)
	}
	if err := w.Flush(); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, snapshotName)); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	if err := syncDir(c.dir); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: sync %s: %w", c.dir, err)
	}
	return count, size, nil
}
