package media

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// osHead reads a head with os.Open and ReadFull: readHead, through
// pipeline.OpenFile, must give the same bytes and errors.
func osHead(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

func TestReadHeadIsOSRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, path := range []string{write("big", 3*HeadSize+5), write("exact", HeadSize), write("short", 10),
		write("empty", 0), dir, filepath.Join(dir, "missing"), "testdata/img.jpg"} {
		want, wantErr := osHead(path, make([]byte, HeadSize))
		buf := make([]byte, HeadSize)
		got, err := readHead(pipeline.FileBlob(path, 0), buf)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%s: error %v, want %v", path, err, wantErr)
		}
		if string(got) != string(want) {
			t.Errorf("%s: %d bytes, want %d", path, len(got), len(want))
		}
	}
}
