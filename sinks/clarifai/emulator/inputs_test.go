package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestPostInputsRequestLevelErrors(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	many := make([]*pb.Input, MaxInputsPerRequest+1)
	for i := range many {
		many[i] = urlInput(fmt.Sprintf("m%d", i))
	}
	video := func(id string) *pb.Input {
		return &pb.Input{Id: id, Data: &pb.Data{Video: &pb.Video{Url: "https://example.com/v.mp4"}}}
	}
	partsVideo := &pb.Input{Id: "pv", Data: &pb.Data{Parts: []*pb.Part{{Data: &pb.Data{Video: &pb.Video{Url: "https://example.com/p.mp4"}}}}}}
	tests := []struct {
		name   string
		req    *pb.PostInputsRequest
		want   statuspb.StatusCode
		detail string
	}{
		{"no inputs", &pb.PostInputsRequest{}, statuspb.StatusCode_INPUT_INVALID_REQUEST, "no inputs"},
		{"129 inputs", &pb.PostInputsRequest{Inputs: many}, statuspb.StatusCode_INPUT_INVALID_REQUEST, "at most 128"},
		{"two videos", &pb.PostInputsRequest{Inputs: []*pb.Input{video("v1"), urlInput("i1"), video("v2")}}, statuspb.StatusCode_INPUT_INVALID_REQUEST, "2 videos"},
		{"video in parts counts", &pb.PostInputsRequest{Inputs: []*pb.Input{video("v3"), partsVideo}}, statuspb.StatusCode_INPUT_INVALID_REQUEST, "2 videos"},
		{"bad job id", &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("j")}, InputsAddJobId: "bad id!"}, statuspb.StatusCode_INPUT_INVALID_REQUEST, "inputs_add_job_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, c, tc.req)
			if code(resp.Status) != tc.want || !strings.Contains(resp.Status.Details, tc.detail) {
				t.Fatalf("status %v, want %v with details containing %q", resp.Status, tc.want, tc.detail)
			}
			if len(resp.Inputs) != 0 {
				t.Errorf("request-level failure returned %d inputs", len(resp.Inputs))
			}
		})
	}
	if n := s.Counts()[testUser+"/"+testApp].Inputs; n != 0 {
		t.Errorf("request-level failures stored %d inputs", n)
	}
}

func TestPostInputsTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a 128 MB request")
	}
	s, c := start(t, Options{RateLimit: -1})
	big := make([]byte, MaxRequestBytes)
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "big", Data: &pb.Data{Video: &pb.Video{Base64: big}}}}})
	if code(resp.Status) != statuspb.StatusCode_RPC_MAX_MESSAGE_SIZE_EXCEEDED {
		t.Fatalf("status %v, want RPC_MAX_MESSAGE_SIZE_EXCEEDED", resp.Status)
	}
	if n := len(s.Inputs(testUser, testApp)); n != 0 {
		t.Errorf("stored %d inputs", n)
	}
}

