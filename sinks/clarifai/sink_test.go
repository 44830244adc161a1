package clarifai

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// fakePoster is a recording, scriptable InputPoster. answer decides the
// reply to the n-th request (from 1) and the attempts reported; the default
// accepts every input with INPUT_PENDING. If block is set, every call waits
// for a value from it (or ctx).
type fakePoster struct {
	uploadOnly
	answer func(n int, req *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error)
	block  chan struct{}
	// held are the inputs ListInputs reads back (given IDs the server
	// already holds); any other ID reads back as someone else's text.
	held map[string]*pb.Input

	mu          sync.Mutex
	reqs        []*pb.PostInputsRequest
	inflight    int
	maxInflight int
}

// ListInputs reads back inputs whose given ID the server already holds.
func (f *fakePoster) ListInputs(_ context.Context, req *pb.ListInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	attempted(opts)
	resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
	for _, id := range req.Ids {
		in := f.held[id]
		if in == nil {
			in = &pb.Input{Id: id, Data: &pb.Data{Text: &pb.Text{Raw: "someone else's input"}}}
		}
		resp.Inputs = append(resp.Inputs, in)
	}
	return resp, nil
}

func (f *fakePoster) PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, proto.Clone(req).(*pb.PostInputsRequest))
	n := len(f.reqs)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	answer := f.answer
	if answer == nil {
		answer = perInput(func(*pb.Input, int) *st.Status { return &st.Status{Code: st.StatusCode_INPUT_PENDING} })
	}
	resp, attempts, err := answer(n, req)
	client.RecordAttempts(opts, attempts)
	return resp, err
}

func (f *fakePoster) requests() []*pb.PostInputsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// perInput answers with one status per input, echoing each input's ID, and
// MIXED_STATUS unless every input is accepted.
func perInput(status func(in *pb.Input, n int) *st.Status) func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
	return func(n int, req *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
		resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
		for _, in := range req.GetInputs() {
			s := status(in, n)
			if s == nil {
				continue // omitted from the response
			}
			if !isAccepted(s.GetCode()) {
				resp.Status.Code = st.StatusCode_MIXED_STATUS
			}
			resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.GetId(), Status: s})
		}
		return resp, 1, nil
	}
}

// outcome is what a test sees of one item.
type outcome struct {
	events []pipeline.Event
	final  pipeline.Result
}

// runSink runs s over items and returns each item's events by item pointer.
func runSink(t *testing.T, ctx context.Context, s *Sink, items []*pipeline.Item) (map[*pipeline.Item]*outcome, error) {
	t.Helper()
	in := make(chan *pipeline.Item)
	results := make(chan pipeline.Result)
	go func() {
		defer close(in)
		for _, it := range items {
			if pipeline.Send(ctx, in, it) != nil {
				return
			}
		}
	}()
	errc := make(chan error, 1)
	go func() {
		errc <- s.Run(ctx, in, results)
		close(results)
	}()
	out := map[*pipeline.Item]*outcome{}
	for r := range results {
		o := out[r.Item]
		if o == nil {
			o = &outcome{}
			out[r.Item] = o
		}
		if o.final.Event != 0 {
			t.Errorf("item %s: event %v after final %v", r.Item.ID, r.Event, o.final.Event)
		}
		o.events = append(o.events, r.Event)
		if r.Event.Final() {
			o.final = r
		}
	}
	return out, <-errc
}

