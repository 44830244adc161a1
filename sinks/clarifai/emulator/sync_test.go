package emulator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

// Tests of the calls that change what an app already holds: PatchInputs,
// PatchAnnotations, DeleteAnnotations, the dataset-input calls,
// StreamInputs and asynchronous DeleteInputs.

func mustStruct(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func geo(lon, lat float32) *pb.Geo {
	return &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: lon, Latitude: lat}}
}

func TestPatchInputsFields(t *testing.T) {
	type want struct {
		concepts map[string]float32
		meta     map[string]any
		geo      []float32 // nil: none
	}
	base := want{map[string]float32{"cat": 1, "tree": 1}, map[string]any{"k": "v", "row": 1.0}, []float32{10, 20}}
	tests := []struct {
		name   string
		action string
		patch  *pb.Data
		status statuspb.StatusCode // of the input; 0: its processing status
		want   want
	}{
		{"merge makes a label negative", actionMerge, &pb.Data{Concepts: []*pb.Concept{{Id: "tree", Value: 0}, {Id: "water", Value: 1}}},
			0, want{map[string]float32{"cat": 1, "tree": 0, "water": 1}, base.meta, base.geo}},
		{"merge geo replaces", actionMerge, &pb.Data{Geo: geo(-1.5, 2.5)}, 0, want{base.concepts, base.meta, []float32{-1.5, 2.5}}},
		{"overwrite labels cat to lion", actionOverwrite, &pb.Data{Concepts: []*pb.Concept{{Id: "lion", Name: "lion", Value: 1}}},
			0, want{map[string]float32{"lion": 1}, base.meta, base.geo}},
		{"overwrite metadata whole", actionOverwrite, &pb.Data{Metadata: mustStruct(t, map[string]any{"split": "test"})},
			0, want{base.concepts, map[string]any{"split": "test"}, base.geo}},
		{"overwrite geo", actionOverwrite, &pb.Data{Geo: geo(3, 4)}, 0, want{base.concepts, base.meta, []float32{3, 4}}},
		{"remove label", actionRemove, &pb.Data{Concepts: []*pb.Concept{{Id: "tree"}}}, 0, want{map[string]float32{"cat": 1}, base.meta, base.geo}},
		{"remove every label", actionRemove, &pb.Data{Concepts: []*pb.Concept{{Id: "tree"}, {Id: "cat"}}}, 0, want{map[string]float32{}, base.meta, base.geo}},
		{"remove metadata key and geo", actionRemove, &pb.Data{Metadata: mustStruct(t, map[string]any{"row": nil}), Geo: geo(0, 0)},
			0, want{base.concepts, map[string]any{"k": "v"}, nil}},
		{"bad concept id changes nothing", actionMerge, &pb.Data{Concepts: []*pb.Concept{{Id: "has space", Value: 1}}},
			statuspb.StatusCode_INPUT_INVALID_ARGUMENT, base},
		{"geo out of range changes nothing", actionOverwrite, &pb.Data{Geo: geo(200, 0)}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, base},
		{"regions and media are not patched", actionOverwrite, &pb.Data{Image: &pb.Image{Url: "https://example.com/other.jpg"},
			Regions: []*pb.Region{{Id: "r"}}}, 0, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t, Options{RateLimit: -1, ProcessingDelay: -1})
			in := urlInput("p")
			in.Data.Concepts = []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}, {Id: "tree", Name: "tree", Value: 1}}
			in.Data.Metadata = mustStruct(t, map[string]any{"k": "v", "row": 1})
			in.Data.Geo = geo(10, 20)
			post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{in}})
			resp, err := c.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: tc.action, Inputs: []*pb.Input{{Id: "p", Data: tc.patch}}})
			if err != nil {
				t.Fatal(err)
			}
			wantCode := tc.status
			if wantCode == 0 {
				wantCode = statuspb.StatusCode_INPUT_SUCCESS
			}
			if got := code(resp.Inputs[0].Status); got != wantCode {
				t.Fatalf("input status %v (%s), want %v", got, resp.Inputs[0].Status.GetDetails(), wantCode)
			}
			if diff := cmp.Diff(tc.want.concepts, s.InputConcepts(testUser, testApp, "p")); diff != "" {
				t.Errorf("concepts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.meta, s.InputMetadata(testUser, testApp, "p")); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			lon, lat, ok := s.InputGeo(testUser, testApp, "p")
			if (tc.want.geo == nil) == ok || ok && (lon != tc.want.geo[0] || lat != tc.want.geo[1]) {
				t.Errorf("geo = (%v, %v, %v), want %v", lon, lat, ok, tc.want.geo)
			}
			if got, _ := s.Input(testUser, testApp, "p"); got.Input.GetData().GetImage().GetUrl() != in.Data.Image.Url {
				t.Errorf("image url became %q", got.Input.GetData().GetImage().GetUrl())
			}
		})
	}
}

