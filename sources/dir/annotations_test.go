package dir_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// cocoFile lists its annotations before its images, as some tools write
// them, and has a key the reader must skip.
const cocoFile = `{
  "info": {"description": "test", "nested": [{"a": [1, 2, {"b": null}]}]},
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 20, 30, 40], "segmentation": [[10, 20, 40, 20, 40, 60]], "area": 1, "iscrowd": 0},
    {"id": 2, "image_id": 1, "category_id": 8, "bbox": [0.5, 1.5, 2, 4], "segmentation": {"counts": "abc", "size": [5, 5]}, "iscrowd": 1},
    {"id": 3, "image_id": 2, "category_id": 7, "bbox": [1, 2, 3, 4]},
    {"id": 4, "image_id": 3, "category_id": 7, "bbox": [1, 2, 3, 4]},
    {"id": 5, "image_id": 99, "category_id": 7, "bbox": [1, 2, 3, 4]}
  ],
  "images": [
    {"id": 1, "file_name": "000001.jpg", "width": 640, "height": 480},
    {"id": 2, "file_name": "coco\\train2017\\000002.jpg", "width": 100, "height": 50},
    {"id": 3, "file_name": "missing.jpg", "width": 1, "height": 1},
    {"id": 4, "file_name": "no-annotations.jpg", "width": 1, "height": 1}
  ],
  "categories": [{"id": 7, "name": "cat", "supercategory": "animal"}, {"id": 8, "name": "dog"}]
}`

func box(l, t, r, b float64) *pipeline.BoundingBox {
	return &pipeline.BoundingBox{Left: l, Top: t, Right: r, Bottom: b}
}

func size(w, h int) map[string]any {
	return map[string]any{media.AnnotatedSizeKey: map[string]any{"width": w, "height": h}}
}

func TestCOCOJoin(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"train2017/000001.jpg": "@img.jpg", "train2017/000002.jpg": "@img.png", "train2017/000003.jpg": "x",
		"train2017/notes.md": "not an image: no lookup", "ann.json": cocoFile,
	})
	cocoPath := filepath.Join(root, "ann.json")
	unmatched := []view{
		{Rel: "ann.json", Err: `fail: ROOT/ann.json: unmatched annotation: image "missing.jpg" (id 3) has 1 annotations, but no walked file matches it`},
		{Rel: "ann.json", Err: `fail: ROOT/ann.json: unmatched annotation: 1 annotations (id 5) name image_id 99, which images does not list`},
	}
	for _, tc := range []struct {
		name string
		ann  annotations.Config
		want []view
	}{
		{"boxes", annotations.Config{Format: "coco", Path: cocoPath}, append([]view{
			{Rel: "train2017/000001.jpg", Metadata: size(640, 480), Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Box: box(10, 20, 40, 60)},
				{Pixels: true, Concepts: pos("dog"), Box: box(0.5, 1.5, 2.5, 5.5)},
			}},
			{Rel: "train2017/000002.jpg", Metadata: size(100, 50), Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Box: box(1, 2, 4, 6)},
			}},
			{Rel: "train2017/000003.jpg"},
			{Rel: "train2017/notes.md"},
		}, unmatched...)},
		{"polygons and input concepts", annotations.Config{Format: "coco", Path: cocoPath, Polygons: true, InputConcepts: true}, append([]view{
			{Rel: "train2017/000001.jpg", Metadata: size(640, 480), Concepts: pos("cat", "dog"), Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Polygon: []pipeline.Point{{Col: 10, Row: 20}, {Col: 40, Row: 20}, {Col: 40, Row: 60}}},
				// The RLE mask falls back to the bbox.
				{Pixels: true, Concepts: pos("dog"), Box: box(0.5, 1.5, 2.5, 5.5)},
			}},
			{Rel: "train2017/000002.jpg", Metadata: size(100, 50), Concepts: pos("cat"), Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Box: box(1, 2, 4, 6)},
			}},
			{Rel: "train2017/000003.jpg"},
			{Rel: "train2017/notes.md"},
		}, unmatched...)},
		{"unmatched ignored", annotations.Config{Format: "coco", Path: cocoPath, IgnoreUnmatched: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, dir.Config{Path: root, Annotations: &tc.ann})
			if tc.want == nil {
				if len(got) != 4 {
					t.Errorf("got %d items, want the 4 files only", len(got))
				}
				return
			}
			if d := diff(tc.want, got); d != "" {
				t.Error(d)
			}
		})
	}
	t.Run("annotation key", func(t *testing.T) {
		items := collect(t, dir.Config{Path: root, Annotations: &annotations.Config{Format: "coco", Path: cocoPath}})
		if !strings.Contains(items[0].Key, "|ann:") || strings.Contains(items[2].Key, "|ann:") {
			t.Errorf("keys %s, %s", items[0].Key, items[2].Key)
		}
	})
}

