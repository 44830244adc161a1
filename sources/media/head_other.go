//go:build !unix

package media

import (
	"errors"
	"io"
	"os"
)

// readFileHead reads the first len(buf) bytes of the file at path (fewer if
// it is shorter).
func readFileHead(path string, buf []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
