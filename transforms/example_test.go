package transforms_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// The classic "remove unicode before upload" step, written as a custom
// func. A user's own main registers it, usually from init with
// transforms.Register or transforms.MustRegister, and the job file lists it
// as "custom: remove_unicode". (The built-in unicode transform with
// mode: ascii does the same, for metadata fields too.)
func Example_registerRemoveUnicode() {
	reg := transforms.NewRegistry() // a user's main would use transforms.Register
	err := reg.Register("remove_unicode", func(_ context.Context, it *pipeline.Item) error {
		it.Text = strings.Map(func(r rune) rune {
			if r > unicode.MaxASCII {
				return -1
			}
			return r
		}, it.Text)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	var job struct {
		Transforms []transforms.Spec `yaml:"transforms"`
	}
	if err := yaml.Unmarshal([]byte("transforms:\n  - custom: remove_unicode\n"), &job); err != nil {
		fmt.Println(err)
		return
	}
	ts, err := transforms.Build(job.Transforms, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	it := &pipeline.Item{Kind: pipeline.KindText, Text: "naïve café 東京"}
	err = ts[0].Apply(context.Background(), it)
	fmt.Printf("%s: %q %v\n", ts[0].Name(), it.Text, err)
	// Output: remove_unicode: "nave caf " <nil>
}

// A custom func drops an item by returning pipeline.Skip: the run counts it
// as skipped, with the reason, and goes on.
func Example_skipItems() {
	reg := transforms.NewRegistry()
	_ = reg.Register("drop_small", func(_ context.Context, it *pipeline.Item) error {
		if it.Blob != nil && it.Blob.Size < 1024 {
			return pipeline.Skip(fmt.Sprintf("%d bytes: too small to be a photo", it.Blob.Size))
		}
		return nil
	})
	ts, _ := transforms.Build([]transforms.Spec{{Custom: "drop_small"}}, reg)

	it := &pipeline.Item{Blob: pipeline.BytesBlob([]byte("tiny"))}
	err := ts[0].Apply(context.Background(), it)
	fmt.Println(errors.Is(err, pipeline.ErrSkip), err)
	// Output: true skipped: 4 bytes: too small to be a photo
}

// A custom func fails an item by returning any other error. A
// *pipeline.ItemError names the item's provenance and the field, which is
// what the failure report shows.
func Example_failItems() {
	reg := transforms.NewRegistry()
	_ = reg.Register("require_caption", func(_ context.Context, it *pipeline.Item) error {
		if s, _ := it.Metadata["caption"].(string); strings.TrimSpace(s) == "" {
			return pipeline.Errorf(it.Prov, "metadata.caption", "missing; every image needs one")
		}
		return nil
	})
	ts, _ := transforms.Build([]transforms.Spec{{Custom: "require_caption"}}, reg)

	it := &pipeline.Item{Prov: pipeline.Provenance{Source: "manifest.csv", Row: 12, Path: "img/cat.jpg"}}
	err := ts[0].Apply(context.Background(), it)
	fmt.Println(errors.Is(err, pipeline.ErrSkip), err)
	// Output: false manifest.csv row 12 (img/cat.jpg): metadata.caption: missing; every image needs one
}

func ExampleNewUnicode() {
	for _, mode := range []string{"clean", "ascii"} {
		tr, err := transforms.NewUnicode(transforms.UnicodeConfig{Mode: mode, MetadataFields: []string{"author.name"}})
		if err != nil {
			fmt.Println(err)
			return
		}
		it := &pipeline.Item{
			Kind:     pipeline.KindText,
			Text:     "\ufeffnaïve café\u200b 東京",
			Metadata: map[string]any{"author": map[string]any{"name": "Zoë", "age": 33}},
		}
		if err := tr.Apply(context.Background(), it); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %q %v\n", mode, it.Text, it.Metadata)
	}
	// Output:
	// clean: "naïve café 東京" map[author:map[age:33 name:Zoë]]
	// ascii: "nave caf " map[author:map[age:33 name:Zo]]
}

func ExampleNewMetadata() {
	tr, err := transforms.NewMetadata(transforms.MetadataConfig{
		Fields:    []string{"filename", "size", "sha256", "mime", "width", "height"},
		Static:    map[string]any{"project": "demo"},
		PathRegex: `(?P<format>[a-z]+)$`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fi, err := os.Stat("testdata/img.png")
	if err != nil {
		fmt.Println(err)
		return
	}
	it := &pipeline.Item{
		Kind: pipeline.KindImage, MIME: "image/png",
		Blob:     pipeline.FileBlob("testdata/img.png", fi.Size()),
		Prov:     pipeline.Provenance{Path: "testdata/img.png"},
		Metadata: map[string]any{"project": "from the sidecar"},
	}
	if err := tr.Apply(context.Background(), it); err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range []string{"filename", "size", "sha256", "mime", "width", "height", "format", "project"} {
		fmt.Printf("%s: %v\n", k, it.Metadata[k])
	}
	// Output:
	// filename: img.png
	// size: 275
	// sha256: 23e8898798eda38a0068d7848d2bfc4193aa99e0bd96e46ccf795094ac9f2b5a
	// mime: image/png
	// width: 32
	// height: 24
	// format: png
	// project: from the sidecar
}

// Regions in pixels, as COCO gives them (bbox [x, y, w, h] = [8, 6, 16, 12]
// on a 32x24 image), become Clarifai's normalized coordinates.
func ExampleNewAnnotations() {
	tr, err := transforms.NewAnnotations(transforms.AnnotationsConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fi, _ := os.Stat("testdata/img.png")
	it := &pipeline.Item{
		Kind: pipeline.KindImage,
		Blob: pipeline.FileBlob("testdata/img.png", fi.Size()),
		Prov: pipeline.Provenance{Path: "testdata/img.png"},
		Regions: []pipeline.Region{{
			Pixels:   true,
			Concepts: []pipeline.Concept{pipeline.Positive("cat")},
			Box:      &pipeline.BoundingBox{Top: 6, Left: 8, Bottom: 6 + 12, Right: 8 + 16},
		}},
	}
	if err := tr.Apply(context.Background(), it); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v pixels=%v\n", *it.Regions[0].Box, it.Regions[0].Pixels)

	it.Regions = append(it.Regions, pipeline.Region{Box: &pipeline.BoundingBox{Top: 0.5, Left: 0, Bottom: 0.2, Right: 1}})
	fmt.Println(tr.Apply(context.Background(), it))
	// Output:
	// {Top:0.25 Left:0.25 Bottom:0.75 Right:0.75} pixels=false
	// testdata/img.png: regions: 1 invalid region: region 1 (no label): no concept label; box top_row > bottom_row (top_row=0.5 left_col=0 bottom_row=0.2 right_col=1)
}

func ExampleNewGeo() {
	tr, err := transforms.NewGeo(transforms.GeoConfig{
		FromMetadata: &transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon", Remove: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	it := &pipeline.Item{Metadata: map[string]any{"gps": map[string]any{"lat": "35.68", "lon": 139.69}, "caption": "Tokyo"}}
	err = tr.Apply(context.Background(), it)
	fmt.Printf("%v %+v %v\n", err, *it.Geo, it.Metadata)

	bad := &pipeline.Item{Geo: &pipeline.Geo{Latitude: 135.68, Longitude: 35.0}, Prov: pipeline.Provenance{Source: "m.csv", Row: 3}}
	fmt.Println(tr.Apply(context.Background(), bad))
	// Output:
	// <nil> {Latitude:35.68 Longitude:139.69} map[caption:Tokyo]
	// m.csv row 3: geo: lat 135.68 lon 35: want lat in [-90, 90] and lon in [-180, 180]
}

// Build turns the transforms list of a job file into transforms. The configs
// package decodes the YAML; Spec rejects unknown keys itself.
func ExampleBuild() {
	const jobFile = `
transforms:
  - unicode: {mode: ascii, metadata_fields: [caption, author.name]}
  - metadata: {fields: [filename, sha256, width, height], static: {project: demo}}
  - annotations: {}
  - geo: {from_metadata: {lat: gps.lat, lon: gps.lon}}
`
	var job struct {
		Transforms []transforms.Spec `yaml:"transforms"`
	}
	if err := yaml.Unmarshal([]byte(jobFile), &job); err != nil {
		fmt.Println(err)
		return
	}
	ts, err := transforms.Build(job.Transforms, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range ts {
		fmt.Println(t.Name())
	}

	err = yaml.Unmarshal([]byte("transforms:\n  - unicode: {mode: ascii, metadata_field: [caption]}\n"), &job)
	fmt.Println(err)
	// Output:
	// unicode
	// metadata
	// annotations
	// geo
	// unicode: unknown key "metadata_field" (want one of mode, text, metadata_fields, invalid_utf8, empty, max_text_bytes)
}
