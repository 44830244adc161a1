package digest_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// base is an item with every field group set.
func base() *pipeline.Item {
	return &pipeline.Item{
		ID:   "cat-1",
		Kind: pipeline.KindImage,
		MIME: "image/jpeg",
		Blob: &pipeline.Blob{Path: "data/cat.jpg", Size: 1234, ModTime: time.Unix(1700000000, 5)},
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
	none := pipeline.Fields(0)
	only := func(f pipeline.Field) pipeline.Fields { return 1 << f }
	tests := []struct {
		name string
		edit func(it *pipeline.Item)
		want pipeline.Fields
	}{
		// Content.
		{"kind", func(it *pipeline.Item) { it.Kind = pipeline.KindVideo }, only(pipeline.FieldContent)},
		{"blob size", func(it *pipeline.Item) { it.Blob.Size++ }, only(pipeline.FieldContent)},
		{"blob path", func(it *pipeline.Item) { it.Blob.Path = "data/cat2.jpg" }, only(pipeline.FieldContent)},
		{"blob mtime", func(it *pipeline.Item) { it.Blob.ModTime = it.Blob.ModTime.Add(time.Nanosecond) }, only(pipeline.FieldContent)},
		{"blob mtime unknown", func(it *pipeline.Item) { it.Blob.ModTime = time.Time{} }, only(pipeline.FieldContent)},
		{"blob mtime in another zone", func(it *pipeline.Item) { it.Blob.ModTime = it.Blob.ModTime.In(time.FixedZone("x", 3600)) }, none},
		{"kind detected later", func(it *pipeline.Item) { it.Kind = pipeline.KindUnknown }, only(pipeline.FieldContent)},
		{"blob to URL", func(it *pipeline.Item) { it.Blob, it.URL = nil, "https://x.test/cat.jpg" }, only(pipeline.FieldContent)},
		{"text", func(it *pipeline.Item) { it.Text = "a cat" }, only(pipeline.FieldContent)},
		{"URL with a blob is not sent", func(it *pipeline.Item) { it.URL = "https://x.test/cat.jpg" }, none},
		{"MIME is not sent", func(it *pipeline.Item) { it.MIME = "image/png" }, none},
		// Concepts.
		{"concept value", func(it *pipeline.Item) { it.Concepts[1].Value = 1 }, only(pipeline.FieldConcepts)},
		{"concept ID", func(it *pipeline.Item) { it.Concepts[0].ID = "lion" }, only(pipeline.FieldConcepts)},
		{"concept name", func(it *pipeline.Item) { it.Concepts[0].Name = "Cat" }, only(pipeline.FieldConcepts)},
		{"concept added", func(it *pipeline.Item) { it.Concepts = append(it.Concepts, pipeline.Positive("pet")) }, only(pipeline.FieldConcepts)},
		{"concept removed", func(it *pipeline.Item) { it.Concepts = it.Concepts[:1] }, only(pipeline.FieldConcepts)},
		{"concepts reordered", func(it *pipeline.Item) {
			it.Concepts[0], it.Concepts[1] = it.Concepts[1], it.Concepts[0]
		}, none},
		{"concepts swap values", func(it *pipeline.Item) {
			it.Concepts[0].Value, it.Concepts[1].Value = it.Concepts[1].Value, it.Concepts[0].Value
		}, only(pipeline.FieldConcepts)},
		// Metadata.
		{"metadata value", func(it *pipeline.Item) { it.Metadata["source"] = "camera" }, only(pipeline.FieldMetadata)},
		{"metadata number", func(it *pipeline.Item) { it.Metadata["score"] = 0.25 }, only(pipeline.FieldMetadata)},
		{"metadata type", func(it *pipeline.Item) { it.Metadata["score"] = "0.5" }, only(pipeline.FieldMetadata)},
		{"metadata key added", func(it *pipeline.Item) { it.Metadata["new"] = true }, only(pipeline.FieldMetadata)},
		{"metadata key removed", func(it *pipeline.Item) { delete(it.Metadata, "source") }, only(pipeline.FieldMetadata)},
		{"metadata key renamed", func(it *pipeline.Item) {
			it.Metadata["origin"] = it.Metadata["source"]
			delete(it.Metadata, "source")
		}, only(pipeline.FieldMetadata)},
		{"metadata nested value", func(it *pipeline.Item) { it.Metadata["nested"].(map[string]any)["x"] = 2.0 }, only(pipeline.FieldMetadata)},
		{"metadata array order", func(it *pipeline.Item) { it.Metadata["tags"] = []any{"b", "a"} }, only(pipeline.FieldMetadata)},
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
		}, only(pipeline.FieldMetadata)},
		// Geo.
		{"latitude", func(it *pipeline.Item) { it.Geo.Latitude = 48.9 }, only(pipeline.FieldGeo)},
		{"longitude", func(it *pipeline.Item) { it.Geo.Longitude = -2.3522 }, only(pipeline.FieldGeo)},
		{"lat and lon swapped", func(it *pipeline.Item) {
			it.Geo.Latitude, it.Geo.Longitude = it.Geo.Longitude, it.Geo.Latitude
		}, only(pipeline.FieldGeo)},
		{"geo removed", func(it *pipeline.Item) { it.Geo = nil }, only(pipeline.FieldGeo)},
		{"geo below float32", func(it *pipeline.Item) { it.Geo.Latitude += 1e-12 }, none},
		// Datasets.
		{"dataset added", func(it *pipeline.Item) { it.DatasetIDs = append(it.DatasetIDs, "test") }, only(pipeline.FieldDatasets)},
		{"dataset moved", func(it *pipeline.Item) { it.DatasetIDs[0] = "test" }, only(pipeline.FieldDatasets)},
		{"datasets removed", func(it *pipeline.Item) { it.DatasetIDs = nil }, only(pipeline.FieldDatasets)},
		{"datasets reordered", func(it *pipeline.Item) { it.DatasetIDs = []string{"pets", "train"} }, none},
		{"dataset repeated", func(it *pipeline.Item) { it.DatasetIDs = append(it.DatasetIDs, "train") }, none},
		// Regions.
		{"box redrawn", func(it *pipeline.Item) { it.Regions[0].Box.Bottom = 0.55 }, only(pipeline.FieldRegions)},
		{"box below float32", func(it *pipeline.Item) { it.Regions[0].Box.Bottom += 1e-12 }, none},
		{"polygon point", func(it *pipeline.Item) { it.Regions[1].Polygon[2].Col = 0.2 }, only(pipeline.FieldRegions)},
		{"polygon points reordered", func(it *pipeline.Item) {
			p := it.Regions[1].Polygon
			p[0], p[1] = p[1], p[0]
		}, only(pipeline.FieldRegions)},
		{"region label", func(it *pipeline.Item) { it.Regions[0].Concepts[0].ID = "lion" }, only(pipeline.FieldRegions)},
		{"region label value", func(it *pipeline.Item) { it.Regions[0].Concepts[0].Value = 0 }, only(pipeline.FieldRegions)},
		{"region ID", func(it *pipeline.Item) { it.Regions[0].ID = "r1" }, only(pipeline.FieldRegions)},
		{"region in pixels", func(it *pipeline.Item) { it.Regions[0].Pixels = true }, only(pipeline.FieldRegions)},
		{"region removed", func(it *pipeline.Item) { it.Regions = it.Regions[1:] }, only(pipeline.FieldRegions)},
		{"regions reordered", func(it *pipeline.Item) {
			it.Regions[0], it.Regions[1] = it.Regions[1], it.Regions[0]
		}, none},
		{"labels of two regions swapped", func(it *pipeline.Item) {
			it.Regions[0].Concepts, it.Regions[1].Concepts = it.Regions[1].Concepts, it.Regions[0].Concepts
		}, only(pipeline.FieldRegions)},
		// What is not content.
		{"ID", func(it *pipeline.Item) { it.ID = "other" }, none},
		{"key", func(it *pipeline.Item) { it.Key = "id:other" }, none},
		{"provenance", func(it *pipeline.Item) { it.Prov.Row = 3 }, none},
		{"resumed", func(it *pipeline.Item) { it.Resumed = true }, none},
		// Several at once.
		{"labels and metadata", func(it *pipeline.Item) {
			it.Concepts[0].ID = "lion"
			it.Metadata["source"] = "camera"
		}, only(pipeline.FieldConcepts) | only(pipeline.FieldMetadata)},
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
			if (digest.Item(got) == digest.Item(want)) != (tt.want == 0) {
				t.Errorf("Item equal = %v, want %v", digest.Item(got) == digest.Item(want), tt.want == 0)
			}
		})
	}
}

