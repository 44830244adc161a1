package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestRefeedFailuresRecoversProcessingFailures: a run whose inputs partly
// fail processing on the server (INPUT_FAILED) ends exit 3; taking its
// failure report back as a source, with or without
// retry_failed_processing, deletes each failed input and sends it again
// with the same ID: exit 0, every input stored once and processed. A
// record changed since (here, its URL), re-fed on its own, matches no input
// on the server: it fails naming the difference (exit 3), and the failed
// input stays, not deleted.
func TestRefeedFailuresRecoversProcessingFailures(t *testing.T) {
	for _, tc := range []struct {
		retryFlag bool
		delay     time.Duration
	}{{false, 20 * time.Millisecond}, {true, 20 * time.Millisecond}, {false, -1}} {
		retryFlag, delay := tc.retryFlag, tc.delay
		t.Run(fmt.Sprintf("retry_failed_processing=%v,processing_delay=%v", retryFlag, delay), func(t *testing.T) {
			const items = 2000
			f := newFixture(t, emulator.Options{
				// Processed after a delay, as on the server (a processing
				// failure shows in verification), or at once (it shows in
				// the PostInputs answer).
				ProcessingDelay: delay,
				Faults:          emulator.Faults{ProcessingFailRate: 0.02, Seed: 7},
			})
			dir := t.TempDir()
			var b strings.Builder
			for i := range items {
				fmt.Fprintf(&b, "https://example.com/img/%04d.jpg\n", i)
			}
			urls := filepath.Join(dir, "urls.txt")
			writeFile(t, urls, b.String())
			state := filepath.Join(dir, "state")
			res := mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--urls", urls, "--state-dir", state, "--rate-limit", "-1")
			failed := summary(t, res.stdout)["failed"]
			if failed < 10 {
				t.Fatalf("first run: %d failed, want about 40 processing failures:\n%s", failed, res)
			}

			// One record changed since: its URL is not what the server holds
			// under its ID.
			report, err := os.ReadFile(filepath.Join(state, "failures.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(report)), "\n")
			changedID := recordField(t, lines[0], "input_id")
			changed := strings.Replace(lines[0], `.jpg","key"`, `.png","key"`, 1)

			// The records as written: every one is recovered, exit 0.
			res = refeedRun(t, f, dir, "retry", strings.Join(lines[1:], "\n")+"\n", retryFlag, cli.ExitOK)
			if s := summary(t, res.stdout); s["uploaded"] != failed-1 || s["failed"] != 0 {
				t.Errorf("re-feed: %v, want %d uploaded and none failed", s, failed-1)
			}
			// The changed record fails naming the URL; exit 3.
			res = refeedRun(t, f, dir, "retry-changed", changed+"\n", retryFlag, cli.ExitItemsFailed)
			if s := summary(t, res.stdout); s["uploaded"] != 0 || s["failed"] != 1 {
				t.Errorf("re-feed of the changed record: %v, want it failed", s)
			}
			if !strings.Contains(res.stderr, "image url: server has") {
				t.Errorf("the changed record's failure does not name the URL:\n%s", res.stderr)
			}

			held := storedByID(t, f)
			if len(held) != items {
				t.Errorf("emulator holds %d inputs, want %d", len(held), items)
			}
			bad := 0
			for id, si := range held {
				code := si.Input.GetStatus().GetCode()
				switch {
				case id == changedID && code != st.StatusCode_INPUT_FAILED:
					t.Errorf("input %s of the changed record: %v, want it left INPUT_FAILED", id, code)
				case id != changedID && code != st.StatusCode_INPUT_SUCCESS:
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d inputs not processed after the re-feed", bad)
			}
		})
	}
}

// refeedRun runs a job named name whose one source is a failure report
// holding records, in its own state folder under dir, and checks its exit
// code.
func refeedRun(t *testing.T, f *fixture, dir, name, records string, retryFlag bool, want int) result {
	t.Helper()
	refeed := filepath.Join(dir, name+".jsonl")
	writeFile(t, refeed, records)
	job := filepath.Join(dir, name+".yaml")
	writeFile(t, job, fmt.Sprintf("name: %s\nsources:\n  - report: {path: %s}\nupload: {retry_failed_processing: %v, rate_limit: -1}\n",
		name, refeed, retryFlag))
	return mustRun(t, want, f, nil, "run", "--config", job, "--state-dir", filepath.Join(dir, name+"-state"))
}

// recordField returns a string field of a failure report line.
func recordField(t *testing.T, line, field string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, `"`+field+`":"`)
	if !ok {
		t.Fatalf("no %s in %s", field, line)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
