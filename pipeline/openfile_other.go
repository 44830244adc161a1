//go:build !unix

package pipeline

import "os"

// OpenFile is os.Open (see openfile_unix.go).
func OpenFile(path string) (*os.File, error) { return os.Open(path) }
