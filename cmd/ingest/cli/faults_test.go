package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

var requestsLine = regexp.MustCompile(`(?m)^  requests +(\d+) \((\d+) retries, (\d+) throttled\)$`)

// TestE2EAllFaultsEveryInputOnce runs against an emulator with throttling,
// UNAVAILABLE errors, per-input transient failures and dropped connections
// (the call took effect, its answer is lost) all switched on, and
// asynchronous processing that the run verifies. Every input must end on
// the server exactly once, and the retries must show in the summary and in
// the run report.
//
// The client's backoff starts at 500ms (sinks/clarifai/client DefaultMinBackoff)
// and a per-input re-send waits 1s (DefaultResendBackoff); neither is a job
// setting, so the item count is kept moderate for the run to last seconds.
func TestE2EAllFaultsEveryInputOnce(t *testing.T) {
	const items = 200
	f := newFixture(t, emulator.Options{
		ProcessingDelay: 20 * time.Millisecond,
		Faults: emulator.Faults{
			ThrottleRate: 0.1, UnavailableRate: 0.1, DropConnRate: 0.05,
			// An input fails TRY_AGAIN five times in a row (the sink's
			// re-send limit) with odds 0.05^5 = 3e-7: the run does not
			// flake. At 0.1 the odds would be 1e-5 per input.
			TransientInputRate: 0.05,
			Seed:               20240611,
		},
	})
	data := t.TempDir()
	want := map[string]bool{}
	for i := range items {
		body := fmt.Sprintf("faulty item %03d\n", i)
		writeFile(t, filepath.Join(data, fmt.Sprintf("f%03d.txt", i)), body)
		want[ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte(body))}, []byte(body))] = true
	}
	state := t.TempDir()
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--dir", data, "--state-dir", state,
		// Small batches make many calls (about 150), so that each fault
		// is drawn often enough never to be missed: no throttle at all
		// would have odds 0.9^150 ≈ 1e-7.
		"--batch-size", "2", "--concurrency", "8", "--rate-limit", "-1", "--log-level", "warn")
	if s := summary(t, res.stdout); s["uploaded"] != items || s["failed"] != 0 {
		t.Errorf("summary %v, want %d uploaded", s, items)
	}

	// Every expected input is stored once, processed, and nothing else is.
	seen := map[string]int{}
	for _, si := range f.srv.Inputs(testUser, testApp) {
		seen[si.Input.GetId()]++
		checkProcessed(t, si.Input.GetId(), si.Input)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("input %s stored %d times, want once", id, seen[id])
		}
	}
	if len(seen) != items {
		t.Errorf("emulator holds %d inputs, want %d", len(seen), items)
	}

	// The faults happened and were retried: the summary and the report say so.
	m := requestsLine.FindStringSubmatch(res.stdout)
	if m == nil {
		t.Fatalf("no requests line in the summary:\n%s", res.stdout)
	}
	requests, _ := strconv.Atoi(m[1])
	retries, _ := strconv.Atoi(m[2])
	throttled, _ := strconv.Atoi(m[3])
	if retries == 0 || throttled == 0 || requests <= retries {
		t.Errorf("summary: %d requests, %d retries, %d throttled; want retries and throttles", requests, retries, throttled)
	}
	b, err := os.ReadFile(filepath.Join(state, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep cli.RunReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report.json: %v\n%s", err, b)
	}
	if rep.Done != items || rep.Failed != 0 || rep.ExitCode != cli.ExitOK || rep.Retries != int64(retries) ||
		rep.Throttled != int64(throttled) || rep.Requests != int64(requests) {
		t.Errorf("report.json = %+v; want %d uploaded, exit 0 and the summary's %d requests, %d retries, %d throttled",
			rep, items, requests, retries, throttled)
	}
	// The server saw more PostInputs calls than a fault-free run needs
	// (200/2 = 100 batches): retried calls and re-sent inputs.
	if calls := f.srv.Calls()["PostInputs"]; calls <= items/2 {
		t.Errorf("%d PostInputs calls: no retry reached the server", calls)
	}
	t.Logf("%d requests, %d retries, %d throttled; calls %v", requests, retries, throttled, f.srv.Calls())
}
