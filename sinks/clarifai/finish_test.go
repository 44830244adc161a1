package clarifai

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// TestFinisherJoinsParts feeds the finish stage events as the other stages
// send them, in every order they can arrive, and checks the results: in
// order, one final result per item, none after it, a slot freed with each
// final result, and the end once the input is closed and every item is
// final.
func TestFinisherJoinsParts(t *testing.T) {
	errAnn := errors.New("annotation rejected")
	for _, tc := range []struct {
		name   string
		ann    bool // the item has regions
		verify bool
		events []string // after the acceptance: "annotated", "verified", "failed"
		want   []pipeline.Event
	}{
		{"nothing left", false, false, nil,
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}},
		{"annotated", true, false, []string{"annotated"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone}},
		{"verified", false, true, []string{"verified"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}},
		{"annotated then verified", true, true, []string{"annotated", "verified"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone}},
		{"verified then annotated", true, true, []string{"verified", "annotated"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone}},
		{"failed while annotating", true, true, []string{"failed", "verified", "annotated"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventFailed}},
		{"failed after annotated", true, true, []string{"annotated", "failed", "failed"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventFailed}},
		{"verified twice", false, true, []string{"verified", "verified"},
			[]pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := &pipeline.Item{ID: "a", Kind: pipeline.KindText, Text: "x"}
			if tc.ann {
				it.Regions = []pipeline.Region{{Concepts: []pipeline.Concept{pipeline.Positive("c")}}}
			}
			tr := &track{it: it, stage: stage, wantAnn: tc.ann, wantVer: tc.verify}
			results := make(chan pipeline.Result, 10)
			slots := make(chan struct{}, 2)
			slots <- struct{}{}
			slots <- struct{}{} // an item failed before the upload holds the second
			finished := make(chan struct{})
			f := &finisher{results: results, slots: slots, stats: &sinkStats{}, finished: finished}
			events := []event{
				{kind: evReport, res: pipeline.Result{Item: &pipeline.Item{}, Event: pipeline.EventFailed}},
				{kind: evAccepted, as: []acceptance{{t: tr, verify: tc.verify}}},
			}
			for _, e := range tc.events {
				switch e {
				case "annotated":
					events = append(events, event{kind: evAnnotated, t: tr})
				case "verified":
					events = append(events, event{kind: evVerified, ts: []*track{tr}})
				case "failed":
					events = append(events, event{kind: evFailed, t: tr, res: pipeline.Result{Item: it,
						Event: pipeline.EventFailed, Stage: annotateStage, Err: errAnn}})
				}
			}
			events = append(events, event{kind: evClosed, n: 2})
			in := make(chan event, len(events))
			for _, e := range events {
				in <- e
			}
			if err := f.run(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			close(results)
			var got []pipeline.Event
			for r := range results {
				if r.Item == it {
					got = append(got, r.Event)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("results %v, want %v", got, tc.want)
			}
			if len(slots) != 0 || f.finals != 2 || !tr.isFinal() {
				t.Errorf("%d slots held, %d final results, final %v", len(slots), f.finals, tr.isFinal())
			}
			select {
			case <-finished:
			default:
				t.Error("finished not closed")
			}
		})
	}
}

// TestMailbox: Put never blocks and wakes the receiver once; Take empties
// the queue in order.
func TestMailbox(t *testing.T) {
	m := newMailbox[int]()
	for i := range 3 {
		m.Put(i)
	}
	select {
	case <-m.Wake():
	default:
		t.Fatal("no wake-up after Put")
	}
	select {
	case <-m.Wake():
		t.Fatal("a second wake-up for one batch of Puts")
	default:
	}
	if got := m.Take(); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("Take = %v", got)
	}
	if got := m.Take(); len(got) != 0 {
		t.Errorf("Take after Take = %v", got)
	}
}
