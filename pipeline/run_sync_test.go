package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
)

// verdict is what syncCheckpoint answers for one item.
type verdict struct {
	state pipeline.ResumeState
	sync  *pipeline.Sync // copied into it.Sync; nil leaves it nil
}

// syncCheckpoint is a SyncCheckpoint (and, through MemCheckpoint, a
// SourceCheckpoint) whose Lookup answers what the test set for each item
// ID, StateNew for the others, and records which items it looked up.
type syncCheckpoint struct {
	*pipelinetest.MemCheckpoint
	verdicts map[string]verdict // read-only during a run

	mu     sync.Mutex
	looked map[string]bool
}

var _ pipeline.SyncCheckpoint = (*syncCheckpoint)(nil)
var _ pipeline.SourceCheckpoint = (*syncCheckpoint)(nil)

func newSyncCheckpoint(verdicts map[string]verdict) *syncCheckpoint {
	return &syncCheckpoint{MemCheckpoint: &pipelinetest.MemCheckpoint{}, verdicts: verdicts, looked: map[string]bool{}}
}

func (c *syncCheckpoint) Lookup(it *pipeline.Item) pipeline.ResumeState {
	c.mu.Lock()
	c.looked[it.ID] = true
	c.mu.Unlock()
	v, ok := c.verdicts[it.ID]
	if !ok {
		return pipeline.StateNew
	}
	if v.sync != nil {
		s := *v.sync
		it.Sync = &s
		if v.state == pipeline.StateUpdate && s.PriorID != "" {
			it.ID = s.PriorID
		}
	}
	return v.state
}

func (c *syncCheckpoint) Unseen(func(pipeline.Departed) bool)   {}
func (c *syncCheckpoint) RecordDeleted(pipeline.Departed) error { return nil }

func (c *syncCheckpoint) lookedUp(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.looked[id]
}