func TestPostInputsPerInputValidation(t *testing.T) {
	tooBig := make([]byte, MaxFileBytes)
	tests := []struct {
		name   string
		in     *pb.Input
		want   statuspb.StatusCode
		detail string
	}{
		{"url image", urlInput("ok1"), statuspb.StatusCode_INPUT_PENDING, ""},
		{"raw text", &pb.Input{Id: "t1", Data: &pb.Data{Text: &pb.Text{Raw: "hello"}}}, statuspb.StatusCode_INPUT_PENDING, ""},
		{"multimodal image+text", &pb.Input{Id: "mm", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a.png"}, Text: &pb.Text{Raw: "caption"}}}, statuspb.StatusCode_INPUT_PENDING, ""},
		{"parts", &pb.Input{Id: "parts", Data: &pb.Data{Parts: []*pb.Part{{Data: &pb.Data{Text: &pb.Text{Raw: "a"}}}, {Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/b.png"}}}}}}, statuspb.StatusCode_INPUT_PENDING, ""},
		{"bad id chars", urlInput("has space"), statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "input id"},
		{"id too long", urlInput(strings.Repeat("x", DefaultMaxInputIDLength+1)), statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "input id"},
		{"no data", &pb.Input{Id: "nodata"}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "data is missing"},
		{"empty data", &pb.Input{Id: "empty", Data: &pb.Data{}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "no image"},
		{"url and bytes", &pb.Input{Id: "both", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/x", Base64: []byte{1}}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "both"},
		{"empty image", &pb.Input{Id: "none", Data: &pb.Data{Image: &pb.Image{}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "neither"},
		{"malformed url", &pb.Input{Id: "badurl", Data: &pb.Data{Image: &pb.Image{Url: "not a url"}}}, statuspb.StatusCode_INPUT_INVALID_URL, "not a well-formed"},
		{"ftp url", &pb.Input{Id: "ftp", Data: &pb.Data{Audio: &pb.Audio{Url: "ftp://e.com/a.wav"}}}, statuspb.StatusCode_INPUT_INVALID_URL, ""},
		{"image over 20MB", imageInput("huge", tooBig), statuspb.StatusCode_INPUT_OVER_LIMIT, "must be under"},
		{"text over 20MB", &pb.Input{Id: "hugetext", Data: &pb.Data{Text: &pb.Text{Raw: strings.Repeat("a", MaxFileBytes)}}}, statuspb.StatusCode_INPUT_OVER_LIMIT, ""},
		{"concept without id", &pb.Input{Id: "noconcept", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a"}, Concepts: []*pb.Concept{{Name: "x", Value: 1}}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "concepts[0]"},
		{"concept id with a space", conceptInput("cspace", "cell phone"), statuspb.StatusCode_INPUT_INVALID_ARGUMENT, `concepts[0] id "cell phone" must be 1-32 characters`},
		{"concept id too long", conceptInput("clong", strings.Repeat("c", MaxConceptIDLength+1)), statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "concepts[0] id"},
		{"concept id derived", conceptInput("cok", "cell-phone"), statuspb.StatusCode_INPUT_PENDING, ""},
		{"region concept id", &pb.Input{Id: "rconcept", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a"}, Regions: []*pb.Region{{RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: .1, BottomRow: .2, RightCol: 1}}, Data: &pb.Data{Concepts: []*pb.Concept{{Id: "Traffic Light", Value: 1}}}}}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, `regions[0]: concepts[0] id "Traffic Light"`},
		{"bad geo", &pb.Input{Id: "geo", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a"}, Geo: &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: 200}}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "geo"},
		{"bad region", &pb.Input{Id: "region", Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a"}, Regions: []*pb.Region{{RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: .5, BottomRow: .2, RightCol: 1}}}}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "regions[0]"},
		{"bad dataset id", &pb.Input{Id: "dsid", DatasetIds: []string{"no/slash"}, Data: &pb.Data{Image: &pb.Image{Url: "https://e.com/a"}}}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "dataset id"},
	}
	_, c := start(t, Options{RateLimit: -1})
	req := &pb.PostInputsRequest{}
	for _, tc := range tests {
		req.Inputs = append(req.Inputs, proto.CloneOf(tc.in))
	}
	resp := post(t, c, req)
	if code(resp.Status) != statuspb.StatusCode_MIXED_STATUS {
		t.Errorf("top-level status %v, want MIXED_STATUS", resp.Status)
	}
	if len(resp.Inputs) != len(tests) {
		t.Fatalf("got %d inputs back, want %d", len(resp.Inputs), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := resp.Inputs[i]
			if tc.in.Id != "" && got.Id != tc.in.Id {
				t.Errorf("response input %d has id %q, want %q (request order)", i, got.Id, tc.in.Id)
			}
			if code(got.Status) != tc.want || !strings.Contains(got.Status.GetDetails(), tc.detail) {
				t.Fatalf("status %v, want %v with details containing %q", got.Status, tc.want, tc.detail)
			}
			if len(got.GetData().GetImage().GetBase64()) > 0 || got.GetData().GetText().GetRaw() != "" {
				t.Error("response echoes media bytes")
			}
		})
	}
}

func conceptInput(id, concept string) *pb.Input {
	in := urlInput(id)
	in.Data.Concepts = []*pb.Concept{{Id: concept, Name: concept, Value: 1}}
	return in
}

// TestAnyConceptID: with the option, an app takes the concept IDs an older
// client sent verbatim; without it, the same input is refused alone.
func TestAnyConceptID(t *testing.T) {
	for _, anyID := range []bool{false, true} {
		_, c := start(t, Options{RateLimit: -1, AnyConceptID: anyID})
		resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{conceptInput("a", "cell phone"), conceptInput("b", "cat")}})
		want := statuspb.StatusCode_INPUT_INVALID_ARGUMENT
		if anyID {
			want = statuspb.StatusCode_INPUT_PENDING
		}
		if got := code(resp.Inputs[0].Status); got != want {
			t.Errorf("AnyConceptID %v: input with concept \"cell phone\": %v, want %v", anyID, got, want)
		}
		if got := code(resp.Inputs[1].Status); got != statuspb.StatusCode_INPUT_PENDING {
			t.Errorf("AnyConceptID %v: input with concept cat: %v", anyID, got)
		}
	}
}

// TestPostAnnotationsConceptID: an annotation whose region or input-level
// concept breaks the rule is refused alone.
func TestPostAnnotationsConceptID(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("in1")}})
	region := func(concept string) *pb.Annotation {
		return &pb.Annotation{InputId: "in1", Data: &pb.Data{Regions: []*pb.Region{{
			RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: .1, LeftCol: .1, BottomRow: .5, RightCol: .5}},
			Data:       &pb.Data{Concepts: []*pb.Concept{{Id: concept, Name: concept, Value: 1}}},
		}}}}
	}
	resp, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{
		region("cell-phone"), region("cell phone"),
		{InputId: "in1", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "a/b", Value: 1}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", `regions[0]: concepts[0] id "cell phone" must be 1-32 characters`, `concepts[0] id "a/b" must be`} {
		got := resp.Annotations[i].GetStatus()
		if want == "" {
			if code(got) == statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT {
				t.Errorf("annotation %d refused: %v", i, got)
			}
			continue
		}
		if code(got) != statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT || !strings.Contains(got.GetDetails(), want) {
			t.Errorf("annotation %d: %v, want ANNOTATION_INVALID_ARGUMENT with %q", i, got, want)
		}
	}
}

func TestPostInputsAllFailedIsFailure(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1})
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "a"}, {Id: "b"}}})
	if code(resp.Status) != statuspb.StatusCode_FAILURE {
		t.Fatalf("status %v, want FAILURE", resp.Status)
	}
	for _, in := range resp.Inputs {
		if code(in.Status) != statuspb.StatusCode_INPUT_INVALID_ARGUMENT {
			t.Errorf("input %s status %v", in.Id, in.Status)
		}
	}
}

func TestDuplicateIDs(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	if resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("dup")}}); code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("first post: %v", resp.Status)
	}
	for _, mode := range []pb.InputIDConflictResolution{pb.InputIDConflictResolution_INPUT_ID_CONFLICT_RESOLUTION_NOT_SET, pb.InputIDConflictResolution_SKIP} {
		t.Run(mode.String(), func(t *testing.T) {
			resp := post(t, c, &pb.PostInputsRequest{
				InputIdConflictResolution: mode,
				Inputs:                    []*pb.Input{urlInput("dup"), urlInput("fresh-" + mode.String()), urlInput("fresh-" + mode.String())},
			})
			if code(resp.Status) != statuspb.StatusCode_MIXED_STATUS {
				t.Errorf("status %v, want MIXED_STATUS", resp.Status)
			}
			for _, i := range []int{0, 2} {
				st := resp.Inputs[i].Status
				if code(st) != statuspb.StatusCode_INPUT_INVALID_ARGUMENT || st.Details != "Input has a duplicate ID." {
					t.Errorf("input %d status %v, want INPUT_INVALID_ARGUMENT with the SDK's duplicate text", i, st)
				}
			}
			if code(resp.Inputs[1].Status) != statuspb.StatusCode_INPUT_PENDING {
				t.Errorf("first occurrence status %v, want pending", resp.Inputs[1].Status)
			}
		})
	}
	t.Run("SUFFIX", func(t *testing.T) {
		var got []string
		for i := 0; i < 11; i++ {
			resp := post(t, c, &pb.PostInputsRequest{InputIdConflictResolution: pb.InputIDConflictResolution_SUFFIX, Inputs: []*pb.Input{urlInput("dup")}})
			if code(resp.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("post %d: %v", i, resp.Status)
			}
			got = append(got, resp.Inputs[0].Id)
		}
		for k := 1; k <= 9; k++ {
			if want := fmt.Sprintf("dup-%d", k); got[k-1] != want {
				t.Errorf("post %d got id %q, want %q", k, got[k-1], want)
			}
		}
		random := regexp.MustCompile(`^dup-[0-9a-f]{8}$`)
		if !random.MatchString(got[9]) || !random.MatchString(got[10]) || got[9] == got[10] {
			t.Errorf("after -9 got %q and %q, want distinct random suffixes", got[9], got[10])
		}
		resp := post(t, c, &pb.PostInputsRequest{InputIdConflictResolution: pb.InputIDConflictResolution_SUFFIX, Inputs: []*pb.Input{urlInput("twice"), urlInput("twice")}})
		if code(resp.Inputs[0].Status) != statuspb.StatusCode_INPUT_PENDING || resp.Inputs[1].Status.GetDetails() != duplicateIDDetails {
			t.Errorf("same id twice with SUFFIX: %v / %v", resp.Inputs[0].Status, resp.Inputs[1].Status)
		}
	})
	if n := len(s.Inputs(testUser, testApp)); n != 1+2+11+1 {
		t.Errorf("stored %d inputs, want 15", n)
	}
}

func TestGeneratedIDs(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1})
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput(""), urlInput("")}})
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	if !hex32.MatchString(resp.Inputs[0].Id) || !hex32.MatchString(resp.Inputs[1].Id) || resp.Inputs[0].Id == resp.Inputs[1].Id {
		t.Fatalf("generated ids %q, %q", resp.Inputs[0].Id, resp.Inputs[1].Id)
	}
	if got := getInput(t, c, resp.Inputs[1].Id); code(got.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("GetInput of generated id: %v", got.Status)
	}
}

