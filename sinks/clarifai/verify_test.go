package clarifai

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

func texts(n int) []*pipeline.Item {
	out := make([]*pipeline.Item, n)
	for i := range out {
		out[i] = &pipeline.Item{ID: fmt.Sprintf("t%d", i), Kind: pipeline.KindText, Text: "x"}
	}
	return out
}

var (
	permanentFail = &st.Status{Code: st.StatusCode_INPUT_FAILED, Description: "Input processing failed",
		Details: "image bytes are not a decodable JPEG, PNG, GIF, BMP, TIFF or WEBP file"}
	transientFail = &st.Status{Code: st.StatusCode_INPUT_FAILED, Description: "Input processing failed",
		Details: "temporary processing error; retry"}
)

// verifyCalls is the number of verification calls the fake received.
func verifyCalls(f *fakeAPI) int {
	return f.count("GetInputsAddJob") + f.count("ListInputs") + f.count("DeleteInputs")
}

// TestVerifyAllSuccessFewCalls: when every input succeeds, each group of
// VerifyGroupBatches batches costs one GetInputsAddJob once its processing
// delay is learned, and nothing else.
func TestVerifyAllSuccessFewCalls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		process time.Duration
		maxRate float64 // verification calls / PostInputs calls
	}{
		{"10k inputs processed within the first delay", 10_000, 200 * time.Millisecond, 0.05},
		{"60k inputs processed in 3s", 60_000, 3 * time.Second, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI()
				f.latency = 250 * time.Millisecond // with 4 workers, about 15 requests per second
				f.process = func(string, int) (time.Duration, *st.Status) { return tc.process, nil }
				counters := pipeline.NewCounters()
				s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, Counters: counters})
				items := texts(tc.n)
				out, err := runSink(t, t.Context(), s, items)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					if o := out[it]; o == nil || !slices.Equal(o.events, plainEvents) {
						t.Fatalf("%s: %+v", it.ID, o)
					}
				}
				posts := f.count("PostInputs")
				groups := (posts + DefaultVerifyGroupBatches - 1) / DefaultVerifyGroupBatches
				calls := verifyCalls(f)
				t.Logf("%d PostInputs, %d groups, %d GetInputsAddJob, %d ListInputs", posts, groups, f.count("GetInputsAddJob"), f.count("ListInputs"))
				if rate := float64(calls) / float64(posts); rate > tc.maxRate || f.count("ListInputs") != 0 {
					t.Errorf("%d verification calls for %d PostInputs (%.1f%%), %d ListInputs", calls, posts, 100*rate, f.count("ListInputs"))
				}
				if got := s.Stats(); got.VerifyRequests != int64(calls) || got.Verified != int64(tc.n) {
					t.Errorf("stats %+v, want %d verification requests, %d verified", got, calls, tc.n)
				}
				// Every request of a group shares its inputs_add_job_id.
				jobs := map[string]int{}
				for _, req := range f.postReqs {
					jobs[req.InputsAddJobId]++
				}
				if len(jobs) != groups {
					t.Errorf("%d inputs_add_job_ids, want %d", len(jobs), groups)
				}
			})
		})
	}
}

func TestVerifyFindsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, _ int) (time.Duration, *st.Status) {
			switch id {
			case "t7", "t1500":
				return time.Second, permanentFail
			case "t42":
				return time.Second, transientFail
			}
			return time.Second, nil
		}
		// Processing (1s) ends before the first poll: one poll settles it.
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, VerifyDelay: 2 * time.Second})
		items := texts(2000)
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			r := out[it].final
			switch it.ID {
			case "t7", "t1500", "t42":
				details := permanentFail.Details
				if it.ID == "t42" {
					details = transientFail.Details
				}
				want := fmt.Sprintf("Clarifai could not process input %s: INPUT_FAILED (30002): Input processing failed: %s", it.ID, details)
				if r.Event != pipeline.EventFailed || r.Stage != "verify" || r.Code != 30002 || !strings.Contains(r.Err.Error(), want) {
					t.Errorf("%s: %v stage %q code %d err %v", it.ID, r.Event, r.Stage, r.Code, r.Err)
				}
			default:
				if r.Event != pipeline.EventDone {
					t.Errorf("%s: %v %v", it.ID, r.Event, r.Err)
				}
			}
		}
		// One job poll, the successes listed with the status filter (two
		// calls: 2000 IDs, 1000 a call), the three others read by ID.
		var filtered, plain int
		for _, req := range f.listReqs {
			if req.PerPage != 1000 || len(req.Ids) > 1000 {
				t.Errorf("ListInputs with %d ids, per_page %d", len(req.Ids), req.PerPage)
			}
			switch {
			case req.GetStatus().GetCode() == st.StatusCode_INPUT_SUCCESS:
				filtered++
			case req.Status == nil:
				plain++
				if len(req.Ids) != 3 {
					t.Errorf("unfiltered ListInputs of %v, want the 3 missing from the successes", req.Ids)
				}
			}
		}
		if f.count("GetInputsAddJob") != 1 || filtered != 2 || plain != 1 || f.count("DeleteInputs") != 0 {
			t.Errorf("calls %v, %d filtered and %d plain ListInputs", f.calls, filtered, plain)
		}
	})
}

func TestVerifyRetryFailedProcessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, n int) (time.Duration, *st.Status) {
			switch {
			case id == "t3" && n == 1, id == "t5" && n <= 2:
				return time.Second, transientFail // passes on the second (third) try
			case id == "t8":
				return time.Second, transientFail // never passes
			case id == "t9":
				return time.Second, permanentFail
			}
			return time.Second, nil
		}
		counters := pipeline.NewCounters()
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true), RetryFailedProcessing: true}, Counters: counters})
		items := texts(200)
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			r := out[it].final
			switch it.ID {
			case "t8":
				if r.Event != pipeline.EventFailed || r.Stage != "verify" || !strings.Contains(r.Err.Error(), "(after 2 deletions and re-sends)") {
					t.Errorf("t8: %v %v", r.Event, r.Err)
				}
			case "t9":
				if r.Event != pipeline.EventFailed || r.Stage != "verify" || !strings.Contains(r.Err.Error(), "not a decodable") {
					t.Errorf("t9: %v %v", r.Event, r.Err)
				}
			default:
				if r.Event != pipeline.EventDone {
					t.Errorf("%s: %v %v", it.ID, r.Event, r.Err)
				}
			}
		}
		slices.Sort(f.deleted)
		if want := []string{"t3", "t5", "t5", "t8", "t8"}; !slices.Equal(f.deleted, want) {
			t.Errorf("deleted %v, want %v (transient failures only, bounded)", f.deleted, want)
		}
		for id, n := range map[string]int{"t3": 2, "t5": 3, "t8": 3, "t9": 1, "t0": 1} {
			if f.creates[id] != n {
				t.Errorf("%s created %d times, want %d", id, f.creates[id], n)
			}
		}
		if got := counters.Retries.Load(); got != 5 || s.Stats().Resent != 5 || s.Stats().InputRetries != 5 {
			t.Errorf("Retries %d, stats %+v; want 5 re-sent", got, s.Stats())
		}
	})
}

// TestVerifyReprocessItems: items that ask for it (a failure report taken
// back as a source) are deleted and re-sent without RetryFailedProcessing:
// once whatever the cause, then while the cause looks transient; items that
// do not ask are not.
func TestVerifyReprocessItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, n int) (time.Duration, *st.Status) {
			switch {
			case id == "t1" && n == 1: // fixed since (e.g. the file behind the URL)
				return time.Second, permanentFail
			case id == "t2" && n <= 2:
				return time.Second, transientFail
			case id == "t3":
				return time.Second, permanentFail // never passes
			case id == "t4" && n == 1: // does not ask: stays failed
				return time.Second, transientFail
			}
			return time.Second, nil
		}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		items := texts(20)
		for _, it := range items[:4] {
			it.Reprocess = it.ID != "t4"
		}
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			r := out[it].final
			switch it.ID {
			case "t3":
				if r.Event != pipeline.EventFailed || !strings.Contains(r.Err.Error(), "(after 1 deletions and re-sends)") {
					t.Errorf("t3: %v %v", r.Event, r.Err)
				}
			case "t4":
				if r.Event != pipeline.EventFailed || r.Stage != "verify" {
					t.Errorf("t4: %v %v", r.Event, r.Err)
				}
			default:
				if r.Event != pipeline.EventDone {
					t.Errorf("%s: %v %v", it.ID, r.Event, r.Err)
				}
			}
		}
		slices.Sort(f.deleted)
		if want := []string{"t1", "t2", "t2", "t3"}; !slices.Equal(f.deleted, want) {
			t.Errorf("deleted %v, want %v", f.deleted, want)
		}
	})
}

