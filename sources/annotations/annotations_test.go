package annotations_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pos(ids ...string) []pipeline.Concept {
	out := make([]pipeline.Concept, len(ids))
	for i, id := range ids {
		out[i] = pipeline.Positive(id)
	}
	return out
}

func box(l, t, r, b float64) *pipeline.BoundingBox {
	return &pipeline.BoundingBox{Left: l, Top: t, Right: r, Bottom: b}
}

var opts = []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateApprox(0, 1e-9)}

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

const coco = `{
  "licenses": [{"id": 1, "name": "x"}],
  "images": [
    {"id": 1, "file_name": "a.jpg", "width": 10, "height": 20},
    {"id": 2, "file_name": "train/b.jpg", "width": 30, "height": 40},
    {"id": 3, "file_name": "val/b.jpg"},
    {"id": 4, "file_name": "./c.jpg"}
  ],
  "annotations": [
    {"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "segmentation": [[1, 2, 4, 2, 4, 6], [0, 0, 1, 0, 1, 1]]},
    {"id": 11, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]},
    {"id": 12, "image_id": 2, "category_id": 1, "bbox": [5, 5, 5, 5]},
    {"id": 13, "image_id": 3, "category_id": 1, "bbox": [5, 5, 5, 5]}
  ],
  "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
}`

func TestCOCOLookup(t *testing.T) {
	parse := func(polygons bool) *annotations.COCO {
		c, err := annotations.ParseCOCO(context.Background(), "c.json", strings.NewReader(coco), polygons)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		polygons bool
		rel      string
		want     *annotations.Annotation
		wantErr  string
	}{
		{"bare name joins any folder", false, "images/a.jpg", &annotations.Annotation{
			File: "c.json", Width: 10, Height: 20, Concepts: pos("cat", "dog"),
			Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Box: box(1, 2, 4, 6)},
				{Pixels: true, Concepts: pos("dog"), Box: box(0, 0, 1, 1)},
			},
		}, ""},
		{"polygons", true, "a.jpg", &annotations.Annotation{
			File: "c.json", Width: 10, Height: 20, Concepts: pos("cat", "dog"),
			Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("cat"), Polygon: []pipeline.Point{{Col: 1, Row: 2}, {Col: 4, Row: 2}, {Col: 4, Row: 6}}},
				{Pixels: true, Concepts: pos("cat"), Polygon: []pipeline.Point{{Col: 0, Row: 0}, {Col: 1, Row: 0}, {Col: 1, Row: 1}}},
				{Pixels: true, Concepts: pos("dog"), Box: box(0, 0, 1, 1)},
			},
		}, ""},
		{"longest common suffix wins", false, "data/train/b.jpg", &annotations.Annotation{
			File: "c.json", Width: 30, Height: 40, Concepts: pos("cat"),
			Regions: []pipeline.Region{{Pixels: true, Concepts: pos("cat"), Box: box(5, 5, 10, 10)}},
		}, ""},
		{"a tie is ambiguous", false, "test/b.jpg", nil, `c.json: ambiguous: images "train/b.jpg" (id 2) and "val/b.jpg" (id 3) both match; put the folder in file_name`},
		{"file name cleaned", false, "c.jpg", &annotations.Annotation{File: "c.json"}, ""},
		{"not listed", false, "d.jpg", nil, ""},
		{"case matters", false, "A.jpg", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.polygons).Lookup(tc.rel)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, opts...); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestCOCOParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"empty", ``, "c.json line 1 column 1: want a JSON object: unexpected end of file"},
		{"array", `[1]`, "c.json line 1 column 1: want a JSON object"},
		{"syntax in element", "{\"images\": [{\"id\": 1, \"file_name\": \"a\"},\n {\"id\": 2 \"file_name\": \"b\"}]}",
			"c.json line 2 column 11: images[1]: invalid character '\"' after object key:value pair"},
		{"missing comma between elements", "{\"images\": [{\"id\": 1, \"file_name\": \"a\"}\n {\"id\": 2}]}",
			"c.json line 2 column 2: images[1]: expected comma after array element"},
		{"images not a list", `{"images": {"id": 1}}`, "c.json line 1 column 12: images: want a list"},
		{"wrong type", "{\"annotations\": [\n{\"id\": 1, \"image_id\": 1, \"bbox\": \"x\"}]}", "c.json line 2 column 36: annotations[0]: bbox: want a list, got string"},
		{"no image_id", `{"annotations": [{"id": 7, "bbox": [1, 1, 1, 1]}]}`, "annotations[0]: annotation id 7: no image_id"},
		{"category without name", `{"categories": [{"id": 7}]}`, "c.json line 1 column 17: categories[0]: category id 7: no name"},
		{"category twice", `{"categories": [{"id": 7, "name": "a"}, {"id": 7, "name": "b"}]}`, `categories[1]: category id 7 is both "a" and "b"`},
		{"trailing data", `{} {}`, "c.json line 1 column 4: data after the top-level object"},
		{"bad skipped value", `{"info": {"a": [1, 2}}`, "c.json line 1 column 21: info: invalid character '}'"},
		{"unterminated", `{"images": [`, "unexpected end of file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := annotations.ParseCOCO(context.Background(), "c.json", strings.NewReader(tc.json), true)
			var pe *annotations.PosError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a *PosError with %q", err, tc.want)
			}
		})
	}
}

