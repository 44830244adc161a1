package checkpoint_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// ackSink acknowledges like the Clarifai sink: a new item gets its derived
// ID and EventAccepted, then EventDone or (when done says no) a failure
// without a server code, as a verification timeout would. A resumed item is
// only verified.
type ackSink struct {
	done func(it *pipeline.Item) bool

	mu  sync.Mutex
	got []pipeline.Item // copies of the items received
}

func (s *ackSink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	for it := range in {
		s.mu.Lock()
		s.got = append(s.got, *it)
		s.mu.Unlock()
		if !it.Resumed {
			sum := sha256.Sum256([]byte(it.Key))
			it.ID = hex.EncodeToString(sum[:16])
			if err := pipeline.Send(ctx, results, pipeline.Result{Item: it, Event: pipeline.EventAccepted, Stage: "upload"}); err != nil {
				return err
			}
		}
		r := pipeline.Result{Item: it, Event: pipeline.EventDone}
		if !s.done(it) {
			r = pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "verify", Err: errors.New("verification timed out")}
		}
		if err := pipeline.Send(ctx, results, r); err != nil {
			return err
		}
	}
	return nil
}

func jobItems(badRow int) []*pipeline.Item {
	var out []*pipeline.Item
	for i := range 10 {
		it := &pipeline.Item{Kind: pipeline.KindImage, URL: fmt.Sprintf("https://example.com/%d.jpg", i),
			Prov: pipeline.Provenance{Source: "urls.txt", Line: i + 1}}
		it.Key = ids.URLKey(it.Kind, it.URL)
		if i == badRow {
			it.Fail("source", errors.New("bad line"))
		}
		out = append(out, it)
	}
	return out
}

// TestRerunWithPipeline runs a job three times over one checkpoint: the
// rerun skips what was done, verifies what was only accepted (with the ID
// the first run used), and picks up the item whose source line failed.
func TestRerunWithPipeline(t *testing.T) {
	dir := t.TempDir()
	run := func(items []*pipeline.Item, done func(*pipeline.Item) bool) (pipeline.Stats, []pipeline.Item) {
		t.Helper()
		cp, err := checkpoint.Open(dir, checkpoint.Options{Fingerprint: "job"})
		if err != nil {
			t.Fatal(err)
		}
		sink := &ackSink{done: done}
		st, err := pipeline.Run(context.Background(), pipeline.Job{
			Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: items}}, Sink: sink, Checkpoint: cp, Workers: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Close(); err != nil {
			t.Fatal(err)
		}
		return st, sink.got
	}
	even := func(it *pipeline.Item) bool { return it.Prov.Line%2 == 1 } // lines 1, 3, ...: items 0, 2, ...
	st, _ := run(jobItems(3), even)
	if st.Done != 5 || st.Failed != 5 {
		t.Fatalf("first run: %+v", st)
	}

	st, got := run(jobItems(-1), func(*pipeline.Item) bool { return true })
	if st.Resumed != 5 || st.Done != 5 || st.Failed != 0 {
		t.Errorf("rerun: %+v, want 5 resumed and 5 done", st)
	}
	for _, it := range got {
		i := it.Prov.Line - 1
		sum := sha256.Sum256([]byte(it.Key))
		wantID := hex.EncodeToString(sum[:16])
		switch {
		case i%2 == 0:
			t.Errorf("item %d was done in the first run but sent again", i)
		case i == 3:
			if it.Resumed || it.ID != "" {
				t.Errorf("item 3 (failed in its source) arrived resumed=%v id=%q, want a new item", it.Resumed, it.ID)
			}
		default:
			if !it.Resumed || it.ID != wantID {
				t.Errorf("item %d arrived resumed=%v id=%q, want resumed with %q", i, it.Resumed, it.ID, wantID)
			}
		}
	}
	if len(got) != 5 {
		t.Errorf("sink got %d items, want 5", len(got))
	}

	st, got = run(jobItems(-1), func(*pipeline.Item) bool { return true })
	if st.Resumed != 10 || len(got) != 0 {
		t.Errorf("third run: %+v, sink got %d items; want everything resumed", st, len(got))
	}
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	state := filepath.Join(dir, "job-1")

	cp, err := checkpoint.Open(state, checkpoint.Options{Fingerprint: "sha256-of-the-job-config"})
	if err != nil {
		panic(err)
	}
	it := &pipeline.Item{ID: "0123456789abcdef0123456789abcdef", Key: "url:image|https://example.com/cat.jpg"}
	if err := cp.Record(pipeline.Result{Item: it, Event: pipeline.EventDone}); err != nil {
		panic(err)
	}
	if err := cp.Close(); err != nil {
		panic(err)
	}

	// The next run: the same item, as its source reads it again.
	cp, err = checkpoint.Open(state, checkpoint.Options{Fingerprint: "sha256-of-the-job-config"})
	if err != nil {
		panic(err)
	}
	defer cp.Close()
	again := &pipeline.Item{Key: "url:image|https://example.com/cat.jpg"}
	fmt.Println(cp.Lookup(again) == pipeline.StateDone, again.ID)
	fmt.Println(cp.Stats().Done, "done")
	// Output:
	// true 0123456789abcdef0123456789abcdef
	// 1 done
}

