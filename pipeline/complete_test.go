package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
)

// keyed returns n text items of source name, keyed so that a checkpoint can
// find them.
func keyed(name string, n int) []*pipeline.Item {
	out := make([]*pipeline.Item, n)
	for i := range out {
		id := fmt.Sprintf("%s-%03d", name, i)
		out[i] = &pipeline.Item{ID: id, Key: ids.IDKey(id), Kind: pipeline.KindText, Text: "t",
			Prov: pipeline.Provenance{Source: name, Line: i + 1}}
	}
	return out
}

func fpSource(name string, n int) *pipelinetest.FingerprintSource {
	return &pipelinetest.FingerprintSource{SliceSource: pipelinetest.SliceSource{SourceName: name, Items: keyed(name, n)},
		FP: "fp:" + name}
}

func runJob(t *testing.T, cp pipeline.Checkpoint, sink pipeline.Sink, srcs ...pipeline.Source) pipeline.Stats {
	t.Helper()
	st, err := pipeline.Run(context.Background(), pipeline.Job{Sources: srcs, Sink: sink, Checkpoint: cp, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// failing is a sink that fails the items whose ID is in ids with a server
// code, skips those in skip, and finishes the rest.
func failing(ids ...string) *pipelinetest.RecordingSink {
	return &pipelinetest.RecordingSink{Decide: func(it *pipeline.Item) pipeline.Result {
		for _, id := range ids {
			if it.ID == id {
				return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "upload", Code: 30104, Err: errors.New("rejected")}
			}
		}
		return pipeline.Result{Item: it, Event: pipeline.EventDone}
	}}
}

func TestCompleteSourceIsNotReadAgain(t *testing.T) {
	cp := &pipelinetest.MemCheckpoint{}
	a, b := fpSource("a", 20), &pipelinetest.SliceSource{SourceName: "b", Items: keyed("b", 5)}
	st := runJob(t, cp, &pipelinetest.RecordingSink{}, a, b)
	if st.Done != 25 {
		t.Fatalf("first run: %+v", st)
	}
	want := map[string]pipeline.SourceCounts{"fp:a": {Done: 20}}
	if got := cp.SourcesDone(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sources recorded complete: %v, want %v (b has no fingerprint)", got, want)
	}

	a2, b2 := fpSource("a", 20), &pipelinetest.SliceSource{SourceName: "b", Items: keyed("b", 5)}
	sink := &pipelinetest.RecordingSink{}
	var c collector
	st, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{a2, b2}, Sink: sink,
		Checkpoint: cp, OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	if a2.Streams() != 0 {
		t.Errorf("the complete source was streamed %d times, want 0", a2.Streams())
	}
	if st.Read != 25 || st.Resumed != 25 || st.Done != 0 || st.InFlight() != 0 {
		t.Errorf("rerun: %+v, want 25 read and 25 already done", st)
	}
	// b was looked up item by item; a produced no results at all.
	if len(c.res) != 5 || len(sink.Items()) != 0 {
		t.Errorf("rerun: %d results, %d items sent; want the 5 of b, none sent", len(c.res), len(sink.Items()))
	}
}

func TestSourceWithAFailureIsNotComplete(t *testing.T) {
	cp := &pipelinetest.MemCheckpoint{}
	a, b := fpSource("a", 10), fpSource("b", 10)
	st := runJob(t, cp, failing("b-004"), a, b)
	if st.Failed != 1 {
		t.Fatalf("first run: %+v", st)
	}
	if got := cp.SourcesDone(); len(got) != 1 || got["fp:a"] != (pipeline.SourceCounts{Done: 10}) {
		t.Fatalf("sources recorded complete: %v, want only a", got)
	}
	// The rerun reads b again, and the failed item gets its second chance.
	a2, b2 := fpSource("a", 10), fpSource("b", 10)
	sink := &pipelinetest.RecordingSink{}
	st = runJob(t, cp, sink, a2, b2)
	if a2.Streams() != 0 || b2.Streams() != 1 {
		t.Errorf("streams: a %d, b %d; want 0 and 1", a2.Streams(), b2.Streams())
	}
	if st.Resumed != 19 || st.Done != 1 || len(sink.Items()) != 1 || sink.Items()[0].ID != "b-004" {
		t.Errorf("rerun: %+v, sent %d; want 19 already done and b-004 sent again", st, len(sink.Items()))
	}
	if got := cp.SourcesDone(); len(got) != 2 || got["fp:b"] != (pipeline.SourceCounts{Done: 10}) {
		t.Errorf("after the rerun: %v, want b complete with 10 done (9 resumed, 1 delivered)", got)
	}
}

func TestSkippedItemsCountAsComplete(t *testing.T) {
	cp := &pipelinetest.MemCheckpoint{}
	a := fpSource("a", 10)
	a.Items[2].Fail("source", pipeline.Skip("unknown extension"))
	a.Items[7].Fail("source", errors.New("bad line"))
	skipper := pipeline.Func("skip", func(_ context.Context, it *pipeline.Item) error {
		if it.ID == "a-005" {
			return pipeline.Skip("not wanted")
		}
		return nil
	})
	run := func(src pipeline.Source) pipeline.Stats {
		st, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{src},
			Transforms: []pipeline.Transform{skipper}, Sink: &pipelinetest.RecordingSink{}, Checkpoint: cp})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	run(a)
	if len(cp.SourcesDone()) != 0 {
		t.Fatalf("a source with a failed line was recorded complete: %v", cp.SourcesDone())
	}
	a2 := fpSource("a", 10) // the bad line fixed
	a2.Items[2].Fail("source", pipeline.Skip("unknown extension"))
	st := run(a2)
	if st.Skipped != 2 || st.Resumed != 7 || st.Done != 1 {
		t.Fatalf("second run: %+v", st)
	}
	if got := cp.SourcesDone()["fp:a"]; got != (pipeline.SourceCounts{Done: 8, Skipped: 2}) {
		t.Fatalf("marker %+v, want 8 done and 2 skipped", got)
	}
	a3 := fpSource("a", 10)
	st = run(a3)
	if a3.Streams() != 0 || st.Read != 10 || st.Resumed != 8 || st.Skipped != 2 {
		t.Errorf("third run: %+v, streamed %d times; want the marker's counts and no stream", st, a3.Streams())
	}
}

// fpFunc is a source with a fingerprint and a Stream of the test's choice.
type fpFunc struct {
	fp     func() (string, error)
	stream func(ctx context.Context, out chan<- *pipeline.Item) error
}

func (fpFunc) Name() string                   { return "fpfunc" }
func (s fpFunc) Fingerprint() (string, error) { return s.fp() }
func (s fpFunc) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	return s.stream(ctx, out)
}

