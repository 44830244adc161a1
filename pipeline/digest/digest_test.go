package digest_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// base is an item with every field group set.
func base() *pipeline.Item {
	return &pipeline.Item{
		ID:   "cat-1",
		Kind: pipeline.KindImage,
		MIME: "image/jpeg",
		Blob: &pipeline.Blob{Path: "data/cat.jpg", Size: 1234},
		Concepts: []pipeline.Concept{
			{ID: "cat", Name: "cat", Value: 1},
			{ID: "dog", Name: "dog", Value: 0},
		},
		Metadata: map[string]any{
			"source": "web",
			"score":  0.5,
			"tags":   []any{"a", "b"},
			"nested": map[string]any{"x": 1.0, "y": nil},
		},
		Geo:        &pipeline.Geo{Latitude: 48.8566, Longitude: 2.3522},
		DatasetIDs: []string{"train", "pets"},
		Regions: []pipeline.Region{
			{Box: &pipeline.BoundingBox{Top: 0.1, Left: 0.2, Bottom: 0.5, Right: 0.6},
				Concepts: []pipeline.Concept{{ID: "cat", Name: "cat", Value: 1}}},
			{Polygon: []pipeline.Point{{Row: 0.1, Col: 0.1}, {Row: 0.2, Col: 0.3}, {Row: 0.4, Col: 0.1}},
				Concepts: []pipeline.Concept{{ID: "dog", Name: "dog", Value: 1}}},
		},
		Key:  "id:cat-1",
		Prov: pipeline.Provenance{Source: "manifest.csv", Row: 2},
	}
}