func TestStoredInputKeepsDataWithoutBytes(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{RateLimit: -1, Now: clk.Now})
	png := pngBytes(t)
	md, _ := structpb.NewStruct(map[string]any{"filename": "a.png", "nested": map[string]any{"k": "v"}})
	in := &pb.Input{
		Id:         "full",
		DatasetIds: []string{"train"},
		Data: &pb.Data{
			Image:    &pb.Image{Base64: png},
			Text:     &pb.Text{Raw: "a caption"},
			Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 0.25}},
			Metadata: md,
			Geo:      &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: -30.5, Latitude: 40.25}},
			Regions:  []*pb.Region{{Id: "r1", RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: .1, LeftCol: .1, BottomRow: .5, RightCol: .5}}}},
		},
	}
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{proto.CloneOf(in)}})
	got := s.Inputs(testUser, testApp)
	if len(got) != 1 {
		t.Fatalf("stored %d inputs", len(got))
	}
	sum := sha256.Sum256(png)
	textSum := sha256.Sum256([]byte("a caption"))
	wantContent := []Content{
		{Path: "image", Kind: KindImage, Size: int64(len(png)), SHA256: hex.EncodeToString(sum[:])},
		{Path: "text", Kind: KindText, Size: 9, SHA256: hex.EncodeToString(textSum[:])},
	}
	if diff := cmp.Diff(wantContent, got[0].Content); diff != "" {
		t.Errorf("content (-want +got):\n%s", diff)
	}
	want := proto.CloneOf(in)
	want.Data.Image = &pb.Image{ImageInfo: &pb.ImageInfo{Width: 3, Height: 2, Format: "png"}}
	want.Data.Text = &pb.Text{TextInfo: &pb.TextInfo{CharCount: 9, Encoding: "UTF-8"}}
	want.Status = newStatus(statuspb.StatusCode_INPUT_PENDING, "")
	want.CreatedAt, want.ModifiedAt = ts(clk.Now().UnixNano()), ts(clk.Now().UnixNano())
	if diff := cmp.Diff(want, got[0].Input, protocmp.Transform()); diff != "" {
		t.Errorf("stored input (-want +got):\n%s", diff)
	}
	// GetInput returns the same thing over the wire.
	if diff := cmp.Diff(want, getInput(t, c, "full").Input, protocmp.Transform()); diff != "" {
		t.Errorf("GetInput (-want +got):\n%s", diff)
	}
}

