package transforms_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// concurrencyCase is one transform and a fresh item for it, with a check of
// the result.
type concurrencyCase struct {
	name  string
	tr    pipeline.Transform
	item  func(i int) *pipeline.Item
	check func(it *pipeline.Item, err error) error
}

func concurrencyCases(t *testing.T) []concurrencyCase {
	root := t.TempDir()
	img := filepath.Join(root, "train", "cats", "7.png")
	copyFile(t, filepath.Join("testdata", "img.png"), img)
	// Static values with nested containers: if items shared them, the
	// unicode transform's in-place edits below would race.
	static := map[string]any{"project": "démo", "nested": map[string]any{"list": []any{"ä", 1}}}
	meta := mustMetadata(t, transforms.MetadataConfig{Fields: allFields, Static: static, PathRegex: `(?P<class>[^/]+)/\d+\.png$`})
	uni := mustUnicode(t, transforms.UnicodeConfig{Mode: "ascii", MetadataFields: []string{"*"}})
	ann := mustAnnotations(t, transforms.AnnotationsConfig{OnInvalid: "drop"})
	geo := mustGeo(t, transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon", Remove: true}})
	reg := transforms.NewRegistry()
	if err := reg.Register("upper", func(_ context.Context, it *pipeline.Item) error {
		it.Text = strings.ToUpper(it.Text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	built, err := transforms.Build([]transforms.Spec{{Metadata: &transforms.MetadataConfig{Static: static}}, {Unicode: &transforms.UnicodeConfig{Mode: "ascii", MetadataFields: []string{"*"}}}, {Custom: "upper"}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	chain := pipeline.Func("chain", func(ctx context.Context, it *pipeline.Item) error {
		for _, tr := range built {
			if err := tr.Apply(ctx, it); err != nil {
				return err
			}
		}
		return nil
	})
	imgItem := func(int) *pipeline.Item {
		return &pipeline.Item{Kind: pipeline.KindImage, MIME: "image/png", Blob: fileBlob(t, img), Prov: pipeline.Provenance{Source: root, Path: img}}
	}
	return []concurrencyCase{
		{name: "metadata", tr: meta, item: imgItem, check: func(it *pipeline.Item, err error) error {
			if err != nil {
				return err
			}
			if it.Metadata["sha256"] != testdataSHA256["img.png"] || it.Metadata["width"] != 32.0 || it.Metadata["split"] != "train" || it.Metadata["class"] != "cats" {
				return fmt.Errorf("metadata %v", it.Metadata)
			}
			return nil
		}},
		{name: "unicode", tr: uni, item: func(i int) *pipeline.Item {
			return &pipeline.Item{Kind: pipeline.KindText, Text: fmt.Sprintf("naïve %d 東京", i), Metadata: map[string]any{"c": "café"}}
		}, check: func(it *pipeline.Item, err error) error {
			if err != nil || !strings.HasPrefix(it.Text, "nave ") || it.Metadata["c"] != "caf" {
				return fmt.Errorf("%v: %q %v", err, it.Text, it.Metadata)
			}
			return nil
		}},
		{name: "annotations", tr: ann, item: func(int) *pipeline.Item {
			it := imgItem(0)
			it.Regions = []pipeline.Region{
				{Pixels: true, Concepts: cat, Box: box(6, 8, 18, 24)},
				{Pixels: true, Concepts: cat, Box: box(6, 8, 18, 64)},
			}
			return it
		}, check: func(it *pipeline.Item, err error) error {
			if err != nil || len(it.Regions) != 1 || *it.Regions[0].Box != *box(0.25, 0.25, 0.75, 0.75) || it.Metadata[transforms.KeyDroppedRegions] == nil {
				return fmt.Errorf("%v: %+v %v", err, it.Regions, it.Metadata)
			}
			return nil
		}},
		{name: "geo", tr: geo, item: func(i int) *pipeline.Item {
			return &pipeline.Item{Metadata: map[string]any{"gps": map[string]any{"lat": float64(i % 90), "lon": "10.5"}}}
		}, check: func(it *pipeline.Item, err error) error {
			if err != nil || it.Geo == nil || it.Geo.Longitude != 10.5 || len(it.Metadata) != 0 {
				return fmt.Errorf("%v: %+v %v", err, it.Geo, it.Metadata)
			}
			return nil
		}},
		{name: "built chain with shared static values", tr: chain, item: func(i int) *pipeline.Item {
			return &pipeline.Item{Kind: pipeline.KindText, Text: "abc"}
		}, check: func(it *pipeline.Item, err error) error {
			nested, _ := it.Metadata["nested"].(map[string]any)
			if err != nil || it.Text != "ABC" || it.Metadata["project"] != "dmo" || nested["list"].([]any)[0] != "" {
				return fmt.Errorf("%v: %q %v", err, it.Text, it.Metadata)
			}
			return nil
		}},
	}
}

// TestTransformsConcurrent applies each transform from several goroutines at
// once, as the pipeline's workers do; run it with -race.
func TestTransformsConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 8, 25
	for _, tc := range concurrencyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perGoroutine {
						it := tc.item(g*perGoroutine + i)
						if err := tc.check(it, tc.tr.Apply(context.Background(), it)); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestTransformsInPipelineRun runs a built chain in pipeline.Run with several
// workers, after the media detector, and checks that kept, skipped and failed
// items (and a panicking custom func) are counted as the runner promises.
func TestTransformsInPipelineRun(t *testing.T) {
	reg := transforms.NewRegistry()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.Register("drop_nsfw", func(_ context.Context, it *pipeline.Item) error {
		if it.Metadata["nsfw"] == true {
			return pipeline.Skip("nsfw")
		}
		return nil
	}))
	must(reg.Register("panics", func(_ context.Context, it *pipeline.Item) error {
		if it.Metadata["boom"] == true {
			panic("user bug")
		}
		return nil
	}))
	specs := []transforms.Spec{
		{Metadata: &transforms.MetadataConfig{Fields: []string{"filename", "sha256", "width", "height"}}},
		{Unicode: &transforms.UnicodeConfig{Mode: "ascii", MetadataFields: []string{"caption"}}},
		{Annotations: &transforms.AnnotationsConfig{}},
		{Geo: &transforms.GeoConfig{}},
		{Custom: "drop_nsfw"},
		{Custom: "panics"},
	}
	ts, err := transforms.Build(specs, reg)
	must(err)

	var items []*pipeline.Item
	png := filepath.Join("testdata", "img.png")
	for i := range 40 {
		it := &pipeline.Item{Blob: fileBlob(t, png), Prov: pipeline.Provenance{Path: png, Row: i + 2, Source: "m.csv"},
			Metadata: map[string]any{"caption": "café"}}
		switch i % 5 {
		case 1:
			it.Metadata["nsfw"] = true // skipped
		case 2:
			it.Geo = &pipeline.Geo{Latitude: 100} // failed
		case 3:
			it.Metadata["boom"] = true // failed by a panic
		case 4:
			it.Regions = []pipeline.Region{{Pixels: true, Concepts: cat, Box: box(6, 8, 18, 24)}}
		}
		items = append(items, it)
	}
	sink := &pipelinetest.RecordingSink{}
	stats, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources:    []pipeline.Source{&pipelinetest.SliceSource{Items: items}},
		Transforms: append([]pipeline.Transform{media.Detector()}, ts...),
		Sink:       sink,
		Workers:    8,
	})
	must(err)
	if stats.Read != 40 || stats.Done != 16 || stats.Skipped != 8 || stats.Failed != 16 {
		t.Errorf("stats = %+v, want read 40, done 16, skipped 8, failed 16", stats)
	}
	for _, it := range sink.Items() {
		if it.Metadata["caption"] != "caf" || it.Metadata["width"] != 32.0 || it.Metadata["filename"] != "img.png" {
			t.Errorf("delivered %v", it.Metadata)
		}
		if len(it.Regions) == 1 && (it.Regions[0].Pixels || *it.Regions[0].Box != *box(0.25, 0.25, 0.75, 0.75)) {
			t.Errorf("region not normalized: %+v", it.Regions[0])
		}
	}
	for _, it := range items {
		if it.Err == nil {
			continue
		}
		switch {
		case errors.Is(it.Err, pipeline.ErrSkip) && it.Stage != "transform:drop_nsfw",
			it.Geo != nil && it.Stage != "transform:geo",
			it.Metadata["boom"] == true && (it.Stage != "transform:panics" || !strings.Contains(it.Err.Error(), "user bug")):
			t.Errorf("%s: stage %s, err %v", it.Prov, it.Stage, it.Err)
		}
	}
}