// TestEachFieldChangesItsSum checks that an edit of one field changes the
// sum of its group and of no other, and that edits the server cannot see
// (order, float64 digits below float32, repeats in a set, the ID, the key)
// change nothing.
func TestEachFieldChangesItsSum(t *testing.T) {
	none := digest.Fields(0)
	only := func(f digest.Field) digest.Fields { return 1 << f }
	tests := []struct {
		name string
		edit func(it *pipeline.Item)
		want digest.Fields
	}{
		// Content.
		{"kind", func(it *pipeline.Item) { it.Kind = pipeline.KindVideo }, only(digest.Content)},
		{"blob size", func(it *pipeline.Item) { it.Blob.Size++ }, only(digest.Content)},
		{"blob path", func(it *pipeline.Item) { it.Blob.Path = "data/cat2.jpg" }, only(digest.Content)},
		{"blob to URL", func(it *pipeline.Item) { it.Blob, it.URL = nil, "https://x.test/cat.jpg" }, only(digest.Content)},
		{"text", func(it *pipeline.Item) { it.Text = "a cat" }, only(digest.Content)},
		{"URL with a blob is not sent", func(it *pipeline.Item) { it.URL = "https://x.test/cat.jpg" }, none},
		{"MIME is not sent", func(it *pipeline.Item) { it.MIME = "image/png" }, none},
		// Concepts.
		{"concept value", func(it *pipeline.Item) { it.Concepts[1].Value = 1 }, only(digest.Concepts)},
		{"concept ID", func(it *pipeline.Item) { it.Concepts[0].ID = "lion" }, only(digest.Concepts)},
		{"concept name", func(it *pipeline.Item) { it.Concepts[0].Name = "Cat" }, only(digest.Concepts)},
		{"concept added", func(it *pipeline.Item) { it.Concepts = append(it.Concepts, pipeline.Positive("pet")) }, only(digest.Concepts)},
		{"concept removed", func(it *pipeline.Item) { it.Concepts = it.Concepts[:1] }, only(digest.Concepts)},
		{"concepts reordered", func(it *pipeline.Item) {
			it.Concepts[0], it.Concepts[1] = it.Concepts[1], it.Concepts[0]
		}, none},
		{"concepts swap values", func(it *pipeline.Item) {
			it.Concepts[0].Value, it.Concepts[1].Value = it.Concepts[1].Value, it.Concepts[0].Value
		}, only(digest.Concepts)},
		// Metadata.
		{"metadata value", func(it *pipeline.Item) { it.Metadata["source"] = "camera" }, only(digest.Metadata)},
		{"metadata number", func(it *pipeline.Item) { it.Metadata["score"] = 0.25 }, only(digest.Metadata)},
		{"metadata type", func(it *pipeline.Item) { it.Metadata["score"] = "0.5" }, only(digest.Metadata)},
		{"metadata key added", func(it *pipeline.Item) { it.Metadata["new"] = true }, only(digest.Metadata)},
		{"metadata key removed", func(it *pipeline.Item) { delete(it.Metadata, "source") }, only(digest.Metadata)},
		{"metadata key renamed", func(it *pipeline.Item) {
			it.Metadata["origin"] = it.Metadata["source"]
			delete(it.Metadata, "source")
		}, only(digest.Metadata)},
		{"metadata nested value", func(it *pipeline.Item) { it.Metadata["nested"].(map[string]any)["x"] = 2.0 }, only(digest.Metadata)},
		{"metadata array order", func(it *pipeline.Item) { it.Metadata["tags"] = []any{"b", "a"} }, only(digest.Metadata)},
		{"metadata integer as the float64 it is sent as", func(it *pipeline.Item) {
			it.Metadata["nested"].(map[string]any)["x"] = 1
		}, none},
		{"metadata json.Number", func(it *pipeline.Item) { it.Metadata["score"] = json.Number("0.5") }, none},
		{"metadata typed map", func(it *pipeline.Item) {
			it.Metadata["nested"] = map[string]any{"y": nil, "x": float32(1)}
		}, none},
		{"metadata nested moved", func(it *pipeline.Item) {
			it.Metadata["nested"] = map[string]any{"x": 1.0}
			it.Metadata["y"] = nil
		}, only(digest.Metadata)},
		// Geo.
		{"latitude", func(it *pipeline.Item) { it.Geo.Latitude = 48.9 }, only(digest.Geo)},
		{"longitude", func(it *pipeline.Item) { it.Geo.Longitude = -2.3522 }, only(digest.Geo)},
		{"lat and lon swapped", func(it *pipeline.Item) {
			it.Geo.Latitude, it.Geo.Longitude = it.Geo.Longitude, it.Geo.Latitude
		}, only(digest.Geo)},
		{"geo removed", func(it *pipeline.Item) { it.Geo = nil }, only(digest.Geo)},
		{"geo below float32", func(it *pipeline.Item) { it.Geo.Latitude += 1e-12 }, none},
		// Datasets.
		{"dataset added", func(it *pipeline.Item) { it.DatasetIDs = append(it.DatasetIDs, "test") }, only(digest.Datasets)},
		{"dataset moved", func(it *pipeline.Item) { it.DatasetIDs[0] = "test" }, only(digest.Datasets)},
		{"datasets removed", func(it *pipeline.Item) { it.DatasetIDs = nil }, only(digest.Datasets)},
		{"datasets reordered", func(it *pipeline.Item) { it.DatasetIDs = []string{"pets", "train"} }, none},
		{"dataset repeated", func(it *pipeline.Item) { it.DatasetIDs = append(it.DatasetIDs, "train") }, none},
		// Regions.
		{"box redrawn", func(it *pipeline.Item) { it.Regions[0].Box.Bottom = 0.55 }, only(digest.Regions)},
		{"box below float32", func(it *pipeline.Item) { it.Regions[0].Box.Bottom += 1e-12 }, none},
		{"polygon point", func(it *pipeline.Item) { it.Regions[1].Polygon[2].Col = 0.2 }, only(digest.Regions)},
		{"polygon points reordered", func(it *pipeline.Item) {
			p := it.Regions[1].Polygon
			p[0], p[1] = p[1], p[0]
		}, only(digest.Regions)},
		{"region label", func(it *pipeline.Item) { it.Regions[0].Concepts[0].ID = "lion" }, only(digest.Regions)},
		{"region label value", func(it *pipeline.Item) { it.Regions[0].Concepts[0].Value = 0 }, only(digest.Regions)},
		{"region ID", func(it *pipeline.Item) { it.Regions[0].ID = "r1" }, only(digest.Regions)},
		{"region in pixels", func(it *pipeline.Item) { it.Regions[0].Pixels = true }, only(digest.Regions)},
		{"region removed", func(it *pipeline.Item) { it.Regions = it.Regions[1:] }, only(digest.Regions)},
		{"regions reordered", func(it *pipeline.Item) {
			it.Regions[0], it.Regions[1] = it.Regions[1], it.Regions[0]
		}, none},
		{"labels of two regions swapped", func(it *pipeline.Item) {
			it.Regions[0].Concepts, it.Regions[1].Concepts = it.Regions[1].Concepts, it.Regions[0].Concepts
		}, only(digest.Regions)},
		// What is not content.
		{"ID", func(it *pipeline.Item) { it.ID = "other" }, none},
		{"key", func(it *pipeline.Item) { it.Key = "id:other" }, none},
		{"provenance", func(it *pipeline.Item) { it.Prov.Row = 3 }, none},
		{"resumed", func(it *pipeline.Item) { it.Resumed = true }, none},
		// Several at once.
		{"labels and metadata", func(it *pipeline.Item) {
			it.Concepts[0].ID = "lion"
			it.Metadata["source"] = "camera"
		}, only(digest.Concepts) | only(digest.Metadata)},
	}
	want := digest.Of(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := base()
			tt.edit(it)
			got := digest.Of(it)
			if diff := got.Diff(want); diff != tt.want {
				t.Errorf("changed %q, want %q", diff, tt.want)
			}
			if (got.Item() == want.Item()) != (tt.want == 0) {
				t.Errorf("Item() equal = %v, want %v", got.Item() == want.Item(), tt.want == 0)
			}
		})
	}
}

