package recordfile_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sources/internal/recordfile"
)

func TestOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(p, []byte("on disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(open func() (io.ReadCloser, error), path string) string {
		t.Helper()
		rc, err := recordfile.Open(open, path)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(nil, p); got != "on disk" {
		t.Errorf("path: %q", got)
	}
	given := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("given")), nil }
	if got := read(given, p); got != "given" {
		t.Errorf("open set: %q, want what open returns", got)
	}
	if _, err := recordfile.Open(nil, filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
