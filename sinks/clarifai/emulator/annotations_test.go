package emulator

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

func bboxAnn(id, inputID string, top, left, bottom, right float32) *pb.Annotation {
	return &pb.Annotation{Id: id, InputId: inputID, Data: &pb.Data{Regions: []*pb.Region{{
		RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: top, LeftCol: left, BottomRow: bottom, RightCol: right}},
		Data:       &pb.Data{Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}}},
	}}}}
}

func polyAnn(id, inputID string, pts ...[2]float32) *pb.Annotation {
	var ps []*pb.Point
	for _, p := range pts {
		ps = append(ps, &pb.Point{Row: p[1], Col: p[0], Visibility: pb.Point_VISIBLE})
	}
	return &pb.Annotation{Id: id, InputId: inputID, Data: &pb.Data{Regions: []*pb.Region{{
		RegionInfo: &pb.RegionInfo{Polygon: &pb.Polygon{Points: ps}},
		Data:       &pb.Data{Concepts: []*pb.Concept{{Id: "dog", Value: 1}}},
	}}}}
}

func TestPostAnnotations(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("img1"), urlInput("img2")}})
	tests := []struct {
		name   string
		ann    *pb.Annotation
		want   statuspb.StatusCode
		detail string
	}{
		{"bbox", bboxAnn("b1", "img1", .1, .2, .3, .4), statuspb.StatusCode_ANNOTATION_SUCCESS, ""},
		{"full-image bbox", bboxAnn("b2", "img1", 0, 0, 1, 1), statuspb.StatusCode_ANNOTATION_SUCCESS, ""},
		{"generated id", bboxAnn("", "img2", .1, .1, .2, .2), statuspb.StatusCode_ANNOTATION_SUCCESS, ""},
		{"polygon", polyAnn("p1", "img2", [2]float32{0, 0}, [2]float32{1, 0}, [2]float32{.5, 1}), statuspb.StatusCode_ANNOTATION_SUCCESS, ""},
		{"input-level concepts", &pb.Annotation{Id: "c1", InputId: "img1", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "x", Value: 1}}}}, statuspb.StatusCode_ANNOTATION_SUCCESS, ""},
		{"bbox out of range", bboxAnn("bad1", "img1", .1, .2, 1.3, .4), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "outside [0, 1]"},
		{"bbox negative", bboxAnn("bad2", "img1", -.1, .2, .3, .4), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "outside [0, 1]"},
		{"bbox top below bottom", bboxAnn("bad3", "img1", .5, .2, .3, .4), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "top < bottom"},
		{"bbox zero width", bboxAnn("bad4", "img1", .1, .4, .3, .4), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "left < right"},
		{"polygon of 2 points", polyAnn("bad5", "img1", [2]float32{0, 0}, [2]float32{1, 1}), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "at least 3"},
		{"polygon point out of range", polyAnn("bad6", "img1", [2]float32{0, 0}, [2]float32{1.5, 0}, [2]float32{.5, 1}), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "point 1"},
		{"no data", &pb.Annotation{Id: "bad7", InputId: "img1"}, statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "no regions"},
		{"no input id", bboxAnn("bad8", "", .1, .1, .2, .2), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "input_id"},
		{"missing input", bboxAnn("bad9", "ghost", .1, .1, .2, .2), statuspb.StatusCode_INPUT_DOES_NOT_EXIST, "ghost"},
		{"duplicate id in request", bboxAnn("b1", "img1", .1, .1, .2, .2), statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "twice"},
	}
	req := &pb.PostAnnotationsRequest{UserAppId: uai()}
	for _, tc := range tests {
		req.Annotations = append(req.Annotations, tc.ann)
	}
	resp, err := c.PostAnnotations(authCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if code(resp.Status) != statuspb.StatusCode_MIXED_STATUS || len(resp.Annotations) != len(tests) {
		t.Fatalf("status %v with %d annotations", resp.Status, len(resp.Annotations))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := resp.Annotations[i].Status
			if code(st) != tc.want || !strings.Contains(st.GetDetails(), tc.detail) {
				t.Fatalf("status %v, want %v with details containing %q", st, tc.want, tc.detail)
			}
		})
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(resp.Annotations[2].Id) {
		t.Errorf("generated annotation id %q", resp.Annotations[2].Id)
	}
	if n := len(s.Annotations(testUser, testApp)); n != 5 {
		t.Errorf("stored %d annotations, want 5", n)
	}

	// An existing id fails; all failing is FAILURE.
	again, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{bboxAnn("b1", "img1", .1, .1, .2, .2)}})
	if err != nil || code(again.Status) != statuspb.StatusCode_FAILURE || !strings.Contains(again.Annotations[0].Status.GetDetails(), "already exists") {
		t.Errorf("existing id: %v %v", again, err)
	}

	list := func(req *pb.ListAnnotationsRequest) []string {
		t.Helper()
		req.UserAppId = uai()
		resp, err := c.ListAnnotations(authCtx(t), req)
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("ListAnnotations: %v %v", resp.GetStatus(), err)
		}
		var ids []string
		for _, a := range resp.Annotations {
			if code(a.Status) != statuspb.StatusCode_ANNOTATION_SUCCESS || a.Data == nil {
				t.Errorf("listed annotation %v", a)
			}
			ids = append(ids, a.Id)
		}
		return ids
	}
	gen := resp.Annotations[2].Id
	listTests := []struct {
		name string
		req  *pb.ListAnnotationsRequest
		want []string
	}{
		{"all", &pb.ListAnnotationsRequest{}, []string{"b1", "b2", gen, "p1", "c1"}},
		{"by input", &pb.ListAnnotationsRequest{InputIds: []string{"img2"}}, []string{gen, "p1"}},
		{"by ids", &pb.ListAnnotationsRequest{Ids: []string{"c1", "b1", "nope"}}, []string{"b1", "c1"}},
		{"ids and input", &pb.ListAnnotationsRequest{Ids: []string{"c1", "p1"}, InputIds: []string{"img1"}}, []string{"c1"}},
		{"paged", &pb.ListAnnotationsRequest{Page: 2, PerPage: 2}, []string{gen, "p1"}},
		{"by input paged", &pb.ListAnnotationsRequest{InputIds: []string{"img1"}, Page: 2, PerPage: 2}, []string{"c1"}},
	}
	for _, tc := range listTests {
		t.Run("list "+tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, list(tc.req)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDatasets(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	postDS := func(ids ...string) *pb.MultiDatasetResponse {
		t.Helper()
		req := &pb.PostDatasetsRequest{UserAppId: uai()}
		for _, id := range ids {
			req.Datasets = append(req.Datasets, &pb.Dataset{Id: id, Description: "d " + id})
		}
		resp, err := c.PostDatasets(authCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := postDS("one", "two"); code(resp.Status) != statuspb.StatusCode_SUCCESS || len(resp.Datasets) != 2 || resp.Datasets[0].UserId != testUser || resp.Datasets[0].CreatedAt == nil {
		t.Fatalf("PostDatasets: %v", resp)
	}
	atomic := []struct {
		name string
		ids  []string
		want statuspb.StatusCode
	}{
		{"existing id fails all", []string{"three", "one"}, statuspb.StatusCode_DATABASE_DUPLICATE_KEY},
		{"repeated id", []string{"four", "four"}, statuspb.StatusCode_DATABASE_DUPLICATE_KEY},
		{"invalid id", []string{"five", "bad id"}, statuspb.StatusCode_FAILURE},
		{"empty", nil, statuspb.StatusCode_FAILURE},
	}
	for _, tc := range atomic {
		t.Run(tc.name, func(t *testing.T) {
			if resp := postDS(tc.ids...); code(resp.Status) != tc.want || len(resp.Datasets) != 0 {
				t.Fatalf("status %v with %d datasets, want %v and none", resp.Status, len(resp.Datasets), tc.want)
			}
		})
	}
	// Auto-created from dataset_ids.
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "i", DatasetIds: []string{"auto"}, Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/i.png"}}}}})

	list, err := c.ListDatasets(authCtx(t), &pb.ListDatasetsRequest{UserAppId: uai()})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range list.Datasets {
		ids = append(ids, d.Id)
	}
	if diff := cmp.Diff([]string{"one", "two", "auto"}, ids); diff != "" {
		t.Errorf("datasets (-want +got):\n%s", diff)
	}
	got, err := c.GetDataset(authCtx(t), &pb.GetDatasetRequest{UserAppId: uai(), DatasetId: "two"})
	if err != nil || code(got.Status) != statuspb.StatusCode_SUCCESS || got.Dataset.Description != "d two" {
		t.Errorf("GetDataset: %v %v", got, err)
	}
	missing, err := c.GetDataset(authCtx(t), &pb.GetDatasetRequest{UserAppId: uai(), DatasetId: "three"})
	if err != nil || code(missing.Status) != statuspb.StatusCode_CONN_DOES_NOT_EXIST {
		t.Errorf("GetDataset of a dataset from a failed atomic post: %v %v", missing, err)
	}
	if n := s.Counts()[testUser+"/"+testApp].Datasets; n != 3 {
		t.Errorf("Counts has %d datasets", n)
	}
}

func TestNoAutoCreateDatasets(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1, Apps: []string{testUser + "/" + testApp}, NoAutoCreateApps: true})
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "i", DatasetIds: []string{"nope"}, Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/i.png"}}}}})
	if code(resp.Inputs[0].Status) != statuspb.StatusCode_INPUT_INVALID_ARGUMENT || !strings.Contains(resp.Inputs[0].Status.Details, "does not exist") {
		t.Fatalf("input with unknown dataset: %v", resp.Inputs[0].Status)
	}
}
