package transforms_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

func mustAnnotations(t testing.TB, cfg transforms.AnnotationsConfig, opts ...transforms.Option) pipeline.Transform {
	t.Helper()
	tr, err := transforms.NewAnnotations(cfg, opts...)
	if err != nil {
		t.Fatalf("NewAnnotations: %v", err)
	}
	return tr
}

var cat = []pipeline.Concept{pipeline.Positive("cat")}

func box(top, left, bottom, right float64) *pipeline.BoundingBox {
	return &pipeline.BoundingBox{Top: top, Left: left, Bottom: bottom, Right: right}
}

// TestAnnotationsPixelsToNormalized converts COCO-style regions on the 32x24
// test image: COCO's bbox [x, y, w, h] = [8, 6, 16, 12] arrives from the
// source as a pixel box (top y, left x, bottom y+h, right x+w), and its
// segmentation [x1, y1, x2, y2, ...] as points (Row y, Col x).
func TestAnnotationsPixelsToNormalized(t *testing.T) {
	pixelBox := box(6, 8, 18, 24)
	pixelPoly := []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 32}, {Row: 24, Col: 32}, {Row: 12, Col: 8}}
	regions := []pipeline.Region{
		{ID: "b", Pixels: true, Concepts: cat, Box: pixelBox},
		{ID: "p", Pixels: true, Concepts: cat, Polygon: pixelPoly},
		{ID: "both", Pixels: true, Concepts: cat, Box: box(0, 0, 24, 32), Polygon: pixelPoly},
		{ID: "n", Concepts: cat, Box: box(0.1, 0.2, 0.3, 0.4)}, // already normalized
	}
	want := []pipeline.Region{
		{ID: "b", Concepts: cat, Box: box(0.25, 0.25, 0.75, 0.75)},
		{ID: "p", Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 1}, {Row: 1, Col: 1}, {Row: 0.5, Col: 0.25}}},
		{ID: "both", Concepts: cat, Box: box(0, 0, 1, 1), Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 1}, {Row: 1, Col: 1}, {Row: 0.5, Col: 0.25}}},
		{ID: "n", Concepts: cat, Box: box(0.1, 0.2, 0.3, 0.4)},
	}
	for _, file := range []string{"img.png", "img.jpg", "img.gif", "img.bmp", "img.tiff", "img.webp"} {
		t.Run(file, func(t *testing.T) {
			tr := mustAnnotations(t, transforms.AnnotationsConfig{})
			it := &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, filepath.Join("testdata", file)),
				Regions: append([]pipeline.Region(nil), regions...)}
			if err := tr.Apply(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, it.Regions); d != "" {
				t.Errorf("regions (-want +got):\n%s", d)
			}
		})
	}
	// The source's own box and polygon were not modified in place.
	if *pixelBox != *box(6, 8, 18, 24) || pixelPoly[1] != (pipeline.Point{Row: 0, Col: 32}) {
		t.Errorf("the source's values changed: %+v %+v", *pixelBox, pixelPoly)
	}
}

