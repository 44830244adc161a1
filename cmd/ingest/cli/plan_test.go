package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestPlanBeforeAndAfterARun: `ingest plan` says what a run would add,
// then, after the run, that nothing changed; it sends nothing (the app
// stays empty before the run) and writes no state.
func TestPlanBeforeAndAfterARun(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := textFiles(t, 4)
	state := filepath.Join(t.TempDir(), "state")
	res := mustRun(t, cli.ExitOK, f, nil, "plan", "--dir", data, "--state-dir", state)
	for _, w := range []string{"items read", "to add         4", "(no checkpoint yet: every item is new)", "Calls: about 3 (1 PostInputs, 2 verification)", "Examples:"} {
		if !strings.Contains(res.stdout, w) {
			t.Errorf("plan lacks %q:\n%s", w, res)
		}
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 0 {
		t.Errorf("the plan left %d inputs in the app", n)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the plan made the state directory: %v", err)
	}
	mustRun(t, cli.ExitOK, f, nil, "run", "-q", "--dir", data, "--state-dir", state)

	res = mustRun(t, cli.ExitOK, f, nil, "plan", "--dir", data, "--state-dir", state, "--json", "--delete", "--max-delete", "50%")
	var p configs.Plan
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("plan --json is not a Plan: %v\n%s", err, res)
	}
	if p.Read != 4 || p.Add != 0 || p.Unchanged != 4 || p.Delete == nil || p.Delete.Cap != 2 || p.Calls.Total() != 0 {
		t.Errorf("plan after the run: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(state, "failures.jsonl")); err != nil {
		t.Errorf("the run's failure report: %v", err)
	}
}

// TestSyncFlagsNameTheirKey: a bad --max-delete is a usage error naming
// sync.max_delete, on run and plan; nothing is sent.
func TestSyncFlagsNameTheirKey(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	for _, cmd := range []string{"run", "plan"} {
		for _, v := range []string{"-1", "150%", "ten", "NaN%"} {
			res := run(t, f, nil, cmd, "--dir", t.TempDir(), "--state-dir", t.TempDir(), "--delete", "--max-delete", v)
			if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "sync.max_delete: ") {
				t.Errorf("%s --max-delete %s:\n%s", cmd, v, res)
			}
		}
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 0 {
		t.Errorf("%d inputs sent", n)
	}
}

// TestPlanAllowConfigChange: a plan of a job whose configuration changed
// is refused, naming --allow-config-change, which plan takes as run does:
// it then compares with that checkpoint (here: every input moves to
// another dataset), still writing nothing.
func TestPlanAllowConfigChange(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := textFiles(t, 2)
	state := filepath.Join(t.TempDir(), "state")
	mustRun(t, cli.ExitOK, f, nil, "run", "-q", "--dir", data, "--state-dir", state, "--dataset", "train")
	args := []string{"plan", "--dir", data, "--state-dir", state, "--dataset", "test", "--json"}
	if res := run(t, f, nil, args...); res.code != cli.ExitUsage || !strings.Contains(res.stderr, "--allow-config-change") {
		t.Fatalf("plan of a changed job:\n%s", res)
	}
	res := mustRun(t, cli.ExitOK, f, nil, append(args, "--allow-config-change")...)
	var p configs.Plan
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	if p.Update != 2 || p.UpdateFields["datasets"] != 2 || p.Calls.Datasets["test"].Add != 2 || p.Calls.Datasets["train"].Remove != 2 {
		t.Errorf("plan: %+v", p)
	}
	// Still the old job's checkpoint: a run without the flag is refused.
	if res := run(t, f, nil, "run", "-q", "--dir", data, "--state-dir", state, "--dataset", "test"); res.code != cli.ExitUsage {
		t.Errorf("the plan changed the checkpoint:\n%s", res)
	}
}
