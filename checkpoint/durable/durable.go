// Package durable replaces small state files so that a crash or a kill at
// any moment leaves either the old content or the new one, whole, never a
// torn mix: the checkpoint's snapshot and source markers, the cloud
// source's job state, the run report and the emulator's saved state all
// go through WriteFile.
package durable

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TempSuffix is appended to a path to name the temporary file WriteFile
// writes before the rename. A crash can leave one behind; the next
// WriteFile to the same path truncates it, and owners of a directory may
// remove it when they open it.
const TempSuffix = ".tmp"

// WriteFile replaces the file at path with what write writes: into
// path+TempSuffix (created with perm, or truncated), through a buffer that
// WriteFile flushes, then fsync, close, rename over path and fsync of the
// directory. write must not keep w. On any error the temporary file is
// removed, path is as it was, and the error names the step and the file.
// Concurrent WriteFiles to one path must be serialized by the caller.
func WriteFile(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	tmp := path + TempSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