func TestAnnotationsImageSizeSources(t *testing.T) {
	pixelRegion := []pipeline.Region{{Pixels: true, Concepts: cat, Box: box(6, 8, 18, 24)}}
	normalized := []pipeline.Region{{Concepts: cat, Box: box(0.25, 0.25, 0.75, 0.75)}}
	sizeFields := &transforms.SizeFields{Width: "coco.width", Height: "coco.height"}
	png := func() *pipeline.Blob { return fileBlob(t, filepath.Join("testdata", "img.png")) }
	for _, tc := range []struct {
		name    string
		cfg     transforms.AnnotationsConfig
		item    *pipeline.Item
		want    []pipeline.Region
		wantErr string
	}{
		{
			name:    "URL item with pixel regions fails: size unknown",
			item:    &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Regions: pixelRegion},
			wantErr: "image size is unknown",
		},
		{
			name: "URL item converts with the source's size",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Regions: pixelRegion,
				Metadata: map[string]any{"coco": map[string]any{"width": 32.0, "height": "24"}}},
			want: normalized,
		},
		{
			name: "file header agrees with the source's size",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: png(), Regions: pixelRegion,
				Metadata: map[string]any{"coco": map[string]any{"width": 32, "height": 24}}},
			want: normalized,
		},
		{
			name: "file header disagrees",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: png(), Regions: normalized,
				Metadata: map[string]any{"coco": map[string]any{"width": 64.0, "height": 48.0}}},
			wantErr: "the image is 32x24 (file header) but metadata coco.width, coco.height says 64x48",
		},
		{
			name: "swapped size hints at EXIF orientation",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: png(), Regions: pixelRegion,
				Metadata: map[string]any{"coco": map[string]any{"width": 24.0, "height": 32.0}}},
			wantErr: "EXIF orientation",
		},
		{
			name: "bad source size value",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: png(), Regions: pixelRegion,
				Metadata: map[string]any{"coco": map[string]any{"width": 32.5, "height": 24.0}}},
			wantErr: "metadata.coco.width: want a positive whole number of pixels, got 32.5",
		},
		{
			name: "source size absent: header alone",
			cfg:  transforms.AnnotationsConfig{SourceSize: sizeFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: png(), Regions: pixelRegion},
			want: normalized,
		},
		{
			name:    "unreadable header",
			item:    &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, filepath.Join("testdata", "note.txt")), Regions: pixelRegion},
			wantErr: "image size for pixel regions",
		},
		{
			name:    "regions on a text item",
			item:    &pipeline.Item{Kind: pipeline.KindText, Text: "x", Regions: normalized},
			wantErr: "regions are only for images",
		},
		{
			name: "no pixel regions, no size needed",
			item: &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Regions: normalized},
			want: normalized,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustAnnotations(t, tc.cfg)
			before := append([]pipeline.Region(nil), tc.item.Regions...)
			err := tr.Apply(context.Background(), tc.item)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if d := cmp.Diff(before, tc.item.Regions); d != "" {
					t.Errorf("a failed item's regions changed (-before +after):\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, tc.item.Regions); d != "" {
				t.Errorf("regions (-want +got):\n%s", d)
			}
		})
	}
}

