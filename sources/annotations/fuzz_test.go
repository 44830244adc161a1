package annotations_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// finite reports whether every coordinate of regions is a finite number,
// and, when normalized, within [0, 1].
func checkRegions(t *testing.T, regions []pipeline.Region, normalized bool) {
	t.Helper()
	ok := func(v float64) bool {
		return !math.IsNaN(v) && !math.IsInf(v, 0) && (!normalized || v >= 0 && v <= 1)
	}
	for _, r := range regions {
		if len(r.Concepts) != 1 || r.Concepts[0].ID == "" || r.Pixels == normalized {
			t.Fatalf("bad region %+v", r)
		}
		if (r.Box == nil) == (r.Polygon == nil) {
			t.Fatalf("region with box %v and polygon %v", r.Box, r.Polygon)
		}
		if b := r.Box; b != nil && !(ok(b.Left) && ok(b.Top) && ok(b.Right) && ok(b.Bottom)) {
			t.Fatalf("bad box %+v", *b)
		}
		if r.Polygon != nil && len(r.Polygon) < 3 {
			t.Fatalf("polygon of %d points", len(r.Polygon))
		}
		for _, p := range r.Polygon {
			if !ok(p.Row) || !ok(p.Col) {
				t.Fatalf("bad point %+v", p)
			}
		}
	}
}

func FuzzCOCO(f *testing.F) {
	f.Add(coco, true)
	f.Add(cocoRLE, true)
	f.Add(`{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1e39, 1]}]}`, false)
	f.Add(`{"images": [{"id": 1, "file_name": "../a.jpg"}, {"id": 1}]}`, false)
	f.Add(`{"info": [[[[{}]]]], "images": null, "categories": [{"id": 1, "name": " "}]}`, true)
	f.Add(`{"annotations": [{"image_id": 1, "segmentation": [[1, 2, 3, 4, 5, "6"]]}]`, true)
	f.Fuzz(func(t *testing.T, data string, polygons bool) {
		c, err := annotations.ParseCOCO(context.Background(), "f.json", strings.NewReader(data), polygons)
		if err != nil {
			var pe *annotations.PosError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "f.json line ") || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("error %q is not placed in f.json", err)
			}
			return
		}
		for _, rel := range []string{"a.jpg", "x/a.jpg", "b.jpg", "train/b.jpg", ".", ""} {
			a, err := c.Lookup(rel)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "f.json: ") {
					t.Fatalf("lookup error %q does not name the file", err)
				}
				continue
			}
			if a != nil {
				checkRegions(t, a.Regions, false)
			}
		}
	})
}

const cocoRLE = `{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "c"}],
 "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [1, 1, 2, 2], "segmentation": {"counts": [1, 2], "size": [4, 4]}}]}`

func FuzzYOLOLine(f *testing.F) {
	for _, s := range []string{"0 0.5 0.5 0.2 0.2", "1 0 0 1 0 1 1", "0 1e-400 0.5 0.2 0.2", "0 0.5 0.5 -0 0.2", "0x1 0.5 0.5 0.1 0.1", "0 inf 0 0 0", "9999999999999999999 0 0 0 0"} {
		f.Add(s)
	}
	classes := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := annotations.ParseYOLOLine(line, classes)
		if err != nil {
			return
		}
		checkRegions(t, []pipeline.Region{r}, true)
		if b := r.Box; b != nil && (b.Left >= b.Right || b.Top >= b.Bottom) {
			t.Fatalf("empty box %+v", *b)
		}
	})
}

func FuzzYOLOFile(f *testing.F) {
	f.Add("0 0.5 0.5 0.2 0.2\n1 0 0 1 0 1 1\n")
	f.Add("\r\n\r\n0 0.5 0.5 0.2\n")
	f.Add(strings.Repeat("0 0.5 0.5 0.2 0.2\n", 50))
	f.Fuzz(func(t *testing.T, data string) {
		a, err := annotations.ParseYOLO("l.txt", strings.NewReader(data), []string{"a", "b"})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "l.txt") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		checkRegions(t, a.Regions, true)
	})
}

func FuzzVOC(f *testing.F) {
	f.Add(`<annotation><size><width>10</width><height>10</height></size><object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>`)
	f.Add(`<?xml version="1.0" encoding="ISO-8859-1"?><annotation/>`)
	f.Add(`<!DOCTYPE x [<!ENTITY a "b">]><annotation><object><name>&a;</name></object></annotation>`)
	f.Add(`<annotation><object><name>a</name><bndbox><xmin>1e308</xmin><ymin>0</ymin><xmax>1e309</xmax><ymax>1</ymax></bndbox></object></annotation>`)
	f.Fuzz(func(t *testing.T, data string) {
		a, err := annotations.ParseVOC("v.xml", strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "v.xml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		checkRegions(t, a.Regions, false)
		for _, r := range a.Regions {
			if r.Box.Left < 0 || r.Box.Left >= r.Box.Right || r.Box.Top >= r.Box.Bottom {
				t.Fatalf("bad box %+v", *r.Box)
			}
		}
	})
}
