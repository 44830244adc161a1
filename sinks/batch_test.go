package sinks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	"github.com/ingestkit/clarifai-ingest/sinks"
)

// fakeClock is a manual clock for MaxWait.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// item returns an item of kind k whose content is size bytes, named by tag.
func item(tag string, k pipeline.Kind, size int64) *pipeline.Item {
	return &pipeline.Item{ID: tag, Kind: k, Blob: &pipeline.Blob{Size: size}}
}

// ids renders batches as "a,b|c" for comparison.
func ids(batches [][]*pipeline.Item) string {
	var parts []string
	for _, b := range batches {
		var s []string
		for _, it := range b {
			s = append(s, it.ID)
		}
		parts = append(parts, strings.Join(s, ","))
	}
	return strings.Join(parts, "|")
}

func TestBatcher(t *testing.T) {
	img := func(tag string) *pipeline.Item { return item(tag, pipeline.KindImage, 10) }
	vid := func(tag string) *pipeline.Item { return item(tag, pipeline.KindVideo, 10) }
	big := func(tag string) *pipeline.Item { return item(tag, pipeline.KindImage, 5000) }
	many := func(n int) []*pipeline.Item {
		var out []*pipeline.Item
		for i := range n {
			out = append(out, img(fmt.Sprint(i)))
		}
		return out
	}
	perItem := sinks.EstimateSize(img("x")) // every test item estimates the same

	for _, tc := range []struct {
		name   string
		policy sinks.BatchPolicy
		items  []*pipeline.Item
		// fullAt lists, for each Add, whether it reports full.
		fullAt string // "." not full, "F" full
		want   string // batches as flushed: closed ones while adding, then the rest
	}{
		{"count limit", sinks.BatchPolicy{MaxItems: 2}, []*pipeline.Item{img("a"), img("b"), img("c")}, ".F.", "a,b|c"},
		{"default count is 128", sinks.BatchPolicy{}, many(130), strings.Repeat(".", 127) + "F..", "" /* checked below */},
		{"byte budget", sinks.BatchPolicy{MaxBytes: units.ByteSize(2*perItem + 1)}, []*pipeline.Item{img("a"), img("b"), img("c")}, "..F", "a,b|c"},
		{"exact byte budget closes at once", sinks.BatchPolicy{MaxBytes: units.ByteSize(2 * perItem)}, []*pipeline.Item{img("a"), img("b"), img("c")}, ".F.", "a,b|c"},
		{"second video closes the batch", sinks.BatchPolicy{}, []*pipeline.Item{vid("v1"), img("a"), vid("v2"), img("b")}, "..F.", "v1,a|v2,b"},
		{"images around one video stay together", sinks.BatchPolicy{}, []*pipeline.Item{img("a"), vid("v"), img("b")}, "...", "a,v,b"},
		{"item over budget goes alone", sinks.BatchPolicy{MaxBytes: 1000}, []*pipeline.Item{img("a"), big("B"), img("c")}, ".F.", "a|B|c"},
		{"empty", sinks.BatchPolicy{}, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(0, 0)}
			b := sinks.NewBatcher(tc.policy, clk.now)
			var got [][]*pipeline.Item
			var full strings.Builder
			for _, it := range tc.items {
				if b.Add(it) {
					full.WriteByte('F')
					for b.Full() {
						got = append(got, b.Flush())
					}
				} else {
					full.WriteByte('.')
				}
			}
			for b.Len() > 0 {
				got = append(got, b.Flush())
			}
			if b.Flush() != nil {
				t.Error("Flush of an empty batcher returned a batch")
			}
			if full.String() != tc.fullAt {
				t.Errorf("full = %q, want %q", full.String(), tc.fullAt)
			}
			if tc.want != "" && ids(got) != tc.want {
				t.Errorf("batches = %q, want %q", ids(got), tc.want)
			}
			total, p := 0, tc.policy.WithDefaults()
			for _, batch := range got {
				total += len(batch)
				var bytes int64
				videos := 0
				for _, it := range batch {
					bytes += sinks.EstimateSize(it)
					if it.Kind == pipeline.KindVideo {
						videos++
					}
				}
				if len(batch) > p.MaxItems || videos > 1 || (len(batch) > 1 && bytes > int64(p.MaxBytes)) {
					t.Errorf("batch of %d items, %d bytes, %d videos breaks %+v", len(batch), bytes, videos, p)
				}
			}
			if total != len(tc.items) {
				t.Errorf("flushed %d items, added %d", total, len(tc.items))
			}
		})
	}
}