// newTestSink returns a sink on f. The tests of the upload path run
// without verification (Verify off) unless they set Verify.
func newTestSink(t *testing.T, f API, cfg SinkConfig) *Sink {
	t.Helper()
	if cfg.Verify == nil {
		cfg.Verify = new(false)
	}
	s, err := NewSink(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func images(n int, size int) []*pipeline.Item {
	out := make([]*pipeline.Item, n)
	for i := range out {
		out[i] = &pipeline.Item{ID: fmt.Sprintf("img-%d", i), Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(make([]byte, size))}
	}
	return out
}

func TestSinkBatching(t *testing.T) {
	video := func(id string) *pipeline.Item {
		return &pipeline.Item{ID: id, Kind: pipeline.KindVideo, Blob: pipeline.BytesBlob([]byte("mp4"))}
	}
	img := func(id string) *pipeline.Item {
		return &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://x/" + id}
	}
	for _, tc := range []struct {
		name   string
		batch  sinks.BatchPolicy
		items  []*pipeline.Item
		want   string // request contents, "a,b|c"; "" to check sizes only
		counts []int
	}{
		{"128 inputs per request", sinks.BatchPolicy{}, images(300, 1), "", []int{128, 128, 44}},
		{"byte budget", sinks.BatchPolicy{MaxBytes: 3_500_000}, images(7, 1_000_000), "", []int{3, 3, 1}},
		{"one video per request", sinks.BatchPolicy{},
			[]*pipeline.Item{video("v1"), img("a"), img("b"), video("v2"), img("c"), video("v3")}, "v1,a,b|v2,c|v3", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakePoster{}
				s := newTestSink(t, f, SinkConfig{Settings: Settings{Concurrency: 1, Batch: tc.batch}})
				out, err := runSink(t, t.Context(), s, tc.items)
				if err != nil {
					t.Fatal(err)
				}
				var counts []int
				var parts []string
				for _, r := range f.requests() {
					counts = append(counts, len(r.Inputs))
					var ids []string
					for _, in := range r.Inputs {
						ids = append(ids, in.Id)
					}
					parts = append(parts, strings.Join(ids, ","))
				}
				if tc.counts != nil && !slices.Equal(counts, tc.counts) {
					t.Errorf("request sizes %v, want %v", counts, tc.counts)
				}
				if tc.want != "" && strings.Join(parts, "|") != tc.want {
					t.Errorf("requests %q, want %q", strings.Join(parts, "|"), tc.want)
				}
				for _, it := range tc.items {
					if o := out[it]; o == nil || !slices.Equal(o.events, []pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}) {
						t.Errorf("item %s: %+v", it.ID, o)
					}
				}
			})
		})
	}
}

func TestSinkRequestContent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{}
		counters := pipeline.NewCounters()
		s := newTestSink(t, f, SinkConfig{Counters: counters, ConflictResolution: pb.InputIDConflictResolution_SKIP})
		img := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(png),
			Concepts: []pipeline.Concept{pipeline.Positive("cat"), pipeline.Negative("dog")},
			Metadata: map[string]any{"k": map[string]any{"n": 1, "ok": true, "none": nil}},
			Geo:      &pipeline.Geo{Latitude: 1.5, Longitude: -2.25},
			Regions:  []pipeline.Region{{Box: &pipeline.BoundingBox{Bottom: 1, Right: 1}}}}
		txt := &pipeline.Item{ID: "t1", Kind: pipeline.KindText, Text: "hello"}
		wantID := ids.DeriveID(img, png)
		out, err := runSink(t, t.Context(), s, []*pipeline.Item{img, txt})
		if err != nil {
			t.Fatal(err)
		}
		reqs := f.requests()
		if len(reqs) != 1 || len(reqs[0].Inputs) != 2 {
			t.Fatalf("requests: %v", reqs)
		}
		req := reqs[0]
		if len(req.InputsAddJobId) != 32 || req.InputIdConflictResolution != pb.InputIDConflictResolution_SKIP {
			t.Errorf("job id %q, conflict resolution %v", req.InputsAddJobId, req.InputIdConflictResolution)
		}
		in := req.Inputs[0]
		if in.Id != wantID || img.ID != wantID {
			t.Errorf("derived id: input %q, item %q, want %q", in.Id, img.ID, wantID)
		}
		if !bytes.Equal(in.Data.Image.Base64, png) {
			t.Errorf("image bytes %q, want the raw bytes", in.Data.Image.Base64)
		}
		wire, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(wire, png) || bytes.Contains(wire, []byte(base64.StdEncoding.EncodeToString(png))) {
			t.Error("the wire does not carry the raw bytes (or carries base64 text)")
		}
		c := in.Data.Concepts
		if len(c) != 2 || c[0].Value != 1 || c[1].Value != 0 || c[1].Id != "dog" || c[1].Name != "dog" {
			t.Errorf("concepts %v", c)
		}
		// A negative label must be on the wire as an explicit 0.0, which
		// proto3 omits: check it is still a distinct entry with its id.
		if in.Data.Metadata.Fields["k"].GetStructValue().Fields["n"].GetNumberValue() != 1 ||
			!in.Data.Metadata.Fields["k"].GetStructValue().Fields["ok"].GetBoolValue() ||
			in.Data.Metadata.Fields["k"].GetStructValue().Fields["none"].GetNullValue() != 0 {
			t.Errorf("metadata %v", in.Data.Metadata)
		}
		if g := in.Data.Geo.GetGeoPoint(); g.GetLatitude() != 1.5 || g.GetLongitude() != -2.25 {
			t.Errorf("geo %v", g)
		}
		if len(in.Data.Regions) != 0 {
			t.Error("regions were sent on the input")
		}
		if req.Inputs[1].Id != "t1" || req.Inputs[1].Data.Text.GetRaw() != "hello" {
			t.Errorf("text input %v", req.Inputs[1])
		}
		if r := out[img].final; r.Event != pipeline.EventDone || r.Bytes != int64(len(png)) || r.Attempts != 1 {
			t.Errorf("image result %+v", r)
		}
		if got := counters.Batches.Load(); got != 1 || s.Stats().Batches != 1 {
			t.Errorf("Batches = %d, SinkStats.Batches = %d, want 1", got, s.Stats().Batches)
		}
	})
}

func TestSinkOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		derived := &pipeline.Item{Kind: pipeline.KindText, Text: "same content as last run"}
		items := []*pipeline.Item{
			{ID: "ok", Kind: pipeline.KindText, Text: "a"},
			{ID: "bad", Kind: pipeline.KindText, Text: "b"},
			{ID: "flaky", Kind: pipeline.KindText, Text: "c"},
			{ID: "taken", Kind: pipeline.KindText, Text: "d"},
			derived,
			{ID: "lost", Kind: pipeline.KindText, Text: "e"},
			{ID: "mine", Kind: pipeline.KindText, Text: "f"},
		}
		dupDetails := &st.Status{Code: st.StatusCode_INPUT_FAILED, Description: "Input failed", Details: "Input has a duplicate ID."}
		status := func(in *pb.Input, n int) *st.Status {
			switch {
			case in.Id == "bad":
				return &st.Status{Code: st.StatusCode_INPUT_INVALID_ARGUMENT, Description: "Invalid argument", Details: "bad bytes"}
			case in.Id == "flaky" && n == 1:
				return &st.Status{Code: st.StatusCode_RPC_REQUEST_TIMEOUT}
			case in.Id == "taken", in.Id == derived.ID:
				return dupDetails
			case in.Id == "lost" && n == 1:
				return nil
			case in.Id == "mine" && n == 1:
				return &st.Status{Code: st.StatusCode_RPC_SERVER_UNAVAILABLE}
			case in.Id == "mine":
				return &st.Status{Code: st.StatusCode_DATABASE_DUPLICATE_KEY} // our first attempt did land
			}
			return &st.Status{Code: st.StatusCode_INPUT_PENDING}
		}
		f := &fakePoster{answer: func(n int, req *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
			resp, a, err := perInput(status)(n, req)
			slices.Reverse(resp.Inputs) // map by ID, not only by position
			return resp, a, err
		}}
		counters := pipeline.NewCounters()
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Concurrency: 1}, Counters: counters})
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]struct {
			ev       pipeline.Event
			code     int32
			attempts int
			msg      string
		}{
			"ok":       {pipeline.EventDone, 0, 1, ""},
			"bad":      {pipeline.EventFailed, 30104, 1, "Clarifai rejected input bad: INPUT_INVALID_ARGUMENT (30104): Invalid argument: bad bytes"},
			"flaky":    {pipeline.EventDone, 0, 2, ""},
			"taken":    {pipeline.EventFailed, 30002, 1, "input ID taken already exists on the server"},
			derived.ID: {pipeline.EventDone, 0, 1, ""},
			"lost":     {pipeline.EventDone, 0, 2, ""},
			"mine":     {pipeline.EventDone, 0, 2, ""},
		}
		for _, it := range items {
			o, w := out[it], want[it.ID]
			if o == nil {
				t.Errorf("%s: no result", it.ID)
				continue
			}
			r := o.final
			if r.Event != w.ev || r.Code != w.code || r.Attempts != w.attempts || (w.msg != "") != (r.Err != nil) ||
				(r.Err != nil && !strings.Contains(r.Err.Error(), w.msg)) {
				t.Errorf("%s: %v code %d attempts %d err %v; want %v %d %d %q", it.ID, r.Event, r.Code, r.Attempts, r.Err, w.ev, w.code, w.attempts, w.msg)
			}
			if w.ev == pipeline.EventDone && !slices.Equal(o.events, []pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}) {
				t.Errorf("%s: events %v", it.ID, o.events)
			}
		}
		reqs := f.requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2", len(reqs))
		}
		var resent []string
		for _, in := range reqs[1].Inputs {
			resent = append(resent, in.Id)
		}
		if !slices.Equal(resent, []string{"flaky", "lost", "mine"}) {
			t.Errorf("re-sent %v, want only the retryable inputs", resent)
		}
		if reqs[0].InputsAddJobId != reqs[1].InputsAddJobId {
			t.Error("a re-send changed the inputs_add_job_id")
		}
		if s := counters.Snapshot(); s.Retries != 3 || s.Batches != 2 {
			t.Errorf("retries %d batches %d, want 3 and 2", s.Retries, s.Batches)
		}
	})
}

