package client

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
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
	f := clienttest.Start(t, func(method string, _ int, _ proto.Message) (proto.Message, error) {
		if method == "PostInputs" || method == "ListInputs" {
			return resp, nil
		}
		return clienttest.WithStatus(method, st.StatusCode_SUCCESS), nil
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
	got, err := c.PostInputs(t.Context(), &pb.PostInputsRequest{}, InputStatuses())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("PostInputs with inputStatuses: -want +got:\n%s", d)
	}
	got, err = c.ListInputs(t.Context(), &pb.ListInputsRequest{}, InputStatuses())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("ListInputs with inputStatuses: -want +got:\n%s", d)
	}
	// Other responses decode as usual with the codec; without it, whole.
	if _, err := c.GetInputsAddJob(t.Context(), &pb.GetInputsAddJobRequest{}, InputStatuses()); err != nil {
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
		if ct := rc.MD.Get("content-type"); len(ct) != 1 || ct[0] != "application/grpc" {
			t.Errorf("%s: content-type %q, want application/grpc", rc.Method, ct)
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

// postRequest is a PostInputsRequest of n rows as the sink's wire builder
// makes them: URL, concepts, and metadata already encoded (an unknown field
// of Data until the server decodes it).
func postRequest(n int) *pb.PostInputsRequest {
	mdStruct, _ := structpb.NewStruct(map[string]any{"row": 1.0, "split": "train"})
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(mdStruct)
	md := protowire.AppendTag(nil, fieldNumber(&pb.Data{}, "metadata"), protowire.BytesType)
	md = protowire.AppendBytes(md, b)
	req := &pb.PostInputsRequest{UserAppId: &pb.UserAppIDSet{UserId: "u", AppId: "a"}, InputsAddJobId: "job"}
	for i := range n {
		data := &pb.Data{Image: &pb.Image{Url: fmt.Sprintf("https://images.example.com/bench/%02d/%07d.jpg", i%100, i)},
			Concepts: []*pb.Concept{{Id: "boat", Value: 1}, {Id: "tree"}}}
		data.ProtoReflect().SetUnknown(md)
		req.Inputs = append(req.Inputs, &pb.Input{Id: fmt.Sprintf("id-%d", i), Data: data})
	}
	return req
}

// TestCodecMarshal: the codec's request bytes are proto's.
func TestCodecMarshal(t *testing.T) {
	req := postRequest(3)
	want, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := inputStatusCodec{}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Free()
	if got := data.Materialize(); !bytes.Equal(got, want) {
		t.Errorf("codec wrote %x, proto %x", got, want)
	}
	var dec pb.PostInputsRequest
	if err := proto.Unmarshal(data.Materialize(), &dec); err != nil || len(dec.Inputs) != 3 {
		t.Errorf("decoded %d inputs, %v", len(dec.Inputs), err)
	}
}

// BenchmarkCodecMarshal encodes a request of 128 manifest rows with gRPC's
// default codec and with the codec of InputStatuses.
func BenchmarkCodecMarshal(b *testing.B) {
	req := postRequest(128)
	for _, bc := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"proto", protoCodec}, {"inputStatuses", inputStatusCodec{}}} {
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