// TestEmptyGroupsDiffer checks that an item with nothing but content does
// not collide across groups, and that nil and empty are alike where the
// wire makes them alike.
func TestEmptyGroupsDiffer(t *testing.T) {
	d := digest.Of(&pipeline.Item{Kind: pipeline.KindText, Text: "x"})
	seen := map[uint64]pipeline.Field{}
	for f := range pipeline.NumFields {
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
	if diff := g.Diff(d); diff != 1<<pipeline.FieldGeo {
		t.Errorf("geo (0, 0) vs no geo: changed %q, want geo", diff)
	}
}

// TestGolden pins the sums of fixed items under rule Version 2: they are
// stored in checkpoints, so a change of the rule must come with a new
// Version (and new goldens).
func TestGolden(t *testing.T) {
	if digest.Version != 2 {
		t.Fatalf("Version %d: pin the new rule's sums here", digest.Version)
	}
	tests := []struct {
		name string
		it   *pipeline.Item
		salt uint64
		want string
	}{
		{"full", base(), 0, "content=47af6ce6d1f4f7d8 concepts=62689a7ce1aae28e metadata=5e271c884a94fc81 " +
			"geo=2f885e8515a88e5f datasets=396aab8af2702be1 regions=21c88ccb74ddcd59"},
		{"url", &pipeline.Item{Kind: pipeline.KindImage, URL: "HTTPS://X.test:443/a.jpg#f",
			Concepts: []pipeline.Concept{pipeline.Positive("a")}}, 0, "content=c1209e9c2772c25d concepts=580a74643f972976 metadata=f833905a897b74fb " +
			"geo=a0d71229f0bfc840 datasets=d5cd80654ce6eee7 regions=84bc4520916f5035"},
		{"text", &pipeline.Item{Kind: pipeline.KindText, Text: "hello", DatasetIDs: []string{"d"}}, 0, "content=c1ffdd1f57e5fec3 concepts=2d4a6e33284430a0 metadata=f833905a897b74fb " +
			"geo=a0d71229f0bfc840 datasets=06421d3fe56051f8 regions=84bc4520916f5035"},
		{"salted", base(), 0x0123456789abcdef, "content=47af6ce6d1f4f7d8 concepts=03a5e33b66c765b5 metadata=43f197c877e3c29b " +
			"geo=5ac187ea8221faaf datasets=38f946bab6a84fb3 regions=a5a880c54357109c"},
	}
	for _, tt := range tests {
		d := digest.OfSalted(tt.it, tt.salt)
		if got := digest.String(d); got != tt.want {
			t.Errorf("%s: digests %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	d := digest.Of(base())
	b := digest.AppendBinary(nil, d)
	if len(b) != digest.Size {
		t.Fatalf("%d bytes, want %d", len(b), digest.Size)
	}
	if got := digest.FromBinary(b); got != d {
		t.Errorf("round trip: %v, want %v", got, d)
	}
}

// TestSalt checks that a salt changes every group but the content, that
// the same salt gives the same sums, and that a zero salt is Of.
func TestSalt(t *testing.T) {
	it := base()
	plain := digest.Of(it)
	if got := digest.OfSalted(it, 0); got != plain {
		t.Errorf("OfSalted(0) differs from Of in %q", got.Diff(plain))
	}
	a, b := digest.OfSalted(it, 1), digest.OfSalted(it, 2)
	all := pipeline.Fields(1<<pipeline.NumFields - 1)
	if diff := a.Diff(plain); diff != all&^(1<<pipeline.FieldContent) {
		t.Errorf("salt 1 vs none: changed %q, want all but content", diff)
	}
	if diff := a.Diff(b); diff != all&^(1<<pipeline.FieldContent) {
		t.Errorf("salt 1 vs 2: changed %q, want all but content", diff)
	}
	if again := digest.OfSalted(base(), 1); again != a {
		t.Errorf("same salt, other sums: %q", again.Diff(a))
	}
	// An edit still shows in its group only under a salt.
	e := base()
	e.Concepts[0].ID = "lion"
	if diff := digest.OfSalted(e, 1).Diff(a); diff != 1<<pipeline.FieldConcepts {
		t.Errorf("edit under a salt: changed %q, want concepts", diff)
	}
}

var sink pipeline.Digests

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