func TestListInputs(t *testing.T) {
	clk := emutest.NewClock()
	_, c := start(t, Options{RateLimit: -1, Now: clk.Now, ProcessingDelay: time.Second})
	var ins []*pb.Input
	for i := 0; i < 10; i++ {
		in := urlInput(fmt.Sprintf("in%02d", i))
		if i%3 == 0 { // these will fail processing
			in = imageInput(fmt.Sprintf("in%02d", i), garbage)
		}
		ins = append(ins, in)
	}
	post(t, c, &pb.PostInputsRequest{Inputs: ins})
	clk.Advance(time.Second)
	list := func(req *pb.ListInputsRequest) ([]string, *statuspb.Status) {
		t.Helper()
		req.UserAppId = uai()
		resp, err := c.ListInputs(authCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range resp.Inputs {
			ids = append(ids, in.Id)
		}
		return ids, resp.Status
	}
	tests := []struct {
		name string
		req  *pb.ListInputsRequest
		want []string
		code statuspb.StatusCode
	}{
		{"all, default paging", &pb.ListInputsRequest{}, []string{"in00", "in01", "in02", "in03", "in04", "in05", "in06", "in07", "in08", "in09"}, statuspb.StatusCode_SUCCESS},
		{"page 2 of 4", &pb.ListInputsRequest{Page: 2, PerPage: 4}, []string{"in04", "in05", "in06", "in07"}, statuspb.StatusCode_SUCCESS},
		{"page past the end", &pb.ListInputsRequest{Page: 9, PerPage: 4}, nil, statuspb.StatusCode_SUCCESS},
		{"status success", &pb.ListInputsRequest{Status: &statuspb.Status{Code: 30000}}, []string{"in01", "in02", "in04", "in05", "in07", "in08"}, statuspb.StatusCode_SUCCESS},
		{"status failed, paged", &pb.ListInputsRequest{Status: &statuspb.Status{Code: statuspb.StatusCode_INPUT_FAILED}, Page: 2, PerPage: 2}, []string{"in06", "in09"}, statuspb.StatusCode_SUCCESS},
		{"ids in creation order, missing ignored", &pb.ListInputsRequest{Ids: []string{"in07", "nope", "in02", "in07"}}, []string{"in02", "in07"}, statuspb.StatusCode_SUCCESS},
		{"ids with status filter", &pb.ListInputsRequest{Ids: []string{"in00", "in01", "in03"}, PerPage: 3, Status: &statuspb.Status{Code: 30000}}, []string{"in01"}, statuspb.StatusCode_SUCCESS},
		{"ids paged", &pb.ListInputsRequest{Ids: []string{"in01", "in02", "in04"}, Page: 2, PerPage: 2}, []string{"in04"}, statuspb.StatusCode_SUCCESS},
		{"per_page 1000 allowed", &pb.ListInputsRequest{PerPage: MaxPerPage, Ids: []string{"in01"}}, []string{"in01"}, statuspb.StatusCode_SUCCESS},
		{"per_page over 1000 rejected", &pb.ListInputsRequest{PerPage: MaxPerPage + 1}, nil, statuspb.StatusCode_FAILURE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, st := list(tc.req)
			if code(st) != tc.code {
				t.Fatalf("status %v, want %v", st, tc.code)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetInputCountAndDelete(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{RateLimit: -1, Now: clk.Now, ProcessingDelay: 10 * time.Second})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a"), urlInput("b"), imageInput("bad", garbage)}})
	clk.Advance(10 * time.Second)
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("p1"), urlInput("p2")}})
	clk.Advance(6 * time.Second) // p1, p2 half-way: in progress
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("new")}})
	count := func() *pb.InputCount {
		t.Helper()
		resp, err := c.GetInputCount(authCtx(t), &pb.GetInputCountRequest{UserAppId: uai()})
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("GetInputCount: %v %v", resp.GetStatus(), err)
		}
		return resp.Counts
	}
	want := &pb.InputCount{Processed: 2, Errors: 1, Processing: 2, ToProcess: 1}
	if diff := cmp.Diff(want, count(), protocmp.Transform()); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}

	ann, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{{InputId: "a", Data: &pb.Data{Concepts: []*pb.Concept{{Id: "x", Value: 1}}}}}})
	if err != nil || code(ann.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("PostAnnotations: %v %v", ann.GetStatus(), err)
	}

	del, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: []string{"a", "bad", "p1", "new", "missing"}})
	if err != nil || code(del.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("DeleteInputs: %v %v", del.GetStatus(), err)
	}
	want = &pb.InputCount{Processed: 1, Processing: 1}
	if diff := cmp.Diff(want, count(), protocmp.Transform()); diff != "" {
		t.Errorf("counts after delete (-want +got):\n%s", diff)
	}
	if got := getInput(t, c, "p1"); code(got.Status) != statuspb.StatusCode_INPUT_DOES_NOT_EXIST {
		t.Errorf("deleted pending input: %v", got.Status)
	}
	if n := len(s.Annotations(testUser, testApp)); n != 0 {
		t.Errorf("%d annotations survive their input", n)
	}
	// A deleted id can be used again, and processing of the old one is not
	// counted when its time comes.
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("p1")}})
	clk.Advance(time.Minute)
	want = &pb.InputCount{Processed: 3}
	if diff := cmp.Diff(want, count(), protocmp.Transform()); diff != "" {
		t.Errorf("counts after re-post (-want +got):\n%s", diff)
	}
	if got := s.Counts()[testUser+"/"+testApp]; got.Inputs != 3 || got.Success != 3 || got.Pending != 0 {
		t.Errorf("Counts = %+v", got)
	}
	empty, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai()})
	if err != nil || code(empty.Status) != statuspb.StatusCode_INPUT_INVALID_REQUEST {
		t.Errorf("DeleteInputs without ids: %v %v", empty.GetStatus(), err)
	}
}