func TestPatchInputsRequestErrors(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, ReadOnlyPATs: []string{"reader"}})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a")}})
	many := make([]*pb.Input, MaxInputsPerRequest+1)
	for i := range many {
		many[i] = &pb.Input{Id: "a", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "x", Value: 1}}}}
	}
	patch := []*pb.Input{{Id: "a", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "dog", Value: 1}}}}}
	for _, tc := range []struct {
		name string
		auth string
		req  *pb.PatchInputsRequest
		want statuspb.StatusCode
	}{
		{"bad action", "Key " + testPAT, &pb.PatchInputsRequest{Action: "upsert", Inputs: patch}, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"no inputs", "Key " + testPAT, &pb.PatchInputsRequest{Action: actionMerge}, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"129 inputs", "Key " + testPAT, &pb.PatchInputsRequest{Action: actionMerge, Inputs: many}, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"read-only key", "Key reader", &pb.PatchInputsRequest{Action: actionMerge, Inputs: patch}, statuspb.StatusCode_CONN_INSUFFICIENT_SCOPES},
		{"no key", "", &pb.PatchInputsRequest{Action: actionMerge, Inputs: patch}, statuspb.StatusCode_CONN_KEY_INVALID},
		{"all unknown", "Key " + testPAT, &pb.PatchInputsRequest{Action: actionMerge, Inputs: []*pb.Input{{Id: "ghost"}, {}}}, statuspb.StatusCode_FAILURE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.UserAppId = uai()
			resp, err := c.PatchInputs(keyCtx(t, tc.auth), tc.req)
			if err != nil || code(resp.Status) != tc.want {
				t.Fatalf("status %v, err %v; want %v", resp.GetStatus(), err, tc.want)
			}
		})
	}
	if got := s.InputConcepts(testUser, testApp, "a"); !cmp.Equal(got, map[string]float32{"cat": 1}) {
		t.Errorf("refused calls changed the input: %v", got)
	}
	// Throttled calls change nothing either.
	ts, tc := start(t, Options{RateLimit: 1})
	post(t, tc, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a")}})
	resp, err := tc.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: actionOverwrite, Inputs: patch})
	if err != nil || code(resp.Status) != statuspb.StatusCode_CONN_THROTTLED {
		t.Fatalf("second call of a 1/s app: %v %v, want CONN_THROTTLED", resp.GetStatus(), err)
	}
	if got := ts.InputConcepts(testUser, testApp, "a"); !cmp.Equal(got, map[string]float32{"cat": 1}) {
		t.Errorf("a throttled patch changed the input: %v", got)
	}
}

func region(id string, top float32, concepts ...string) *pb.Region {
	r := &pb.Region{Id: id, RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: top, LeftCol: .1, BottomRow: top + .1, RightCol: .2}}}
	if len(concepts) > 0 {
		r.Data = &pb.Data{}
		for _, c := range concepts {
			r.Data.Concepts = append(r.Data.Concepts, &pb.Concept{Id: c, Name: c, Value: 1})
		}
	}
	return r
}

// regionSummary is "id@top:concepts" per region, for compact assertions.
func regionSummary(an *pb.Annotation) []string {
	var out []string
	for _, r := range an.GetData().GetRegions() {
		var cs []string
		for _, c := range r.GetData().GetConcepts() {
			cs = append(cs, fmt.Sprintf("%s=%g", c.Id, c.Value))
		}
		out = append(out, fmt.Sprintf("%s@%.1f:%s", r.GetId(), r.GetRegionInfo().GetBoundingBox().GetTopRow(), strings.Join(cs, ",")))
	}
	return out
}

func TestPatchAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		del     bool
		patch   *pb.Annotation
		status  statuspb.StatusCode
		regions []string // of annotation "an" afterwards; nil with gone
		gone    bool
	}{
		{"merge moves a box", actionMerge, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{region("r1", .5)}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r1@0.5:cat=1", "r2@0.3:dog=1"}, false},
		{"merge relabels a region", actionMerge, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{
			{Id: "r2", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "dog", Value: 0}, {Id: "wolf", Value: 1}}}}}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r1@0.1:cat=1", "r2@0.3:dog=0,wolf=1"}, false},
		{"merge adds a region", actionMerge, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{region("r3", .7, "owl")}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r1@0.1:cat=1", "r2@0.3:dog=1", "r3@0.7:owl=1"}, false},
		{"overwrite replaces the regions", actionOverwrite, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{region("r9", .2, "cow")}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r9@0.2:cow=1"}, false},
		{"remove a region", actionRemove, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{{Id: "r1"}}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r2@0.3:dog=1"}, false},
		{"remove a region's label", actionRemove, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{
			{Id: "r2", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "dog"}}}}}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, []string{"r1@0.1:cat=1", "r2@0.3:"}, false},
		{"remove all keeps an empty annotation", actionRemove, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{{Id: "r1"}, {Id: "r2"}}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, nil, false},
		{"remove all with delete_if_empty_data deletes it", actionRemove, true, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{{Id: "r1"}, {Id: "r2"}}}},
			statuspb.StatusCode_ANNOTATION_SUCCESS, nil, true},
		{"unknown annotation", actionMerge, false, &pb.Annotation{Id: "nope", Data: &pb.Data{Regions: []*pb.Region{region("r1", .5)}}},
			statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, []string{"r1@0.1:cat=1", "r2@0.3:dog=1"}, false},
		{"another input", actionMerge, false, &pb.Annotation{Id: "an", InputId: "other", Data: &pb.Data{Regions: []*pb.Region{region("r1", .5)}}},
			statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, []string{"r1@0.1:cat=1", "r2@0.3:dog=1"}, false},
		{"bad geometry changes nothing", actionMerge, false, &pb.Annotation{Id: "an", Data: &pb.Data{Regions: []*pb.Region{region("r1", .95)}}},
			statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, []string{"r1@0.1:cat=1", "r2@0.3:dog=1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t, Options{RateLimit: -1})
			post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("img"), urlInput("other")}})
			ann := &pb.Annotation{Id: "an", InputId: "img", Data: &pb.Data{Regions: []*pb.Region{region("r1", .1, "cat"), region("r2", .3, "dog")}}}
			if resp, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{ann}}); err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("PostAnnotations: %v %v", resp.GetStatus(), err)
			}
			resp, err := c.PatchAnnotations(authCtx(t), &pb.PatchAnnotationsRequest{UserAppId: uai(), Action: tc.action, DeleteIfEmptyData: tc.del, Annotations: []*pb.Annotation{tc.patch}})
			if err != nil || len(resp.Annotations) != 1 {
				t.Fatalf("PatchAnnotations: %v %v", resp, err)
			}
			if got := code(resp.Annotations[0].Status); got != tc.status {
				t.Fatalf("status %v (%s), want %v", got, resp.Annotations[0].Status.GetDetails(), tc.status)
			}
			got, ok := s.Annotation(testUser, testApp, "an")
			if ok == tc.gone {
				t.Fatalf("annotation exists = %v, want %v", ok, !tc.gone)
			}
			if diff := cmp.Diff(tc.regions, regionSummary(got)); diff != "" {
				t.Errorf("regions (-want +got):\n%s", diff)
			}
			if n := len(s.InputAnnotations(testUser, testApp, "img")); n != 1-b2i(tc.gone) {
				t.Errorf("input has %d annotations", n)
			}
		})
	}
	t.Run("request errors", func(t *testing.T) {
		_, c := start(t, Options{RateLimit: -1})
		many := make([]*pb.Annotation, maxAnnotationsPerRequest+1)
		for i := range many {
			many[i] = &pb.Annotation{Id: "x"}
		}
		for name, req := range map[string]*pb.PatchAnnotationsRequest{
			"bad action": {Action: "replace", Annotations: []*pb.Annotation{{Id: "x"}}},
			"none":       {Action: actionMerge},
			"129":        {Action: actionMerge, Annotations: many},
		} {
			req.UserAppId = uai()
			resp, err := c.PatchAnnotations(authCtx(t), req)
			if err != nil || code(resp.Status) == statuspb.StatusCode_SUCCESS || len(resp.Annotations) != 0 {
				t.Errorf("%s: %v %v, want a failed call", name, resp.GetStatus(), err)
			}
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDeleteAnnotations(t *testing.T) {
	tests := []struct {
		name string
		req  *pb.DeleteAnnotationsRequest
		want statuspb.StatusCode
		left []string
	}{
		{"by ids", &pb.DeleteAnnotationsRequest{Ids: []string{"a1", "b1", "nope"}}, statuspb.StatusCode_SUCCESS, []string{"a2"}},
		{"by input", &pb.DeleteAnnotationsRequest{InputIds: []string{"a"}}, statuspb.StatusCode_SUCCESS, []string{"b1"}},
		{"ids within inputs", &pb.DeleteAnnotationsRequest{Ids: []string{"a1", "b1"}, InputIds: []string{"b"}}, statuspb.StatusCode_SUCCESS, []string{"a1", "a2"}},
		{"neither", &pb.DeleteAnnotationsRequest{}, statuspb.StatusCode_FAILURE, []string{"a1", "a2", "b1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t, Options{RateLimit: -1})
			post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a"), urlInput("b")}})
			if _, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{
				bboxAnn("a1", "a", .1, .1, .2, .2), bboxAnn("a2", "a", .3, .3, .4, .4), bboxAnn("b1", "b", .1, .1, .2, .2),
			}}); err != nil {
				t.Fatal(err)
			}
			tc.req.UserAppId = uai()
			resp, err := c.DeleteAnnotations(authCtx(t), tc.req)
			if err != nil || code(resp.Status) != tc.want {
				t.Fatalf("DeleteAnnotations: %v %v, want %v", resp.GetStatus(), err, tc.want)
			}
			var left []string
			for _, an := range s.Annotations(testUser, testApp) {
				left = append(left, an.Id)
			}
			if diff := cmp.Diff(tc.left, left); diff != "" {
				t.Errorf("annotations left (-want +got):\n%s", diff)
			}
			// ListAnnotations by input must not list deleted annotations.
			list, err := c.ListAnnotations(authCtx(t), &pb.ListAnnotationsRequest{UserAppId: uai(), InputIds: []string{"a", "b"}})
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, an := range list.Annotations {
				listed = append(listed, an.Id)
			}
			if diff := cmp.Diff(tc.left, listed); diff != "" {
				t.Errorf("ListAnnotations by input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDatasetInputs(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	in := urlInput("a")
	in.DatasetIds = []string{"train"}
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{in, urlInput("b"), urlInput("c")}})
	di := func(ids ...string) []*pb.DatasetInput {
		var out []*pb.DatasetInput
		for _, id := range ids {
			out = append(out, &pb.DatasetInput{Input: &pb.Input{Id: id}})
		}
		return out
	}
	resp, err := c.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "train", DatasetInputs: di("a", "b", "ghost", "c")})
	if err != nil || code(resp.Status) != statuspb.StatusCode_MIXED_STATUS {
		t.Fatalf("PostDatasetInputs: %v %v", resp.GetStatus(), err)
	}
	var codes []statuspb.StatusCode
	for _, d := range resp.DatasetInputs {
		codes = append(codes, code(d.GetInput().GetStatus()))
	}
	if want := []statuspb.StatusCode{statuspb.StatusCode_DATASET_INPUT_DUPLICATE, statuspb.StatusCode_DATASET_INPUT_SUCCESS,
		statuspb.StatusCode_INPUT_DOES_NOT_EXIST, statuspb.StatusCode_DATASET_INPUT_SUCCESS}; !slices.Equal(codes, want) {
		t.Errorf("per-item codes %v, want %v", codes, want)
	}
	if got := s.DatasetInputIDs(testUser, testApp, "train"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("train holds %v", got)
	}
	// A new dataset is created on demand, as PostInputs does.
	if resp, err := c.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "test", DatasetInputs: di("b")}); err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("PostDatasetInputs to a new dataset: %v %v", resp.GetStatus(), err)
	}
	if got := s.InputDatasets(testUser, testApp, "b"); !slices.Equal(got, []string{"test", "train"}) {
		t.Errorf("b is in %v", got)
	}

	list := func(page, perPage uint32) []string {
		resp, err := c.ListDatasetInputs(authCtx(t), &pb.ListDatasetInputsRequest{UserAppId: uai(), DatasetId: "train", Page: page, PerPage: perPage})
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("ListDatasetInputs: %v %v", resp.GetStatus(), err)
		}
		var ids []string
		for _, d := range resp.DatasetInputs {
			ids = append(ids, d.GetInput().GetId())
		}
		return ids
	}
	if got := list(2, 2); !slices.Equal(got, []string{"c"}) {
		t.Errorf("page 2 of 2: %v", got)
	}

	del, err := c.DeleteDatasetInputs(authCtx(t), &pb.DeleteDatasetInputsRequest{UserAppId: uai(), DatasetId: "train", InputIds: []string{"a", "ghost", "b"}})
	if err != nil || code(del.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("DeleteDatasetInputs: %v %v", del.GetStatus(), err)
	}
	if got := list(1, 0); !slices.Equal(got, []string{"c"}) {
		t.Errorf("train after removing a and b: %v", got)
	}
	if _, ok := s.Input(testUser, testApp, "a"); !ok {
		t.Error("removing an input from a dataset deleted it")
	}
	if got := s.InputDatasets(testUser, testApp, "b"); !slices.Equal(got, []string{"test"}) {
		t.Errorf("b is in %v, want [test]", got)
	}

	for name, call := range map[string]func() statuspb.StatusCode{
		"list missing dataset": func() statuspb.StatusCode {
			r, _ := c.ListDatasetInputs(authCtx(t), &pb.ListDatasetInputsRequest{UserAppId: uai(), DatasetId: "nope"})
			return code(r.GetStatus())
		},
		"delete from missing dataset": func() statuspb.StatusCode {
			r, _ := c.DeleteDatasetInputs(authCtx(t), &pb.DeleteDatasetInputsRequest{UserAppId: uai(), DatasetId: "nope", InputIds: []string{"a"}})
			return code(r.GetStatus())
		},
		"delete without ids": func() statuspb.StatusCode {
			r, _ := c.DeleteDatasetInputs(authCtx(t), &pb.DeleteDatasetInputsRequest{UserAppId: uai(), DatasetId: "train"})
			return code(r.GetStatus())
		},
		"post nothing": func() statuspb.StatusCode {
			r, _ := c.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "train"})
			return code(r.GetStatus())
		},
		"post 129": func() statuspb.StatusCode {
			r, _ := c.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "train", DatasetInputs: make([]*pb.DatasetInput, 129)})
			return code(r.GetStatus())
		},
	} {
		if got := call(); got == statuspb.StatusCode_SUCCESS || got == statuspb.StatusCode_ZERO {
			t.Errorf("%s: %v, want an error status", name, got)
		}
	}

	// Without auto-creation, a missing dataset is CONN_DOES_NOT_EXIST.
	_, strict := start(t, Options{RateLimit: -1, Apps: []string{testUser + "/" + testApp}, NoAutoCreateApps: true})
	post(t, strict, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a")}})
	r, err := strict.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "nope", DatasetInputs: di("a")})
	if err != nil || code(r.Status) != statuspb.StatusCode_CONN_DOES_NOT_EXIST {
		t.Errorf("strict PostDatasetInputs: %v %v", r.GetStatus(), err)
	}
}

