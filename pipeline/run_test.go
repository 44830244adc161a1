package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func items(n int) []*pipeline.Item {
	out := make([]*pipeline.Item, n)
	for i := range out {
		out[i] = &pipeline.Item{ID: fmt.Sprintf("id-%03d", i), Kind: pipeline.KindText, Text: "t",
			Prov: pipeline.Provenance{Source: "list.txt", Line: i + 1}}
	}
	return out
}

type collector struct {
	mu  sync.Mutex
	res []pipeline.Result
}

func (c *collector) add(r pipeline.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res = append(c.res, r)
	return nil
}

func (c *collector) final() map[string]pipeline.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]pipeline.Event)
	for _, r := range c.res {
		if r.Event.Final() {
			if prev, dup := m[r.Item.ID]; dup {
				panic(fmt.Sprintf("item %s has two final results: %v and %v", r.Item.ID, prev, r.Event))
			}
			m[r.Item.ID] = r.Event
		}
	}
	return m
}

func TestRunEveryItemGetsOneFinalResult(t *testing.T) {
	in := items(50)
	// Item 3 failed in its source, item 4 is dropped and item 5 failed by a
	// transform, item 6 makes a transform panic.
	in[3].Fail("source", errors.New("bad row"))
	transforms := []pipeline.Transform{
		pipeline.Func("upper", func(_ context.Context, it *pipeline.Item) error {
			it.Text = strings.ToUpper(it.Text)
			return nil
		}),
		pipeline.Func("picky", func(_ context.Context, it *pipeline.Item) error {
			switch it.ID {
			case "id-004":
				return pipeline.Skip("not wanted")
			case "id-005":
				return errors.New("broken")
			case "id-006":
				panic("user bug")
			}
			return nil
		}),
	}
	sink := &pipelinetest.RecordingSink{}
	var c collector
	stats, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources:    []pipeline.Source{&pipelinetest.SliceSource{Items: in[:25]}, &pipelinetest.SliceSource{Items: in[25:]}},
		Transforms: transforms,
		Sink:       sink,
		OnResult:   c.add,
		Workers:    4,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.Stats{Read: 50, Done: 46, Skipped: 1, Failed: 3}
	if stats.Read != want.Read || stats.Done != want.Done || stats.Skipped != want.Skipped || stats.Failed != want.Failed {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	final := c.final()
	if len(final) != 50 {
		t.Fatalf("%d final results, want 50", len(final))
	}
	for id, ev := range map[string]pipeline.Event{"id-003": pipeline.EventFailed, "id-004": pipeline.EventSkipped,
		"id-005": pipeline.EventFailed, "id-006": pipeline.EventFailed, "id-007": pipeline.EventDone} {
		if final[id] != ev {
			t.Errorf("%s: %v, want %v", id, final[id], ev)
		}
	}
	for _, it := range sink.Items() {
		if it.Text != "T" {
			t.Errorf("%s reached the sink untransformed: %q", it.ID, it.Text)
		}
		if it.Err != nil {
			t.Errorf("%s reached the sink with an error", it.ID)
		}
	}
	for _, r := range c.res {
		if r.Item.ID == "id-006" && !strings.Contains(r.Err.Error(), "panic: user bug") {
			t.Errorf("panic not reported: %v", r.Err)
		}
		if r.Item.ID == "id-005" && r.Stage != "transform:picky" {
			t.Errorf("stage = %q, want transform:picky", r.Stage)
		}
	}
}

func TestRunCheckpointSkipsDoneAndMarksAccepted(t *testing.T) {
	in := items(5)
	cp := &pipelinetest.MemCheckpoint{}
	cp.Set("id-000", pipeline.StateDone)
	cp.Set("id-001", pipeline.StateAccepted)
	var transformed sync.Map
	sink := &pipelinetest.RecordingSink{}
	stats, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: in}},
		Transforms: []pipeline.Transform{pipeline.Func("mark", func(_ context.Context, it *pipeline.Item) error {
			transformed.Store(it.ID, true)
			return nil
		})},
		Sink:       sink,
		Checkpoint: cp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Resumed != 1 || stats.Done != 4 {
		t.Errorf("stats = %+v, want 1 resumed and 4 done", stats)
	}
	var got []string
	for _, it := range sink.Items() {
		got = append(got, it.ID)
		if it.ID == "id-001" && !it.Resumed {
			t.Error("accepted item not marked Resumed")
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "id-001,id-002,id-003,id-004" {
		t.Errorf("sink got %v", got)
	}
	if _, ok := transformed.Load("id-000"); ok {
		t.Error("an item done by an earlier run was transformed")
	}
	if _, ok := transformed.Load("id-001"); !ok {
		t.Error("a resumed item was not transformed: the sink needs its regions")
	}
	if len(cp.Events()) != 5 {
		t.Errorf("checkpoint recorded %d results, want 5", len(cp.Events()))
	}
}

func TestRunFatalSinkErrorStopsEverything(t *testing.T) {
	endless := pipelinetest.FuncSource(func(ctx context.Context, out chan<- *pipeline.Item) error {
		for i := 0; ; i++ {
			if err := pipeline.Send(ctx, out, &pipeline.Item{ID: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
	})
	fatal := errors.New("invalid key")
	sink := &pipelinetest.RecordingSink{Fatal: func(it *pipeline.Item) error {
		if it.ID == "10" {
			return fatal
		}
		return nil
	}}
	_, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{endless}, Sink: sink})
	if !errors.Is(err, fatal) {
		t.Fatalf("err = %v, want the sink's fatal error", err)
	}
}

func TestRunSourceErrorIsFatal(t *testing.T) {
	broken := pipelinetest.FuncSource(func(context.Context, chan<- *pipeline.Item) error {
		return errors.New("open manifest.csv: no such file")
	})
	_, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{broken}, Sink: &pipelinetest.RecordingSink{}})
	if err == nil || !strings.Contains(err.Error(), "manifest.csv") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunSoftStopDrainsWhatWasRead(t *testing.T) {
	stop := make(chan struct{})
	var sent int
	endless := pipelinetest.FuncSource(func(ctx context.Context, out chan<- *pipeline.Item) error {
		for i := 0; ; i++ {
			if i == 20 {
				close(stop)
			}
			if err := pipeline.Send(ctx, out, &pipeline.Item{ID: fmt.Sprint(i)}); err != nil {
				return err
			}
			sent++
		}
	})
	var c collector
	stats, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources: []pipeline.Source{endless}, Sink: &pipelinetest.RecordingSink{}, OnResult: c.add, Stop: stop,
	})
	if err != nil {
		t.Fatalf("soft stop returned %v", err)
	}
	if stats.Read != int64(sent) || stats.Done != stats.Read {
		t.Errorf("read %d, sent %d, done %d: every item read must be delivered", stats.Read, sent, stats.Done)
	}
	if stats.Read < 20 {
		t.Errorf("stopped too early: %d items", stats.Read)
	}
}

func TestRunHardCancelReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	blocking := &pipelinetest.RecordingSink{Fatal: func(*pipeline.Item) error {
		<-ctx.Done() // a sink stuck in a call until cancelled
		return ctx.Err()
	}}
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.Run(ctx, pipeline.Job{
			Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: items(10)}}, Sink: blocking,
		})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute): // generous: only a hang fails this
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunCheckpointErrorIsFatal(t *testing.T) {
	_, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources:    []pipeline.Source{&pipelinetest.SliceSource{Items: items(10)}},
		Sink:       &pipelinetest.RecordingSink{},
		Checkpoint: failingCheckpoint{},
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the checkpoint error", err)
	}
}

type failingCheckpoint struct{}

func (failingCheckpoint) Lookup(*pipeline.Item) pipeline.ResumeState { return pipeline.StateNew }
func (failingCheckpoint) Record(pipeline.Result) error               { return errors.New("disk full") }

func TestRunRejectsIncompleteJob(t *testing.T) {
	if _, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{&pipelinetest.SliceSource{}}}); !errors.Is(err, pipeline.ErrNoSink) {
		t.Errorf("no sink: %v", err)
	}
	if _, err := pipeline.Run(context.Background(), pipeline.Job{Sink: &pipelinetest.RecordingSink{}}); !errors.Is(err, pipeline.ErrNoSources) {
		t.Errorf("no sources: %v", err)
	}
}