// TestSinkAdoptsGivenIDsAfterACrash: a duplicate-ID answer for a given ID
// this run did not send (an earlier run sent it and was killed before
// recording it) is read back: adopted when it matches the item, failed
// naming the difference when it does not.
func TestSinkAdoptsGivenIDsAfterACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		item := func(id string) *pipeline.Item {
			return &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://x/" + id + ".jpg",
				Concepts: []pipeline.Concept{pipeline.Positive("cat")}, Metadata: map[string]any{"k": "v"}}
		}
		stored := func(id, concept string) *pb.Input {
			md, _ := structpb.NewStruct(map[string]any{"k": "v"})
			return &pb.Input{Id: id, Data: &pb.Data{Image: &pb.Image{Url: "https://x/" + id + ".jpg"},
				Concepts: []*pb.Concept{{Id: concept, Name: concept, Value: 1}}, Metadata: md}}
		}
		f := &fakePoster{
			answer: perInput(func(in *pb.Input, _ int) *st.Status {
				if in.Id == "new" {
					return &st.Status{Code: st.StatusCode_INPUT_PENDING}
				}
				return &st.Status{Code: st.StatusCode_INPUT_INVALID_ARGUMENT, Details: "Input has a duplicate ID."}
			}),
			held: map[string]*pb.Input{"m-1": stored("m-1", "cat"), "m-2": stored("m-2", "dog")},
		}
		items := []*pipeline.Item{item("m-1"), item("m-2"), item("new")}
		out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
		if err != nil {
			t.Fatal(err)
		}
		if r := out[items[0]].final; r.Event != pipeline.EventDone {
			t.Errorf("m-1 (matches): %v %v, want adopted", r.Event, r.Err)
		}
		if r := out[items[1]].final; r.Event != pipeline.EventFailed ||
			!strings.Contains(fmt.Sprint(r.Err), "concepts: server has [dog:1], the item [cat:1]") {
			t.Errorf("m-2 (other concepts): %v %v, want failed naming the concepts", r.Event, r.Err)
		}
		if r := out[items[2]].final; r.Event != pipeline.EventDone {
			t.Errorf("new: %v %v", r.Event, r.Err)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("%d PostInputs requests, want 1 (adopting sends nothing again)", n)
		}
	})
}

