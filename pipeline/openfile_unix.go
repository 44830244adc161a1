//go:build unix

package pipeline

import (
	"io/fs"
	"os"
	"syscall"
)

// OpenFile is os.Open for a file that is read once, from start to end, by
// one goroutine, as FileBlob and the media detector read files. os.Open on Linux tries to register a regular file with the
// runtime's poller (four fcntl calls and an epoll_ctl that fails), which a
// blocking read does not need; os.NewFile of an already open descriptor
// costs one fcntl. The error is os.Open's (*fs.PathError).
func OpenFile(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		switch err {
		case nil:
			return os.NewFile(uintptr(fd), path), nil
		case syscall.EINTR:
			continue
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
}