// streamAll pages StreamInputs to its end and returns the ids in order.
func streamAll(t *testing.T, c pb.V2Client, perPage uint32, desc, byID bool) []string {
	t.Helper()
	var ids []string
	last := ""
	for range 100 {
		resp, err := c.StreamInputs(authCtx(t), &pb.StreamInputsRequest{UserAppId: uai(), PerPage: perPage, LastId: last, Descending: desc, OrderById: byID})
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("StreamInputs after %q: %v %v", last, resp.GetStatus(), err)
		}
		for _, in := range resp.Inputs {
			if in.GetStatus() == nil || in.GetData() == nil {
				t.Fatalf("input %s comes without status or data", in.Id)
			}
			ids = append(ids, in.Id)
		}
		if len(resp.Inputs) < int(perPage) {
			return ids
		}
		last = resp.Inputs[len(resp.Inputs)-1].Id
	}
	t.Fatal("StreamInputs did not end")
	return nil
}

func TestStreamInputs(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1})
	created := []string{"m", "c", "x", "a", "q", "b", "z"}
	var ins []*pb.Input
	for _, id := range created {
		ins = append(ins, labeledInput(id))
	}
	post(t, c, &pb.PostInputsRequest{Inputs: ins})
	byID := slices.Sorted(slices.Values(created))
	rev := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }
	for _, tc := range []struct {
		name     string
		perPage  uint32
		desc, id bool
		want     []string
	}{
		{"creation order", 3, false, false, created},
		{"creation order, one page", 0, false, false, created},
		{"creation order descending", 2, true, false, rev(created)},
		{"by id", 3, false, true, byID},
		{"by id descending", 4, true, true, rev(byID)},
		{"exact pages", 7, false, true, byID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perPage := tc.perPage
			if perPage == 0 {
				perPage = DefaultPerPage
			}
			if got := streamAll(t, c, perPage, tc.desc, tc.id); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		for name, req := range map[string]*pb.StreamInputsRequest{
			"per_page over 1000":           {PerPage: MaxPerPage + 1},
			"unknown last_id, by creation": {LastId: "ghost"},
		} {
			req.UserAppId = uai()
			resp, err := c.StreamInputs(authCtx(t), req)
			if err != nil || code(resp.Status) == statuspb.StatusCode_SUCCESS {
				t.Errorf("%s: %v %v, want an error status", name, resp.GetStatus(), err)
			}
		}
		// By id, any last_id is a place: after "n" come q, x, z.
		resp, err := c.StreamInputs(authCtx(t), &pb.StreamInputsRequest{UserAppId: uai(), LastId: "n", OrderById: true})
		if err != nil || len(resp.Inputs) != 3 || resp.Inputs[0].Id != "q" {
			t.Errorf("by id after a missing id: %v %v", resp, err)
		}
	})
	t.Run("changes while paging by id", func(t *testing.T) {
		first, err := c.StreamInputs(authCtx(t), &pb.StreamInputsRequest{UserAppId: uai(), PerPage: 3, OrderById: true})
		if err != nil || len(first.Inputs) != 3 {
			t.Fatal(first, err)
		}
		// a, b, c seen; now delete c (the last seen) and q, add n and d.
		if _, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: []string{"c", "q"}}); err != nil {
			t.Fatal(err)
		}
		post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("n"), labeledInput("d")}})
		rest, err := c.StreamInputs(authCtx(t), &pb.StreamInputsRequest{UserAppId: uai(), PerPage: 10, LastId: "c", OrderById: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range rest.Inputs {
			got = append(got, in.Id)
		}
		if want := []string{"d", "m", "n", "x", "z"}; !slices.Equal(got, want) {
			t.Errorf("rest %v, want %v", got, want)
		}
	})
}