func TestCOCOErrors(t *testing.T) {
	for _, tc := range []struct {
		name, coco string
		// fatal, if set, is a substring of Stream's error; else item is a
		// substring of the first item's error.
		fatal, item string
	}{
		{"malformed", "{\"images\": [\n  {\"id\": 1,, }\n]}", "ann.json line 2 column 12: images[0]: invalid character ','", ""},
		{"not an object", `[]`, "ann.json line 1 column 1: want a JSON object", ""},
		{"truncated", `{"images": [{"id": 1, "file_name": "a.jpg"}`, "unexpected end of file", ""},
		{"image without file_name", `{"images": [{"id": 1}]}`, "images[0]: image id 1: no file_name", ""},
		{"image twice", `{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}]}`, "image id 1 is listed twice", ""},
		{"string id", `{"images": [{"id": "1", "file_name": "a.jpg"}]}`, "ann.json line 1 column 22: images[0]: id: want an integer, got string", ""},
		{"unknown category", `{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}]}`,
			"", `ROOT/a.jpg: annotations: ROOT/ann.json: image "a.jpg" (id 1): annotation id 5: category_id 3 is not in categories`},
		{"bad bbox", `{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "c"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]}]}`,
			"", `annotation id 5: bbox [0 0 -1 1] has a negative width or height`},
		{"ambiguous", `{"images": [{"id": 1, "file_name": "x/a.jpg"}, {"id": 2, "file_name": "y/a.jpg"}]}`,
			"", `ambiguous: images "x/a.jpg" (id 1) and "y/a.jpg" (id 2) both match`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"a.jpg": "x", "ann.json": tc.coco})
			src, err := dir.New(dir.Config{Path: root, Annotations: &annotations.Config{Format: "coco", Path: filepath.Join(root, "ann.json")}})
			if err != nil {
				t.Fatal(err)
			}
			items, err := pipelinetest.Collect(context.Background(), src)
			if tc.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("got %v, want a fatal error with %q", err, tc.fatal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 || items[0].Err == nil || !strings.Contains(strings.ReplaceAll(items[0].Err.Error(), root, "ROOT"), tc.item) {
				t.Fatalf("got %v, want the item error %q", items[0].Err, tc.item)
			}
		})
	}
}

