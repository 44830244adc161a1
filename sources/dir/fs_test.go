package dir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// spyFS is the OS file system, recording what the source opens and
// failing the paths it is told to.
type spyFS struct {
	osFS
	readDirErr map[string]error // by path; the names are still returned
	lstatErr   map[string]error

	mu     sync.Mutex
	opened []string
}

func (f *spyFS) ReadDirNames(dir string) ([]string, error) {
	names, err := f.osFS.ReadDirNames(dir)
	if e := f.readDirErr[dir]; e != nil {
		return names[:0], e
	}
	return names, err
}

func (f *spyFS) Lstat(name string) (fs.FileInfo, error) {
	if e := f.lstatErr[name]; e != nil {
		return nil, e
	}
	return f.osFS.Lstat(name)
}

func (f *spyFS) Open(name string) (fs.File, error) {
	f.mu.Lock()
	f.opened = append(f.opened, name)
	f.mu.Unlock()
	return f.osFS.Open(name)
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func stream(t *testing.T, src *Source) []*pipeline.Item {
	t.Helper()
	items, err := pipelinetest.Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestNoMediaContentRead proves that the source opens only the companions
// of media files (sidecars and paired texts), never a media file: their
// bytes are for the detector, after the resume filter.
func TestNoMediaContentRead(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"a.jpg": "x", "a.json": `{"concepts": ["a"]}`,
		"b.png": "x", "b.txt": "caption",
		"c.mp4": "x", "d.wav": "x", "e.txt": "plain text item", "sub/f.jpg": "x",
		"labels/sub/f.txt": "0 0.5 0.5 0.2 0.2", "labels/classes.txt": "cat",
	})
	src, err := New(Config{Path: root, PairText: true,
		Annotations: &annotations.Config{Format: annotations.FormatYOLO, Path: filepath.Join(root, "labels")}})
	if err != nil {
		t.Fatal(err)
	}
	spy := &spyFS{}
	src.fs = spy
	items := stream(t, src)
	var got []string
	for _, it := range items {
		if it.Err != nil {
			t.Errorf("%s: %v", it.Prov.Path, it.Err)
		}
		got = append(got, it.Prov.Path)
	}
	want := []string{"a.jpg", "b.png", "c.mp4", "d.wav", "e.txt", "sub/f.jpg"}
	for i := range want {
		want[i] = filepath.Join(root, filepath.FromSlash(want[i]))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("items %v, want %v", got, want)
	}
	if len(items[5].Regions) != 1 {
		t.Errorf("f.jpg regions %+v", items[5].Regions)
	}
	opened := []string{filepath.Join(root, "a.json"), filepath.Join(root, "b.txt")}
	if !slices.Equal(spy.opened, opened) {
		t.Errorf("opened %v, want only %v", spy.opened, opened)
	}
}

// TestUnreadableMediaStillEmitted is the same proof with real permissions.
func TestUnreadableMediaStillEmitted(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file; TestNoMediaContentRead proves this with a spy")
	}
	root := t.TempDir()
	write(t, root, map[string]string{"secret.jpg": "x"})
	if err := os.Chmod(filepath.Join(root, "secret.jpg"), 0); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Path: root})
	if err != nil {
		t.Fatal(err)
	}
	items := stream(t, src)
	if len(items) != 1 || items[0].Err != nil || items[0].Blob.Size != 1 {
		t.Fatalf("got %+v", items)
	}
}

// TestFailuresInjected: an unreadable folder and a failed stat are failed
// items naming the path, and the walk goes on.
func TestFailuresInjected(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"a/x.jpg": "x", "a/y.jpg": "y", "b/z.jpg": "z", "c/w.jpg": "w"})
	src, err := New(Config{Path: root})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	src.fs = &spyFS{
		readDirErr: map[string]error{filepath.Join(root, "b"): boom},
		lstatErr:   map[string]error{filepath.Join(root, "a", "x.jpg"): fs.ErrPermission},
	}
	items := stream(t, src)
	type got struct{ path, err string }
	var gots []got
	for _, it := range items {
		g := got{path: strings.TrimPrefix(it.Prov.Path, root)}
		if it.Err != nil {
			g.err = strings.ReplaceAll(it.Err.Error(), root, "ROOT")
			if errors.Is(it.Err, pipeline.ErrSkip) || it.Stage != "source" {
				t.Errorf("%s: %v is not a source failure", g.path, it.Err)
			}
		}
		gots = append(gots, g)
	}
	want := []got{
		{"/a/x.jpg", "ROOT/a/x.jpg: stat: permission denied"},
		{"/a/y.jpg", ""},
		{"/b", "ROOT/b: read directory: boom"},
		{"/c/w.jpg", ""},
	}
	if !slices.Equal(gots, want) {
		t.Errorf("got %v\nwant %v", gots, want)
	}
}
