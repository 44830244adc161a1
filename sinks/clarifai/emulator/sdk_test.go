package emulator

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

// TestOfficialSDKBulkUploadSequence replays, call for call, what
// clarifai-python's Inputs._bulk_upload does for one batch: PostInputs with a
// fresh inputs_add_job_id; GetInputsAddJob until in_progress_count and
// pending_count are both 0; ListInputs(ids, per_page=len(batch),
// status{30000}); DeleteInputs of the ids missing from that list; then the
// retry round re-posts those with the same ids. Instead of sleeping between
// polls, as the SDK does, the test moves the clock.
func TestOfficialSDKBulkUploadSequence(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{Now: clk.Now, ProcessingDelay: 3 * time.Second})
	png := pngBytes(t)

	batch := func(ids []string, broken map[string]bool) []*pb.Input {
		var out []*pb.Input
		for _, id := range ids {
			b := png
			if broken[id] {
				b = garbage
			}
			md, _ := structpb.NewStruct(map[string]any{"filename": id + ".png"})
			out = append(out, &pb.Input{Id: id, DatasetIds: []string{"ds"}, Data: &pb.Data{
				Image:    &pb.Image{Base64: b},
				Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}},
				Metadata: md,
			}})
		}
		return out
	}
	uploadBatch := func(ids []string, broken map[string]bool) (failed []string) {
		t.Helper()
		jobID := newID() // the SDK uses uuid4().hex
		resp := post(t, c, &pb.PostInputsRequest{Inputs: batch(ids, broken), InputsAddJobId: jobID})
		if code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("PostInputs: %v", resp.Status)
		}
		done := false
		for poll := 0; poll < 20 && !done; poll++ {
			j, err := c.GetInputsAddJob(authCtx(t), &pb.GetInputsAddJobRequest{UserAppId: uai(), Id: jobID})
			if err != nil || code(j.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("GetInputsAddJob: %v %v", j.GetStatus(), err)
			}
			p := j.InputsAddJob.Progress
			if p.InProgressCount == 0 && p.PendingCount == 0 {
				done = true
				break
			}
			clk.Advance(1800 * time.Millisecond) // 0.1*1.3^11 s, the SDK's first sleep
		}
		if !done {
			t.Fatal("job never finished")
		}
		list, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{
			UserAppId: uai(), Ids: ids, PerPage: uint32(len(ids)), Status: &statuspb.Status{Code: 30000},
		})
		if err != nil || code(list.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("ListInputs: %v %v", list.GetStatus(), err)
		}
		ok := make(map[string]bool)
		for _, in := range list.Inputs {
			ok[in.Id] = true
		}
		for _, id := range ids {
			if !ok[id] {
				failed = append(failed, id)
			}
		}
		if len(failed) > 0 {
			del, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: uai(), Ids: failed})
			if err != nil || code(del.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("DeleteInputs: %v %v", del.GetStatus(), err)
			}
		}
		return failed
	}

	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, fmt.Sprintf("ds-%d", i))
	}
	broken := map[string]bool{"ds-2": true, "ds-5": true, "ds-11": true}
	failed := uploadBatch(ids, broken)
	sort.Strings(failed)
	if diff := cmp.Diff([]string{"ds-11", "ds-2", "ds-5"}, failed); diff != "" {
		t.Fatalf("failed ids (-want +got):\n%s", diff)
	}
	if got := s.Counts()[testUser+"/"+testApp]; got.Inputs != 9 || got.Success != 9 {
		t.Fatalf("after round 1: %+v", got)
	}
	// Retry round: same ids, now with good bytes.
	if again := uploadBatch(failed, nil); len(again) != 0 {
		t.Fatalf("retry round failed %v", again)
	}
	if got := s.Counts()[testUser+"/"+testApp]; got.Inputs != 12 || got.Success != 12 || got.Datasets != 1 {
		t.Fatalf("after retry: %+v", got)
	}
	calls := s.Calls()
	if calls["PostInputs"] != 2 || calls["ListInputs"] != 2 || calls["DeleteInputs"] != 1 || calls["GetInputsAddJob"] < 2 {
		t.Errorf("calls %v", calls)
	}
	// Re-uploading without deleting hits the SDK's duplicate path.
	resp := post(t, c, &pb.PostInputsRequest{Inputs: batch(ids[:1], nil), InputsAddJobId: newID()})
	if resp.Inputs[0].Status.GetDetails() != "Input has a duplicate ID." {
		t.Errorf("re-upload status %v", resp.Inputs[0].Status)
	}
}