func TestDeleteInputsAsynchronous(t *testing.T) {
	dir := t.TempDir()
	clk := emutest.NewClock()
	opts := Options{RateLimit: -1, Now: clk.Now, ProcessingDelay: -1, DeleteDelay: 2 * time.Second, StateDir: dir, SaveInterval: -1}
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr())
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a"), labeledInput("b"), labeledInput("keep")}})
	if _, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{bboxAnn("ann", "a", .1, .1, .2, .2)}}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: []string{"a", "ghost"}})
	if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("DeleteInputs: %v %v", resp.GetStatus(), err)
	}
	clk.Advance(time.Second)
	if _, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: []string{"b", "a"}}); err != nil {
		t.Fatal(err)
	}
	// Not due yet: still there, still listed, its id still taken.
	if got := s.PendingDeletes(testUser, testApp); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("pending deletes %v, want [a b]", got)
	}
	if g := getInput(t, c, "a"); code(g.Status) != statuspb.StatusCode_SUCCESS {
		t.Errorf("GetInput before the delete is due: %v", g.Status)
	}
	if got := streamAll(t, c, 10, false, false); !slices.Equal(got, []string{"a", "b", "keep"}) {
		t.Errorf("listed before the delete is due: %v", got)
	}
	again := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a")}})
	if d := again.Inputs[0].GetStatus().GetDetails(); d != duplicateIDDetails {
		t.Errorf("posting a's id while it is being deleted: %v, want a duplicate ID", again.Inputs[0].GetStatus())
	}
	// The state is saved with the deletions pending, and they go on after a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, c2 := start(t, opts)
	if got := s2.PendingDeletes(testUser, testApp); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("pending deletes after a restart %v, want [a b]", got)
	}
	clk.Advance(time.Second) // a is due, b is not
	if g := getInput(t, c2, "a"); code(g.Status) != statuspb.StatusCode_INPUT_DOES_NOT_EXIST {
		t.Errorf("GetInput once the delete is due: %v", g.Status)
	}
	if _, ok := s2.Annotation(testUser, testApp, "ann"); ok {
		t.Error("a's annotation survived a")
	}
	if got := s2.PendingDeletes(testUser, testApp); !slices.Equal(got, []string{"b"}) {
		t.Errorf("pending deletes %v, want [b]", got)
	}
	clk.Advance(time.Second)
	if got := s2.Counts()[testUser+"/"+testApp]; got.Inputs != 1 || got.Annotations != 0 {
		t.Errorf("counts after both deletes %+v, want 1 input, 0 annotations", got)
	}
	if again := post(t, c2, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a")}}); code(again.Status) != statuspb.StatusCode_SUCCESS {
		t.Errorf("posting a's id once it is gone: %v", again.Status)
	}
}