// TestVerifyReprocessFailedAtOnce: a server that processes at once answers
// PostInputs with INPUT_FAILED; an item that may be re-sent goes to
// verification, which deletes and re-sends it; another fails at upload.
func TestVerifyReprocessFailedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, n int) (time.Duration, *st.Status) {
			if (id == "t1" || id == "t2") && n == 1 {
				return 0, transientFail
			}
			return 0, nil
		}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		items := texts(4)
		items[1].Reprocess = true
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		if r := out[items[1]].final; r.Event != pipeline.EventDone {
			t.Errorf("t1: %v %v, want it deleted, re-sent and done", r.Event, r.Err)
		}
		if r := out[items[2]].final; r.Event != pipeline.EventFailed || r.Stage != "upload" {
			t.Errorf("t2: %v stage %q %v, want it failed at upload", r.Event, r.Stage, r.Err)
		}
		if !slices.Equal(f.deleted, []string{"t1"}) {
			t.Errorf("deleted %v, want [t1]", f.deleted)
		}
	})
}

func TestVerifyWaitsForPendingInputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, _ int) (time.Duration, *st.Status) {
			if id == "t5" {
				return 20 * time.Minute, nil
			}
			return time.Second, nil
		}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		sr := startSink(t, t.Context(), s)
		items := texts(1000)
		start := time.Now()
		sr.feed(t.Context(), items)
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, final := sr.count(pipeline.EventDone); final != len(items)-1 {
			t.Errorf("after a minute %d items final, want all but the slow one: one input must not hold its group", final)
		}
		if err := <-sr.errc; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 20*time.Minute || d > 21*time.Minute {
			t.Errorf("run took %v, want about 20 minutes: the slow input is waited for", d)
		}
		sr.mu.Lock()
		defer sr.mu.Unlock()
		if r := sr.finals[items[5]]; r.Event != pipeline.EventDone {
			t.Errorf("slow input: %v %v", r.Event, r.Err)
		}
		if len(f.deleted) != 0 {
			t.Errorf("deleted %v: pending inputs must never be deleted", f.deleted)
		}
		// Polls are at most VerifyMaxInterval apart: about 6 a minute.
		if n := verifyCalls(f); n > 20*6+20 {
			t.Errorf("%d verification calls in 20 minutes", n)
		}
	})
}

func TestVerifyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, _ int) (time.Duration, *st.Status) {
			if id == "t1" {
				return 1000 * time.Hour, nil
			}
			return time.Second, nil
		}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, VerifyTimeout: 2 * time.Minute})
		items := texts(10)
		start := time.Now()
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		o := out[items[1]]
		if !slices.Equal(o.events, []pipeline.Event{pipeline.EventAccepted, pipeline.EventFailed}) || o.final.Stage != "verify" ||
			o.final.Code != int32(st.StatusCode_INPUT_PENDING) ||
			!strings.Contains(o.final.Err.Error(), "input t1 still processing (INPUT_PENDING) after 2m0s; it stays on the server; rerun to check again") {
			t.Errorf("slow input: events %v stage %q code %d err %v", o.events, o.final.Stage, o.final.Code, o.final.Err)
		}
		if d := time.Since(start); d < 2*time.Minute || d > 2*time.Minute+15*time.Second {
			t.Errorf("gave up after %v, want about VerifyTimeout", d)
		}
		if len(f.deleted) != 0 || f.inputs["t1"] == nil {
			t.Error("the pending input was deleted")
		}
		for _, it := range items {
			if it != items[1] && out[it].final.Event != pipeline.EventDone {
				t.Errorf("%s: %v", it.ID, out[it].final.Event)
			}
		}
	})
}