// TestAnnotationsInvalidRegions covers every way a region can be invalid,
// one region per case, in fail mode.
func TestAnnotationsInvalidRegions(t *testing.T) {
	inf := math.Inf(1)
	tri := []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 1}, {Row: 1, Col: 1}}
	for _, tc := range []struct {
		name    string
		cfg     transforms.AnnotationsConfig
		region  pipeline.Region
		wantErr string           // empty: valid
		want    *pipeline.Region // valid: the region after the transform, if it changes
	}{
		{name: "valid box", region: pipeline.Region{Concepts: cat, Box: box(0, 0, 1, 1)}},
		{name: "valid polygon", region: pipeline.Region{Concepts: cat, Polygon: tri}},
		{name: "negative concept is fine", region: pipeline.Region{Concepts: []pipeline.Concept{pipeline.Negative("dog")}, Box: box(0, 0, 1, 1)}},
		{name: "bottom outside", region: pipeline.Region{Concepts: cat, Box: box(0.1, 0.2, 1.2, 0.5)},
			wantErr: `region 0 "cat": box bottom_row=1.2 outside [0, 1] (top_row=0.1 left_col=0.2 bottom_row=1.2 right_col=0.5)`},
		{name: "left negative", region: pipeline.Region{Concepts: cat, Box: box(0.1, -0.1, 0.2, 0.5)}, wantErr: "box left_col=-0.1 outside [0, 1]"},
		{name: "just beyond epsilon", region: pipeline.Region{Concepts: cat, Box: box(0, 0, 1.000002, 1)}, wantErr: "bottom_row=1.000002 outside"},
		{name: "within epsilon is clamped", region: pipeline.Region{Concepts: cat, Box: box(-5e-7, 0, 1+5e-7, 1)},
			want: &pipeline.Region{Concepts: cat, Box: box(0, 0, 1, 1)}},
		{name: "polygon within epsilon is clamped", region: pipeline.Region{Concepts: cat, Polygon: []pipeline.Point{{Row: -1e-7, Col: 0}, {Row: 0, Col: 1}, {Row: 1 + 1e-7, Col: 1}}},
			want: &pipeline.Region{Concepts: cat, Polygon: tri}},
		{name: "larger epsilon", cfg: transforms.AnnotationsConfig{Epsilon: 0.05}, region: pipeline.Region{Concepts: cat, Box: box(0, 0, 1.04, 1)},
			want: &pipeline.Region{Concepts: cat, Box: box(0, 0, 1, 1)}},
		{name: "zero height", region: pipeline.Region{Concepts: cat, Box: box(0.5, 0.1, 0.5, 0.2)}, wantErr: "box has zero height"},
		{name: "top below bottom", region: pipeline.Region{Concepts: cat, Box: box(0.6, 0.1, 0.5, 0.2)}, wantErr: "box top_row > bottom_row"},
		{name: "zero width", region: pipeline.Region{Concepts: cat, Box: box(0.1, 0.3, 0.5, 0.3)}, wantErr: "box has zero width"},
		{name: "left right of right", region: pipeline.Region{Concepts: cat, Box: box(0.1, 0.4, 0.5, 0.3)}, wantErr: "box left_col > right_col"},
		{name: "NaN", region: pipeline.Region{Concepts: cat, Box: box(nan(), 0, 1, 1)}, wantErr: "box top_row=NaN outside"},
		{name: "Inf", region: pipeline.Region{Concepts: cat, Box: box(0, 0, 1, inf)}, wantErr: "box right_col=+Inf outside"},
		{name: "polygon of two points", region: pipeline.Region{Concepts: cat, Polygon: tri[:2]}, wantErr: "polygon has 2 points, want at least 3"},
		{name: "polygon point outside", region: pipeline.Region{Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 1.5}, {Row: 1, Col: 1}}},
			wantErr: "polygon point 1 (row=0 col=1.5) outside [0, 1]"},
		{name: "polygon NaN", region: pipeline.Region{Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: nan(), Col: 1}, {Row: 1, Col: 1}}}, wantErr: "polygon point 1 (row=NaN"},
		{name: "polygon zero area", region: pipeline.Region{Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: 0.5, Col: 0.5}, {Row: 1, Col: 1}}}, wantErr: "polygon of 3 points has zero area"},
		{name: "no shape", region: pipeline.Region{Concepts: cat}, wantErr: "no box or polygon"},
		{name: "no label", region: pipeline.Region{Box: box(0, 0, 1, 1)}, wantErr: "region 0 (no label): no concept label"},
		{name: "no label allowed", cfg: transforms.AnnotationsConfig{AllowUnlabeled: true}, region: pipeline.Region{Box: box(0, 0, 1, 1)}},
		{name: "concept value not 0 or 1", region: pipeline.Region{Concepts: []pipeline.Concept{{ID: "cat", Value: 0.7}}, Box: box(0, 0, 1, 1)},
			wantErr: `concept 0: "cat" has value 0.7, want 1 (positive) or 0 (negative)`},
		{name: "concept without id", region: pipeline.Region{Concepts: []pipeline.Concept{{Name: "Cat", Value: 1}}, Box: box(0, 0, 1, 1)},
			wantErr: `concept 0: empty id (name "Cat")`},
		{name: "pixel box outside the image", region: pipeline.Region{ID: "r1", Pixels: true, Concepts: cat, Box: box(0, 0, 30, 32)},
			wantErr: `region 0 id "r1" "cat": box bottom_row=1.25 outside [0, 1] (top_row=0 left_col=0 bottom_row=1.25 right_col=1) (from pixels on a 32x24 image)`},
		{name: "several reasons in one region", region: pipeline.Region{Box: box(0.5, 0, 0.5, 1)}, wantErr: "no concept label; box has zero height"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustAnnotations(t, tc.cfg)
			it := &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, filepath.Join("testdata", "img.png")),
				Regions: []pipeline.Region{tc.region}}
			err := tr.Apply(context.Background(), it)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := tc.region
				if tc.want != nil {
					want = *tc.want
				}
				if d := cmp.Diff([]pipeline.Region{want}, it.Regions); d != "" {
					t.Errorf("regions (-want +got):\n%s", d)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
			var ie *pipeline.ItemError
			var ire *transforms.InvalidRegionsError
			if !errors.As(err, &ie) || ie.Field != "regions" || !errors.As(err, &ire) || len(ire.Problems) != 1 || ire.Problems[0].Index != 0 {
				t.Errorf("err = %#v, want an ItemError on regions wrapping one problem", err)
			}
		})
	}
}

