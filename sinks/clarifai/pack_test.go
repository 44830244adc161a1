package clarifai

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// fuzzItem builds an item with labels and metadata from fuzzer bytes: each
// 3-byte group adds a label or a metadata value.
func fuzzItem(b []byte, strs string) *pipeline.Item {
	it := &pipeline.Item{ID: "x", Kind: pipeline.KindImage, URL: "https://x/y.jpg",
		Regions: []pipeline.Region{{ID: "r"}}, Prov: pipeline.Provenance{Row: 3}, Key: "k"}
	str := func(c byte) string { return strs[:int(c)%(len(strs)+1)] }
	for ; len(b) >= 3; b = b[3:] {
		switch b[0] % 8 {
		case 0:
			it.Concepts = append(it.Concepts, pipeline.Concept{ID: str(b[1]), Name: str(b[2]), Value: float32(b[1]) / 3})
		case 1:
			it.Concepts = append(it.Concepts, pipeline.Positive(str(b[1])))
		case 2:
			it.Concepts = append(it.Concepts, pipeline.Concept{ID: str(b[1]), Value: float32(math.NaN())})
		default:
			if it.Metadata == nil {
				it.Metadata = map[string]any{}
			}
			var v any
			switch b[0] % 8 {
			case 3:
				v = str(b[2])
			case 4:
				v = math.Float64frombits(uint64(b[2]) * 0x0101010101010101) // NaN and infinities too
			case 5:
				v = b[2]%2 == 0
			case 6:
				v = nil
			case 7:
				v = []any{int(b[2])} // not flat: kept as it is
			}
			it.Metadata[str(b[1])] = v
		}
	}
	return it
}

// same compares items bit for bit (NaNs equal), their exported fields.
var same = cmp.Options{cmpopts.IgnoreUnexported(pipeline.Item{}),
	cmp.Comparer(func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }),
	cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }),
}

// FuzzPack checks that unpack restores exactly what pack took out, and that
// pack empties Concepts and Metadata and touches nothing else.
func FuzzPack(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x01\x03\x00\x03\x01\x02\x04\x02\x09\x05\x00\x01\x06\x04\x00"), "label\xffé")
	f.Add([]byte("\x07\x01\x01\x03\x02\x02"), "ab")
	f.Add([]byte("\x02\x00\x00"), "")
	f.Fuzz(func(t *testing.T, b []byte, strs string) {
		for _, wire := range []bool{false, true} {
			it := fuzzItem(b, strs)
			want := fuzzItem(b, strs)
			var md []byte // as a wire builder writes it
			if b, ok := appendFlatMetadata(nil, it.Metadata); ok && wire {
				md = b
			}
			p := pack(it, md)
			if len(it.Concepts) != 0 || len(it.Metadata) != 0 {
				t.Fatalf("packed item keeps concepts %v, metadata %v", it.Concepts, it.Metadata)
			}
			rest, wantRest := *it, *want
			wantRest.Concepts, wantRest.Metadata = nil, nil
			if d := cmp.Diff(wantRest, rest, same); d != "" {
				t.Fatalf("pack changed other fields: -want +got:\n%s", d)
			}
			p.unpack(it)
			if d := cmp.Diff(want, it, same); d != "" {
				t.Fatalf("unpack(pack(it)), wire %v: -want +got:\n%s", wire, d)
			}
		}
	})
}

