package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clk := emutest.NewClock()
	opts := Options{RateLimit: -1, Now: clk.Now, StateDir: dir, SaveInterval: -1, ProcessingDelay: 10 * time.Second}

	s1, err := Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	c1 := dial(t, s1.Addr())
	post(t, c1, &pb.PostInputsRequest{InputsAddJobId: "job", Inputs: []*pb.Input{
		labeledInput("a"), imageInput("b", pngBytes(t)), imageInput("bad", garbage), labeledInput("gone"),
	}})
	clk.Advance(10 * time.Second)
	post(t, c1, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "late", DatasetIds: []string{"ds"}, Data: &pb.Data{Text: &pb.Text{Raw: "pending at close"}}}}})
	if _, err := c1.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: []string{"gone"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.PostAnnotations(authCtx(t), &pb.PostAnnotationsRequest{UserAppId: uai(), Annotations: []*pb.Annotation{bboxAnn("ann", "a", .1, .1, .2, .2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.PostDatasets(authCtx(t), &pb.PostDatasetsRequest{UserAppId: uai(), Datasets: []*pb.Dataset{{Id: "explicit", Description: "kept"}}}); err != nil {
		t.Fatal(err)
	}
	wantInputs := s1.Inputs(testUser, testApp)
	wantAnns := s1.Annotations(testUser, testApp)
	wantCounts := s1.Counts()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, c2 := start(t, opts)
	if diff := cmp.Diff(wantInputs, s2.Inputs(testUser, testApp), protocmp.Transform()); diff != "" {
		t.Errorf("inputs after restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAnns, s2.Annotations(testUser, testApp), protocmp.Transform()); diff != "" {
		t.Errorf("annotations after restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCounts, s2.Counts()); diff != "" {
		t.Errorf("counts after restart (-want +got):\n%s", diff)
	}
	// Pending work goes on after the restart; the job survived too.
	clk.Advance(10 * time.Second)
	if st := getInput(t, c2, "late").Input.Status; code(st) != statuspb.StatusCode_INPUT_SUCCESS {
		t.Errorf("late input after restart: %v", st)
	}
	j, err := c2.GetInputsAddJob(authCtx(t), &pb.GetInputsAddJobRequest{UserAppId: uai(), Id: "job"})
	if err != nil || j.InputsAddJob.GetProgress().GetSuccessCount() != 3 || j.InputsAddJob.Progress.FailedCount != 1 {
		t.Errorf("job after restart: %v %v", j, err)
	}
	ds, err := c2.GetDataset(authCtx(t), &pb.GetDatasetRequest{UserAppId: uai(), DatasetId: "explicit"})
	if err != nil || ds.Dataset.GetDescription() != "kept" {
		t.Errorf("dataset after restart: %v %v", ds, err)
	}
	// New ids do not collide with restored ones.
	resp := post(t, c2, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a"), urlInput("gone")}})
	if resp.Inputs[0].Status.GetDetails() != duplicateIDDetails || code(resp.Inputs[1].Status) != statuspb.StatusCode_INPUT_PENDING {
		t.Errorf("after restart: %v / %v", resp.Inputs[0].Status, resp.Inputs[1].Status)
	}
}

func TestPeriodicSave(t *testing.T) {
	dir := t.TempDir()
	_, c := start(t, Options{RateLimit: -1, StateDir: dir, SaveInterval: 10 * time.Millisecond})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("saved")}})
	// Wait, boundedly, for a background save that holds the input.
	var buf bytes.Buffer
	for i := 0; i < 500; i++ {
		buf.Reset()
		if err := Dump(dir, &buf); err == nil && strings.Contains(buf.String(), `"saved"`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), `"saved"`) {
		t.Fatalf("no periodic save within 5s; dump: %q", buf.String())
	}
	// No temporary files are left behind.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != stateFile {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestLoadRejectsDamagedState(t *testing.T) {
	dir := t.TempDir()
	s, c := start(t, Options{RateLimit: -1, StateDir: dir, SaveInterval: -1})
	for i := 0; i < 50; i++ {
		post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("")}})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, stateFile)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", full[:len(full)*2/3]},
		{"not gob", []byte("hello world")},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if s, err := Start("", Options{StateDir: dir}); err == nil {
				_ = s.Close()
				t.Fatal("Start accepted a damaged state file")
			}
		})
	}
}

func TestDump(t *testing.T) {
	dir := t.TempDir()
	s, c := start(t, Options{RateLimit: -1, StateDir: dir, SaveInterval: -1})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{labeledInput("one"), imageInput("two", pngBytes(t))}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Dump(dir, &buf); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d lines", len(lines))
	}
	if lines[0]["user"] != testUser || lines[0]["app"] != testApp || lines[0]["input"].(map[string]any)["id"] != "one" {
		t.Errorf("line 0: %v", lines[0])
	}
	if content := lines[1]["content"].([]any); len(content) != 1 || content[0].(map[string]any)["kind"] != "image" {
		t.Errorf("line 1 content: %v", lines[1]["content"])
	}
	if err := Dump("", &buf); err == nil {
		t.Error("Dump without a directory succeeded")
	}
}

func TestEmptyStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Start("", Options{StateDir: dir, SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		t.Fatalf("Close did not save: %v", err)
	}
	s, err = Start("", Options{StateDir: dir, SaveInterval: -1})
	if err != nil {
		t.Fatalf("reload of an empty state: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
