package clarifai

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// memIntents is an in-memory IntentLog.
type memIntents struct {
	mu    sync.Mutex
	sums  map[string]uint64
	calls int
	err   error
}

func (m *memIntents) Intend(_ context.Context, ids []string, sums []uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return m.err
	}
	for i, id := range ids {
		m.sums[id] = sums[i]
	}
	return nil
}

func (m *memIntents) Intended(id string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sums[id]
	return s, ok
}

// TestSinkIntents: with an IntentLog, a duplicate-ID answer for bytes is
// adopted when the earlier run recorded the same bytes, failed naming the
// content when it recorded others, and compared as before (kind only for
// bytes) when it recorded nothing. Derived-ID items record nothing.
func TestSinkIntents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		item := func(id, content string) *pipeline.Item {
			return &pipeline.Item{ID: id, Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte(content))}
		}
		stored := func(id string) *pb.Input {
			return &pb.Input{Id: id, Data: &pb.Data{Image: &pb.Image{}}}
		}
		f := &fakePoster{
			answer: perInput(func(in *pb.Input, _ int) *st.Status {
				if in.Id == "new" || strings.HasPrefix(in.Id, "derived") || len(in.Id) > 20 {
					return &st.Status{Code: st.StatusCode_INPUT_PENDING}
				}
				return &st.Status{Code: st.StatusCode_INPUT_INVALID_ARGUMENT, Details: "Input has a duplicate ID."}
			}),
			held: map[string]*pb.Input{"same": stored("same"), "changed": stored("changed"), "unknown": stored("unknown")},
		}
		log := &memIntents{sums: map[string]uint64{
			"same":    xxhash.Sum64String("cat"),
			"changed": xxhash.Sum64String("old cat"),
		}}
		derived := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("derived"))}
		items := []*pipeline.Item{item("same", "cat"), item("changed", "new cat"), item("unknown", "x"), item("new", "fresh"), derived}
		out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{Intents: log}), items)
		if err != nil {
			t.Fatal(err)
		}
		if r := out[items[0]].final; r.Event != pipeline.EventDone {
			t.Errorf("same bytes: %v %v, want adopted", r.Event, r.Err)
		}
		if r := out[items[1]].final; r.Event != pipeline.EventFailed || !strings.Contains(fmt.Sprint(r.Err), contentChanged) {
			t.Errorf("other bytes: %v %v, want failed naming the content", r.Event, r.Err)
		}
		if r := out[items[2]].final; r.Event != pipeline.EventDone {
			t.Errorf("no intent: %v %v, want adopted as before (kind only)", r.Event, r.Err)
		}
		if r := out[items[3]].final; r.Event != pipeline.EventDone {
			t.Errorf("new: %v %v", r.Event, r.Err)
		}
		if s, ok := log.Intended("changed"); !ok || s != xxhash.Sum64String("old cat") {
			t.Error("the earlier intent under changed was overwritten")
		}
		if s, ok := log.Intended("new"); !ok || s != xxhash.Sum64String("fresh") {
			t.Errorf("new: intent %x %v, want the sum of its bytes", s, ok)
		}
		if _, ok := log.Intended(derived.ID); ok || len(log.sums) != 4 {
			t.Errorf("intents %v: want none for the derived ID %s", log.sums, derived.ID)
		}
		if log.calls != 1 {
			t.Errorf("%d Intend calls, want 1 (one per batch)", log.calls)
		}
	})
}

// TestSinkIntentFailureIsFatal: an intent that cannot be recorded ends the
// run before the request is sent.
func TestSinkIntentFailureIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{}
		log := &memIntents{sums: map[string]uint64{}, err: errors.New("disk full")}
		items := []*pipeline.Item{{ID: "a", Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("a"))}}
		_, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{Intents: log}), items)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("err %v, want the intent failure", err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%d requests sent, want none", n)
		}
	})
}