func TestYOLOJoin(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"images/train/a.jpg":        "@img.jpg",
		"images/train/empty.jpg":    "x",
		"images/train/nolabel.jpg":  "x",
		"images/val/b.jpg":          "x",
		"labels/classes.txt":        "cat\ndog\n\n",
		"labels/train/a.txt":        "0 0.5 0.5 0.2 0.4\n\n1 0.1 0.1 0.3 0.1 0.2 0.3\n",
		"labels/train/empty.txt":    "",
		"labels/train/orphan.txt":   "0 0.5 0.5 0.1 0.1\n",
		"labels/val/b.txt":          "0 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.1 0.1\n",
		"labels/train/labels.cache": "not a label",
	})
	got := run(t, dir.Config{Path: root, Annotations: &annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels")}})
	want := []view{
		{Rel: "images/train/a.jpg", Regions: []pipeline.Region{
			{Concepts: pos("cat"), Box: box(0.4, 0.3, 0.6, 0.7)},
			{Concepts: pos("dog"), Polygon: []pipeline.Point{{Col: 0.1, Row: 0.1}, {Col: 0.3, Row: 0.1}, {Col: 0.2, Row: 0.3}}},
		}},
		{Rel: "images/train/empty.jpg"},
		{Rel: "images/train/nolabel.jpg"},
		{Rel: "images/val/b.jpg", Err: "fail: ROOT/images/val/b.jpg: annotations: ROOT/labels/val/b.txt line 2: class 2 is out of range: the classes file has 2 names (0 to 1)"},
		// Not a label file: an ordinary file, which the detector skips.
		{Rel: "labels/train/labels.cache"},
		{Rel: "labels/train/orphan.txt", Err: `fail: ROOT/labels/train/orphan.txt: unmatched annotation: no walked image matches this annotation: looked for an image named orphan.* in a folder whose path ends in "train"`},
	}
	if d := diff(want, approx(got)); d != "" {
		t.Error(d)
	}
}

// approx rounds region coordinates to 1e-9, for YOLO's float arithmetic.
func approx(vs []view) []view {
	r := func(f float64) float64 { return float64(int64(f*1e9+0.5)) / 1e9 }
	for _, v := range vs {
		for _, reg := range v.Regions {
			if b := reg.Box; b != nil {
				b.Left, b.Top, b.Right, b.Bottom = r(b.Left), r(b.Top), r(b.Right), r(b.Bottom)
			}
			for i := range reg.Polygon {
				reg.Polygon[i] = pipeline.Point{Row: r(reg.Polygon[i].Row), Col: r(reg.Polygon[i].Col)}
			}
		}
	}
	return vs
}

func TestVOCJoin(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.jpg": "@img.jpg",
		"a.xml": `<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height><depth>3</depth></size>
  <object><name>cat</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>64</xmax><ymax>48</ymax></bndbox></object>
  <object><name>dog</name><bndbox><xmin>10.5</xmin><ymin>5</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>
</annotation>`,
		"b.jpg": "x",
		"b.xml": "<annotation>\n<object><name>cat</name>\n</annotation>",
		"c.xml": `<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>`,
		"d.png": "x",
	})
	got := run(t, dir.Config{Path: root, Annotations: &annotations.Config{Format: "voc", Path: root}})
	want := []view{
		{Rel: "a.jpg", Metadata: size(64, 48), Regions: []pipeline.Region{
			{Pixels: true, Concepts: pos("cat"), Box: box(0, 0, 64, 48)},
			{Pixels: true, Concepts: pos("dog"), Box: box(9.5, 4, 20, 15)},
		}},
		{Rel: "b.jpg", Err: "fail: ROOT/b.jpg: annotations: ROOT/b.xml line 3: malformed XML: element <object> closed by </annotation>"},
		{Rel: "d.png"},
		{Rel: "c.xml", Err: `fail: ROOT/c.xml: unmatched annotation: no walked image matches this annotation: looked for an image named c.* in a folder whose path ends in ""`},
	}
	if d := diff(want, got); d != "" {
		t.Error(d)
	}
}

// TestFailedImageIsNotUnmatched: an image that fails for another reason
// still matches its annotation, so it is reported once, not twice.
func TestFailedImageIsNotUnmatched(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.jpg": "x", "a.txt": "", // an empty paired text fails the item
		"a.xml": `<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>`,
	})
	got := run(t, dir.Config{Path: root, PairText: true, Annotations: &annotations.Config{Format: "voc", Path: root}})
	if len(got) != 1 || !strings.Contains(got[0].Err, "a.txt is empty") {
		t.Errorf("got %+v, want one failed item", got)
	}
}

func TestRLEWarning(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"000001.jpg": "x", "ann.json": cocoFile})
	core, logs := observer.New(zap.WarnLevel)
	src, err := dir.New(dir.Config{Path: root, Annotations: &annotations.Config{
		Format: "coco", Path: filepath.Join(root, "ann.json"), Polygons: true, IgnoreUnmatched: true,
	}}, dir.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipelinetest.Collect(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	entries := logs.All()
	if len(entries) != 1 || entries[0].ContextMap()["annotations"] != int64(1) || entries[0].ContextMap()["first_id"] != int64(2) {
		t.Errorf("got logs %+v", entries)
	}
}