func constFP(fp string) func() (string, error) { return func() (string, error) { return fp, nil } }

func TestSoftStoppedSourceIsNotComplete(t *testing.T) {
	cp := &pipelinetest.MemCheckpoint{}
	stop := make(chan struct{})
	first := fpSource("first", 5)
	endless := fpFunc{fp: constFP("fp:endless"), stream: func(ctx context.Context, out chan<- *pipeline.Item) error {
		for i := 0; ; i++ {
			if i == 10 {
				close(stop)
			}
			id := fmt.Sprint("e", i)
			if err := pipeline.Send(ctx, out, &pipeline.Item{ID: id, Key: ids.IDKey(id)}); err != nil {
				return err
			}
		}
	}}
	st, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{first, endless},
		Sink: &pipelinetest.RecordingSink{}, Checkpoint: cp, Stop: stop})
	if err != nil || st.Done != st.Read || st.Read < 15 {
		t.Fatalf("soft stop: %+v, %v", st, err)
	}
	// The first source was read to its end before the stop: complete. The
	// second one was cut: not.
	if got := cp.SourcesDone(); len(got) != 1 || got["fp:first"] != (pipeline.SourceCounts{Done: 5}) {
		t.Errorf("sources recorded complete: %v, want only the first", got)
	}
}

func TestSourceStoppedBeforeItsEndMarkIsNotComplete(t *testing.T) {
	// The stop comes after the source sent its last item but before the
	// runner could pass on its end: the source is not recorded.
	cp := &pipelinetest.MemCheckpoint{}
	stop := make(chan struct{})
	src := fpFunc{fp: constFP("fp:x"), stream: func(ctx context.Context, out chan<- *pipeline.Item) error {
		for _, it := range keyed("x", 3) {
			if err := pipeline.Send(ctx, out, it); err != nil {
				return err
			}
		}
		close(stop)
		<-ctx.Done() // the runner saw the stop
		return nil   // a source that ignores it
	}}
	st, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{src},
		Sink: &pipelinetest.RecordingSink{}, Checkpoint: cp, Stop: stop})
	if err != nil || st.Done != 3 {
		t.Fatalf("%+v, %v", st, err)
	}
	if got := cp.SourcesDone(); len(got) != 0 {
		t.Errorf("a source stopped by Stop was recorded complete: %v", got)
	}
}

func TestSourceErrorIsNotComplete(t *testing.T) {
	cp := &pipelinetest.MemCheckpoint{}
	src := fpFunc{fp: constFP("fp:x"), stream: func(ctx context.Context, out chan<- *pipeline.Item) error {
		for _, it := range keyed("x", 3) {
			if err := pipeline.Send(ctx, out, it); err != nil {
				return err
			}
		}
		return errors.New("read manifest.csv: input/output error")
	}}
	_, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{src},
		Sink: &pipelinetest.RecordingSink{}, Checkpoint: cp})
	if err == nil {
		t.Fatal("the source's error did not end the run")
	}
	if got := cp.SourcesDone(); len(got) != 0 {
		t.Errorf("a source that failed was recorded complete: %v", got)
	}
}