// TestVerifyByID: inputs the group's job did not create (our own duplicates
// and resumed items) are verified with ListInputs by IDs, and one missing on
// the server is sent again.
func TestVerifyByID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		var items []*pipeline.Item
		// Content-derived IDs already on the server: an earlier run's.
		for i := range 5 {
			it := &pipeline.Item{Kind: pipeline.KindText, Text: fmt.Sprintf("text %d", i)}
			f.store(ids.DeriveID(it, nil), 3*time.Second, nil)
			items = append(items, it)
		}
		pending := &pipeline.Item{ID: "resumed-pending", Kind: pipeline.KindText, Text: "a", Resumed: true}
		f.store(pending.ID, 10*time.Second, nil)
		failed := &pipeline.Item{ID: "resumed-failed", Kind: pipeline.KindText, Text: "b", Resumed: true}
		f.store(failed.ID, 0, permanentFail)
		lost := &pipeline.Item{ID: "resumed-lost", Kind: pipeline.KindText, Text: "c", Resumed: true}
		// Listed late: re-sending it meets "duplicate ID", which is ours.
		late := &pipeline.Item{ID: "resumed-late", Kind: pipeline.KindText, Text: "d", Resumed: true}
		f.store(late.ID, 0, nil)
		f.hidden = map[string]int{late.ID: 1}
		items = append(items, pending, failed, lost, late)
		counters := pipeline.NewCounters()
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, Counters: counters})
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			r := out[it].final
			want := pipeline.EventDone
			if it == failed {
				want = pipeline.EventFailed
			}
			if r.Event != want {
				t.Errorf("%s: %v %v, want %v", it.ID, r.Event, r.Err, want)
			}
		}
		if r := out[failed].final; r.Stage != "verify" || r.Code != 30002 {
			t.Errorf("failed resumed input: stage %q code %d", r.Stage, r.Code)
		}
		if f.count("GetInputsAddJob") != 0 {
			t.Error("polled a job that created none of the inputs")
		}
		for _, req := range f.listReqs {
			if req.Status != nil {
				t.Errorf("ListInputs with a status filter %v: by-ID checks read every status", req.Status)
			}
		}
		if f.creates["resumed-lost"] != 1 || f.creates["resumed-pending"] != 1 || f.creates["resumed-failed"] != 1 ||
			f.creates["resumed-late"] != 1 {
			t.Errorf("creates %v: want the lost input created by a re-send, the others not created again", f.creates)
		}
		if counters.Retries.Load() != 2 || s.Stats().Resent != 2 {
			t.Errorf("Retries %d, Resent %d; want 2 (lost and late)", counters.Retries.Load(), s.Stats().Resent)
		}
		if n := f.count("ListInputs"); n > 10 {
			t.Errorf("%d ListInputs calls: checks of inputs due together should share calls", n)
		}
	})
}

// TestVerifyDoesNotStallUploads: every upload finishes while every input is
// still pending, and Run returns only when all are final.
func TestVerifyDoesNotStallUploads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.latency = 100 * time.Millisecond
		f.process = func(string, int) (time.Duration, *st.Status) { return time.Hour, nil }
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		sr := startSink(t, t.Context(), s)
		items := texts(20_000)
		sr.feed(t.Context(), items)
		time.Sleep(2 * time.Minute) // 157 batches at 4 x 100ms take 4s
		synctest.Wait()
		if accepted, final := sr.count(pipeline.EventAccepted); accepted != len(items) || final != 0 {
			t.Fatalf("after 2 minutes: %d accepted, %d final; want all accepted, none final", accepted, final)
		}
		select {
		case err := <-sr.errc:
			t.Fatalf("Run returned %v with every input pending", err)
		default:
		}
		if err := <-sr.errc; err != nil {
			t.Fatal(err)
		}
		if _, final := sr.count(pipeline.EventDone); final != len(items) {
			t.Errorf("%d final", final)
		}
	})
}

func TestVerifyMaxPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(string, int) (time.Duration, *st.Status) { return time.Minute, nil }
		const maxPending = 500
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, MaxPending: maxPending})
		sr := startSink(t, t.Context(), s)
		items := texts(3000)
		sr.feed(t.Context(), items)
		for range 10 {
			time.Sleep(20 * time.Second)
			synctest.Wait()
			f.mu.Lock()
			created := len(f.inputs)
			f.mu.Unlock()
			_, final := sr.count(pipeline.EventDone)
			if created-final > maxPending {
				t.Fatalf("%d inputs created, %d final: more than MaxPending %d held", created, final, maxPending)
			}
		}
		if err := <-sr.errc; err != nil {
			t.Fatal(err)
		}
		if _, final := sr.count(pipeline.EventDone); final != len(items) {
			t.Errorf("%d final", final)
		}
	})
}

func TestVerifyWithoutJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.noJobs = true // GetInputsAddJob: CONN_DOES_NOT_EXIST, which the client classes fatal
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		items := texts(300)
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatalf("Run = %v: an unknown job must fall back to checking the inputs", err)
		}
		for _, it := range items {
			if out[it].final.Event != pipeline.EventDone {
				t.Fatalf("%s: %v", it.ID, out[it].final.Event)
			}
		}
		if f.count("ListInputs") == 0 {
			t.Error("no ListInputs: inputs were not checked")
		}
	})
}

func TestVerifyCallErrors(t *testing.T) {
	t.Run("transient errors are retried later", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeAPI()
			f.fail = func(method string, n int) error {
				if method != "PostInputs" && n <= 3 {
					return &client.APIError{Method: method, Code: st.StatusCode_RPC_SERVER_UNAVAILABLE, Class: client.Retryable, Attempts: 10}
				}
				return nil
			}
			items := texts(300)
			out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}}), items)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if out[it].final.Event != pipeline.EventDone {
					t.Fatalf("%s: %v %v", it.ID, out[it].final.Event, out[it].final.Err)
				}
			}
		})
	})
	t.Run("fatal error ends the run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeAPI()
			f.fail = func(method string, n int) error {
				if method == "GetInputsAddJob" {
					return &client.APIError{Method: method, Code: st.StatusCode_CONN_KEY_INVALID, Class: client.Fatal}
				}
				return nil
			}
			_, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}}), texts(10))
			if client.Classify(err) != client.Fatal || !strings.Contains(err.Error(), "verify: GetInputsAddJob") {
				t.Errorf("Run = %v, want the fatal verification error", err)
			}
		})
	})
}

func TestVerifyCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(string, int) (time.Duration, *st.Status) { return time.Hour, nil }
		ctx, cancel := context.WithCancel(t.Context())
		sr := startSink(t, ctx, newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}}))
		sr.feed(ctx, texts(500))
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		if err := <-sr.errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// TestVerifyWithClient runs verification over the real client and a gRPC
// server: the client's Requests count includes the verification calls, as
// SinkStats reports them.
func TestVerifyWithClient(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	f := clienttest.Start(t, func(method string, n int, req proto.Message) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		ok := &st.Status{Code: st.StatusCode_SUCCESS}
		switch method {
		case "PostInputs":
			resp := &pb.MultiInputResponse{Status: ok}
			for _, in := range req.(*pb.PostInputsRequest).GetInputs() {
				resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: &st.Status{Code: st.StatusCode_INPUT_PENDING}})
			}
			return resp, nil
		case "GetInputsAddJob":
			polls++
			p := &pb.InputsAddJobProgress{PendingCount: 5}
			if polls > 1 {
				p = &pb.InputsAddJobProgress{SuccessCount: 5}
			}
			return &pb.SingleInputsAddJobResponse{Status: ok, InputsAddJob: &pb.InputsAddJob{Id: req.(*pb.GetInputsAddJobRequest).Id, Progress: p}}, nil
		}
		return clienttest.WithStatus(method, st.StatusCode_FAILURE), nil
	})
	counters := pipeline.NewCounters()
	c := testClient(t, f, func(c *client.Config) { c.Counters = counters })
	s := newTestSink(t, c, SinkConfig{Settings: Settings{Verify: new(true)}, VerifyDelay: time.Millisecond, Counters: counters})
	items := images(5, 10)
	out, err := runSink(t, t.Context(), s, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if r := out[it].final; r.Event != pipeline.EventDone {
			t.Errorf("%s: %v %v", it.ID, r.Event, r.Err)
		}
	}
	if st := s.Stats(); st.VerifyRequests != 2 || counters.Requests.Load() != 3 {
		t.Errorf("verify requests %d, client requests %d; want 2 and 3", st.VerifyRequests, counters.Requests.Load())
	}
}

