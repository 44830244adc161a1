package clarifai

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// manifestRequest is a PostInputsRequest of n rows of the benchmark
// manifest, built by bd.
func manifestRequest(t testing.TB, n int, bd *builder) *pb.PostInputsRequest {
	req := &pb.PostInputsRequest{UserAppId: &pb.UserAppIDSet{UserId: "u", AppId: "a"}, InputsAddJobId: "job"}
	for i := range n {
		it := &pipeline.Item{Kind: pipeline.KindImage, URL: fmt.Sprintf("https://images.example.com/bench/%02d/%07d.jpg", i%100, i),
			Concepts: []pipeline.Concept{pipeline.Positive("boat"), pipeline.Negative("tree")},
			Metadata: map[string]any{"row": float64(i), "source": "bench", "split": "train", "score": 0.5, "ok": true, "none": nil}}
		e, err := bd.build(context.Background(), it)
		if err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, e.in)
	}
	return req
}

// wireDecoded is m as the server decodes it.
func wireDecoded[M proto.Message](t testing.TB, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWireBuildIsBuild: on the wire, an input built by a wire builder is
// the one buildEntry builds.
func TestWireBuildIsBuild(t *testing.T) {
	for name, md := range map[string]map[string]any{
		"flat":    {"row": 2.0, "source": "bench", "ok": false, "none": nil, "": "", "neg": -0.0},
		"nested":  {"n": map[string]any{"k": []any{1, "x"}}, "s": "y"},
		"int":     {"i": 7},
		"empty":   {},
		"no meta": nil,
	} {
		mk := func() *pipeline.Item {
			return &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Metadata: md,
				Concepts: []pipeline.Concept{pipeline.Positive("a")}, Geo: &pipeline.Geo{Latitude: 1, Longitude: 2}}
		}
		want, err := buildEntry(t.Context(), mk())
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&builder{wire: true}).build(t.Context(), mk())
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(wireDecoded(t, want.in), wireDecoded(t, got.in), protocmp.Transform()); d != "" {
			t.Errorf("%s: -buildEntry +wire builder:\n%s", name, d)
		}
		if shortcut := got.in.Data.Metadata == nil && md != nil; shortcut != (name == "flat" || name == "empty") {
			t.Errorf("%s: metadata Struct %v", name, got.in.Data.Metadata)
		}
	}
	// Metadata that toStruct rejects is rejected the same way.
	for _, md := range []map[string]any{{"s": "\xff"}, {"f": math.Inf(1)}} {
		_, want := buildEntry(t.Context(), &pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: md})
		_, got := (&builder{wire: true}).build(t.Context(), &pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: md})
		if want == nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%v: %v, want %v", md, got, want)
		}
	}
}

// FuzzAppendFlatMetadata checks the wire form of flat metadata against
// proto's encoding of toStruct's Struct.
func FuzzAppendFlatMetadata(f *testing.F) {
	f.Add([]byte("\x01\x00\x02\x02\x01\x07\x03\x02\x00\x04\x03\x00"), "key\xffé")
	f.Add([]byte("\x05\x00\x00\x06\x01\x01"), "ab")
	f.Fuzz(func(t *testing.T, b []byte, strs string) {
		m := flatMap(b, strs)
		got, ok := appendFlatMetadata(nil, m)
		want, err := toStructAt(m, "")
		if !ok {
			return // toStruct decides
		}
		if err != nil {
			t.Fatalf("appendFlatMetadata took %v, which toStruct rejects: %v", m, err)
		}
		var dec structpb.Struct
		if err := proto.Unmarshal(got, &dec); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&dec, want) {
			t.Fatalf("decoded %v, want %v", &dec, want)
		}
		if n := proto.Size(want); n != len(got) {
			t.Fatalf("%d bytes, proto gives %d", len(got), n)
		}
	})
}

// TestClientSendsWireMetadata: through a *Client, the server decodes the
// request that buildEntry builds.
func TestClientSendsWireMetadata(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_SUCCESS))
	c := testClient(t, f, nil)
	if _, err := c.PostInputs(t.Context(), manifestRequest(t, 5, &builder{wire: true}), client.InputStatuses()); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	want := manifestRequest(t, 5, nil)
	want.UserAppId = calls[0].Req.(*pb.PostInputsRequest).GetUserAppId()
	if d := cmp.Diff(want, calls[0].Req, protocmp.Transform()); d != "" {
		t.Errorf("server got: -want +got:\n%s", d)
	}
}

// BenchmarkMarshalPostInputs encodes a request of 128 manifest rows:
// built by buildEntry and encoded as gRPC's default codec does (a new
// buffer each time), or built by a wire builder and encoded as the codec of
// client.InputStatuses does (into a reused buffer).
func BenchmarkMarshalPostInputs(b *testing.B) {
	b.Run("proto", func(b *testing.B) {
		req := manifestRequest(b, 128, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wire", func(b *testing.B) {
		req := manifestRequest(b, 128, &builder{wire: true})
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			size := proto.Size(req) // caches the sizes that MarshalAppend uses
			var err error
			buf, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf[:0], req)
			if err != nil || size != len(buf) {
				b.Fatal(err)
			}
		}
	})
}
