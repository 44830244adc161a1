package manifest_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// got is the comparable part of an item. Paths and messages are relative
// to the test's folder.
type got struct {
	Row      int
	ID       string
	Kind     pipeline.Kind
	URL      string
	File     string // Blob.Path
	Size     int64  // Blob.Size
	Text     string
	Concepts []pipeline.Concept
	Metadata map[string]any
	Geo      *pipeline.Geo
	Regions  []pipeline.Region
	Datasets []string
	Path     string // Prov.Path
	Err      string
}

// summarize turns items into gots, removing dir from paths and messages.
func summarize(t *testing.T, dir string, items []*pipeline.Item) []got {
	t.Helper()
	rel := func(s string) string {
		if dir == "" {
			return s
		}
		s = strings.ReplaceAll(s, dir+string(filepath.Separator), "")
		return strings.ReplaceAll(s, dir, ".")
	}
	out := make([]got, len(items))
	for i, it := range items {
		g := got{
			Row: it.Prov.Row, ID: it.ID, Kind: it.Kind, URL: it.URL, Text: it.Text,
			Concepts: it.Concepts, Metadata: it.Metadata, Geo: it.Geo, Regions: it.Regions,
			Datasets: it.DatasetIDs, Path: rel(it.Prov.Path),
		}
		if it.Blob != nil {
			g.File, g.Size = rel(it.Blob.Path), it.Blob.Size
		}
		if it.Err != nil {
			g.Err = rel(it.Err.Error())
			if it.Stage != "source" {
				t.Errorf("row %d: Stage = %q, want source", it.Prov.Row, it.Stage)
			}
		}
		out[i] = g
	}
	return out
}

// writeFiles writes files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// streamCSV writes csv as m.csv in a new folder with files beside it, and
// streams it with cfg. It returns the folder, too.
func streamCSV(t *testing.T, cfg manifest.Config, csv string, files map[string]string) ([]*pipeline.Item, string, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	writeFiles(t, dir, map[string]string{"m.csv": csv})
	cfg.Path = filepath.Join(dir, "m.csv")
	items, err := collect(t, cfg)
	return items, dir, err
}

// collect runs a manifest source to its end, within a deadline.
func collect(t *testing.T, cfg manifest.Config) ([]*pipeline.Item, error) {
	t.Helper()
	src, err := manifest.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pipelinetest.Collect(ctx, src)
}

// genReader generates CSV rows on the fly, so a test can stream millions of
// rows without holding them: header, then row(i) for i in [0, n) (n < 0:
// without end).
type genReader struct {
	header string
	row    func(i int) string
	n, i   int
	buf    []byte
	closed bool
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.header != "":
			g.buf, g.header = append(g.buf, g.header...), ""
		case g.n >= 0 && g.i >= g.n:
			return 0, io.EOF
		default:
			g.buf = append(g.buf[:0], g.row(g.i)...)
			g.i++
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func (g *genReader) Close() error { g.closed = true; return nil }