func TestPackSmall(t *testing.T) {
	it := &pipeline.Item{
		Concepts: []pipeline.Concept{pipeline.Positive("boat"), pipeline.Positive("tree"), pipeline.Negative("house")},
		Metadata: map[string]any{"row": 2.0, "source": "bench", "split": "train", "score": 0.552},
	}
	p := pack(it, nil)
	if p.meta != nil || len(p.concepts)+len(p.md) > 120 {
		t.Errorf("a manifest row's labels and metadata packed into %d+%d bytes, %v left as they are", len(p.concepts), len(p.md), p.meta)
	}
	if n := testing.AllocsPerRun(100, func() { pack(&pipeline.Item{Concepts: []pipeline.Concept{pipeline.Positive("a")}}, nil) }); n > 1 {
		t.Errorf("pack labels: %v allocations, want 1", n)
	}
	md, _ := appendFlatMetadata(nil, map[string]any{"a": "b"})
	if n := testing.AllocsPerRun(100, func() { pack(&pipeline.Item{Metadata: map[string]any{"a": "b"}}, md) }); n > 0 {
		t.Errorf("pack metadata written by the request build: %v allocations, want none", n)
	}
	if p := pack(&pipeline.Item{Metadata: map[string]any{}}, nil); p.md != nil || p.meta != nil {
		t.Errorf("empty metadata packed: %+v", p)
	}
}

// TestVerifyPacksWaitingItems: an item waiting for verification has its
// labels and metadata set aside; its done result carries it without them,
// a failure result and a re-send with them.
func TestVerifyPacksWaitingItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.process = func(id string, n int) (time.Duration, *st.Status) {
			switch {
			case id == "failed":
				return time.Second, permanentFail
			case id == "retried" && n == 1:
				return time.Second, transientFail
			}
			return time.Second, nil
		}
		rec := &recordingAPI{fakeAPI: f}
		s := newTestSink(t, rec, SinkConfig{Settings: Settings{Verify: new(true), RetryFailedProcessing: true}, ResendBackoff: time.Millisecond})
		labels := []pipeline.Concept{pipeline.Positive("boat"), {ID: "t", Name: "tree", Value: 0.5}}
		meta := map[string]any{"row": 2.0, "source": "bench", "ok": true, "none": nil}
		nested := map[string]any{"n": map[string]any{"k": "v"}}
		var items []*pipeline.Item
		for _, id := range []string{"done", "failed", "retried", "nested"} {
			it := &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://x/" + id + ".jpg",
				Concepts: labels, Metadata: meta}
			if id == "nested" {
				it.Metadata = nested
			}
			items = append(items, it)
		}
		out, err := runSink(t, t.Context(), s, items)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			o := out[it]
			wantMeta := meta
			if it.ID == "nested" {
				wantMeta = nested
			}
			switch it.ID {
			case "failed":
				if o.final.Event != pipeline.EventFailed || o.final.Stage != verifyStage {
					t.Errorf("%s: %+v", it.ID, o.final)
				}
				if d := cmp.Diff(labels, it.Concepts); d != "" {
					t.Errorf("%s: failure result's labels: -want +got:\n%s", it.ID, d)
				}
				if d := cmp.Diff(wantMeta, it.Metadata); d != "" {
					t.Errorf("%s: failure result's metadata: -want +got:\n%s", it.ID, d)
				}
			default:
				if o.final.Event != pipeline.EventDone {
					t.Errorf("%s: %+v", it.ID, o.final)
				}
				if it.Concepts != nil || it.Metadata != nil {
					t.Errorf("%s: done with concepts %v, metadata %v still held", it.ID, it.Concepts, it.Metadata)
				}
			}
		}
		// Every request, the re-send included, carried the labels and
		// metadata.
		sent := map[string]int{}
		for _, in := range rec.inputs() {
			sent[in.Id]++
			if len(in.GetData().GetConcepts()) != 2 || in.GetData().GetMetadata() == nil {
				t.Errorf("input %s sent without its labels or metadata: %v", in.Id, in.GetData())
			}
		}
		if sent["retried"] != 2 {
			t.Errorf("sent %v, want retried twice", sent)
		}
	})
}

// recordingAPI is a fakeAPI that keeps a copy of every input posted.
type recordingAPI struct {
	*fakeAPI
	mu   sync.Mutex
	sent []*pb.Input
}