// TestEmptyGroupsDiffer checks that an item with nothing but content does
// not collide across groups, and that nil and empty are alike where the
// wire makes them alike.
func TestEmptyGroupsDiffer(t *testing.T) {
	d := digest.Of(&pipeline.Item{Kind: pipeline.KindText, Text: "x"})
	seen := map[digest.Sum]digest.Field{}
	for f := range digest.NumFields {
		if g, dup := seen[d[f]]; dup {
			t.Errorf("empty %s and %s have the same sum", f, g)
		}
		seen[d[f]] = f
	}
	e := digest.Of(&pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: map[string]any{},
		Concepts: []pipeline.Concept{}, DatasetIDs: []string{}, Regions: []pipeline.Region{}})
	if e != d {
		t.Errorf("empty fields differ from nil ones: %s", e.Diff(d))
	}
	g := digest.Of(&pipeline.Item{Kind: pipeline.KindText, Text: "x", Geo: &pipeline.Geo{}})
	if diff := g.Diff(d); diff != 1<<digest.Geo {
		t.Errorf("geo (0, 0) vs no geo: changed %q, want geo", diff)
	}
}

// TestGolden pins the sums of fixed items: they are stored in checkpoints,
// so a change of the rule must come with a new Version.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		it   *pipeline.Item
		want string
	}{
		{"full", base(), "content=fb9276ec331a97fe concepts=f1ab2ef94340de94 metadata=f4e39ee1f21dc0ff " +
			"geo=0ae69db622d60307 datasets=4658b0a07ecb8972 regions=95de854f74280938"},
		{"url", &pipeline.Item{Kind: pipeline.KindImage, URL: "HTTPS://X.test:443/a.jpg#f",
			Concepts: []pipeline.Concept{pipeline.Positive("a")}}, "content=3c075749574fd259 concepts=7365e4884251d0c8 metadata=7a813dfd3986be46 " +
			"geo=52900ae9c011ec0a datasets=66de5e774032fb4a regions=2039f04584b8bfb5"},
		{"text", &pipeline.Item{Kind: pipeline.KindText, Text: "hello", DatasetIDs: []string{"d"}}, "content=6b966d47cddaffb7 concepts=42235024ff247fe6 metadata=7a813dfd3986be46 " +
			"geo=52900ae9c011ec0a datasets=7bdbfe3f008b64d2 regions=2039f04584b8bfb5"},
	}
	for _, tt := range tests {
		d := digest.Of(tt.it)
		if got := d.String(); got != tt.want {
			t.Errorf("%s: digests %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	d := digest.Of(base())
	b := d.AppendBinary(nil)
	if len(b) != digest.Size {
		t.Fatalf("%d bytes, want %d", len(b), digest.Size)
	}
	if got := digest.FromBinary(b); got != d {
		t.Errorf("round trip: %v, want %v", got, d)
	}
}

func TestFieldsString(t *testing.T) {
	fs := digest.Fields(1<<digest.Concepts | 1<<digest.Regions)
	if got := fs.String(); got != "concepts,regions" {
		t.Errorf("got %q", got)
	}
	if !fs.Has(digest.Regions) || fs.Has(digest.Geo) {
		t.Errorf("Has is wrong for %q", fs)
	}
}

var sink digest.Digests

// BenchmarkOf measures the digests of a manifest row as the S2 scenario
// makes them (one label, a small flat metadata object) and of a full item.
func BenchmarkOf(b *testing.B) {
	row := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.test/images/000123.jpg",
		Concepts: []pipeline.Concept{pipeline.Positive("cat")},
		Metadata: map[string]any{"split": "train", "score": 0.5}, DatasetIDs: []string{"ds"}}
	b.Run("row", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = digest.Of(row)
		}
	})
	full := base()
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = digest.Of(full)
		}
	})
}

// TestMapOrder checks that the sums do not depend on Go's map iteration
// order, which differs from one range to the next.
func TestMapOrder(t *testing.T) {
	it := base()
	for i := range 20 {
		it.Metadata[fmt.Sprintf("k%d", i)] = map[string]any{"a": float64(i), "b": []any{map[string]any{"c": i, "d": "x"}}}
	}
	want := digest.Of(it)
	for range 50 {
		if got := digest.Of(it); got != want {
			t.Fatalf("sums changed between calls: %s", got.Diff(want))
		}
	}
}
