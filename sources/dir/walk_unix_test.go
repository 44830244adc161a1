//go:build unix

package dir_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// TestNamedPipeSkipped: a file that is not regular is reported as skipped,
// and a companion that is not regular fails its item; neither is opened
// (opening a pipe would block the walk).
func TestNamedPipeSkipped(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "x", "b.jpg": "x"})
	for _, name := range []string{"pipe.jpg", "b.json", "b.txt"} {
		if err := syscall.Mkfifo(filepath.Join(root, name), 0o644); err != nil {
			t.Skip("mkfifo:", err)
		}
	}
	want := []view{
		{Rel: "a.jpg"},
		{Rel: "b.jpg", Err: "fail: ROOT/b.jpg: text: ROOT/b.txt is not a regular file"},
		{Rel: "pipe.jpg", Err: "skip: ROOT/pipe.jpg: skipped: not a regular file (p---------)"},
	}
	if d := diff(want, run(t, dir.Config{Path: root, PairText: true})); d != "" {
		t.Error(d)
	}
}