func TestSourceNotMarkedWhen(t *testing.T) {
	cases := []struct {
		name string
		src  func() pipeline.Source
		sink pipeline.Sink
	}{
		{"its fingerprint fails", func() pipeline.Source {
			s := fpSource("a", 3)
			s.Err = errors.New("not a local file")
			return s
		}, &pipelinetest.RecordingSink{}},
		{"it changed while it was read", func() pipeline.Source {
			var calls atomic.Int32
			return fpFunc{fp: func() (string, error) { return fmt.Sprint("fp-", calls.Add(1)), nil },
				stream: fpSource("a", 3).Stream}
		}, &pipelinetest.RecordingSink{}},
		{"an item carries local file content", func() pipeline.Source {
			s := fpSource("a", 3)
			s.Items[1].Blob = pipeline.BytesBlob([]byte("a file named by a manifest"))
			return s
		}, &pipelinetest.RecordingSink{}},
		{"the sink reports items the runner did not read", func() pipeline.Source { return fpSource("a", 3) },
			&pipelinetest.RecordingSink{Decide: func(it *pipeline.Item) pipeline.Result {
				cp := &pipeline.Item{ID: it.ID, Key: it.Key}
				return pipeline.Result{Item: cp, Event: pipeline.EventDone}
			}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := &pipelinetest.MemCheckpoint{}
			st := runJob(t, cp, tc.sink, tc.src())
			if st.Done != 3 {
				t.Fatalf("%+v", st)
			}
			if got := cp.SourcesDone(); len(got) != 0 {
				t.Errorf("recorded complete: %v", got)
			}
		})
	}
}

// orderCheckpoint checks that a source is recorded complete only after
// every final result of its items was recorded.
type orderCheckpoint struct {
	pipelinetest.MemCheckpoint
	t      *testing.T
	mu     sync.Mutex
	finals map[string]int // by source (Prov.Source)
	fail   error
}

func (c *orderCheckpoint) Record(r pipeline.Result) error {
	if r.Event.Final() {
		c.mu.Lock()
		c.finals[r.Item.Prov.Source]++
		c.mu.Unlock()
	}
	return c.MemCheckpoint.Record(r)
}

func (c *orderCheckpoint) RecordSourceDone(fp string, n pipeline.SourceCounts) error {
	c.mu.Lock()
	got := c.finals[strings.TrimPrefix(fp, "fp:")]
	c.mu.Unlock()
	if int64(got) != n.Done+n.Skipped {
		c.t.Errorf("%s recorded complete after %d final records, want %d", fp, got, n.Done+n.Skipped)
	}
	if c.fail != nil {
		return c.fail
	}
	return c.MemCheckpoint.RecordSourceDone(fp, n)
}

func TestSourceRecordedAfterItsLastItem(t *testing.T) {
	cp := &orderCheckpoint{t: t, finals: map[string]int{}}
	srcs := []pipeline.Source{fpSource("a", 300), fpSource("b", 1), fpSource("c", 0), fpSource("d", 200)}
	// A sink that holds items back and finishes them out of order, so that
	// end marks overtake the last results.
	sink := &shuffleSink{}
	st := runJob(t, cp, sink, srcs...)
	if st.Done != 501 {
		t.Fatalf("%+v", st)
	}
	want := map[string]pipeline.SourceCounts{"fp:a": {Done: 300}, "fp:b": {Done: 1}, "fp:c": {}, "fp:d": {Done: 200}}
	if got := cp.SourcesDone(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recorded %v, want %v", got, want)
	}

	cp2 := &orderCheckpoint{t: t, finals: map[string]int{}, fail: errors.New("disk full")}
	_, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{fpSource("a", 3)},
		Sink: &pipelinetest.RecordingSink{}, Checkpoint: cp2})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("a marker that cannot be saved: err = %v, want it to end the run", err)
	}
}

// shuffleSink finishes items in batches of 64, last first.
type shuffleSink struct{}

func (shuffleSink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	var held []*pipeline.Item
	flush := func() error {
		for i := len(held) - 1; i >= 0; i-- {
			if err := pipeline.Send(ctx, results, pipeline.Result{Item: held[i], Event: pipeline.EventDone}); err != nil {
				return err
			}
		}
		held = held[:0]
		return nil
	}
	for it := range in {
		if held = append(held, it); len(held) == 64 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func TestShardedFingerprint(t *testing.T) {
	src := fpSource("a", 1)
	sh := pipeline.Sharded(src, pipeline.Shard{Index: 1, Count: 4})
	f, ok := sh.(pipeline.Fingerprinter)
	if !ok {
		t.Fatal("a sharded fingerprinted source has no fingerprint")
	}
	if fp, err := f.Fingerprint(); err != nil || fp != "fp:a|shard=1/4" {
		t.Errorf("Fingerprint = %q, %v; want the shard appended", fp, err)
	}
	src.Err = errors.New("gone")
	if _, err := f.Fingerprint(); err == nil {
		t.Error("the inner source's error was not passed on")
	}
	if _, ok := pipeline.Sharded(&pipelinetest.SliceSource{}, pipeline.Shard{Index: 1, Count: 4}).(pipeline.Fingerprinter); ok {
		t.Error("a sharded source without a fingerprint claims one")
	}
	if pipeline.Sharded(src, pipeline.Shard{}) != pipeline.Source(src) {
		t.Error("an unsharded source was wrapped")
	}
}
