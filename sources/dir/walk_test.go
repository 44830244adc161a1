package dir_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// TestWalkEveryKind walks real files of every format in nested folders and
// checks order, provenance, blobs and keys, and that the media detector
// then finds each kind.
func TestWalkEveryKind(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"img/a.jpg": "@img.jpg", "img/b.png": "@img.png", "img/c.gif": "@img.gif",
		"img/d.bmp": "@img.bmp", "img/e.tiff": "@img.tiff", "img/f.webp": "@img.webp",
		"video/a.mp4": "@clip.mp4", "video/b.mov": "@clip.mov", "video/c.avi": "@clip.avi",
		"video/d.wmv": "@clip.wmv", "video/deep/e.3gp": "@clip.3gp",
		"audio/a.wav": "@tone.wav", "audio/b.mp3": "@tone.mp3", "audio/c.flac": "@tone.flac", "audio/d.ogg": "@tone.ogg",
		"note.txt": "@note.txt", "README": "not media",
		"Z.jpg": "@img.jpg", // upper case sorts before lower case: byte order
	})
	items := collect(t, dir.Config{Path: root})
	want := []struct {
		rel  string
		kind pipeline.Kind
	}{
		{"README", 0}, {"Z.jpg", pipeline.KindImage},
		{"audio/a.wav", pipeline.KindAudio}, {"audio/b.mp3", pipeline.KindAudio},
		{"audio/c.flac", pipeline.KindAudio}, {"audio/d.ogg", pipeline.KindAudio},
		{"img/a.jpg", pipeline.KindImage}, {"img/b.png", pipeline.KindImage}, {"img/c.gif", pipeline.KindImage},
		{"img/d.bmp", pipeline.KindImage}, {"img/e.tiff", pipeline.KindImage}, {"img/f.webp", pipeline.KindImage},
		{"note.txt", pipeline.KindText},
		{"video/a.mp4", pipeline.KindVideo}, {"video/b.mov", pipeline.KindVideo}, {"video/c.avi", pipeline.KindVideo},
		{"video/d.wmv", pipeline.KindVideo}, {"video/deep/e.3gp", pipeline.KindVideo},
	}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	detect := media.Detector()
	for i, it := range items {
		w := want[i]
		p := filepath.Join(root, filepath.FromSlash(w.rel))
		if it.Prov.Path != p || it.Kind != pipeline.KindUnknown || it.Err != nil || it.Metadata != nil {
			t.Errorf("item %d: got %s kind %v err %v md %v; want %s, kind unknown", i, it.Prov.Path, it.Kind, it.Err, it.Metadata, p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if it.Blob.Size != fi.Size() || !it.Blob.ModTime.Equal(fi.ModTime()) {
			t.Errorf("%s: blob size %d mtime %v, want %d, %v", w.rel, it.Blob.Size, it.Blob.ModTime, fi.Size(), fi.ModTime())
		}
		if want := ids.FileKey(p, fi.Size(), fi.ModTime()); it.Key != want {
			t.Errorf("%s: key %q, want %q", w.rel, it.Key, want)
		}
		err = detect.Apply(context.Background(), it)
		switch {
		case w.kind == pipeline.KindUnknown && !errors.Is(err, pipeline.ErrSkip):
			t.Errorf("%s: detector: %v, want a skip", w.rel, err)
		case w.kind != pipeline.KindUnknown && (err != nil || it.Kind != w.kind):
			t.Errorf("%s: detector: kind %v err %v, want %v", w.rel, it.Kind, err, w.kind)
		}
	}
	// A second walk gives the same items in the same order.
	again := collect(t, dir.Config{Path: root})
	for i := range again {
		if again[i].Prov.Path != items[i].Prov.Path || again[i].Key != items[i].Key {
			t.Fatalf("walk %d differs: %s vs %s", i, again[i].Prov.Path, items[i].Prov.Path)
		}
	}
}

func TestForcedKindAndDatasets(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.dat": "x", "b/c.dat": "y"})
	items := collect(t, dir.Config{Path: root, Kind: pipeline.KindImage, DatasetIDs: []string{"ds2", "ds1"}})
	if len(items) != 2 {
		t.Fatalf("got %d items", len(items))
	}
	for _, it := range items {
		if it.Kind != pipeline.KindImage || !slices.Equal(it.DatasetIDs, []string{"ds2", "ds1"}) || !strings.HasSuffix(it.Key, "|ds=ds1,ds2") {
			t.Errorf("%s: kind %v datasets %v key %s", it.Prov.Path, it.Kind, it.DatasetIDs, it.Key)
		}
	}
}

func TestIncludeExclude(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.jpg": "x", "b.PNG": "x", "c.txt": "x", "sub/d.jpg": "x", "sub/e.JPG": "x",
		"tmp/f.jpg": "x", "tmp/deep/g.jpg": "x", "sub/tmp/h.jpg": "x",
	})
	for _, tc := range []struct {
		name             string
		include, exclude []string
		ignoreCase       bool
		want             []string
	}{
		{"all", nil, nil, false, []string{"a.jpg", "b.PNG", "c.txt", "sub/d.jpg", "sub/e.JPG", "sub/tmp/h.jpg", "tmp/deep/g.jpg", "tmp/f.jpg"}},
		{"include jpg", []string{"**/*.jpg"}, nil, false, []string{"a.jpg", "sub/d.jpg", "sub/tmp/h.jpg", "tmp/deep/g.jpg", "tmp/f.jpg"}},
		{"include jpg any case", []string{"**/*.jpg"}, nil, true, []string{"a.jpg", "sub/d.jpg", "sub/e.JPG", "sub/tmp/h.jpg", "tmp/deep/g.jpg", "tmp/f.jpg"}},
		{"exclude tmp", nil, []string{"tmp/**"}, false, []string{"a.jpg", "b.PNG", "c.txt", "sub/d.jpg", "sub/e.JPG", "sub/tmp/h.jpg"}},
		{"exclude any tmp folder", nil, []string{"**/tmp"}, false, []string{"a.jpg", "b.PNG", "c.txt", "sub/d.jpg", "sub/e.JPG"}},
		{"both", []string{"**/*.{jpg,png}"}, []string{"sub/**"}, true, []string{"a.jpg", "b.PNG", "tmp/deep/g.jpg", "tmp/f.jpg"}},
		{"root files only", []string{"*"}, nil, false, []string{"a.jpg", "b.PNG", "c.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rels(run(t, dir.Config{Path: root, Include: tc.include, Exclude: tc.exclude, IgnoreCase: tc.ignoreCase}))
			if d := diff(tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f.jpg")
	writeTree(t, root, map[string]string{"f.jpg": "x"})
	for _, tc := range []struct {
		name string
		cfg  dir.Config
		want string
	}{
		{"no path", dir.Config{}, "path is required"},
		{"missing root", dir.Config{Path: filepath.Join(root, "nope")}, "no such file"},
		{"root is a file", dir.Config{Path: file}, "not a directory"},
		{"bad glob", dir.Config{Path: root, Include: []string{"[a-"}}, "bad pattern"},
		{"forced multimodal", dir.Config{Path: root, Kind: pipeline.KindMultimodal}, "cannot be forced"},
		{"bad dataset", dir.Config{Path: root, DatasetIDs: []string{"a b"}}, "dataset ID"},
		{"bad split", dir.Config{Path: root, SplitDatasets: map[string]string{"dev": "x"}}, "want train, validate or test"},
		{"split twice", dir.Config{Path: root, SplitDatasets: map[string]string{"val": "a", "validation": "b"}}, "split validate has two datasets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dir.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestRootGone: a Root removed after New ends the run with an error.
func TestRootGone(t *testing.T) {
	root := filepath.Join(t.TempDir(), "r")
	writeTree(t, root, map[string]string{"a.jpg": "x"})
	src, err := dir.New(dir.Config{Path: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	items, err := pipelinetest.Collect(context.Background(), src)
	if err == nil || len(items) != 0 {
		t.Fatalf("got %d items, err %v; want a fatal error", len(items), err)
	}
}

func TestHiddenFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "x", ".b.jpg": "x", ".git/c.jpg": "x", "d/.e.jpg": "x"})
	if got := rels(run(t, dir.Config{Path: root})); !slices.Equal(got, []string{"a.jpg"}) {
		t.Errorf("default: got %v", got)
	}
	want := []string{".b.jpg", ".git/c.jpg", "a.jpg", "d/.e.jpg"}
	if got := rels(run(t, dir.Config{Path: root, IncludeHidden: true})); !slices.Equal(got, want) {
		t.Errorf("with hidden: got %v, want %v", got, want)
	}
}

func TestSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeTree(t, root, map[string]string{"real/a.jpg": "x"})
	writeTree(t, outside, map[string]string{"o.jpg": "xyz"})
	for _, l := range [][2]string{
		{filepath.Join(outside, "o.jpg"), "link.jpg"},
		{outside, "linkdir"},
		{root, "real/loop"},
		{filepath.Join(root, "missing"), "broken.jpg"},
	} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Skip("symlinks not supported:", err)
		}
	}
	t.Run("not followed", func(t *testing.T) {
		vs := run(t, dir.Config{Path: root})
		want := []view{
			{Rel: "broken.jpg", Err: "skip: ROOT/broken.jpg: skipped: symbolic link not followed (FollowSymlinks is off)"},
			{Rel: "link.jpg", Err: "skip: ROOT/link.jpg: skipped: symbolic link not followed (FollowSymlinks is off)"},
			{Rel: "linkdir", Err: "skip: ROOT/linkdir: skipped: symbolic link not followed (FollowSymlinks is off)"},
			{Rel: "real/a.jpg"},
			{Rel: "real/loop", Err: "skip: ROOT/real/loop: skipped: symbolic link not followed (FollowSymlinks is off)"},
		}
		if d := diff(want, vs); d != "" {
			t.Error(d)
		}
		// Include patterns apply to links as to files.
		if got := rels(run(t, dir.Config{Path: root, Include: []string{"real/*.jpg"}})); !slices.Equal(got, []string{"real/a.jpg"}) {
			t.Errorf("with include: %v", got)
		}
	})
	t.Run("followed", func(t *testing.T) {
		vs := run(t, dir.Config{Path: root, FollowSymlinks: true})
		want := []string{"broken.jpg", "link.jpg", "linkdir/o.jpg", "real/a.jpg", "real/loop"}
		if got := rels(vs); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if e := find(t, vs, "broken.jpg").Err; !strings.HasPrefix(e, "fail: ROOT/broken.jpg: broken symbolic link") {
			t.Errorf("broken link: %s", e)
		}
		if e := find(t, vs, "real/loop").Err; e != "skip: ROOT/real/loop: skipped: symbolic link loop: it leads to a folder above it" {
			t.Errorf("loop: %s", e)
		}
		items := collect(t, dir.Config{Path: root, FollowSymlinks: true})
		if it := items[1]; it.Err != nil || it.Blob.Size != 3 { // the target's size
			t.Errorf("linked file: %+v", it)
		}
	})
}

func TestUnreadableFolderAsUser(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any folder; TestFailuresInjected covers this with a fake file system")
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/x.jpg": "x", "b/y.jpg": "y", "c/z.jpg": "z"})
	if err := os.Chmod(filepath.Join(root, "b"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "b"), 0o755) })
	vs := run(t, dir.Config{Path: root})
	if got := rels(vs); !slices.Equal(got, []string{"a/x.jpg", "b", "c/z.jpg"}) {
		t.Fatalf("got %v", got)
	}
	if e := vs[1].Err; !strings.HasPrefix(e, "fail: ROOT/b: read directory") {
		t.Errorf("got %s", e)
	}
}

// TestCancel: cancelling the context ends the walk promptly, both while it
// is blocked sending and while it passes over files without sending.
func TestCancel(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d/%04d.jpg", i)] = ""
	}
	writeTree(t, root, files)
	t.Run("sending", func(t *testing.T) {
		src, err := dir.New(dir.Config{Path: root})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan *pipeline.Item)
		done := make(chan error, 1)
		go func() { done <- src.Stream(ctx, out) }()
		<-out // the walk is running; it blocks on the next send
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Stream did not return after cancel")
		}
	})
	t.Run("sending nothing", func(t *testing.T) {
		// Every file is excluded, so no send would notice the cancel.
		src, err := dir.New(dir.Config{Path: root, Include: []string{"none/**"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := src.Stream(ctx, make(chan *pipeline.Item)); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}