func TestAnnotationsFailListsEveryRegion(t *testing.T) {
	tr := mustAnnotations(t, transforms.AnnotationsConfig{})
	regions := []pipeline.Region{
		{Concepts: cat, Box: box(0, 0, 1, 1)},
		{Concepts: []pipeline.Concept{pipeline.Positive("dog")}, Box: box(0.5, 0, 0.2, 1)},
		{Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}, {Row: 1, Col: 1}}},
		{Box: box(0, 0, 1, 1)},
	}
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Regions: regions, Prov: pipeline.Provenance{Source: "coco.json", Path: "y.jpg"}}
	err := tr.Apply(context.Background(), it)
	var ire *transforms.InvalidRegionsError
	if !errors.As(err, &ire) {
		t.Fatalf("err = %v, want an InvalidRegionsError", err)
	}
	var got []string
	for _, p := range ire.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`region 1 "dog": box top_row > bottom_row (top_row=0.5 left_col=0 bottom_row=0.2 right_col=1)`,
		`region 2 "cat": polygon has 2 points, want at least 3`,
		`region 3 (no label): no concept label`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(err.Error(), "y.jpg: regions: 3 invalid regions: region 1") {
		t.Errorf("message = %q", err)
	}
	if len(it.Regions) != 4 {
		t.Errorf("a failed item lost regions: %d left", len(it.Regions))
	}
}

func TestAnnotationsDropMode(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	tr := mustAnnotations(t, transforms.AnnotationsConfig{OnInvalid: "drop"}, transforms.WithLogger(zap.New(core)))
	it := &pipeline.Item{
		Kind: pipeline.KindImage, Blob: fileBlob(t, filepath.Join("testdata", "img.png")),
		Prov: pipeline.Provenance{Path: "data/img.png"},
		Regions: []pipeline.Region{
			{ID: "good", Pixels: true, Concepts: cat, Box: box(6, 8, 18, 24)},
			{ID: "bad", Pixels: true, Concepts: cat, Box: box(6, 8, 18, 40)},
			{Concepts: cat, Polygon: []pipeline.Point{{Row: 0, Col: 0}}},
		},
		Metadata: map[string]any{"caption": "c"},
	}
	if err := tr.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	wantRegions := []pipeline.Region{{ID: "good", Concepts: cat, Box: box(0.25, 0.25, 0.75, 0.75)}}
	if d := cmp.Diff(wantRegions, it.Regions); d != "" {
		t.Errorf("regions (-want +got):\n%s", d)
	}
	wantMeta := map[string]any{
		"caption": "c",
		transforms.KeyDroppedRegions: []any{
			map[string]any{"index": 1.0, "id": "bad", "label": "cat",
				"reason": "box right_col=1.25 outside [0, 1] (top_row=0.25 left_col=0.25 bottom_row=0.75 right_col=1.25) (from pixels on a 32x24 image)"},
			map[string]any{"index": 2.0, "label": "cat", "reason": "polygon has 1 points, want at least 3"},
		},
	}
	if d := cmp.Diff(wantMeta, it.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d log entries, want 2: %v", len(entries), entries)
	}
	if f := entries[0].ContextMap(); entries[0].Message != "region dropped" || f["item"] != "data/img.png" || f["region"] != int64(1) || f["id"] != "bad" {
		t.Errorf("log entry = %q %v", entries[0].Message, f)
	}

	// Drop mode does not excuse bad input-level concepts.
	bad := &pipeline.Item{Kind: pipeline.KindImage, Concepts: []pipeline.Concept{{ID: "x", Value: 2}}}
	if err := tr.Apply(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "concepts: concept 0") {
		t.Errorf("bad input concept: err = %v", err)
	}
}