func TestBatcherMaxWait(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := sinks.NewBatcher(sinks.BatchPolicy{MaxWait: time.Second}, clk.now)
	steps := []struct {
		do   func()
		want time.Duration
	}{
		{func() {}, -1},
		{func() { b.Add(item("a", pipeline.KindImage, 1)) }, time.Second},
		{func() { clk.advance(300 * time.Millisecond); b.Add(item("b", pipeline.KindImage, 1)) }, 700 * time.Millisecond},
		{func() { clk.advance(time.Second) }, 0},
		{func() { b.Flush() }, -1},
		{func() { clk.advance(time.Hour); b.Add(item("c", pipeline.KindImage, 1)) }, time.Second},
	}
	for i, s := range steps {
		s.do()
		if got := b.UntilNext(); (s.want < 0 && got >= 0) || (s.want >= 0 && got != s.want) {
			t.Errorf("step %d: UntilNext = %v, want %v", i, got, s.want)
		}
	}
	if b.Len() != 1 {
		t.Errorf("Len = %d, want 1", b.Len())
	}
	// A closed batch is due at once.
	b2 := sinks.NewBatcher(sinks.BatchPolicy{MaxItems: 1}, clk.now)
	b2.Add(item("x", pipeline.KindImage, 1))
	if got := b2.UntilNext(); got != 0 {
		t.Errorf("closed batch: UntilNext = %v, want 0", got)
	}
}

func TestBatchPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p    sinks.BatchPolicy
		want string // substring of the error; "" = valid
	}{
		{sinks.BatchPolicy{}, ""},
		{sinks.BatchPolicy{MaxItems: 128, MaxBytes: units.ByteSize(sinks.MaxBatchBytes), MaxWait: time.Minute}, ""},
		{sinks.BatchPolicy{MaxItems: 129}, "MaxItems 129"},
		{sinks.BatchPolicy{MaxItems: -1}, "MaxItems -1"},
		{sinks.BatchPolicy{MaxBytes: units.ByteSize(sinks.MaxBatchBytes + 1)}, "MaxBytes"},
		{sinks.BatchPolicy{MaxBytes: -5}, "MaxBytes -5"},
		{sinks.BatchPolicy{MaxWait: -time.Second}, "MaxWait"},
	} {
		err := tc.p.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate = %v, want %q", tc.p, err, tc.want)
		}
	}
	d := sinks.BatchPolicy{}.WithDefaults()
	if d.MaxItems != 128 || d.MaxBytes != 64<<20 || d.MaxWait != time.Second {
		t.Errorf("defaults = %+v", d)
	}
}

func TestCheckLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		it   *pipeline.Item
		want string // substring of the error; "" = ok
	}{
		{"image under", item("a", pipeline.KindImage, sinks.MaxFileBytes-1), ""},
		{"image at limit", item("a", pipeline.KindImage, sinks.MaxFileBytes), "image is 20000000 bytes; Clarifai accepts image content under 20000000 bytes (20 MB)"},
		{"audio over", item("a", pipeline.KindAudio, sinks.MaxFileBytes+1), "audio is 20000001 bytes"},
		{"text file over", item("a", pipeline.KindText, sinks.MaxFileBytes), "text is 20000000 bytes"},
		{"multimodal image over", item("a", pipeline.KindMultimodal, sinks.MaxFileBytes), "multimodal is"},
		{"video under 128 MB", item("a", pipeline.KindVideo, sinks.MaxVideoBytes-1), ""},
		{"video at 128 MB", item("a", pipeline.KindVideo, sinks.MaxVideoBytes), "under 128000000 bytes (128 MB)"},
		{"raw text over", &pipeline.Item{Kind: pipeline.KindText, Text: strings.Repeat("x", int(sinks.MaxFileBytes))}, "text: text is 20000000 bytes"},
		{"url", &pipeline.Item{Kind: pipeline.KindVideo, URL: "https://x/y.mp4"}, ""},
	} {
		tc.it.Prov = pipeline.Provenance{Path: "data/f"}
		err := sinks.CheckLimits(tc.it)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "data/f: ") {
			t.Errorf("%s: error %q does not name the item", tc.name, err)
		}
	}
}

func BenchmarkBatcher(b *testing.B) {
	items := make([]*pipeline.Item, 1024)
	for i := range items {
		items[i] = &pipeline.Item{Kind: pipeline.KindImage, Blob: &pipeline.Blob{Size: 200_000},
			Concepts: []pipeline.Concept{pipeline.Positive("cat")}}
	}
	bt := sinks.NewBatcher(sinks.BatchPolicy{}, time.Now)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if bt.Add(items[i%len(items)]) {
			for bt.Full() {
				bt.Flush()
			}
		}
	}
}