func (r *recordingAPI) PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	r.mu.Lock()
	for _, in := range req.Inputs {
		r.sent = append(r.sent, proto.Clone(in).(*pb.Input))
	}
	r.mu.Unlock()
	return r.fakeAPI.PostInputs(ctx, req, opts...)
}

func (r *recordingAPI) inputs() []*pb.Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

func BenchmarkPack(b *testing.B) {
	labels := []pipeline.Concept{pipeline.Positive("boat"), pipeline.Positive("tree"), pipeline.Negative("house")}
	meta := map[string]any{"row": 2.0, "source": "bench", "split": "train", "score": 0.552}
	b.ReportAllocs()
	for b.Loop() {
		it := pipeline.Item{Concepts: labels, Metadata: meta}
		pack(&it, nil)
	}
}

// TestVerifyWithClientUnpacksFailures: through a *Client the metadata is
// kept in the wire form the request was built with; a failure result
// carries it back as it was.
func TestVerifyWithClientUnpacksFailures(t *testing.T) {
	f := clienttest.Start(t, func(method string, _ int, req proto.Message) (proto.Message, error) {
		ok := &st.Status{Code: st.StatusCode_SUCCESS}
		switch method {
		case "PostInputs":
			resp := &pb.MultiInputResponse{Status: ok}
			for _, in := range req.(*pb.PostInputsRequest).GetInputs() {
				resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: &st.Status{Code: st.StatusCode_INPUT_PENDING}})
			}
			return resp, nil
		case "GetInputsAddJob":
			return &pb.SingleInputsAddJobResponse{Status: ok, InputsAddJob: &pb.InputsAddJob{Id: req.(*pb.GetInputsAddJobRequest).Id,
				Progress: &pb.InputsAddJobProgress{SuccessCount: 2, FailedCount: 1}}}, nil
		case "ListInputs":
			lr := req.(*pb.ListInputsRequest)
			resp := &pb.MultiInputResponse{Status: ok}
			for _, id := range lr.Ids {
				switch {
				case id == "failed" && lr.Status == nil:
					resp.Inputs = append(resp.Inputs, &pb.Input{Id: id, Status: permanentFail})
				case id != "failed" && lr.Status != nil:
					resp.Inputs = append(resp.Inputs, &pb.Input{Id: id, Status: &st.Status{Code: st.StatusCode_INPUT_SUCCESS}})
				}
			}
			return resp, nil
		}
		return clienttest.WithStatus(method, st.StatusCode_FAILURE), nil
	})
	s := newTestSink(t, testClient(t, f, nil), SinkConfig{Settings: Settings{Verify: new(true)}, VerifyDelay: time.Millisecond})
	labels := []pipeline.Concept{pipeline.Positive("boat"), pipeline.Negative("tree")}
	meta := map[string]any{"row": 2.0, "source": "bench", "ok": true, "none": nil}
	var items []*pipeline.Item
	for _, id := range []string{"ok1", "failed", "ok2"} {
		items = append(items, &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://x/" + id + ".jpg",
			Concepts: labels, Metadata: meta})
	}
	out, err := runSink(t, t.Context(), s, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		r := out[it].final
		if it.ID != "failed" {
			if r.Event != pipeline.EventDone || it.Concepts != nil || it.Metadata != nil {
				t.Errorf("%s: %v, concepts %v, metadata %v", it.ID, r.Event, it.Concepts, it.Metadata)
			}
			continue
		}
		if r.Event != pipeline.EventFailed || r.Stage != verifyStage {
			t.Errorf("%s: %v at %q: %v", it.ID, r.Event, r.Stage, r.Err)
		}
		if d := cmp.Diff(labels, it.Concepts); d != "" {
			t.Errorf("labels: -want +got:\n%s", d)
		}
		if d := cmp.Diff(meta, it.Metadata); d != "" {
			t.Errorf("metadata: -want +got:\n%s", d)
		}
	}
}