func TestPatchInputs(t *testing.T) {
	mustStruct := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() *pb.Input {
		in := urlInput("p")
		in.Data.Concepts = []*pb.Concept{{Id: "a", Value: 1}, {Id: "b", Value: 1}}
		in.Data.Metadata = mustStruct(map[string]any{"k": "v", "n": map[string]any{"x": 1.0, "y": 2.0}})
		return in
	}
	tests := []struct {
		name         string
		action       string
		patch        *pb.Data
		wantConcepts []*pb.Concept
		wantMeta     map[string]any
	}{
		{
			"merge", actionMerge,
			&pb.Data{Concepts: []*pb.Concept{{Id: "b", Value: 0}, {Id: "c", Value: 1}}, Metadata: mustStruct(map[string]any{"k2": "v2", "n": map[string]any{"y": 3.0}})},
			[]*pb.Concept{{Id: "a", Value: 1}, {Id: "b", Value: 0}, {Id: "c", Value: 1}},
			map[string]any{"k": "v", "k2": "v2", "n": map[string]any{"x": 1.0, "y": 3.0}},
		},
		{
			"overwrite", actionOverwrite,
			&pb.Data{Concepts: []*pb.Concept{{Id: "z", Value: 1}}, Metadata: mustStruct(map[string]any{"only": true})},
			[]*pb.Concept{{Id: "z", Value: 1}},
			map[string]any{"only": true},
		},
		{
			"overwrite metadata only keeps concepts", actionOverwrite,
			&pb.Data{Metadata: mustStruct(map[string]any{"only": true})},
			[]*pb.Concept{{Id: "a", Value: 1}, {Id: "b", Value: 1}},
			map[string]any{"only": true},
		},
		{
			"remove", actionRemove,
			&pb.Data{Concepts: []*pb.Concept{{Id: "a"}}, Metadata: mustStruct(map[string]any{"k": nil, "n": map[string]any{"x": nil}})},
			[]*pb.Concept{{Id: "b", Value: 1}},
			map[string]any{"n": map[string]any{"y": 2.0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t, Options{RateLimit: -1})
			post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{base()}})
			resp, err := c.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: tc.action, Inputs: []*pb.Input{{Id: "p", Data: tc.patch}}})
			if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("PatchInputs: %v %v", resp.GetStatus(), err)
			}
			got := s.Inputs(testUser, testApp)[0].Input.Data
			if diff := cmp.Diff(tc.wantConcepts, got.Concepts, protocmp.Transform()); diff != "" {
				t.Errorf("concepts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMeta, got.Metadata.AsMap()); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, resp.Inputs[0].Data, protocmp.Transform()); diff != "" {
				t.Errorf("response differs from stored (-stored +resp):\n%s", diff)
			}
			if got.Image.GetUrl() == "" {
				t.Error("patch lost the image url")
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		_, c := start(t, Options{RateLimit: -1})
		post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{base()}})
		bad, err := c.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: "upsert", Inputs: []*pb.Input{{Id: "p"}}})
		if err != nil || code(bad.Status) != statuspb.StatusCode_INPUT_INVALID_REQUEST {
			t.Errorf("unknown action: %v %v", bad.GetStatus(), err)
		}
		mixed, err := c.PatchInputs(authCtx(t), &pb.PatchInputsRequest{UserAppId: uai(), Action: actionMerge, Inputs: []*pb.Input{{Id: "p", Data: &pb.Data{}}, {Id: "ghost", Data: &pb.Data{}}}})
		if err != nil || code(mixed.Status) != statuspb.StatusCode_MIXED_STATUS || code(mixed.Inputs[1].Status) != statuspb.StatusCode_INPUT_DOES_NOT_EXIST {
			t.Errorf("missing input: %v %v", mixed, err)
		}
	})
}