// TestCOCOAnnotationErrors: problems of one annotation fail its image only.
func TestCOCOAnnotationErrors(t *testing.T) {
	const j = `{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
	  "categories": [{"id": 1, "name": "cat"}],
	  "annotations": [
	    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]},
	    {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3]]},
	    {"id": 3, "image_id": 1, "category_id": 9, "bbox": [1, 1, 1, 1]},
	    {"id": 4, "image_id": 1, "category_id": 1, "segmentation": {"counts": [1, 2], "size": [2, 2]}},
	    {"id": 5, "image_id": 1, "bbox": [1, 1, 1, 1]},
	    {"id": 6, "image_id": 2, "category_id": 1, "bbox": [1, 1, 1, 1], "segmentation": {"counts": "x"}}
	  ]}`
	c, err := annotations.ParseCOCO(context.Background(), "c.json", strings.NewReader(j), true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Lookup("a.jpg")
	want := `c.json: image "a.jpg" (id 1): annotation id 1: bbox has 3 numbers; want [x, y, width, height]; ` +
		`annotation id 2: segmentation polygon 0 has 3 numbers; want an even count of at least 6; ` +
		`annotation id 4: no bbox and no polygon segmentation (RLE masks are not supported); ` +
		`annotation id 5: no category_id; annotation id 3: category_id 9 is not in categories`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	a, err := c.Lookup("b.jpg")
	if err != nil || len(a.Regions) != 1 || a.Regions[0].Box == nil {
		t.Errorf("RLE with bbox: %+v, %v", a, err)
	}
	if n, first := c.RLEFallbacks(); n != 2 || first != 4 {
		t.Errorf("RLE fallbacks %d (first %d), want 2 (first 4)", n, first)
	}
}

// TestCOCOSkipsWithoutBuffering: a huge unknown top-level value is skipped
// token by token.
func TestCOCOSkipsLargeValues(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"segments_info": [`)
	for i := range 100000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"a": [1, 2, 3], "b": "text"}`)
	}
	b.WriteString(`], "images": [{"id": 1, "file_name": "a.jpg"}]}`)
	c, err := annotations.ParseCOCO(context.Background(), "c.json", &b, false)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.Lookup("a.jpg"); err != nil || a == nil {
		t.Errorf("got %v, %v", a, err)
	}
}

func TestCOCOCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := annotations.ParseCOCO(ctx, "c.json", strings.NewReader(coco), false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestYOLOLine(t *testing.T) {
	classes := []string{"cat", "dog"}
	for _, tc := range []struct {
		line    string
		want    pipeline.Region
		wantErr string
	}{
		{"0 0.5 0.5 0.2 0.4", pipeline.Region{Concepts: pos("cat"), Box: box(0.4, 0.3, 0.6, 0.7)}, ""},
		{"1\t0.1 0.1  0.2 0.2", pipeline.Region{Concepts: pos("dog"), Box: box(0, 0, 0.2, 0.2)}, ""},
		{"0 0.99 0.5 0.04 0.2", pipeline.Region{Concepts: pos("cat"), Box: box(0.97, 0.4, 1, 0.6)}, ""}, // clamped
		{"1 0 0 1 0 1 1", pipeline.Region{Concepts: pos("dog"), Polygon: []pipeline.Point{{Col: 0, Row: 0}, {Col: 1, Row: 0}, {Col: 1, Row: 1}}}, ""},
		{"0 0.5 0.5 0.2", pipeline.Region{}, "4 fields"},
		{"0 0.5 0.5 0.2 0.2 0.9", pipeline.Region{}, "6 fields"},
		{"0 0 0 1 0 1 1 1", pipeline.Region{}, "8 fields"},
		{"2 0.5 0.5 0.2 0.2", pipeline.Region{}, "class 2 is out of range: the classes file has 2 names (0 to 1)"},
		{"-1 0.5 0.5 0.2 0.2", pipeline.Region{}, "class -1 is out of range"},
		{"cat 0.5 0.5 0.2 0.2", pipeline.Region{}, `class "cat" is not an integer`},
		{"0 0.5 x 0.2 0.2", pipeline.Region{}, `field 3: "x" is not a number`},
		{"0 0.5 NaN 0.2 0.2", pipeline.Region{}, `field 3: "NaN" is not a number`},
		{"0 0.5 0.5 1.5 0.2", pipeline.Region{}, "field 4: 1.5 is outside [0, 1]"},
		{"0 0.5 0.5 0 0.2", pipeline.Region{}, "box width 0 and height 0.2: zero-area box"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := annotations.ParseYOLOLine(tc.line, classes)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, opts...); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestYOLOFile(t *testing.T) {
	classes := []string{"cat"}
	a, err := annotations.ParseYOLO("l.txt", strings.NewReader("\r\n0 0.5 0.5 0.2 0.2\r\n  \n0 0.5 0.5 0.1 0.1"), classes)
	if err != nil || len(a.Regions) != 2 || a.File != "l.txt" || len(a.Concepts) != 1 {
		t.Fatalf("got %+v, %v", a, err)
	}
	_, err = annotations.ParseYOLO("l.txt", strings.NewReader("0 0.5 0.5 0.2 0.2\n\n0 1 1\n"), classes)
	if err == nil || err.Error() != `l.txt line 3: 3 fields; want "class cx cy w h" or "class x1 y1 x2 y2 x3 y3 ..."` {
		t.Errorf("got %v", err)
	}
	_, err = annotations.ParseYOLO("l.txt", strings.NewReader("0"+strings.Repeat(" 0.5", 300000)), classes)
	if err == nil || !strings.Contains(err.Error(), "l.txt line 1: longer than") {
		t.Errorf("long line: %v", err)
	}
}

func TestReadClasses(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"cat\ndog\n", []string{"cat", "dog"}, ""},
		{" cat \r\ntraffic light\n\n\n", []string{"cat", "traffic light"}, ""},
		{"cat\n\ndog\n", nil, "classes.txt line 2: empty class name (class 1)"},
		{"\n\n", nil, "classes.txt: no class names"},
		{"a\xffb\n", nil, "classes.txt line 1: class name is not valid UTF-8"},
	} {
		got, err := annotations.ReadClasses("classes.txt", strings.NewReader(tc.in))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: got %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("%q: got %q, %v", tc.in, got, err)
		}
	}
}

