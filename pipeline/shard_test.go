package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
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

// TestShardOwnersGolden pins which shard owns an item without an ID or a
// key (by the hash of its derived ID): a change would move items between
// the shards of a job that is already running, each shard with its own
// checkpoint.
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

// owners returns the shards of count that own it (exactly one, when Owns
// keeps its contract).
func owners(it *pipeline.Item, count int) []int {
	var out []int
	for s := range count {
		if (pipeline.Shard{Index: s, Count: count}).Owns(it) {
			out = append(out, s)
		}
	}
	return out
}

// TestShardOwnersGivenIDGolden pins the shards of items with a given ID
// (with or without content, whatever their key) and of items that failed in
// their source, as assigned before sharding used stable keys: those never
// move, so a sharded job with given IDs upgrades without an item changing
// shard.
func TestShardOwnersGivenIDGolden(t *testing.T) {
	want := []int{4, 3, 6, 4, 5, 3, 3, 1, 0, 5, 2, 1, 3, 6, 6, 4, 6, 3, 4, 6, 6, 1, 6, 3, 1, 4, 4, 3, 0, 2, 4, 3, 4, 0, 0, 4}
	var got []int
	for i := range 12 {
		for _, it := range []*pipeline.Item{
			{ID: fmt.Sprintf("user-%d", i), Key: fmt.Sprintf("id:user-%d|ds=train", i)},
			{ID: fmt.Sprintf("img%d", i), Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(nil), Key: fmt.Sprintf("file:/d/%d.jpg|10|20", i)},
			(&pipeline.Item{Key: fmt.Sprintf("file:/d/%d.jpg|1|2", i), Prov: pipeline.Provenance{Source: "m.csv", Row: i + 2}}).Fail("source", fmt.Errorf("bad")),
		} {
			o := owners(it, 7)
			if len(o) != 1 {
				t.Fatalf("item %+v: owned by shards %v", it, o)
			}
			got = append(got, o[0])
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("owners\n got %v\nwant %v", got, want)
	}
}

// TestShardOwnsStableAcrossEdits checks that an item without a given ID
// stays in its shard when it is edited: its labels, metadata or datasets
// changed, or its file rewritten (new size and modification time). Its
// shard's checkpoint knows its earlier version; another shard would post it
// as new.
func TestShardOwnsStableAcrossEdits(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	file := func(i int, size int64, mod time.Time, ds []string, label string) *pipeline.Item {
		p := fmt.Sprintf("/data/%d.jpg", i)
		return &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.FileBlobAt(p, size, mod), DatasetIDs: ds,
			Concepts: []pipeline.Concept{pipeline.Positive(label)}, Prov: pipeline.Provenance{Source: "/data", Path: p},
			Key: ids.ScopeKey(ids.FileKey(p, size, mod), ds)}
	}
	url := func(i int, ds []string, md map[string]any) *pipeline.Item {
		u := fmt.Sprintf("https://x.test/%d.jpg", i)
		return &pipeline.Item{Kind: pipeline.KindImage, URL: u, DatasetIDs: ds, Metadata: md,
			Key: ids.ScopeKey(ids.URLKey(pipeline.KindImage, u), ds)}
	}
	cases := []struct {
		name          string
		before, after func(i int) *pipeline.Item
	}{
		{"file rewritten",
			func(i int) *pipeline.Item { return file(i, 100, t0, nil, "cat") },
			func(i int) *pipeline.Item { return file(i, 123, t0.Add(time.Hour), nil, "cat") }},
		{"file relabeled",
			func(i int) *pipeline.Item { return file(i, 100, t0, nil, "cat") },
			func(i int) *pipeline.Item { return file(i, 100, t0, nil, "dog") }},
		{"file put in datasets",
			func(i int) *pipeline.Item { return file(i, 100, t0, nil, "cat") },
			func(i int) *pipeline.Item { return file(i, 100, t0, []string{"val", "train"}, "cat") }},
		{"file moved to another dataset and rewritten",
			func(i int) *pipeline.Item { return file(i, 100, t0, []string{"train"}, "cat") },
			func(i int) *pipeline.Item { return file(i, 7, t0.Add(time.Second), []string{"test"}, "cat") }},
		{"url moved to another dataset",
			func(i int) *pipeline.Item { return url(i, []string{"train"}, nil) },
			func(i int) *pipeline.Item { return url(i, []string{"test"}, nil) }},
		{"url metadata changed",
			func(i int) *pipeline.Item { return url(i, nil, map[string]any{"a": 1.0}) },
			func(i int) *pipeline.Item { return url(i, nil, map[string]any{"a": 2.0}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			per := make([]int, 5)
			for i := range 200 {
				b, a := owners(tc.before(i), 5), owners(tc.after(i), 5)
				if len(b) != 1 || len(a) != 1 || a[0] != b[0] {
					t.Fatalf("item %d: owned by %v before the edit, by %v after", i, b, a)
				}
				per[b[0]]++
			}
			for s, n := range per {
				if n < 20 { // 40 expected; a basis that ignores the item puts all in one
					t.Errorf("shard %d owns %d of 200 items", s, n)
				}
			}
		})
	}
}
