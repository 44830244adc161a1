package checkpoint_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
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
		it.Key = pipeline.URLKey(it.Kind, it.URL)
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
