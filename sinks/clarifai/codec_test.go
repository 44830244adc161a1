package clarifai

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// trimmed is what unmarshalInputStatuses must give for b: proto.Unmarshal,
// then each input cut down to its id and status.
func trimmed(b []byte) (*pb.MultiInputResponse, error) {
	var full pb.MultiInputResponse
	if err := proto.Unmarshal(b, &full); err != nil {
		return nil, err
	}
	for i, in := range full.Inputs {
		full.Inputs[i] = &pb.Input{Id: in.GetId(), Status: in.GetStatus()}
	}
	return &full, nil
}

// echo is a response as the server gives it: every input whole.
func echo(n int) *pb.MultiInputResponse {
	md, _ := structpb.NewStruct(map[string]any{"row": 1, "source": "bench", "split": "train", "score": 0.5})
	resp := &pb.MultiInputResponse{
		Status:       &st.Status{Code: st.StatusCode_SUCCESS, Description: "Ok", ReqId: "req-1"},
		InputsAddJob: &pb.InputsAddJob{Id: "job-1"},
	}
	for i := range n {
		resp.Inputs = append(resp.Inputs, &pb.Input{
			Id: "0123456789abcdef0123456789abcdef"[:10+i%20],
			Data: &pb.Data{
				Image:    &pb.Image{Url: "https://images.example.com/bench/00/0000000.jpg"},
				Concepts: []*pb.Concept{{Id: "boat", Name: "boat", Value: 1}, {Id: "tree", Name: "tree"}},
				Metadata: md,
			},
			CreatedAt:  timestamppb.Now(),
			ModifiedAt: timestamppb.Now(),
			Status:     &st.Status{Code: st.StatusCode_INPUT_PENDING, Description: "Input is pending"},
			DatasetIds: []string{"train"},
		})
	}
	return resp
}

func TestUnmarshalInputStatuses(t *testing.T) {
	withUnknown := func(m proto.Message, fields ...[]byte) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7)
	// A second status for input 0, which proto merges into the first.
	status2, _ := proto.Marshal(&st.Status{Details: "more"})
	input2 := protowire.AppendBytes(protowire.AppendTag(nil, inputStatusField, protowire.BytesType), status2)
	input2 = protowire.AppendString(protowire.AppendTag(input2, inputIDField, protowire.BytesType), "renamed")
	twice := protowire.AppendBytes(protowire.AppendTag(nil, respInputsField, protowire.BytesType),
		append(withUnknown(&pb.Input{Id: "a", Status: &st.Status{Code: st.StatusCode_INPUT_SUCCESS}}), input2...))

	for name, b := range map[string][]byte{
		"empty":              nil,
		"status only":        withUnknown(&pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_FAILURE}}),
		"echo":               withUnknown(echo(5)),
		"no input status":    withUnknown(&pb.MultiInputResponse{Inputs: []*pb.Input{{Id: "x"}, {}}}),
		"unknown fields":     withUnknown(echo(2), unknown),
		"repeated fields":    withUnknown(echo(1), twice),
		"status after input": append(withUnknown(&pb.MultiInputResponse{Inputs: []*pb.Input{{Id: "x"}}}), withUnknown(&pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_MIXED_STATUS}})...),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := trimmed(b)
			if err != nil {
				t.Fatal(err)
			}
			got := &pb.MultiInputResponse{Inputs: []*pb.Input{{Id: "stale"}}} // reset first
			if err := unmarshalInputStatuses(b, got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}

// FuzzUnmarshalInputStatuses checks the partial decoding against
// proto.Unmarshal: whatever proto decodes, it decodes to the same ids and
// statuses; whatever it rejects, proto rejects too. (It may accept what proto
// rejects only in the fields it skips.)
func FuzzUnmarshalInputStatuses(f *testing.F) {
	for _, m := range []proto.Message{echo(0), echo(1), echo(3),
		&pb.MultiInputResponse{Inputs: []*pb.Input{{Id: "é"}, {Status: &st.Status{Details: "d"}}}}} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x02, 0x0a, 0x01, 0xff}) // input id of invalid UTF-8
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := trimmed(b)
		var got pb.MultiInputResponse
		err := unmarshalInputStatuses(b, &got)
		switch {
		case wantErr == nil && err != nil:
			t.Fatalf("proto decodes it, unmarshalInputStatuses fails: %v", err)
		case wantErr == nil:
			if d := cmp.Diff(want, &got, protocmp.Transform()); d != "" {
				t.Fatalf("-want +got:\n%s", d)
			}
		}
	})
}

