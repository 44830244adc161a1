//go:build !unix

package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// lockDir creates dir/LOCK exclusively, holding this process's ID. Without
// flock(2) a killed run leaves the file behind: the error says to delete it
// when no other run is going.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, &lockedError{dir: dir, holder: "if no other run is going, delete " + path}
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}

// lockDirReadOnly fails as lockDir does if dir/LOCK exists (a run holds
// it, or a killed one left it), and otherwise takes no lock and writes
// nothing (Options.ReadOnly).
func lockDirReadOnly(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	if _, err := os.Stat(path); err == nil {
		return nil, &lockedError{dir: dir, holder: "if no other run is going, delete " + path}
	}
	return nil, nil
}

// unlockDir closes and removes the lock file (nil: none was taken).
func unlockDir(f *os.File) error {
	if f == nil {
		return nil
	}
	err := f.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}
