package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
)

func TestParseShard(t *testing.T) {
	for in, ok := range map[string]bool{"0/4": true, "3/4": true, " 1/2 ": true, "4/4": false, "-1/4": false, "0/0": false, "1": false, "a/b": false} {
		if _, err := pipeline.ParseShard(in); (err == nil) != ok {
			t.Errorf("ParseShard(%q) = %v", in, err)
		}
	}
}

func TestShardsCoverEveryItemExactlyOnce(t *testing.T) {
	var items []*pipeline.Item
	for i := range 3000 {
		switch i % 4 {
		case 0:
			items = append(items, &pipeline.Item{ID: fmt.Sprintf("id-%d", i)})
		case 1:
			items = append(items, &pipeline.Item{Kind: pipeline.KindImage, URL: fmt.Sprintf("https://x/%d.jpg", i)})
		case 2:
			items = append(items, &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(nil), Key: fmt.Sprintf("file:/d/%d|1|1", i)})
		case 3:
			items = append(items, (&pipeline.Item{Prov: pipeline.Provenance{Source: "m.csv", Row: i}}).Fail("source", fmt.Errorf("bad")))
		}
	}
	const n = 4
	owners := make([]int, len(items))
	per := make([]int, n)
	for s := range n {
		got, err := pipelinetest.Collect(context.Background(), pipeline.Sharded(&pipelinetest.SliceSource{Items: items}, pipeline.Shard{Index: s, Count: n}))
		if err != nil {
			t.Fatal(err)
		}
		per[s] = len(got)
		for _, it := range got {
			for i, orig := range items {
				if orig == it {
					owners[i]++
				}
			}
		}
	}
	for i, c := range owners {
		if c != 1 {
			t.Fatalf("item %d is in %d shards", i, c)
		}
	}
	for s, c := range per {
		if c < 600 || c > 900 { // 750 expected; a broken hash puts all in one
			t.Errorf("shard %d has %d of 3000 items", s, c)
		}
	}
	// Not sharded: the source itself.
	src := &pipelinetest.SliceSource{Items: items}
	if pipeline.Sharded(src, pipeline.Shard{}) != pipeline.Source(src) {
		t.Error("an unsharded job wraps its sources")
	}
}

func TestShardedSourceStopsOnCancel(t *testing.T) {
	endless := pipelinetest.FuncSource(func(ctx context.Context, out chan<- *pipeline.Item) error {
		for i := 0; ; i++ {
			if err := pipeline.Send(ctx, out, &pipeline.Item{ID: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *pipeline.Item)
	errc := make(chan error, 1)
	go func() { errc <- pipeline.Sharded(endless, pipeline.Shard{Index: 1, Count: 3}).Stream(ctx, out) }()
	for range 10 {
		<-out
	}
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Errorf("err = %v", err)
	}
}

// TestShardOwnersGolden pins which shard owns an item without an ID (by the
// hash of its derived ID): a change would move items between the shards of
// a job that is already running, each shard with its own checkpoint.
func TestShardOwnersGolden(t *testing.T) {
	want := []int{2, 4, 6, 6, 0, 1, 4, 5, 6, 3, 2, 4, 4, 0, 5, 5, 0, 5, 4, 5, 4, 3, 4, 4}
	for i := range 12 {
		for j, it := range []*pipeline.Item{
			{Kind: pipeline.KindImage, URL: fmt.Sprintf("HTTPS://Example.com:443/%d.jpg#x", i), DatasetIDs: []string{"b", "a"}},
			{Kind: pipeline.KindText, Text: fmt.Sprintf("text %d", i)},
		} {
			var owners []int
			for s := range 7 {
				if (pipeline.Shard{Index: s, Count: 7}).Owns(it) {
					owners = append(owners, s)
				}
			}
			if w := want[2*i+j]; len(owners) != 1 || owners[0] != w {
				t.Errorf("item %+v: owned by shards %v, want %d", it, owners, w)
			}
		}
	}
}