func TestClientInputStatuses(t *testing.T) {
	resp := echo(3)
	f := startFake(t, func(method string, _ int, _ proto.Message) (proto.Message, error) {
		if method == "PostInputs" || method == "ListInputs" {
			return resp, nil
		}
		return withStatus(method, st.StatusCode_SUCCESS), nil
	})
	c := testClient(t, f, nil)
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want, err := trimmed(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.PostInputs(t.Context(), &pb.PostInputsRequest{}, inputStatuses())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("PostInputs with inputStatuses: -want +got:\n%s", d)
	}
	got, err = c.ListInputs(t.Context(), &pb.ListInputsRequest{}, inputStatuses())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("ListInputs with inputStatuses: -want +got:\n%s", d)
	}
	// Other responses decode as usual with the codec; without it, whole.
	if _, err := c.GetInputsAddJob(t.Context(), &pb.GetInputsAddJobRequest{}, inputStatuses()); err != nil {
		t.Fatal(err)
	}
	got, err = c.PostInputs(t.Context(), &pb.PostInputsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(resp, got, protocmp.Transform()); d != "" {
		t.Errorf("PostInputs: -want +got:\n%s", d)
	}
	// The request on the wire is the same: default content type.
	for _, rc := range f.Calls() {
		if ct := rc.md.Get("content-type"); len(ct) != 1 || ct[0] != "application/grpc" {
			t.Errorf("%s: content-type %q, want application/grpc", rc.method, ct)
		}
	}
}

func BenchmarkUnmarshalPostInputsResponse(b *testing.B) {
	data, err := proto.Marshal(echo(128))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var resp pb.MultiInputResponse
			if err := proto.Unmarshal(data, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inputStatuses", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var resp pb.MultiInputResponse
			if err := unmarshalInputStatuses(data, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

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

// TestCodecMarshal: the codec's request bytes decode to the request.
func TestCodecMarshal(t *testing.T) {
	for _, bd := range []*builder{nil, {wire: true}} {
		req := manifestRequest(t, 3, bd)
		data, err := inputStatusCodec{}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.PostInputsRequest
		if err := proto.Unmarshal(data.Materialize(), &got); err != nil {
			t.Fatal(err)
		}
		data.Free()
		// The wire builder's metadata is an unknown field until decoded.
		want := wireDecoded(t, req)
		if d := cmp.Diff(want, &got, protocmp.Transform()); d != "" {
			t.Errorf("wire %v: decoded request: -want +got:\n%s", bd != nil, d)
		}
	}
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
	f := startFake(t, sequence(st.StatusCode_SUCCESS))
	c := testClient(t, f, nil)
	if _, err := c.PostInputs(t.Context(), manifestRequest(t, 5, &builder{wire: true}), inputStatuses()); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	want := manifestRequest(t, 5, nil)
	want.UserAppId = calls[0].req.(*pb.PostInputsRequest).GetUserAppId()
	if d := cmp.Diff(want, calls[0].req, protocmp.Transform()); d != "" {
		t.Errorf("server got: -want +got:\n%s", d)
	}
}

// BenchmarkMarshalPostInputs encodes a request of 128 manifest rows:
// built by buildEntry and encoded by gRPC's default codec, or built by a
// wire builder and encoded by the sink's codec.
func BenchmarkMarshalPostInputs(b *testing.B) {
	for _, bc := range []struct {
		name  string
		bd    *builder
		codec encoding.CodecV2
	}{{"proto", nil, protoCodec}, {"wire", &builder{wire: true}, inputStatusCodec{}}} {
		req := manifestRequest(b, 128, bc.bd)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := bc.codec.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
	}
}