func TestVOC(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		want      *annotations.Annotation
		wantErr   string
	}{
		{"good", `<?xml version="1.0"?>
<annotation>
  <folder>VOC2007</folder><filename>000001.jpg</filename>
  <size><width>353</width><height>500.0</height><depth>3</depth></size>
  <object><name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox></object>
  <object><name> person </name><difficult>1</difficult>
    <bndbox><xmin>0</xmin><ymin>12.5</ymin><xmax>352</xmax><ymax>498</ymax></bndbox></object>
  <object><name>dog</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>
</annotation>`, &annotations.Annotation{
			File: "a.xml", Width: 353, Height: 500, Concepts: pos("dog", "person"),
			Regions: []pipeline.Region{
				{Pixels: true, Concepts: pos("dog"), Box: box(47, 239, 195, 371)},
				{Pixels: true, Concepts: pos("person"), Box: box(0, 11.5, 352, 498)},
				{Pixels: true, Concepts: pos("dog"), Box: box(4, 4, 5, 5)}, // one pixel
			},
		}, ""},
		{"no objects", `<annotation><size><width></width></size></annotation>`, &annotations.Annotation{File: "a.xml"}, ""},
		{"malformed", "<annotation>\n<object>\n</annotation>", nil, "a.xml line 3: malformed XML: element <object> closed by </annotation>"},
		{"wrong root", `<html></html>`, nil, "a.xml: expected element type <annotation> but have <html>"},
		{"empty", ``, nil, "a.xml: no <annotation> element"},
		{"no name", `<annotation><object><bndbox/></object></annotation>`, nil, "a.xml: object 1: no name"},
		{"no box", `<annotation><object><name>x</name></object></annotation>`, nil, "a.xml: object 1 (x): no bndbox"},
		{"bad number", `<annotation><object><name>x</name><bndbox><xmin>a</xmin></bndbox></object></annotation>`, nil, `a.xml: object 1 (x): bndbox/xmin: "a" is not a number`},
		{"inverted", `<annotation><object><name>x</name><bndbox><xmin>5</xmin><ymin>1</ymin><xmax>4</xmax><ymax>2</ymax></bndbox></object></annotation>`, nil, "has xmin > xmax"},
		{"bad size", `<annotation><size><width>-3</width></size></annotation>`, nil, `a.xml: size/width: "-3" is not a pixel count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := annotations.ParseVOC("a.xml", strings.NewReader(tc.xml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, opts...); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestIndexYOLO checks the label file candidates, Owns and Unmatched.
func TestIndexYOLO(t *testing.T) {
	root := t.TempDir()
	labels := filepath.Join(root, "labels")
	write(t, root, map[string]string{
		"labels/classes.txt":    "cat\n",
		"labels/train/a.txt":    "0 0.5 0.5 0.2 0.2",
		"labels/b.txt":          "0 0.5 0.5 0.2 0.2",
		"labels/x/y/c.txt":      "0 0.5 0.5 0.2 0.2",
		"labels/orphan.txt":     "",
		"labels/.hidden.txt":    "",
		"labels/README.md":      "",
		"labels/sub/ORPHAN.TXT": "",
	})
	x, err := annotations.Open(context.Background(), annotations.Config{Format: annotations.FormatYOLO, Path: labels})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"images/train/a.jpg": filepath.Join(labels, "train", "a.txt"), // leading folder dropped
		"train/a.png":        filepath.Join(labels, "train", "a.txt"), // mirrored
		"deep/er/b.jpg":      filepath.Join(labels, "b.txt"),          // flat
		"x/y/c.jpg":          filepath.Join(labels, "x", "y", "c.txt"),
		"y/c.jpg":            "", // y/c.txt does not exist under labels
		"classes.jpg":        "", // the classes file is not a label
	} {
		a, err := x.Lookup(rel)
		switch {
		case err != nil:
			t.Errorf("%s: %v", rel, err)
		case want == "" && a != nil:
			t.Errorf("%s: got %s, want none", rel, a.File)
		case want != "" && (a == nil || a.File != want):
			t.Errorf("%s: got %+v, want %s", rel, a, want)
		}
	}
	for p, want := range map[string]bool{
		filepath.Join(labels, "classes.txt"):    true,
		filepath.Join(labels, "train", "a.txt"): true,
		filepath.Join(labels, "X.TXT"):          true,
		filepath.Join(labels, "README.md"):      false,
		filepath.Join(root, "a.txt"):            false,
		labels + "x.txt":                        false,
	} {
		if got := x.Owns(p); got != want {
			t.Errorf("Owns(%s) = %v", p, got)
		}
	}
	var got []string
	err = x.Unmatched(context.Background(), func(u annotations.UnmatchedImage) error {
		got = append(got, u.Image)
		if !strings.HasPrefix(u.File, labels) || u.Err == nil {
			t.Errorf("unmatched %+v", u)
		}
		return nil
	})
	if err != nil || !cmp.Equal(got, []string{"orphan.txt", "sub/ORPHAN.TXT"}) {
		t.Errorf("unmatched %v, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"labels/a.txt": "", "c.json": "{", "y/data.yaml": "names: [a]", "y/bad.yaml": "nc: 2\nnames: [a]\n", "empty/x": ""})
	for _, tc := range []struct {
		name string
		cfg  annotations.Config
		want string
	}{
		{"no format", annotations.Config{Path: root}, "format is required"},
		{"bad format", annotations.Config{Format: "csv", Path: root}, `unknown format "csv"`},
		{"no path", annotations.Config{Format: "voc"}, "voc needs a path"},
		{"missing path", annotations.Config{Format: "voc", Path: filepath.Join(root, "nope")}, "no such file"},
		{"coco dir", annotations.Config{Format: "coco", Path: root}, "is a directory"},
		{"yolo file", annotations.Config{Format: "yolo", Path: filepath.Join(root, "c.json")}, "is not a directory"},
		{"classes for voc", annotations.Config{Format: "voc", Path: root, Classes: "x"}, "only used with yolo"},
		{"polygons for voc", annotations.Config{Format: "voc", Path: root, Polygons: true}, "polygons is a coco option"},
		{"no classes", annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels")}, "yolo needs the class names"},
		{"bad yaml classes", annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels"), Classes: filepath.Join(root, "y", "bad.yaml")}, "bad.yaml: nc is 2 but names has 1 classes"},
		{"missing classes", annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels"), Classes: filepath.Join(root, "nope.txt")}, "nope.txt does not exist"},
		{"empty classes", annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels"), Classes: filepath.Join(root, "empty", "x")}, "no class names"},
		{"bad coco", annotations.Config{Format: "coco", Path: filepath.Join(root, "c.json")}, "c.json line 1 column 2: unexpected end of file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := annotations.Open(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := &annotations.Annotation{Regions: []pipeline.Region{{Concepts: pos("cat"), Box: box(0, 0, 1, 1)}}}
	b := &annotations.Annotation{Regions: []pipeline.Region{{Concepts: pos("cat"), Box: box(0, 0, 1, 0.5)}}}
	if a.Fingerprint() == b.Fingerprint() || a.Fingerprint() != a.Fingerprint() || len(a.Fingerprint()) != 16 {
		t.Errorf("fingerprints %s %s", a.Fingerprint(), b.Fingerprint())
	}
}