// watched wraps a source with a fingerprint and counts how often it is
// streamed; with forbid, streaming it fails the test.
type watched struct {
	src interface {
		pipeline.Source
		pipeline.Fingerprinter
	}
	t       *testing.T
	forbid  bool
	streams int
}

func (w *watched) Name() string                 { return w.src.Name() }
func (w *watched) Fingerprint() (string, error) { return w.src.Fingerprint() }
func (w *watched) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	w.streams++
	if w.forbid {
		w.t.Errorf("%s was streamed, want it skipped whole", w.Name())
		return errors.New("streamed")
	}
	return w.src.Stream(ctx, out)
}

// writeManifest writes a URL manifest of n rows (no id column: IDs derive
// from the URLs, as in benchmark S2).
func writeManifest(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("url,concepts\n")
	for i := range n {
		fmt.Fprintf(w, "https://img.example.com/set/%07d.jpg,cat\n", i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// manifestJob runs jobs over one manifest and one checkpoint.
type manifestJob struct {
	t           *testing.T
	state, path string
}

func newManifestJob(t *testing.T, rows int) *manifestJob {
	dir := t.TempDir()
	j := &manifestJob{t: t, state: filepath.Join(dir, "state"), path: filepath.Join(dir, "manifest.csv")}
	writeManifest(t, j.path, rows)
	return j
}

func (j *manifestJob) source(forbid bool) *watched {
	src, err := manifest.New(manifest.Config{Path: j.path})
	if err != nil {
		j.t.Fatal(err)
	}
	return &watched{src: src, t: j.t, forbid: forbid}
}

func (j *manifestJob) run(src *watched, opts checkpoint.Options) (pipeline.Stats, *ackSink, time.Duration) {
	j.t.Helper()
	start := time.Now()
	opts.Fingerprint = "job"
	cp, err := checkpoint.Open(j.state, opts)
	if err != nil {
		j.t.Fatal(err)
	}
	sink := &ackSink{done: func(*pipeline.Item) bool { return true }}
	st, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources: []pipeline.Source{src}, Sink: sink, Checkpoint: cp, Workers: 2,
	})
	if err != nil {
		j.t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		j.t.Fatal(err)
	}
	return st, sink, time.Since(start)
}

// TestResumeOfCompleteManifestReadsNothing runs a manifest job of 1M rows
// (20K with -short or -race) to the end, then reruns it: the rerun must not
// stream the manifest at all, and still report every row as already done.
func TestResumeOfCompleteManifestReadsNothing(t *testing.T) {
	n := 1_000_000
	if testing.Short() || checkpoint.RaceEnabled {
		n = 20_000
	}
	j := newManifestJob(t, n)
	st, _, first := j.run(j.source(false), checkpoint.Options{})
	if st.Done != int64(n) {
		t.Fatalf("first run: %+v", st)
	}
	st, sink, again := j.run(j.source(true), checkpoint.Options{})
	if st.Read != int64(n) || st.Resumed != int64(n) || st.Done != 0 || len(sink.got) != 0 {
		t.Errorf("rerun: %+v, sink got %d; want %d already done and nothing sent", st, len(sink.got), n)
	}
	t.Logf("%d rows: first run %v, rerun %v (%.2f%%)", n, first.Round(time.Millisecond), again.Round(time.Millisecond),
		100*again.Seconds()/first.Seconds())
}

// TestManifestReadAgain: what must make a rerun read a complete manifest
// again: a change of the manifest, `verify --repair` (Reopen), --restart.
func TestManifestReadAgain(t *testing.T) {
	const n = 200
	j := newManifestJob(t, n)
	if st, _, _ := j.run(j.source(false), checkpoint.Options{}); st.Done != n {
		t.Fatalf("first run: %+v", st)
	}
	if st, _, _ := j.run(j.source(true), checkpoint.Options{}); st.Resumed != n {
		t.Fatalf("rerun: %+v", st)
	}

	// A changed manifest is another input: read again, row by row.
	f, err := os.OpenFile(j.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "https://img.example.com/set/new.jpg,dog")
	f.Close()
	src := j.source(false)
	st, sink, _ := j.run(src, checkpoint.Options{})
	if src.streams != 1 || st.Resumed != n || st.Done != 1 || len(sink.got) != 1 {
		t.Errorf("after a change: streamed %d, %+v; want it read, %d already done and the new row sent", src.streams, st, n)
	}
	// ... and complete again.
	if st, _, _ = j.run(j.source(true), checkpoint.Options{}); st.Resumed != n+1 {
		t.Errorf("rerun after the change: %+v", st)
	}

	// verify --repair reopens an input: the next run reads the manifest
	// again and verifies that input.
	cp, err := checkpoint.Open(j.state, checkpoint.Options{Fingerprint: "job"})
	if err != nil {
		t.Fatal(err)
	}
	var reopened checkpoint.KeyHash
	for e := range cp.Entries {
		reopened = e.KeyHash
		break
	}
	if err := cp.Reopen(reopened); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	src = j.source(false)
	st, sink, _ = j.run(src, checkpoint.Options{})
	if src.streams != 1 || st.Resumed != n || st.Done != 1 || len(sink.got) != 1 || !sink.got[0].Resumed {
		t.Errorf("after Reopen: streamed %d, %+v, sink got %d; want the reopened input verified", src.streams, st, len(sink.got))
	}

	// --restart starts over: everything is read and sent again.
	src = j.source(false)
	st, _, _ = j.run(src, checkpoint.Options{Restart: true})
	if src.streams != 1 || st.Done != n+1 {
		t.Errorf("after Restart: streamed %d, %+v", src.streams, st)
	}
}

// TestDigestsOfWhatWasRead runs a job whose labels the concept-ID
// transform rewrites ("Big Cat" is sent as the ID "big-cat" or the like):
// the checkpoint keeps the digests of the items as the source read them,
// before the transforms (rule version 2), an unchanged rerun skips
// everything, and an edited label is an update of the concepts only.
func TestDigestsOfWhatWasRead(t *testing.T) {
	dir := t.TempDir()
	items := func() []*pipeline.Item {
		out := jobItems(-1)
		for _, it := range out {
			it.Concepts = []pipeline.Concept{pipeline.Positive("Big Cat")}
			it.Metadata = map[string]any{"line": float64(it.Prov.Line)}
		}
		return out
	}
	concepts, err := transforms.NewConceptIDs("")
	if err != nil {
		t.Fatal(err)
	}
	run := func() (pipeline.Stats, *ackSink) {
		t.Helper()
		cp, err := checkpoint.Open(dir, checkpoint.Options{Fingerprint: "job"})
		if err != nil {
			t.Fatal(err)
		}
		sink := &ackSink{done: func(*pipeline.Item) bool { return true }}
		st, err := pipeline.Run(context.Background(), pipeline.Job{
			Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: items()}}, Sink: sink, Checkpoint: cp,
			Transforms: []pipeline.Transform{concepts}, Workers: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Close(); err != nil {
			t.Fatal(err)
		}
		return st, sink
	}
	st, sink := run()
	if st.Done != 10 || len(sink.got) != 10 {
		t.Fatalf("first run: %+v", st)
	}
	sent := map[string]pipeline.Digests{}
	for i := range sink.got {
		it := &sink.got[i]
		if it.Concepts[0].ID == "Big Cat" {
			t.Fatalf("the transform did not rewrite the concept ID: %+v", it.Concepts)
		}
		sent[it.Key] = digest.Of(it)
	}

	cp, err := checkpoint.Open(dir, checkpoint.Options{Fingerprint: "job"})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items() {
		asRead := digest.Of(it)
		if i == 0 {
			it.Concepts = []pipeline.Concept{pipeline.Positive("Lion")}
		}
		rs, got, known := cp.LookupDigests(it)
		switch {
		case !known || got != asRead:
			t.Errorf("%s: digests known %v, differ from the item as read in %q", it.Key, known, got.Diff(asRead))
		case i == 0 && (rs != pipeline.StateUpdate || it.Sync.Changed != 1<<pipeline.FieldConcepts):
			t.Errorf("%s: edited label: %v changed %q, want an update of the concepts", it.Key, rs, it.Sync.Changed)
		case i > 0 && rs != pipeline.StateDone:
			t.Errorf("%s: state %v, want done", it.Key, rs)
		}
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}

	st, sink = run()
	if st.Resumed != 10 || len(sink.got) != 0 {
		t.Errorf("rerun: %+v, sink got %d items; want everything resumed", st, len(sink.got))
	}
}