// TestRunSyncStates runs one item per answer of a SyncCheckpoint (and per
// sink outcome that matters) and checks where each went, its final result
// and the counters.
func TestRunSyncStates(t *testing.T) {
	errRejected := errors.New("rejected")
	cases := []struct {
		id string
		verdict
		// sinkErr, if set, is the failure the sink reports for the item.
		sinkErr error
		// wantSink: the item reaches the sink (and the transforms).
		wantSink  bool
		wantEvent pipeline.Event
		wantStage string
		// wantConflict: the failure wraps ErrContentChanged and names
		// the item and the input conflictID.
		wantConflict bool
		conflictID   string
	}{
		{id: "new", verdict: verdict{state: pipeline.StateNew},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "new-content", verdict: verdict{pipeline.StateNew, &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: "old-derived"}},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "done", verdict: verdict{state: pipeline.StateDone},
			wantEvent: pipeline.EventResumed},
		{id: "accepted", verdict: verdict{state: pipeline.StateAccepted},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "updated", verdict: verdict{pipeline.StateUpdate, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: "updated",
			Changed: pipeline.Fields(0).With(pipeline.FieldConcepts)}},
			wantSink: true, wantEvent: pipeline.EventDone},
		// The sink found the input unchanged (a file touched, same
		// bytes): nothing left to change. Done by an earlier run.
		{id: "touched", verdict: verdict{pipeline.StateUpdate, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: "touched"}},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "update-rejected", verdict: verdict{pipeline.StateUpdate, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: "update-rejected",
			Changed: pipeline.Fields(0).With(pipeline.FieldGeo)}}, sinkErr: errRejected,
			wantSink: true, wantEvent: pipeline.EventFailed, wantStage: "update"},
		{id: "replaced", verdict: verdict{pipeline.StateNew, &pipeline.Sync{Action: pipeline.ActionReplace, PriorID: "replaced",
			Changed: pipeline.Fields(0).With(pipeline.FieldContent)}},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "conflict", verdict: verdict{pipeline.StateConflict, &pipeline.Sync{PriorID: "conflict-v1",
			Changed: pipeline.Fields(0).With(pipeline.FieldContent)}},
			wantEvent: pipeline.EventFailed, wantStage: "sync", wantConflict: true, conflictID: "conflict-v1"},
		// A file under a given ID whose stat changed: the sink compares
		// its bytes before it is a conflict.
		{id: "conflict-verify", verdict: verdict{pipeline.StateConflict, &pipeline.Sync{PriorID: "conflict-verify",
			Changed: pipeline.Fields(0).With(pipeline.FieldContent), VerifyContent: true}},
			wantSink: true, wantEvent: pipeline.EventDone},
		{id: "conflict-no-sync", verdict: verdict{state: pipeline.StateConflict},
			wantEvent: pipeline.EventFailed, wantStage: "sync", wantConflict: true, conflictID: "conflict-no-sync"},
		{id: "adopt-conflict", verdict: verdict{state: pipeline.StateNew},
			sinkErr:  fmt.Errorf("input on the server differs: %w", pipeline.ErrContentChanged),
			wantSink: true, wantEvent: pipeline.EventFailed, wantStage: "update", wantConflict: true},
	}
	verdicts := map[string]verdict{}
	sinkErrs := map[string]error{}
	var in []*pipeline.Item
	for i, tc := range cases {
		verdicts[tc.id] = tc.verdict
		sinkErrs[tc.id] = tc.sinkErr
		in = append(in, &pipeline.Item{ID: tc.id, Key: ids.IDKey(tc.id), Kind: pipeline.KindText, Text: "t",
			Prov: pipeline.Provenance{Source: "list.txt", Line: i + 1}})
	}
	cp := newSyncCheckpoint(verdicts)
	sink := &pipelinetest.RecordingSink{Decide: func(it *pipeline.Item) pipeline.Result {
		if err := sinkErrs[it.ID]; err != nil {
			return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "update", Code: 10000, Err: err}
		}
		return pipeline.Result{Item: it, Event: pipeline.EventDone, Bytes: 1}
	}}
	upper := pipeline.Func("upper", func(_ context.Context, it *pipeline.Item) error {
		it.Text = strings.ToUpper(it.Text)
		return nil
	})
	var c collector
	st, err := pipeline.Run(context.Background(), pipeline.Job{
		Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: in}}, Transforms: []pipeline.Transform{upper},
		Sink: sink, Checkpoint: cp, OnResult: c.add, Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}

	sent := map[string]*pipeline.Item{}
	for _, it := range sink.Items() {
		sent[it.ID] = it
	}
	results := map[string]pipeline.Result{}
	for _, r := range c.res {
		if r.Event.Final() {
			results[r.Item.ID] = r
		}
	}
	for i, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			it, reached := sent[tc.id]
			if reached != tc.wantSink {
				t.Fatalf("reached the sink: %v, want %v", reached, tc.wantSink)
			}
			if reached && it.Text != "T" {
				t.Errorf("reached the sink untransformed: %q", it.Text)
			}
			if reached && tc.state == pipeline.StateAccepted && !it.Resumed {
				t.Error("an accepted item reached the sink without Resumed")
			}
			if reached && tc.sync != nil && (it.Sync == nil || it.Sync.Action != tc.sync.Action || it.Sync.PriorID != tc.sync.PriorID) {
				t.Errorf("the sink got Sync %+v, want %+v", it.Sync, tc.sync)
			}
			r, ok := results[tc.id]
			if !ok {
				t.Fatal("no final result")
			}
			if r.Event != tc.wantEvent || r.Stage != tc.wantStage {
				t.Errorf("result %v at stage %q, want %v at %q", r.Event, r.Stage, tc.wantEvent, tc.wantStage)
			}
			if got := errors.Is(r.Err, pipeline.ErrContentChanged); got != tc.wantConflict {
				t.Errorf("error %v wraps ErrContentChanged: %v, want %v", r.Err, got, tc.wantConflict)
			}
			if tc.conflictID != "" {
				var ie *pipeline.ItemError
				prov := fmt.Sprintf("list.txt line %d", i+1)
				if !errors.As(r.Err, &ie) || ie.Prov != in[i].Prov {
					t.Errorf("conflict error %v is not an ItemError of the item", r.Err)
				}
				if msg := r.Err.Error(); !strings.Contains(msg, prov) || !strings.Contains(msg, `"`+tc.conflictID+`"`) {
					t.Errorf("conflict message %q does not name the item (%s) and the input %q", msg, prov, tc.conflictID)
				}
				if r.Item.Err != r.Err || r.Item.Stage != "sync" {
					t.Errorf("item carries %v at %q, want the result's error at stage sync", r.Item.Err, r.Item.Stage)
				}
			}
		})
	}

	want := pipeline.Stats{Read: 12, Done: 5, Updated: 1, Replaced: 1, Resumed: 2, Failed: 4, Conflicts: 3, Bytes: 7, ReadAll: true}
	st.Elapsed = 0
	if st != want {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
	if st.Finished() != st.Read || st.InFlight() != 0 {
		t.Errorf("finished %d of %d read", st.Finished(), st.Read)
	}
	// The checkpoint recorded every final result, the conflicts too.
	var recorded int
	for _, r := range cp.Events() {
		if r.Event.Final() {
			recorded++
		}
	}
	if recorded != 12 {
		t.Errorf("checkpoint recorded %d final results, want 12", recorded)
	}
}