// TestVerifyDuplicatesShareCalls: a rerun without its checkpoint meets
// "duplicate ID" for every input; their checks by ID arrive a batch at a
// time and must share ListInputs calls of up to 1000 IDs.
func TestVerifyDuplicatesShareCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.latency = 250 * time.Millisecond
		items := make([]*pipeline.Item, 20_000)
		for i := range items {
			items[i] = &pipeline.Item{Kind: pipeline.KindText, Text: fmt.Sprintf("text %d", i)}
			f.store(ids.DeriveID(items[i], nil), 0, nil)
		}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if out[it].final.Event != pipeline.EventDone {
				t.Fatalf("%s: %v %v", it.ID, out[it].final.Event, out[it].final.Err)
			}
		}
		posts, lists := f.count("PostInputs"), f.count("ListInputs")
		t.Logf("%d PostInputs, %d ListInputs", posts, lists)
		// Whole cohorts (a batch each) fill a call: at least 1000-128 IDs.
		if lists > len(items)/(1000-128)+3 || f.count("GetInputsAddJob") != 0 {
			t.Errorf("%d ListInputs, %d GetInputsAddJob for %d duplicates: want about one ListInputs per 1000", lists, f.count("GetInputsAddJob"), len(items))
		}
	})
}

func TestTransientFailure(t *testing.T) {
	for _, tc := range []struct {
		s    *st.Status
		want bool
	}{
		{transientFail, true},
		{permanentFail, false},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Description: "Input processing failed"}, false},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "download timed out"}, true},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "Internal error, please try again"}, true},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "unsupported format; try again will not help"}, false},
		{&st.Status{Code: st.StatusCode_INTERNAL_SERVER_ISSUE}, true},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "image is larger than 85000000 pixels"}, false},
		{&st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "text is not valid UTF-8"}, false},
	} {
		if got := transientFailure(tc.s); got != tc.want {
			t.Errorf("transientFailure(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestVerifyGroupWaitSealsSlowSource: with a slow source a group would wait
// minutes for its batches; VerifyGroupWait closes it so that its inputs are
// verified meanwhile.
func TestVerifyGroupWaitSealsSlowSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}, VerifyGroupWait: 10 * time.Second})
		sr := startSink(t, t.Context(), s)
		items := texts(100)
		go func() {
			defer close(sr.in)
			for _, it := range items {
				if pipeline.Send(t.Context(), sr.in, it) != nil {
					return
				}
				time.Sleep(3 * time.Second) // one item per batch (MaxWait 1s)
			}
		}()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if _, final := sr.count(pipeline.EventDone); final < 3 {
			t.Errorf("after 30s (10 items read) %d final: the open group was not closed after VerifyGroupWait", final)
		}
		if err := <-sr.errc; err != nil {
			t.Fatal(err)
		}
		if _, final := sr.count(pipeline.EventDone); final != len(items) {
			t.Errorf("%d final", final)
		}
		// About one group per 10s of input, each needing a poll or a few.
		if n := f.count("GetInputsAddJob"); n > 4*(300/10) {
			t.Errorf("%d GetInputsAddJob calls", n)
		}
	})
}
