package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

func TestInspectHandler(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("a"), imageInput("b", pngBytes(t))}})
	if _, err := c.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{bboxAnn("x", "a", .1, .1, .2, .2)}}); err != nil {
		t.Fatal(err)
	}
	h := s.InspectHandler()
	get := func(target string, wantCode int, into any) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != wantCode {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		if into != nil {
			if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
				t.Fatalf("GET %s: %v in %s", target, err, rec.Body)
			}
		}
	}
	var counts map[string]AppCounts
	get("/counts", 200, &counts)
	if got := counts[testUser+"/"+testApp]; got.Inputs != 2 || got.Annotations != 1 {
		t.Errorf("/counts: %+v", counts)
	}
	var calls map[string]int64
	get("/calls", 200, &calls)
	if calls["PostInputs"] != 1 || calls["PostAnnotations"] != 1 {
		t.Errorf("/calls: %v", calls)
	}
	var inputs []struct {
		Input   map[string]any `json:"input"`
		Content []Content      `json:"content"`
	}
	get("/inputs?user="+testUser+"&app="+testApp, 200, &inputs)
	if len(inputs) != 2 || inputs[0].Input["id"] != "a" || len(inputs[1].Content) != 1 || inputs[1].Content[0].Kind != KindImage {
		t.Errorf("/inputs: %+v", inputs)
	}
	get("/inputs?user="+testUser+"&app="+testApp+"&limit=1", 200, &inputs)
	if len(inputs) != 1 {
		t.Errorf("/inputs limit=1 gave %d", len(inputs))
	}
	get("/inputs?user=nobody&app=none", 200, &inputs)
	if len(inputs) != 0 {
		t.Errorf("/inputs of a missing app: %+v", inputs)
	}
	var anns []map[string]any
	get("/annotations?user="+testUser+"&app="+testApp, 200, &anns)
	if len(anns) != 1 || anns[0]["id"] != "x" || anns[0]["inputId"] != "a" {
		t.Errorf("/annotations: %v", anns)
	}
	var one struct {
		Input map[string]any `json:"input"`
	}
	get("/input?user="+testUser+"&app="+testApp+"&id=a", 200, &one)
	if one.Input["id"] != "a" {
		t.Errorf("/input: %+v", one)
	}
	get("/input?user="+testUser+"&app="+testApp+"&id=ghost", 404, nil)
	var ids []string
	get("/dataset-inputs?user="+testUser+"&app="+testApp+"&dataset=none", 200, &ids)
	if ids == nil || len(ids) != 0 {
		t.Errorf("/dataset-inputs of a missing dataset: %v", ids)
	}
	if _, err := c.PostDatasetInputs(authCtx(t), &pb.PostDatasetInputsRequest{UserAppId: uai(), DatasetId: "train", DatasetInputs: []*pb.DatasetInput{{Input: &pb.Input{Id: "b"}}}}); err != nil {
		t.Fatal(err)
	}
	get("/dataset-inputs?user="+testUser+"&app="+testApp+"&dataset=train", 200, &ids)
	if len(ids) != 1 || ids[0] != "b" {
		t.Errorf("/dataset-inputs of train: %v", ids)
	}
	get("/pending-deletes?user="+testUser+"&app="+testApp, 200, &ids)
	if len(ids) != 0 {
		t.Errorf("/pending-deletes: %v", ids)
	}
	get("/inputs", 400, nil)
	get("/inputs?user=u&app=a&limit=-1", 400, nil)
	get("/nope", 404, nil)
}