// TestRunSyncSourceCompletion checks that updated items count as done for
// a source's completion, and that a conflict keeps its source from being
// recorded complete (it failed: the rerun must meet it again).
func TestRunSyncSourceCompletion(t *testing.T) {
	a, b := fpSource("a", 6), fpSource("b", 6)
	cp := newSyncCheckpoint(map[string]verdict{
		"a-001": {pipeline.StateUpdate, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: "a-001", Changed: 1 << pipeline.FieldConcepts}},
		"a-002": {pipeline.StateNew, &pipeline.Sync{Action: pipeline.ActionReplace, PriorID: "a-002"}},
		"a-003": {state: pipeline.StateDone},
		"b-001": {pipeline.StateUpdate, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: "b-001", Changed: 1 << pipeline.FieldGeo}},
		"b-004": {pipeline.StateConflict, &pipeline.Sync{PriorID: "b-004"}},
	})
	st := runJob(t, cp, &pipelinetest.RecordingSink{}, a, b)
	if st.Updated != 2 || st.Replaced != 1 || st.Conflicts != 1 || st.Failed != 1 || st.Resumed != 1 || st.Done != 8 {
		t.Fatalf("stats %+v", st)
	}
	if got := cp.SourcesDone(); len(got) != 1 || got["fp:a"] != (pipeline.SourceCounts{Done: 6}) {
		t.Errorf("sources recorded complete: %v, want only a, with 6 done", got)
	}
}

// stopAfter returns a source with a fingerprint that sends items without
// end and closes stop after n of them.
func stopAfter(n int, stop chan struct{}) pipeline.Source {
	return fpFunc{fp: constFP("fp:endless"), stream: func(ctx context.Context, out chan<- *pipeline.Item) error {
		for i := 0; ; i++ {
			if i == n {
				close(stop)
			}
			id := fmt.Sprint("e", i)
			if err := pipeline.Send(ctx, out, &pipeline.Item{ID: id, Key: ids.IDKey(id)}); err != nil {
				return err
			}
		}
	}}
}