func TestAnnotationsInputConcepts(t *testing.T) {
	tr := mustAnnotations(t, transforms.AnnotationsConfig{})
	for _, tc := range []struct {
		concepts []pipeline.Concept
		wantErr  string
	}{
		{concepts: []pipeline.Concept{pipeline.Positive("a"), pipeline.Negative("b")}},
		{concepts: []pipeline.Concept{pipeline.Positive("a"), {ID: "b", Value: 0.5}}, wantErr: `concepts: concept 1: "b" has value 0.5`},
		{concepts: []pipeline.Concept{{Value: 1}}, wantErr: "concepts: concept 0: empty id"},
	} {
		// Input-level concepts are checked on every kind, and stay on the input.
		it := &pipeline.Item{Kind: pipeline.KindText, Text: "t", Concepts: tc.concepts}
		err := tr.Apply(context.Background(), it)
		if tc.wantErr == "" {
			if err != nil || len(it.Concepts) != len(tc.concepts) {
				t.Errorf("%v: %v, concepts %v", tc.concepts, err, it.Concepts)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: err = %v, want %q", tc.concepts, err, tc.wantErr)
		}
	}
}

func TestAnnotationsConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg     transforms.AnnotationsConfig
		wantErr string
	}{
		{cfg: transforms.AnnotationsConfig{}},
		{cfg: transforms.AnnotationsConfig{OnInvalid: "drop", Epsilon: 0.01, SourceSize: &transforms.SizeFields{Width: "w", Height: "h"}}},
		{cfg: transforms.AnnotationsConfig{OnInvalid: "skip"}, wantErr: "on_invalid: want fail or drop"},
		{cfg: transforms.AnnotationsConfig{Epsilon: -1}, wantErr: "epsilon:"},
		{cfg: transforms.AnnotationsConfig{Epsilon: 0.5}, wantErr: "epsilon:"},
		{cfg: transforms.AnnotationsConfig{Epsilon: nan()}, wantErr: "epsilon:"},
		{cfg: transforms.AnnotationsConfig{SourceSize: &transforms.SizeFields{Width: "w"}}, wantErr: "source_size.height: empty path"},
		{cfg: transforms.AnnotationsConfig{SourceSize: &transforms.SizeFields{Width: ".w", Height: "h"}}, wantErr: "source_size.width:"},
	} {
		err := tc.cfg.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.wantErr)
		}
		if tr, err := transforms.NewAnnotations(tc.cfg); err == nil || tr != nil {
			t.Errorf("NewAnnotations = %v, %v", tr, err)
		}
	}
}

// TestAnnotationsUseTheAnnotationFileSize: the directory source records the
// size a COCO/VOC file states; the transform cross-checks it with the file
// header and removes it so it is never uploaded as metadata.
func TestAnnotationsUseTheAnnotationFileSize(t *testing.T) {
	tr := mustAnnotations(t, transforms.AnnotationsConfig{})
	box := []pipeline.Region{{Pixels: true, Concepts: []pipeline.Concept{pipeline.Positive("cat")},
		Box: &pipeline.BoundingBox{Left: 8, Top: 6, Right: 16, Bottom: 12}}}
	img := func(w, h int) *pipeline.Item {
		it := &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, filepath.Join("testdata", "img.png"))}
		it.Regions = append([]pipeline.Region(nil), box...)
		it.Metadata = media.SetAnnotatedSize(map[string]any{"keep": "me"}, w, h)
		return it
	}
	it := img(32, 24)
	if err := tr.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if _, left := it.Metadata[media.AnnotatedSizeKey]; left || it.Metadata["keep"] != "me" {
		t.Errorf("metadata after the transform: %v", it.Metadata)
	}
	if b := it.Regions[0].Box; b.Left != 0.25 || b.Top != 0.25 || it.Regions[0].Pixels {
		t.Errorf("region not normalized: %+v", it.Regions[0])
	}
	err := tr.Apply(context.Background(), img(64, 48))
	if err == nil || !strings.Contains(err.Error(), "but the annotation file says 64x48") {
		t.Errorf("mismatch: err = %v", err)
	}
	noRegions := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Metadata: media.SetAnnotatedSize(nil, 3, 4)}
	if err := tr.Apply(context.Background(), noRegions); err != nil || noRegions.Metadata != nil {
		t.Errorf("size key not removed from an item without regions: %v %v", err, noRegions.Metadata)
	}
}
