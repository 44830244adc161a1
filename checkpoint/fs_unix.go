//go:build unix

package checkpoint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes an exclusive flock(2) on dir/LOCK and writes this process's
// ID into it for the error message of the next opener. The kernel releases
// the lock when the process dies, so a killed run never leaves a stale lock.
// Two Opens in one process conflict too: flock locks belong to the open file.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := flock(dir, path, f); err != nil {
		return nil, err
	}
	// The PID is informational only; failing to write it is not an error.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// lockDirReadOnly takes the flock of lockDir on dir/LOCK without creating
// or writing it (Options.ReadOnly). Without a LOCK file no process ever
// opened the checkpoint for writing: there is nothing to exclude, and it
// returns nil.
func lockDirReadOnly(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := flock(dir, path, f); err != nil {
		return nil, err
	}
	return f, nil
}

// flock takes an exclusive, non-blocking flock(2) on f, the open dir/LOCK
// at path. If another process holds it, f is closed and the error is a
// *lockedError naming that process (the PID lockDir wrote), else the
// failure; nil when the lock is taken.
func flock(dir, path string, f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	holder := "see " + path
	if b, rerr := io.ReadAll(io.LimitReader(f, 64)); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
			holder = "pid " + strconv.Itoa(pid)
		}
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return &lockedError{dir: dir, holder: holder}
	}
	return fmt.Errorf("checkpoint: lock %s: %w", path, err)
}

// unlockDir releases the lock (nil: none was taken). The LOCK file stays:
// removing a flocked file would let two processes lock two different files
// of the same name.
func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