// TestRunReadAll checks Stats.ReadAll: set only when every source was
// streamed to its end in this run and no item failed in its source.
func TestRunReadAll(t *testing.T) {
	// completeA is a checkpoint that holds source a complete.
	completeA := func() *syncCheckpoint {
		cp := newSyncCheckpoint(nil)
		if err := cp.RecordSourceDone("fp:a", pipeline.SourceCounts{Done: 4}); err != nil {
			t.Fatal(err)
		}
		return cp
	}
	cases := []struct {
		name string
		// job returns the job to run (Sink, Checkpoint and Stop may be
		// left nil) and, optionally, a check of the sources afterwards.
		job         func() (pipeline.Job, func(t *testing.T))
		wantReadAll bool
		wantErr     bool
	}{
		{name: "every source read", wantReadAll: true, job: func() (pipeline.Job, func(*testing.T)) {
			return pipeline.Job{Sources: []pipeline.Source{fpSource("a", 4), fpSource("b", 4)}, Checkpoint: newSyncCheckpoint(nil)}, nil
		}},
		{name: "no checkpoint", wantReadAll: true, job: func() (pipeline.Job, func(*testing.T)) {
			return pipeline.Job{Sources: []pipeline.Source{fpSource("a", 4)}}, nil
		}},
		{name: "complete source not read", job: func() (pipeline.Job, func(*testing.T)) {
			a := fpSource("a", 4)
			return pipeline.Job{Sources: []pipeline.Source{a, fpSource("b", 4)}, Checkpoint: completeA()}, func(t *testing.T) {
				if a.Streams() != 0 {
					t.Errorf("the complete source was streamed %d times", a.Streams())
				}
			}
		}},
		{name: "complete source read with Job.ReadAll", wantReadAll: true, job: func() (pipeline.Job, func(*testing.T)) {
			a := fpSource("a", 4)
			cp := completeA()
			return pipeline.Job{Sources: []pipeline.Source{a, fpSource("b", 4)}, Checkpoint: cp, ReadAll: true}, func(t *testing.T) {
				if a.Streams() != 1 {
					t.Errorf("the complete source was streamed %d times, want 1", a.Streams())
				}
				for _, it := range a.Items {
					if !cp.lookedUp(it.ID) {
						t.Errorf("%s was not looked up", it.ID)
					}
				}
			}
		}},
		{name: "item failed in its source", job: func() (pipeline.Job, func(*testing.T)) {
			a := fpSource("a", 4)
			a.Items[2].Fail("source", errors.New("bad row"))
			return pipeline.Job{Sources: []pipeline.Source{a}, Checkpoint: newSyncCheckpoint(nil)}, nil
		}},
		{name: "item skipped by its source", wantReadAll: true, job: func() (pipeline.Job, func(*testing.T)) {
			a := fpSource("a", 4)
			a.Items[2].Fail("source", pipeline.Skip("unknown extension"))
			return pipeline.Job{Sources: []pipeline.Source{a}, Checkpoint: newSyncCheckpoint(nil)}, nil
		}},
		{name: "items failed after the lookup", wantReadAll: true, job: func() (pipeline.Job, func(*testing.T)) {
			cp := newSyncCheckpoint(map[string]verdict{"a-000": {pipeline.StateConflict, &pipeline.Sync{PriorID: "a-000"}}})
			broken := pipeline.Func("broken", func(_ context.Context, it *pipeline.Item) error {
				if it.ID == "a-001" {
					return errors.New("broken")
				}
				return nil
			})
			return pipeline.Job{Sources: []pipeline.Source{fpSource("a", 4)}, Transforms: []pipeline.Transform{broken},
				Sink: failing("a-002"), Checkpoint: cp}, nil
		}},
		{name: "soft stop", job: func() (pipeline.Job, func(*testing.T)) {
			stop := make(chan struct{})
			return pipeline.Job{Sources: []pipeline.Source{fpSource("a", 4), stopAfter(10, stop)}, Checkpoint: newSyncCheckpoint(nil), Stop: stop}, nil
		}},
		{name: "soft stop before the next source", job: func() (pipeline.Job, func(*testing.T)) {
			// The stop comes as the first source ends, before the runner
			// passes on its end: the sources are not known to be read.
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
			return pipeline.Job{Sources: []pipeline.Source{src, fpSource("b", 4)}, Checkpoint: newSyncCheckpoint(nil), Stop: stop}, nil
		}},
		{name: "source error", wantErr: true, job: func() (pipeline.Job, func(*testing.T)) {
			broken := pipelinetest.FuncSource(func(ctx context.Context, out chan<- *pipeline.Item) error {
				for _, it := range keyed("x", 3) {
					if err := pipeline.Send(ctx, out, it); err != nil {
						return err
					}
				}
				return errors.New("read manifest.csv: input/output error")
			})
			return pipeline.Job{Sources: []pipeline.Source{fpSource("a", 4), broken}, Checkpoint: newSyncCheckpoint(nil)}, nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job, check := tc.job()
			if job.Sink == nil {
				job.Sink = &pipelinetest.RecordingSink{}
			}
			job.Workers = 2
			st, err := pipeline.Run(context.Background(), job)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if st.ReadAll != tc.wantReadAll {
				t.Errorf("ReadAll = %v, want %v (stats %+v)", st.ReadAll, tc.wantReadAll, st)
			}
			if err == nil && st.InFlight() != 0 {
				t.Errorf("%d items without a final result", st.InFlight())
			}
			if check != nil {
				check(t)
			}
		})
	}
}

// TestCountersSnapshotHasNoReadAll: only Run knows whether every source
// was read; a snapshot taken during a run never says so.
func TestCountersSnapshotHasNoReadAll(t *testing.T) {
	if pipeline.NewCounters().Snapshot().ReadAll {
		t.Error("a snapshot says ReadAll")
	}
}
