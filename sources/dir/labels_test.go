package dir_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

func TestSidecars(t *testing.T) {
	full := `{
  "id": "cat-1",
  "concepts": ["cat", "-dog", "bird:0", "fish:1", {"id": "x", "name": "X", "value": 0}, {"id": "y"}],
  "metadata": {"by": "ann", "n": 2, "tags": ["a"], "nested": {"ok": true}, "none": null},
  "geo": {"lat": 48.5, "lon": -2.25},
  "regions": [
    {"label": "cat", "box": [0.1, 0.2, 0.5, 0.75]},
    {"label": "cat", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.25, 0.5]]},
    {"id": "r1", "label": "dog", "box": [10, 20, 110, 220], "pixels": true}
  ],
  "dataset_ids": ["pets", "ds"]
}`
	fullView := view{
		Rel: "cat.jpg", ID: "cat-1",
		Concepts: []pipeline.Concept{
			pipeline.Positive("cat"), pipeline.Negative("dog"), pipeline.Negative("bird"), pipeline.Positive("fish"),
			{ID: "x", Name: "X", Value: 0}, pipeline.Positive("y"),
		},
		Metadata: map[string]any{"by": "ann", "n": 2.0, "tags": []any{"a"}, "nested": map[string]any{"ok": true}, "none": nil},
		Geo:      &pipeline.Geo{Latitude: 48.5, Longitude: -2.25},
		Regions: []pipeline.Region{
			{Concepts: pos("cat"), Box: &pipeline.BoundingBox{Left: 0.1, Top: 0.2, Right: 0.5, Bottom: 0.75}},
			{Concepts: pos("cat"), Polygon: []pipeline.Point{{Col: 0.1, Row: 0.1}, {Col: 0.5, Row: 0.1}, {Col: 0.25, Row: 0.5}}},
			{ID: "r1", Pixels: true, Concepts: pos("dog"), Box: &pipeline.BoundingBox{Left: 10, Top: 20, Right: 110, Bottom: 220}},
		},
		DatasetIDs: []string{"ds", "pets"},
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		cfg   dir.Config // Path is set by the test
		want  []view
		// wantErr, if set, is a substring of the Err of the item named
		// by want[0] (whose Err is then not compared).
		wantErr string
	}{
		{
			name:  "full-name sidecar",
			files: map[string]string{"cat.jpg": "@img.jpg", "cat.jpg.json": full},
			cfg:   dir.Config{DatasetIDs: []string{"ds"}},
			want:  []view{fullView},
		},
		{
			name:  "stem sidecar",
			files: map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["cat"]}`},
			want:  []view{{Rel: "cat.jpg", Concepts: pos("cat")}},
		},
		{
			name:  "a full-name sidecar takes its file out of a shared stem sidecar",
			files: map[string]string{"cat.jpg": "x", "cat.png": "y", "cat.jpg.json": `{"id": "a"}`, "cat.json": `{"id": "b"}`},
			want:  []view{{Rel: "cat.jpg", ID: "a"}, {Rel: "cat.png", ID: "b"}},
		},
		{
			name:  "full name wins over stem",
			files: map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["stem"]}`, "cat.jpg.json": `{"concepts": ["full"]}`},
			want:  []view{{Rel: "cat.jpg", Concepts: pos("full")}},
		},
		{
			name:  "stem sidecar shared by two files",
			files: map[string]string{"cat.jpg": "x", "cat.png": "y", "cat.JSON": `{"concepts": ["cat"]}`},
			want:  []view{{Rel: "cat.jpg", Concepts: pos("cat")}, {Rel: "cat.png", Concepts: pos("cat")}},
		},
		{
			name:  "shared stem sidecar must not set an id",
			files: map[string]string{"cat.jpg": "x", "cat.png": "y", "cat.json": `{"id": "one"}`},
			want: []view{
				{Rel: "cat.jpg", Err: `fail: ROOT/cat.jpg: sidecar: ROOT/cat.json sets id "one" but is the sidecar of cat.jpg, cat.png; name it cat.jpg.json to give one file an ID`},
				{Rel: "cat.png", Err: `fail: ROOT/cat.png: sidecar: ROOT/cat.json sets id "one" but is the sidecar of cat.jpg, cat.png; name it cat.png.json to give one file an ID`},
			},
		},
		{
			name:  "json without a media sibling is a file",
			files: map[string]string{"cat.jpg": "x", "data.json": `{}`},
			want:  []view{{Rel: "cat.jpg"}, {Rel: "data.json"}},
		},
		{
			name:  "sidecars off",
			files: map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["cat"]}`},
			cfg:   dir.Config{Sidecars: new(false)},
			want:  []view{{Rel: "cat.jpg"}, {Rel: "cat.json"}},
		},
		{
			name:  "sidecar found whatever include says",
			files: map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["cat"]}`},
			cfg:   dir.Config{Include: []string{"*.jpg"}},
			want:  []view{{Rel: "cat.jpg", Concepts: pos("cat")}},
		},
		{
			name:    "malformed JSON",
			files:   map[string]string{"cat.jpg": "x", "cat.json": "{\n  \"concepts\": [\"cat\",]\n}"},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: "fail: ROOT/cat.jpg: sidecar: ROOT/cat.json line 2 column 22: invalid character ']'",
		},
		{
			name:    "truncated JSON",
			files:   map[string]string{"cat.jpg": "x", "cat.json": "{\"concepts\": [\"cat\""},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: "ROOT/cat.json line 1 column 20: unexpected end of file",
		},
		{
			name:    "wrong type",
			files:   map[string]string{"cat.jpg": "x", "cat.json": "{\"geo\": {\"lat\": \"north\"}}"},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: "ROOT/cat.json line 1 column 23: geo.lat: want a number, got string",
		},
		{
			name:    "unknown field",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"labels": ["cat"]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `ROOT/cat.json: unknown field "labels"`,
		},
		{
			name:    "unknown field in a concept object",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": [{"id": "cat", "score": 1}]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `unknown field "score"`,
		},
		{
			name:    "bad concept value",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["cat", "dog:yes"]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `ROOT/cat.json: concepts[1]: concept "dog:yes": the value after ':' must be a number in [0, 1]`,
		},
		{
			name:    "negative with value",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["-dog:1"]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `concepts[0]: concept "-dog:1": use "-id" or "id:0", not both`,
		},
		{
			name:    "empty concept",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["-"]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `concepts[0]: concept "-": empty concept ID`,
		},
		{
			name:    "concept of the wrong type",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": [3]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `concept 3: want a string`,
		},
		{
			name:    "bad id",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"id": "a/b"}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `ROOT/cat.json: id: input ID "a/b" has the character '/'`,
		},
		{
			name:    "box out of range",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"regions": [{"label": "c", "box": [0, 0, 2, 1]}]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `regions[0].box: 2 is out of range ([0, 1])`,
		},
		{
			name:    "box and polygon",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"regions": [{"label": "c", "box": [0, 0, 1, 1], "polygon": [[0, 0], [1, 0], [1, 1]]}]}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `regions[0]: want exactly one of "box" and "polygon"`,
		},
		{
			name:    "geo incomplete",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `{"geo": {"lat": 1}}`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `geo: want both "lat" and "lon"`,
		},
		{
			name:    "not an object",
			files:   map[string]string{"cat.jpg": "x", "cat.json": `["cat"]`},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `ROOT/cat.json: want a JSON object`,
		},
		{
			name:    "trailing data",
			files:   map[string]string{"cat.jpg": "x", "cat.json": "{}\n{}"},
			want:    []view{{Rel: "cat.jpg"}},
			wantErr: `ROOT/cat.json line 2 column 2: data after the JSON object`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tc.files)
			tc.cfg.Path = root
			got := run(t, tc.cfg)
			if tc.wantErr != "" {
				if len(got) != len(tc.want) || !strings.Contains(got[0].Err, tc.wantErr) {
					t.Fatalf("got %+v\nwant the error %q", got, tc.wantErr)
				}
				got[0].Err = ""
			}
			if d := diff(tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestSidecarEditChangesKey: an edited sidecar gives the item a new key,
// so that a rerun delivers it again; an untouched one keeps it.
func TestSidecarEditChangesKey(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"cat.jpg": "x", "cat.json": `{"concepts": ["cat"]}`})
	key := func() string { return collect(t, dir.Config{Path: root})[0].Key }
	k1 := key()
	if k1 != key() {
		t.Fatal("key changed without an edit")
	}
	if !strings.Contains(k1, "|sidecar:") {
		t.Errorf("key %s has no sidecar part", k1)
	}
	sc := filepath.Join(root, "cat.json")
	if err := os.WriteFile(sc, []byte(`{"concepts": ["dog"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(sc, later, later); err != nil {
		t.Fatal(err)
	}
	if key() == k1 {
		t.Error("key did not change after the sidecar was edited")
	}
}

func TestFolderLabelsAndSplit(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"top.jpg":               "x",
		"cat/1.jpg":             "x",
		"train/dog/2.jpg":       "x",
		"VAL/dog/3.jpg":         "x",
		"test/4.jpg":            "x",
		"bird/Validation/5.jpg": "x",
		"bird/6.jpg":            "x",
		"bird/6.json":           `{"concepts": ["-bird"], "metadata": {"split": "val"}}`,
	})
	md := func(split string) map[string]any { return map[string]any{"split": split} }
	for _, tc := range []struct {
		name string
		cfg  dir.Config
		want []view
	}{
		{"labels only", dir.Config{LabelsFromFolders: true}, []view{
			{Rel: "VAL/dog/3.jpg", Concepts: pos("dog")},
			{Rel: "bird/6.jpg", Concepts: []pipeline.Concept{pipeline.Negative("bird")}, Metadata: md("val")},
			{Rel: "bird/Validation/5.jpg", Concepts: pos("Validation")},
			{Rel: "cat/1.jpg", Concepts: pos("cat")},
			{Rel: "test/4.jpg", Concepts: pos("test")},
			{Rel: "top.jpg"},
			{Rel: "train/dog/2.jpg", Concepts: pos("dog")},
		}},
		{"split only, with datasets", dir.Config{SplitFromPath: true, SplitDatasets: map[string]string{"train": "ds-train", "val": "ds-val"}}, []view{
			{Rel: "VAL/dog/3.jpg", Metadata: md("validate"), DatasetIDs: []string{"ds-val"}},
			// The sidecar's split replaces the path's, and picks the dataset.
			{Rel: "bird/6.jpg", Concepts: []pipeline.Concept{pipeline.Negative("bird")}, Metadata: md("val"), DatasetIDs: []string{"ds-val"}},
			{Rel: "bird/Validation/5.jpg", Metadata: md("validate"), DatasetIDs: []string{"ds-val"}},
			{Rel: "cat/1.jpg"},
			{Rel: "test/4.jpg", Metadata: md("test")},
			{Rel: "top.jpg"},
			{Rel: "train/dog/2.jpg", Metadata: md("train"), DatasetIDs: []string{"ds-train"}},
		}},
		{"labels and split", dir.Config{LabelsFromFolders: true, SplitFromPath: true}, []view{
			{Rel: "VAL/dog/3.jpg", Concepts: pos("dog"), Metadata: md("validate")},
			// The sidecar's negative wins over the folder's positive.
			{Rel: "bird/6.jpg", Concepts: []pipeline.Concept{pipeline.Negative("bird")}, Metadata: md("val")},
			{Rel: "bird/Validation/5.jpg", Concepts: pos("bird"), Metadata: md("validate")},
			{Rel: "cat/1.jpg", Concepts: pos("cat")},
			{Rel: "test/4.jpg", Metadata: md("test")},
			{Rel: "top.jpg"},
			{Rel: "train/dog/2.jpg", Concepts: pos("dog"), Metadata: md("train")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Path = root
			if d := diff(tc.want, run(t, tc.cfg)); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestPairText(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.jpg": "@img.jpg", "a.txt": "\xef\xbb\xbfa caption\n",
		"b.png": "@img.png", "b.TXT": "other",
		"c.txt": "alone",
		"d.jpg": "x", "d.txt": "bad \xff utf8",
		"e.jpg": "x", "e.txt": strings.Repeat("x", 101),
		"f.jpg": "x", "f.txt": " \n",
		"g.mp4": "x", "g.txt": "video is not paired",
		"h.jpg": "x", "h.txt": "with sidecar", "h.json": `{"concepts": ["h"]}`,
	})
	vs := run(t, dir.Config{Path: root, PairText: true, MaxTextSize: 100})
	mm := pipeline.KindMultimodal
	want := []view{
		{Rel: "a.jpg", Kind: mm, Text: "a caption\n"},
		{Rel: "b.png", Kind: mm, Text: "other"},
		{Rel: "c.txt"},
		{Rel: "d.jpg", Err: "fail: ROOT/d.jpg: text: ROOT/d.txt is not valid UTF-8 (at byte 4)"},
		{Rel: "e.jpg", Err: "fail: ROOT/e.jpg: text: ROOT/e.txt is 101 bytes; the limit is 100"},
		{Rel: "f.jpg", Err: "fail: ROOT/f.jpg: text: ROOT/f.txt is empty"},
		{Rel: "g.mp4"}, {Rel: "g.txt"},
		{Rel: "h.jpg", Kind: mm, Text: "with sidecar", Concepts: pos("h")},
	}
	if d := diff(want, vs); d != "" {
		t.Error(d)
	}
	items := collect(t, dir.Config{Path: root, PairText: true})
	if k := items[0].Key; !strings.Contains(k, "|text:") || items[0].Blob.Path != filepath.Join(root, "a.jpg") {
		t.Errorf("pair item: key %s blob %s", k, items[0].Blob.Path)
	}
	// Without PairText the texts are items of their own.
	if got := rels(run(t, dir.Config{Path: root, Include: []string{"[ab].*"}})); !slices.Equal(got, []string{"a.jpg", "a.txt", "b.TXT", "b.png"}) {
		t.Errorf("without pairing: %v", got)
	}
}
