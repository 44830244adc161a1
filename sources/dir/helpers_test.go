package dir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mediaDir holds real sample files of every supported format.
const mediaDir = "../../pipeline/media/testdata"

// writeTree creates files under root. A content "@name" copies the sample
// file name from mediaDir; other contents are written as they are.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasPrefix(content, "@") {
			var err error
			if data, err = os.ReadFile(filepath.Join(mediaDir, content[1:])); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// view is what a test compares of an item.
type view struct {
	Rel        string
	Kind       pipeline.Kind
	ID         string
	Text       string
	Concepts   []pipeline.Concept
	Metadata   map[string]any
	Regions    []pipeline.Region
	DatasetIDs []string
	Geo        *pipeline.Geo
	// Err is "skip: <msg>" or "fail: <msg>" with the root shown as ROOT.
	Err string
}

func viewOf(root string, it *pipeline.Item) view {
	rel, err := filepath.Rel(root, it.Prov.Path)
	if err != nil {
		rel = it.Prov.Path
	}
	v := view{
		Rel: filepath.ToSlash(rel), Kind: it.Kind, ID: it.ID, Text: it.Text, Concepts: it.Concepts,
		Metadata: it.Metadata, Regions: it.Regions, DatasetIDs: it.DatasetIDs, Geo: it.Geo,
	}
	if it.Err != nil {
		kind := "fail: "
		if errors.Is(it.Err, pipeline.ErrSkip) {
			kind = "skip: "
		}
		v.Err = kind + strings.ReplaceAll(it.Err.Error(), root, "ROOT")
	}
	return v
}

// run streams a source with cfg and returns the views of its items.
func run(t testing.TB, cfg dir.Config) []view {
	t.Helper()
	items := collect(t, cfg)
	out := make([]view, len(items))
	for i, it := range items {
		out[i] = viewOf(cfg.Path, it)
	}
	return out
}

func collect(t testing.TB, cfg dir.Config) []*pipeline.Item {
	t.Helper()
	src, err := dir.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	items, err := pipelinetest.Collect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Err == nil && (it.Blob == nil || it.Blob.Path != it.Prov.Path || it.Prov.Source != cfg.Path) {
			t.Errorf("%s: blob %+v, prov %+v", it.Prov.Path, it.Blob, it.Prov)
		}
	}
	return items
}

// rels returns the relative paths of views.
func rels(vs []view) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Rel
	}
	return out
}

// find returns the view of rel.
func find(t testing.TB, vs []view, rel string) view {
	t.Helper()
	for _, v := range vs {
		if v.Rel == rel {
			return v
		}
	}
	t.Fatalf("no item %s in %v", rel, rels(vs))
	return view{}
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func diff(want, got any) string { return cmp.Diff(want, got, cmpOpts...) }

func pos(ids ...string) []pipeline.Concept {
	out := make([]pipeline.Concept, len(ids))
	for i, id := range ids {
		out[i] = pipeline.Positive(id)
	}
	return out
}
