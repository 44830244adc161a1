package client

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// itemStatuses returns the per-item status codes of a response of the calls
// that change items one by one.
func itemStatuses(m proto.Message) []st.StatusCode {
	var out []st.StatusCode
	switch r := m.(type) {
	case *pb.MultiInputResponse:
		for _, in := range r.GetInputs() {
			out = append(out, in.GetStatus().GetCode())
		}
	case *pb.MultiAnnotationResponse:
		for _, an := range r.GetAnnotations() {
			out = append(out, an.GetStatus().GetCode())
		}
	case *pb.MultiDatasetInputResponse:
		for _, di := range r.GetDatasetInputs() {
			out = append(out, di.GetInput().GetStatus().GetCode())
		}
	}
	return out
}

// TestClientSyncCallsPerItemStatuses: the calls that change items one by one
// return their per-item statuses as PostInputs does: with a MIXED_STATUS
// response and no error, and with a FAILURE response together with a
// permanent *APIError. The request reaches the server whole.
func TestClientSyncCallsPerItemStatuses(t *testing.T) {
	ok, missing := &st.Status{Code: st.StatusCode_INPUT_SUCCESS}, &st.Status{Code: st.StatusCode_INPUT_DOES_NOT_EXIST}
	tests := []struct {
		name string
		call func(*Client) (proto.Message, error)
		req  proto.Message
		resp func(top st.StatusCode) proto.Message
		want []st.StatusCode
	}{
		{
			name: "PatchInputs",
			req: &pb.PatchInputsRequest{Action: "overwrite", Inputs: []*pb.Input{
				{Id: "a", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "lion", Value: 1}}}}, {Id: "ghost"},
			}},
			resp: func(top st.StatusCode) proto.Message {
				return &pb.MultiInputResponse{Status: &st.Status{Code: top}, Inputs: []*pb.Input{{Id: "a", Status: ok}, {Id: "ghost", Status: missing}}}
			},
			want: []st.StatusCode{st.StatusCode_INPUT_SUCCESS, st.StatusCode_INPUT_DOES_NOT_EXIST},
		},
		{
			name: "PatchAnnotations",
			req: &pb.PatchAnnotationsRequest{Action: "remove", DeleteIfEmptyData: true, Annotations: []*pb.Annotation{
				{Id: "r1", InputId: "a", Data: &pb.Data{Regions: []*pb.Region{{Id: "x"}}}},
			}},
			resp: func(top st.StatusCode) proto.Message {
				return &pb.MultiAnnotationResponse{Status: &st.Status{Code: top}, Annotations: []*pb.Annotation{
					{Id: "r1", Status: &st.Status{Code: st.StatusCode_ANNOTATION_INVALID_ARGUMENT}},
				}}
			},
			want: []st.StatusCode{st.StatusCode_ANNOTATION_INVALID_ARGUMENT},
		},
		{
			name: "PostDatasetInputs",
			req: &pb.PostDatasetInputsRequest{DatasetId: "train", DatasetInputs: []*pb.DatasetInput{
				{Input: &pb.Input{Id: "a"}}, {Input: &pb.Input{Id: "b"}},
			}},
			resp: func(top st.StatusCode) proto.Message {
				return &pb.MultiDatasetInputResponse{Status: &st.Status{Code: top}, DatasetInputs: []*pb.DatasetInput{
					{Input: &pb.Input{Id: "a", Status: &st.Status{Code: st.StatusCode_DATASET_INPUT_SUCCESS}}},
					{Input: &pb.Input{Id: "b", Status: &st.Status{Code: st.StatusCode_DATASET_INPUT_DUPLICATE}}},
				}}
			},
			want: []st.StatusCode{st.StatusCode_DATASET_INPUT_SUCCESS, st.StatusCode_DATASET_INPUT_DUPLICATE},
		},
	}
	for _, tc := range tests {
		for _, top := range []st.StatusCode{st.StatusCode_MIXED_STATUS, st.StatusCode_FAILURE} {
			t.Run(tc.name+"/"+top.String(), func(t *testing.T) {
				f := clienttest.Start(t, func(string, int, proto.Message) (proto.Message, error) { return tc.resp(top), nil })
				c := testClient(t, f, nil)
				req := proto.Clone(tc.req)
				var resp proto.Message
				var err error
				switch r := req.(type) {
				case *pb.PatchInputsRequest:
					resp, err = c.PatchInputs(t.Context(), r)
				case *pb.PatchAnnotationsRequest:
					resp, err = c.PatchAnnotations(t.Context(), r)
				case *pb.PostDatasetInputsRequest:
					resp, err = c.PostDatasetInputs(t.Context(), r)
				}
				var ae *APIError
				switch {
				case top == st.StatusCode_MIXED_STATUS && err != nil:
					t.Fatalf("MIXED_STATUS: err = %v, want nil", err)
				case top == st.StatusCode_FAILURE && (!errors.As(err, &ae) || ae.Class != Permanent || ae.Attempts != 1):
					t.Fatalf("FAILURE: err = %v, want a permanent APIError after one attempt", err)
				}
				if got := itemStatuses(resp); !slices.Equal(got, tc.want) {
					t.Errorf("item statuses %v, want %v", got, tc.want)
				}
				// The request on the wire is the one given, with the user and app filled in.
				want := proto.Clone(tc.req)
				wm := want.ProtoReflect()
				wm.Set(wm.Descriptor().Fields().ByName("user_app_id"),
					protoreflect.ValueOfMessage((&pb.UserAppIDSet{UserId: "me", AppId: "app"}).ProtoReflect()))
				if d := cmp.Diff(want, f.Calls()[0].Req, protocmp.Transform()); d != "" {
					t.Errorf("request on the wire (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestClientPatchInputsStatusesOnly: InputStatuses works for PatchInputs as
// for PostInputs: only each input's ID and status are decoded.
func TestClientPatchInputsStatusesOnly(t *testing.T) {
	resp := echo(4)
	resp.Status = &st.Status{Code: st.StatusCode_MIXED_STATUS}
	f := clienttest.Start(t, func(string, int, proto.Message) (proto.Message, error) { return resp, nil })
	c := testClient(t, f, nil)
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want, err := trimmed(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.PatchInputs(t.Context(), &pb.PatchInputsRequest{Action: "merge"}, InputStatuses())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

// TestClientSyncCallsRetry: the new calls go through the one wrapper:
// throttling and transport errors are retried and counted, a fatal status
// is not.
func TestClientSyncCallsRetry(t *testing.T) {
	for name, call := range map[string]func(*Client) error{
		"StreamInputs": func(c *Client) error { _, err := c.StreamInputs(t.Context(), &pb.StreamInputsRequest{}); return err },
		"PatchAnnotations": func(c *Client) error {
			_, err := c.PatchAnnotations(t.Context(), &pb.PatchAnnotationsRequest{})
			return err
		},
		"DeleteAnnotations": func(c *Client) error {
			_, err := c.DeleteAnnotations(t.Context(), &pb.DeleteAnnotationsRequest{})
			return err
		},
		"PostDatasetInputs": func(c *Client) error {
			_, err := c.PostDatasetInputs(t.Context(), &pb.PostDatasetInputsRequest{})
			return err
		},
		"ListDatasetInputs": func(c *Client) error {
			_, err := c.ListDatasetInputs(t.Context(), &pb.ListDatasetInputsRequest{})
			return err
		},
		"DeleteDatasetInputs": func(c *Client) error {
			_, err := c.DeleteDatasetInputs(t.Context(), &pb.DeleteDatasetInputsRequest{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_CONN_THROTTLED, clienttest.ErrUnavailable, st.StatusCode_SUCCESS))
			c := testClient(t, f, nil)
			if err := call(c); err != nil {
				t.Fatal(err)
			}
			if s := c.cfg.Counters.Snapshot(); s.Requests != 3 || s.Retries != 2 || s.Throttle != 1 {
				t.Errorf("requests/retries/throttle = %d/%d/%d, want 3/2/1", s.Requests, s.Retries, s.Throttle)
			}
			f2 := clienttest.Start(t, clienttest.Sequence(st.StatusCode_CONN_KEY_INVALID, st.StatusCode_SUCCESS))
			var ae *APIError
			if err := call(testClient(t, f2, nil)); !errors.As(err, &ae) || ae.Class != Fatal || len(f2.Calls()) != 1 {
				t.Errorf("CONN_KEY_INVALID: err = %v after %d calls, want one fatal call", err, len(f2.Calls()))
			}
		})
	}
}

// TestClientStreamInputsPaging pages a fake app by last_id to its end, the
// way a caller rebuilding its state from the server does.
func TestClientStreamInputsPaging(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	f := clienttest.Start(t, func(_ string, _ int, req proto.Message) (proto.Message, error) {
		r := req.(*pb.StreamInputsRequest)
		start := 0
		if r.LastId != "" {
			start = slices.Index(ids, r.LastId) + 1
		}
		resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
		for _, id := range ids[start:min(len(ids), start+int(r.PerPage))] {
			resp.Inputs = append(resp.Inputs, &pb.Input{Id: id})
		}
		return resp, nil
	})
	c := testClient(t, f, nil)
	var got []string
	last := ""
	for range 10 { // bounded: 5 inputs at 2 a page end in 3 pages
		resp, err := c.StreamInputs(t.Context(), &pb.StreamInputsRequest{PerPage: 2, LastId: last})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range resp.GetInputs() {
			got = append(got, in.GetId())
		}
		if len(resp.GetInputs()) < 2 {
			break
		}
		last = resp.GetInputs()[len(resp.GetInputs())-1].GetId()
	}
	if !slices.Equal(got, ids) || len(f.Calls()) != 3 {
		t.Errorf("paged %v in %d calls, want %v in 3", got, len(f.Calls()), ids)
	}
}