func TestSinkDuplicateAfterClientRetry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int // reported by the client for the one call
		want     pipeline.Event
	}{
		{"first request: someone else's input", 1, pipeline.EventFailed},
		{"client retried: our own timed-out attempt", 2, pipeline.EventDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakePoster{answer: func(n int, req *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
					resp, _, _ := perInput(func(*pb.Input, int) *st.Status {
						return &st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "Input has a duplicate ID."}
					})(n, req)
					return resp, tc.attempts, nil
				}}
				it := &pipeline.Item{ID: "user-id", Kind: pipeline.KindImage, URL: "https://x/y.jpg"}
				out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), []*pipeline.Item{it})
				if err != nil {
					t.Fatal(err)
				}
				if r := out[it].final; r.Event != tc.want || r.Attempts != tc.attempts {
					t.Errorf("result %v attempts %d, want %v %d", r.Event, r.Attempts, tc.want, tc.attempts)
				}
			})
		})
	}
}

func TestSinkRequestFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error)
		fatal    bool
		wantCode int32
		wantMsg  string
	}{
		{"whole request fails after retries", func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
			return nil, 10, &client.APIError{Method: "PostInputs", Code: st.StatusCode_RPC_SERVER_UNAVAILABLE, Class: client.Retryable, Attempts: 10}
		}, false, 40031, "upload request failed: PostInputs: RPC_SERVER_UNAVAILABLE"},
		{"FAILURE with per-input statuses", func(n int, req *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
			resp, _, _ := perInput(func(*pb.Input, int) *st.Status {
				return &st.Status{Code: st.StatusCode_INPUT_UNSUPPORTED_FORMAT, Description: "Unsupported format"}
			})(n, req)
			resp.Status.Code = st.StatusCode_FAILURE
			return resp, 1, &client.APIError{Method: "PostInputs", Code: st.StatusCode_FAILURE, Class: client.Permanent}
		}, false, 30101, "Unsupported format"},
		{"fatal request", func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
			return nil, 1, &client.APIError{Method: "PostInputs", Code: st.StatusCode_CONN_KEY_INVALID, Class: client.Fatal}
		}, true, 0, "CONN_KEY_INVALID"},
		{"fatal per-input status", perInput(func(*pb.Input, int) *st.Status {
			return &st.Status{Code: st.StatusCode_CONN_INSUFFICIENT_SCOPES}
		}), true, 0, "CONN_INSUFFICIENT_SCOPES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakePoster{answer: tc.answer}
				items := images(3, 10)
				out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
				if tc.fatal {
					if client.Classify(err) != client.Fatal || !strings.Contains(err.Error(), tc.wantMsg) {
						t.Fatalf("Run = %v, want a fatal error mentioning %s", err, tc.wantMsg)
					}
					if len(f.requests()) != 1 {
						t.Errorf("%d requests after a fatal error", len(f.requests()))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					r := out[it].final
					if r.Event != pipeline.EventFailed || r.Code != tc.wantCode || !strings.Contains(r.Err.Error(), tc.wantMsg) {
						t.Errorf("%s: %v code %d err %v", it.ID, r.Event, r.Code, r.Err)
					}
				}
			})
		})
	}
}

