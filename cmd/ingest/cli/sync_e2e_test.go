package cli_test

// End-to-end tests of keeping an app in sync through the CLI, one
// scenario each (a label edited, deletes under the cap, no delete after a
// source error, a content conflict, adopt). The table of every change kind
// by source is in sync_matrix_e2e_test.go.

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

// syncJob is a manifest with given IDs and URLs, and a folder of text
// files (derived IDs), in one state directory.
type syncJob struct {
	manifest, dir, state string
}

func newSyncJob(t *testing.T) syncJob {
	t.Helper()
	root := t.TempDir()
	j := syncJob{manifest: filepath.Join(root, "labels.csv"), dir: filepath.Join(root, "notes"), state: filepath.Join(root, "state")}
	writeFile(t, j.manifest, "id,url,concepts\n"+
		"cat-1,https://example.com/cat.jpg,cat\n"+
		"dog-1,https://example.com/dog.jpg,dog\n")
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(j.dir, n+".txt"), "note "+n+"\n")
	}
	return j
}

func (j syncJob) args(cmd string, extra ...string) []string {
	return append([]string{cmd, "-q", "--csv", j.manifest, "--dir", j.dir, "--state-dir", j.state}, extra...)
}

func (j syncJob) plan(t *testing.T, f *fixture, extra ...string) configs.Plan {
	t.Helper()
	res := mustRun(t, cli.ExitOK, f, nil, append([]string{"plan", "--csv", j.manifest, "--dir", j.dir, "--state-dir", j.state, "--json"}, extra...)...)
	var p configs.Plan
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	return p
}

// TestSyncEditedLabelIsUpdatedInPlace: a label edited in the manifest is
// planned as an update of concepts (old value read from the app), then
// patched in place: same input, new concept, nothing posted again.
func TestSyncEditedLabelIsUpdatedInPlace(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	writeFile(t, j.manifest, "id,url,concepts\n"+
		"cat-1,https://example.com/cat.jpg,kitten\n"+
		"dog-1,https://example.com/dog.jpg,dog\n")
	p := j.plan(t, f)
	if p.Update != 1 || p.UpdateFields["concepts"] != 1 || p.Unchanged != 4 || p.Add != 0 || p.Calls.PatchInputs != 1 {
		t.Fatalf("plan: %+v", p)
	}
	if len(p.Examples) != 1 || p.Examples[0].InputID != "cat-1" || p.Examples[0].Changes[0].Old != "[cat]" || p.Examples[0].Changes[0].New != "[kitten]" {
		t.Errorf("example: %+v (old values: %s)", p.Examples, p.OldValues)
	}
	res := mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	if !strings.Contains(res.stdout, "updated        1") {
		t.Errorf("summary:\n%s", res)
	}
	in := storedByID(t, f)["cat-1"].Input
	checkConcepts(t, "cat-1", in.GetData().GetConcepts(), concept{id: "kitten", value: 1})
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Errorf("the app holds %d inputs, want 5", n)
	}
	// And then nothing is left to do.
	if p := j.plan(t, f); p.Update+p.Add != 0 || p.Unchanged != 5 {
		t.Errorf("plan after the update: %+v", p)
	}
}