// TestSyncStatePersists: patched data, patched annotations and dataset
// membership survive a restart.
func TestSyncStatePersists(t *testing.T) {
	dir := t.TempDir()
	opts := Options{RateLimit: -1, StateDir: dir, SaveInterval: -1}
	s1, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	c1 := dial(t, s1.Addr())
	post(t, c1, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a")}})
	calls := []func() error{
		func() error {
			_, err := c1.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: actionOverwrite, Inputs: []*pb.Input{{Id: "a", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "lion", Value: 1}}}}}})
			return err
		},
		func() error {
			_, err := c1.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{bboxAnn("ann", "a", .1, .1, .2, .2)}})
			return err
		},
		func() error {
			_, err := c1.PatchAnnotations(authCtx(t), &pb.PatchAnnotationsRequest{UserAppId: uai(), Action: actionOverwrite, Annotations: []*pb.Annotation{{Id: "ann", Data: &pb.Data{Regions: []*pb.Region{region("r", .5, "lion")}}}}})
			return err
		},
		func() error {
			_, err := c1.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "val", DatasetInputs: []*pb.DatasetInput{{Input: &pb.Input{Id: "a"}}}})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	wantAnn, _ := s1.Annotation(testUser, testApp, "ann")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := start(t, opts)
	if got := s2.InputConcepts(testUser, testApp, "a"); !cmp.Equal(got, map[string]float32{"lion": 1}) {
		t.Errorf("concepts after restart %v", got)
	}
	if got, _ := s2.Annotation(testUser, testApp, "ann"); !cmp.Equal(got, wantAnn, protocmp.Transform()) {
		t.Errorf("annotation after restart %v, want %v", got, wantAnn)
	}
	if got := s2.DatasetInputIDs(testUser, testApp, "val"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("dataset val after restart %v", got)
	}
}

// BenchmarkStreamInputs measures one page of 1,000 inputs from the middle of
// an app of 100,000, in-process, by creation and by id: the cost of each
// call of a client rebuilding its state from the server.
func BenchmarkStreamInputs(b *testing.B) {
	s, p, ctx := appOf100k(b)
	defer s.Close()
	for _, byID := range []bool{false, true} {
		b.Run(fmt.Sprintf("order_by_id=%v", byID), func(b *testing.B) {
			req := &pb.StreamInputsRequest{UserAppId: uai(), PerPage: MaxPerPage, LastId: "b390-0", OrderById: byID}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := call(ctx, p, "StreamInputs", req, p.svc.StreamInputs)
				if err != nil || len(resp.Inputs) != MaxPerPage {
					b.Fatalf("%d inputs, %v %v", len(resp.GetInputs()), resp.GetStatus(), err)
				}
			}
		})
	}
}