// TestSinkSplitsRefusedRequests: a server that refuses a whole request
// for one input it cannot decode makes the sink split the batch until that
// input fails alone; every other input is stored once. A whole-request
// failure that splitting cannot help (throttling to the end of the
// retries) is not split.
func TestSinkSplitsRefusedRequests(t *testing.T) {
	undecodable := status.Error(codes.Internal, "grpc: failed to unmarshal the received message: proto: exceeded maximum recursion depth")
	for _, tc := range []struct {
		name      string
		bad       map[string]bool
		err       error
		wantCalls int // PostInputs calls at most
	}{
		// 11 inputs: 11 -> 5+6 -> (2+3) -> ... : the bad one's half is split
		// down to it, the other halves go in one request each.
		{"one poisoned input", map[string]bool{"t4": true}, undecodable, 1 + 2*4},
		{"two poisoned inputs", map[string]bool{"t0": true, "t10": true}, undecodable, 1 + 2*4 + 2*3},
		{"invalid argument", map[string]bool{"t7": true}, status.Error(codes.InvalidArgument, "bad request"), 1 + 2*4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI()
				f.refuse = func(req *pb.PostInputsRequest) error {
					for _, in := range req.Inputs {
						if tc.bad[in.Id] {
							return &client.APIError{Method: "PostInputs", GRPCCode: status.Code(tc.err), Class: client.Classify(tc.err), Err: tc.err}
						}
					}
					return nil
				}
				items := texts(11)
				out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					r := out[it].final
					if tc.bad[it.ID] {
						if r.Event != pipeline.EventFailed || r.Stage != "upload" || !strings.Contains(r.Err.Error(), status.Convert(tc.err).Message()) {
							t.Errorf("%s: %v %v, want it failed with the refusal", it.ID, r.Event, r.Err)
						}
						continue
					}
					if r.Event != pipeline.EventDone {
						t.Errorf("%s: %v %v, want it stored", it.ID, r.Event, r.Err)
					}
					if f.creates[it.ID] != 1 {
						t.Errorf("%s created %d times", it.ID, f.creates[it.ID])
					}
				}
				if n := f.count("PostInputs"); n > tc.wantCalls {
					t.Errorf("%d PostInputs calls, want at most %d", n, tc.wantCalls)
				}
			})
		})
	}

	t.Run("throttled to the end is not split", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakePoster{answer: func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
				return nil, 10, &client.APIError{Method: "PostInputs", Code: st.StatusCode_CONN_THROTTLED, Class: client.Retryable, Attempts: 10}
			}}
			items := images(4, 10)
			out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want the one (not split)", n)
			}
			for _, it := range items {
				if out[it].final.Event != pipeline.EventFailed {
					t.Errorf("%s: %v", it.ID, out[it].final.Event)
				}
			}
		})
	})
}

// TestSinkOutageLeavesItemsPending: a request that got no answer from the
// API to the end of its retries ends the run and fails none of its items:
// they stay pending, and a rerun sends them.
func TestSinkOutageLeavesItemsPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{answer: func(int, *pb.PostInputsRequest) (*pb.MultiInputResponse, int, error) {
			return nil, 10, &client.APIError{Method: "PostInputs", GRPCCode: codes.Unavailable, Class: client.Retryable,
				Attempts: 10, Err: status.Error(codes.Unavailable, "connection refused")}
		}}
		items := images(3, 10)
		out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
		if !client.IsOutage(err) {
			t.Fatalf("Run = %v, want the outage", err)
		}
		for _, it := range items {
			if r, ok := out[it]; ok && r.final.Event == pipeline.EventFailed {
				t.Errorf("%s failed: %v", it.ID, r.final.Err)
			}
		}
	})
}

func TestSinkItemsNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vanished := &pipeline.Blob{Size: 3, Open: func() (io.ReadCloser, error) { return nil, os.ErrNotExist }}
		good := &pipeline.Item{ID: "good", Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(png)}
		cases := []struct {
			it    *pipeline.Item
			ev    pipeline.Event
			stage string
			msg   string
		}{
			{&pipeline.Item{ID: "resumed", Kind: pipeline.KindImage, URL: "https://x", Resumed: true}, pipeline.EventDone, "", ""},
			{(&pipeline.Item{ID: "src"}).Fail("source", errors.New("bad row")), pipeline.EventFailed, "source", "bad row"},
			{(&pipeline.Item{ID: "skip"}).Fail("transform:x", pipeline.Skip("dup")), pipeline.EventSkipped, "transform:x", "dup"},
			{&pipeline.Item{ID: "huge", Kind: pipeline.KindImage, Blob: &pipeline.Blob{Size: 30_000_000}}, pipeline.EventFailed, stage, "under 20000000 bytes (20 MB)"},
			{&pipeline.Item{ID: "bad!id", Kind: pipeline.KindImage, URL: "https://x"}, pipeline.EventFailed, stage, "character '!'"},
			{&pipeline.Item{ID: "vanished", Kind: pipeline.KindImage, Blob: vanished}, pipeline.EventFailed, stage, "file does not exist"},
			{&pipeline.Item{ID: "binary", Kind: pipeline.KindText, Blob: pipeline.BytesBlob(png)}, pipeline.EventFailed, stage, "not valid UTF-8"},
		}
		items := []*pipeline.Item{good}
		for _, c := range cases {
			items = append(items, c.it)
		}
		f := &fakePoster{}
		out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), items)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			r := out[c.it].final
			if r.Event != c.ev || r.Stage != c.stage || (c.msg != "") != (r.Err != nil) || (r.Err != nil && !strings.Contains(r.Err.Error(), c.msg)) {
				t.Errorf("%s: %v stage %q err %v; want %v %q %q", c.it.ID, r.Event, r.Stage, r.Err, c.ev, c.stage, c.msg)
			}
		}
		if out[good].final.Event != pipeline.EventDone {
			t.Errorf("good item: %+v (one bad item must not fail its batch)", out[good].final)
		}
		reqs := f.requests()
		if len(reqs) != 1 || len(reqs[0].Inputs) != 1 || reqs[0].Inputs[0].Id != "good" {
			t.Errorf("requests %v, want only the good item", reqs)
		}
	})
}

func TestSinkResendsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{answer: perInput(func(*pb.Input, int) *st.Status {
			return &st.Status{Code: st.StatusCode_RPC_REQUEST_TIMEOUT, Description: "timed out"}
		})}
		it := &pipeline.Item{ID: "x", Kind: pipeline.KindText, Text: "t"}
		start := time.Now()
		s := newTestSink(t, f, SinkConfig{MaxResends: 2})
		out, err := runSink(t, t.Context(), s, []*pipeline.Item{it})
		if err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Batches != 3 || st.InputRetries != 2 {
			t.Errorf("stats %+v: want 3 batches answered, 2 inputs sent again", st)
		}
		r := out[it].final
		if len(f.requests()) != 3 || r.Event != pipeline.EventFailed || r.Code != 40032 ||
			!strings.Contains(r.Err.Error(), "still failing after 3 requests: RPC_REQUEST_TIMEOUT (40032): timed out") {
			t.Errorf("%d requests, result %v %d %v", len(f.requests()), r.Event, r.Code, r.Err)
		}
		// Two backoffs of about 1s and 2s (jitter ±50%) separate the requests.
		if d := time.Since(start); d < 1500*time.Millisecond || d > 4500*time.Millisecond {
			t.Errorf("re-sends took %v: backoff not applied", d)
		}
	})
}

func TestSinkFlushesAfterMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{}
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Batch: sinks.BatchPolicy{MaxWait: time.Second}}})
		in := make(chan *pipeline.Item)
		results := make(chan pipeline.Result, 2)
		errc := make(chan error, 1)
		go func() { errc <- s.Run(t.Context(), in, results) }()
		in <- &pipeline.Item{ID: "a", Kind: pipeline.KindText, Text: "t"}
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if n := len(f.requests()); n != 0 {
			t.Fatalf("%d requests before MaxWait", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n := len(f.requests()); n != 1 {
			t.Fatalf("%d requests after MaxWait, want 1", n)
		}
		if r := <-results; r.Event != pipeline.EventAccepted {
			t.Errorf("first result %v", r.Event)
		}
		<-results
		close(in)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

func TestSinkBoundsCallsInFlight(t *testing.T) {
	for _, concurrency := range []int{1, 3} {
		t.Run(fmt.Sprint(concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakePoster{block: make(chan struct{})}
				s := newTestSink(t, f, SinkConfig{Settings: Settings{Concurrency: concurrency, Batch: sinks.BatchPolicy{MaxItems: 1}}})
				items := images(10, 1)
				done := make(chan error, 1)
				var out map[*pipeline.Item]*outcome
				go func() {
					var err error
					out, err = runSink(t, t.Context(), s, items)
					done <- err
				}()
				for released := 0; released < len(items); released++ {
					synctest.Wait() // every goroutine is blocked: the in-flight count is settled
					f.mu.Lock()
					inflight := f.inflight
					f.mu.Unlock()
					if want := min(concurrency, len(items)-released); inflight != want {
						t.Fatalf("after %d released: %d calls in flight, want %d", released, inflight, want)
					}
					f.block <- struct{}{}
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if f.maxInflight != concurrency || len(out) != len(items) {
					t.Errorf("max in flight %d, %d results", f.maxInflight, len(out))
				}
			})
		})
	}
}

func TestSinkCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakePoster{block: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Batch: sinks.BatchPolicy{MaxItems: 1}}})
		in := make(chan *pipeline.Item)
		results := make(chan pipeline.Result)
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx, in, results) }()
		in <- images(1, 1)[0]
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestNewSinkValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  SinkConfig
		want string
	}{
		{SinkConfig{Settings: Settings{Concurrency: -1}}, "Concurrency"},
		{SinkConfig{Settings: Settings{Batch: sinks.BatchPolicy{MaxItems: 500}}}, "MaxItems"},
		{SinkConfig{ConflictResolution: 9}, "ConflictResolution"},
		{SinkConfig{ResendBackoff: -time.Second}, "ResendBackoff"},
		{SinkConfig{MaxAnnotations: 129}, "MaxAnnotations 129: want 1 to 128"},
		{SinkConfig{AnnotationQueue: -1}, "AnnotationQueue"},
		{SinkConfig{AnnotationConcurrency: -1}, "AnnotationConcurrency"},
		{SinkConfig{VerifyGroupBatches: -1}, "VerifyGroupBatches"},
		{SinkConfig{VerifyTimeout: -time.Second}, "VerifyTimeout"},
		{SinkConfig{MaxPending: -1}, "MaxPending"},
	} {
		if _, err := NewSink(&fakePoster{}, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := NewSink(nil, SinkConfig{}); err == nil {
		t.Error("nil poster accepted")
	}
}

// TestSinkWithClient runs the sink over the real client and a fake gRPC
// server: the first request is lost to UNAVAILABLE after the server stored
// it, so the retry sees duplicates, which are ours.
func TestSinkWithClient(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]bool{}
	f := clienttest.Start(t, func(method string, n int, req proto.Message) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
		for _, in := range req.(*pb.PostInputsRequest).GetInputs() {
			s := &st.Status{Code: st.StatusCode_INPUT_PENDING}
			if stored[in.Id] {
				s = &st.Status{Code: st.StatusCode_INPUT_FAILED, Details: "Input has a duplicate ID."}
				resp.Status.Code = st.StatusCode_MIXED_STATUS
			}
			stored[in.Id] = true
			resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: s})
		}
		if n == 1 {
			return nil, clienttest.ErrUnavailable
		}
		return resp, nil
	})
	counters := pipeline.NewCounters()
	c := testClient(t, f, func(c *client.Config) { c.Counters = counters })
	s := newTestSink(t, c, SinkConfig{Counters: counters})
	items := images(5, 100)
	out, err := runSink(t, t.Context(), s, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if r := out[it].final; r.Event != pipeline.EventDone || r.Attempts != 2 || r.Bytes != 100 {
			t.Errorf("%s: %v attempts %d bytes %d err %v", it.ID, r.Event, r.Attempts, r.Bytes, r.Err)
		}
	}
	if s := counters.Snapshot(); s.Requests != 2 || s.Retries != 1 || s.Batches != 1 {
		t.Errorf("counters %+v", s)
	}
	if md := f.Calls()[1].MD.Get("authorization"); len(md) != 1 || md[0] != "Key "+testPAT {
		t.Errorf("authorization %q", md)
	}
}