// TestSyncDeleteUnderTheCap: a removed file's input is deleted by run
// --delete once the cap allows it; over the cap nothing is deleted (exit
// 5); without --delete it stays.
func TestSyncDeleteUnderTheCap(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	if err := os.Remove(filepath.Join(j.dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(j.dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Fatalf("without --delete the app holds %d inputs, want 5", n)
	}
	if p := j.plan(t, f, "--delete", "--max-delete", "1"); p.Delete == nil || p.Delete.Inputs != 2 || !p.Delete.OverCap {
		t.Errorf("plan: %+v", p.Delete)
	}
	res := mustRun(t, cli.ExitDeleteCapped, f, nil, j.args("run", "--delete", "--max-delete", "1")...)
	for _, w := range []string{"2 inputs", "--max-delete 2", "nothing was deleted"} {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, res)
		}
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Fatalf("over the cap the app holds %d inputs, want 5", n)
	}
	res = mustRun(t, cli.ExitOK, f, nil, j.args("run", "--delete", "--max-delete", "40%")...)
	if !strings.Contains(res.stdout, "deleted        2") {
		t.Errorf("summary:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Errorf("the app holds %d inputs, want 3", n)
	}
	// Deleted once: a rerun finds nothing to delete.
	res = mustRun(t, cli.ExitOK, f, nil, j.args("run", "--delete")...)
	if !strings.Contains(res.stdout, "deleted        0 (of 0") {
		t.Errorf("rerun:\n%s", res)
	}
}

// TestSyncNoDeleteAfterASourceError: a source that cannot be read is no
// proof its items left: nothing is deleted and the summary says why.
func TestSyncNoDeleteAfterASourceError(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	if err := os.Remove(j.manifest); err != nil {
		t.Fatal(err)
	}
	res := run(t, f, nil, j.args("run", "--delete", "--max-delete", "100%")...)
	if res.code != cli.ExitFatal || !strings.Contains(res.stdout, "deleted        0: ") {
		t.Errorf("run:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Errorf("the app holds %d inputs, want 5", n)
	}
}

// TestSyncContentConflict: a given ID whose URL changed is a conflict
// (exit 4) until --replace-content replaces the input.
func TestSyncContentConflict(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	writeFile(t, j.manifest, "id,url,concepts\n"+
		"cat-1,https://example.com/cat2.jpg,cat\n"+
		"dog-1,https://example.com/dog.jpg,dog\n")
	if p := j.plan(t, f); p.Conflicts != 1 {
		t.Errorf("plan: %+v", p)
	}
	res := mustRun(t, cli.ExitConflicts, f, nil, j.args("run")...)
	if !strings.Contains(res.stdout, "conflicts      1") || !strings.Contains(res.stdout, "--replace-content") {
		t.Errorf("summary:\n%s", res)
	}
	if p := j.plan(t, f, "--replace-content"); p.Replace != 1 || p.Conflicts != 0 {
		t.Errorf("plan --replace-content: %+v", p)
	}
	res = mustRun(t, cli.ExitOK, f, nil, j.args("run", "--replace-content")...)
	if !strings.Contains(res.stdout, "replaced       1") {
		t.Errorf("summary:\n%s", res)
	}
	if got := storedByID(t, f)["cat-1"].Input.GetData().GetImage().GetUrl(); got != "https://example.com/cat2.jpg" {
		t.Errorf("cat-1 url %q", got)
	}
}

// TestSyncAdoptWithALostCheckpoint: with a new state directory and
// --adopt, the inputs already in the app are compared, not posted again.
func TestSyncAdoptWithALostCheckpoint(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	j.state = filepath.Join(t.TempDir(), "fresh")
	posts := f.srv.Calls()["PostInputs"]
	res := mustRun(t, cli.ExitOK, f, nil, j.args("run", "--adopt")...)
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Errorf("the app holds %d inputs, want 5", n)
	}
	if n := f.srv.Calls()["PostInputs"] - posts; n != 0 {
		t.Errorf("%d PostInputs calls: an adopting run sends nothing the app holds", n)
	}
	if s := summary(t, res.stdout); s["failed"] != 0 || s["uploaded"] != 0 || s["adopted"] != 5 {
		t.Errorf("summary, want 5 adopted and nothing uploaded:\n%s", res)
	}
	// From then on the job knows its inputs: an edit is an update.
	writeFile(t, j.manifest, "id,url,concepts\n"+
		"cat-1,https://example.com/cat.jpg,lion\n"+
		"dog-1,https://example.com/dog.jpg,dog\n")
	res = mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	if !strings.Contains(res.stdout, "updated        1") {
		t.Errorf("after adopting, an edited label is not updated:\n%s", res)
	}
}

// TestSyncPlanAdoptAgreesWithTheRun: with the state directory lost and one
// label edited, plan --adopt reads the app's inputs back and says what run
// --adopt then does: the others adopted as they are, the edited one
// adopted and updated, nothing to add and nothing posted. The plan itself
// changes nothing in the app.
func TestSyncPlanAdoptAgreesWithTheRun(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	j := newSyncJob(t)
	mustRun(t, cli.ExitOK, f, nil, j.args("run")...)
	j.state = filepath.Join(t.TempDir(), "fresh")
	writeFile(t, j.manifest, "id,url,concepts\n"+
		"cat-1,https://example.com/cat.jpg,lion\n"+
		"dog-1,https://example.com/dog.jpg,dog\n")

	before := f.srv.Calls()
	p := j.plan(t, f, "--adopt")
	for _, m := range []string{"PostInputs", "PatchInputs", "DeleteInputs", "PostAnnotations", "PostDatasetInputs"} {
		if n := f.srv.Calls()[m] - before[m]; n != 0 {
			t.Errorf("the plan made %d %s calls", n, m)
		}
	}
	a := p.Adopt
	if a == nil || !a.Planned || a.AppInputs != 5 || a.AsIs != 4 || a.Update != 1 || a.UpdateFields["concepts"] != 1 || a.Conflicts != 0 {
		t.Fatalf("plan --adopt: %+v", a)
	}
	if p.Add != 0 || p.Calls.PostInputs != 0 || p.Calls.PatchInputs != 1 || p.Calls.ListInputs == 0 {
		t.Errorf("plan --adopt: %+v", p)
	}
	res := mustRun(t, cli.ExitOK, f, nil, "plan", "--csv", j.manifest, "--dir", j.dir, "--state-dir", j.state, "--adopt")
	if !strings.Contains(res.stdout, "to adopt       5 of the app's 5 inputs: 4 as they are, 1 with updates (concepts 1), 0 conflicts") {
		t.Errorf("plan --adopt:\n%s", res)
	}

	posts := f.srv.Calls()["PostInputs"]
	res = mustRun(t, cli.ExitOK, f, nil, j.args("run", "--adopt")...)
	if n := f.srv.Calls()["PostInputs"] - posts; n != 0 {
		t.Errorf("%d PostInputs calls, the plan said none", n)
	}
	if s := summary(t, res.stdout); int64(s["adopted"]) != a.AsIs || s["uploaded"] != 0 || s["failed"] != 0 ||
		!strings.Contains(res.stdout, "updated        1") {
		t.Errorf("run --adopt does not agree with the plan (%+v):\n%s", a, res)
	}
	checkConcepts(t, "cat-1", storedByID(t, f)["cat-1"].Input.GetData().GetConcepts(), concept{id: "lion", value: 1})
}
