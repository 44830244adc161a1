package pipeline_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

func TestParseKind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want pipeline.Kind
		ok   bool
	}{
		{"image", pipeline.KindImage, true}, {"VIDEO", pipeline.KindVideo, true}, {" Audio ", pipeline.KindAudio, true},
		{"text", pipeline.KindText, true}, {"multimodal", pipeline.KindMultimodal, true},
		{"unknown", pipeline.KindUnknown, false}, {"", pipeline.KindUnknown, false}, {"img", pipeline.KindUnknown, false},
	} {
		got, err := pipeline.ParseKind(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseKind(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestProvenanceString(t *testing.T) {
	for _, tc := range []struct {
		p    pipeline.Provenance
		want string
	}{
		{pipeline.Provenance{Source: "data", Path: "data/cat.jpg"}, "data/cat.jpg"},
		{pipeline.Provenance{Source: "m.csv", Row: 12, Path: "img/cat.jpg"}, "m.csv row 12 (img/cat.jpg)"},
		{pipeline.Provenance{Source: "urls.txt", Line: 3}, "urls.txt line 3"},
		{pipeline.Provenance{Source: "s3://b/p"}, "s3://b/p"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestItemErrorNamesItemAndField(t *testing.T) {
	err := pipeline.Errorf(pipeline.Provenance{Source: "m.csv", Row: 4}, "lat", "want a number, got %q", "x")
	if got := err.Error(); got != `m.csv row 4: lat: want a number, got "x"` {
		t.Errorf("got %q", got)
	}
	if !errors.Is(pipeline.Skip("dup"), pipeline.ErrSkip) {
		t.Error("Skip does not wrap ErrSkip")
	}
}

func TestBlobReadAll(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.FileBlob(path, 5).ReadAll(ctx, 0)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if _, err := pipeline.FileBlob(path, 4).ReadAll(ctx, 0); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("grown file: %v", err)
	}
	if _, err := pipeline.FileBlob(path, 6).ReadAll(ctx, 0); err == nil {
		t.Error("shrunk file: no error")
	}
	if _, err := pipeline.FileBlob(path, 5).ReadAll(ctx, 4); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("limit: %v", err)
	}
	if b, err := pipeline.BytesBlob(nil).ReadAll(ctx, 0); err != nil || len(b) != 0 {
		t.Errorf("empty blob: %q, %v", b, err)
	}
	mod := time.Unix(1700000000, 123)
	at := pipeline.FileBlobAt(path, 5, mod)
	if b, err := at.ReadAll(ctx, 0); err != nil || string(b) != "hello" || at.Path != path || !at.ModTime.Equal(mod) {
		t.Errorf("FileBlobAt: %q, %v, path %q, mtime %v", b, err, at.Path, at.ModTime)
	}
	if fb := pipeline.FileBlob(path, 5); !fb.ModTime.IsZero() {
		t.Errorf("FileBlob: mtime %v, want zero (unknown)", fb.ModTime)
	}
}

func TestOpenFileErrorsAreOSErrors(t *testing.T) {
	_, err := pipeline.OpenFile(filepath.Join(t.TempDir(), "missing"))
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Op != "open" {
		t.Errorf("err = %#v, want an open *fs.PathError wrapping ErrNotExist", err)
	}
}

func TestBlobReadIntoRecyclesTheBuffer(t *testing.T) {
	ctx := context.Background()
	blob := pipeline.BytesBlob([]byte("hello"))
	buf := make([]byte, 3, 64)
	got, err := blob.ReadInto(ctx, 0, buf)
	if err != nil || string(got) != "hello" || &got[:1][0] != &buf[:1][0] {
		t.Fatalf("ReadInto = %q, %v (same buffer: %v)", got, err, err == nil && &got[:1][0] == &buf[:1][0])
	}
	small := make([]byte, 0, 5) // no room for the byte that detects growth
	if got, err := blob.ReadInto(ctx, 0, small); err != nil || string(got) != "hello" {
		t.Fatalf("small buffer: %q, %v", got, err)
	}
	if _, err := pipeline.BytesBlob([]byte("hello!")).ReadInto(ctx, 0, buf); err != nil {
		t.Fatal(err)
	}
	grown := &pipeline.Blob{Size: 3, Open: pipeline.BytesBlob([]byte("hello")).Open}
	if _, err := grown.ReadInto(ctx, 0, buf); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("a grown file: %v", err)
	}
}
