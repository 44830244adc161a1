package annotations_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// oddCOCO is shaped like a malformed file seen in the ecosystem: annotation
// id 1 is stored twice (a copy), id 2 is reused by a different annotation,
// id 4 is a zero-area box, and an annotation without id is never a repeat.
const oddCOCO = `{
  "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
             {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
  "categories": [{"id": 1, "name": "cell phone"}],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12},
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12},
    {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 5, 5]},
    {"id": 2, "image_id": 2, "category_id": 1, "bbox": [6, 6, 6, 6]},
    {"id": 4, "image_id": 2, "category_id": 1, "bbox": [7, 7, 0, 9]},
    {"image_id": 2, "category_id": 1, "bbox": [8, 8, 8, 8]},
    {"image_id": 2, "category_id": 1, "bbox": [8, 8, 8, 8]}
  ]
}`

func TestCOCORepeatedIDsAndZeroArea(t *testing.T) {
	c, err := annotations.ParseCOCO(context.Background(), "odd.json", strings.NewReader(oddCOCO), false)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Repeats(); r.Identical != 1 || r.Different != 1 || !slices.Equal(r.FirstIDs, []int64{1, 2}) {
		t.Fatalf("repeats %+v; want 1 identical, 1 different, ids [1 2]", r)
	}
	a, err := c.Lookup("a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Regions) != 2 {
		t.Errorf("a.jpg: %d regions; want 2 (the copy of id 1 skipped)", len(a.Regions))
	}
	if want := `odd.json: image "a.jpg" (id 1): annotation id 1 is repeated with the same content: the copy is skipped`; !slices.Contains(a.Warnings, want) {
		t.Errorf("a.jpg warnings %q; want %q", a.Warnings, want)
	}
	b, err := c.Lookup("b.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Regions) != 3 {
		t.Errorf("b.jpg: %d regions; want 3 (id 2 kept, zero-area id 4 skipped, two without id)", len(b.Regions))
	}
	for _, want := range []string{
		`odd.json: image "b.jpg" (id 2): annotation id 2 is repeated with other content: both are kept`,
		`odd.json: image "b.jpg" (id 2): annotation id 4: bbox [7 7 0 9] has zero area: skipped`,
	} {
		if !slices.Contains(b.Warnings, want) {
			t.Errorf("b.jpg warnings %q; want %q", b.Warnings, want)
		}
	}
}

func TestYOLOZeroAreaSkipped(t *testing.T) {
	a, err := annotations.ParseYOLO("l/a.txt", strings.NewReader("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0 0.2\n"), []string{"Defected Orange"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Regions) != 1 || !slices.Equal(a.Warnings, []string{"l/a.txt line 2: box width 0 and height 0.2: zero-area box: skipped"}) {
		t.Fatalf("regions %d, warnings %q", len(a.Regions), a.Warnings)
	}
	if _, err := annotations.ParseYOLO("l/a.txt", strings.NewReader("0 0.5 0.5 -0.1 0.2\n"), []string{"x"}); err == nil {
		t.Fatal("a negative width is accepted")
	}
}
