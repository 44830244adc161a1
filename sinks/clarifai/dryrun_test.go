package clarifai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
)

func TestDryRunFindsEveryProblemAndPlansCalls(t *testing.T) {
	ok := func(i int) *pipeline.Item {
		return &pipeline.Item{Kind: pipeline.KindText, Text: strings.Repeat("x", i+1), Prov: pipeline.Provenance{Source: "m.csv", Row: i + 2}}
	}
	var items []*pipeline.Item
	for i := range 300 {
		items = append(items, ok(i))
	}
	box := func(top, bottom float64) pipeline.Region {
		return pipeline.Region{Concepts: []pipeline.Concept{pipeline.Positive("cat")}, Box: &pipeline.BoundingBox{Top: top, Left: 0.1, Bottom: bottom, Right: 0.5}}
	}
	withRegions := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/a.jpg", Regions: []pipeline.Region{box(0.1, 0.2), box(0.3, 0.4)}}
	items = append(items, withRegions, &pipeline.Item{Kind: pipeline.KindVideo, Blob: pipeline.BytesBlob([]byte("v"))},
		&pipeline.Item{Kind: pipeline.KindVideo, Blob: pipeline.BytesBlob([]byte("w"))})
	bad := map[string]*pipeline.Item{
		"20 MB":           {Kind: pipeline.KindImage, Blob: &pipeline.Blob{Size: sinks.MaxFileBytes}},
		"input ID":        {Kind: pipeline.KindText, Text: "t", ID: "has spaces"},
		"latitude":        {Kind: pipeline.KindText, Text: "t", Geo: &pipeline.Geo{Latitude: 91}},
		"not valid UTF-8": {Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte{0xff, 0xfe})},
		"outside [0, 1]":  {Kind: pipeline.KindImage, URL: "https://x/b.jpg", Regions: []pipeline.Region{box(0.5, 1.5)}},
		"in pixels":       {Kind: pipeline.KindImage, URL: "https://x/c.jpg", Regions: []pipeline.Region{{Pixels: true, Box: &pipeline.BoundingBox{Bottom: 3, Right: 3}}}},
		"multimodal item": {Kind: pipeline.KindMultimodal, URL: "https://x/d.jpg"},
		"metadata":        {Kind: pipeline.KindText, Text: "t", Metadata: map[string]any{"f": func() {}}},
		"dataset":         {Kind: pipeline.KindText, Text: "t", DatasetIDs: []string{"a b"}},
	}
	for _, it := range bad {
		items = append(items, it)
	}
	d := NewDryRun(SinkConfig{Settings: Settings{Verify: new(true)}})
	in := make(chan *pipeline.Item)
	results := make(chan pipeline.Result, len(items))
	go func() {
		defer close(in)
		for _, it := range items {
			in <- it
		}
	}()
	if err := d.Run(context.Background(), in, results); err != nil {
		t.Fatal(err)
	}
	close(results)
	failed := map[*pipeline.Item]error{}
	for r := range results {
		if r.Event == pipeline.EventFailed {
			failed[r.Item] = r.Err
		}
	}
	for want, it := range bad {
		if err := failed[it]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	p := d.Plan()
	// 300 texts + 1 image: 128, 128, 45; the first video joins the third
	// batch and the second, one video per request, starts a fourth.
	if p.Inputs != 303 || p.Problems != int64(len(bad)) || p.PostInputs != 4 || p.Annotations != 2 || p.PostAnnotations != 1 || p.VerifyCalls != 2 {
		t.Errorf("plan = %+v", p)
	}
	if p.Calls() != 7 || p.Duration(4) != 1_750_000_000 {
		t.Errorf("calls %d, duration %v", p.Calls(), p.Duration(4))
	}
	if withRegions.ID == "" {
		t.Error("the dry run did not assign the ID the real run would")
	}
}

// TestDryRunTakesUpdates: items that would update their inputs are checked
// without loading their content and planned as updates, not posts.
func TestDryRunTakesUpdates(t *testing.T) {
	update := func(id string, md map[string]any) *pipeline.Item {
		return &pipeline.Item{ID: id, Kind: pipeline.KindImage, Metadata: md,
			Blob: &pipeline.Blob{Size: 10, Open: func() (io.ReadCloser, error) { return nil, errors.New("content loaded") }},
			Sync: &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: id, Changed: fields(pipeline.FieldMetadata)}}
	}
	var items []*pipeline.Item
	for i := range 130 {
		items = append(items, update(fmt.Sprintf("u%d", i), map[string]any{"i": float64(i)}))
	}
	bad := update("bad", map[string]any{"f": func() {}})
	items = append(items, bad, &pipeline.Item{Kind: pipeline.KindText, Text: "new"})
	d := NewDryRun(SinkConfig{})
	in := make(chan *pipeline.Item, len(items))
	for _, it := range items {
		in <- it
	}
	close(in)
	results := make(chan pipeline.Result, len(items))
	if err := d.Run(t.Context(), in, results); err != nil {
		t.Fatal(err)
	}
	close(results)
	for r := range results {
		if (r.Event == pipeline.EventFailed) != (r.Item == bad) {
			t.Errorf("%s: %v %v", r.Item.ID, r.Event, r.Err)
		}
	}
	if p := d.Plan(); p.Updates != 130 || p.UpdateCalls != 2 || p.Inputs != 1 || p.Problems != 1 || p.PostInputs != 1 {
		t.Errorf("plan %+v", p)
	}
}
