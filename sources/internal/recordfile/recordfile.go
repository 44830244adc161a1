// Package recordfile opens the one file a record source (a CSV manifest, a
// URL list) reads: the local file at its Path, or whatever its Open returns.
package recordfile

import (
	"io"
	"os"
)

// Open returns open() when open is set (a reader the caller provides, for
// input that is not a local file, and for tests), else the local file at
// path. The caller closes what it returns.
func Open(open func() (io.ReadCloser, error), path string) (io.ReadCloser, error) {
	if open != nil {
		return open()
	}
	return os.Open(path)
}
