package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestGivenIDsLostFromTheCheckpoint: the server holds inputs with the given
// IDs of a manifest that the checkpoint does not know (a run killed before
// recording them; here, a fresh state directory). A rerun adopts every
// input that matches its row and sends nothing twice; a row that changed
// since fails, naming what differs.
func TestGivenIDsLostFromTheCheckpoint(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.csv")
	rows := "id,url,concepts,metadata\n" +
		"m-1,https://example.com/a.jpg,cat,\"{\"\"k\"\": 1}\"\n" +
		"m-2,https://example.com/b.jpg,dog,\n" +
		"m-3,https://example.com/c.jpg,,\n"
	writeFile(t, manifest, rows)
	mustRun(t, cli.ExitOK, f, nil, "run", "--csv", manifest, "--state-dir", t.TempDir())

	res := mustRun(t, cli.ExitOK, f, nil, "run", "--csv", manifest, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 3 || s["failed"] != 0 {
		t.Errorf("rerun without the checkpoint: %v, want the 3 inputs adopted", s)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Errorf("emulator holds %d inputs, want 3", n)
	}

	writeFile(t, manifest, strings.Replace(rows, "b.jpg,dog", "b.jpg,bird", 1))
	state := t.TempDir()
	res = mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--csv", manifest, "--state-dir", state)
	if s := summary(t, res.stdout); s["uploaded"] != 2 || s["failed"] != 1 {
		t.Errorf("rerun with a changed row: %v, want 2 adopted and 1 failed", s)
	}
	b, err := os.ReadFile(filepath.Join(state, "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"m-2", "already exists on the server", "concepts: server has [dog:1], the item [bird:1]"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("failure report does not say %q:\n%s", w, b)
		}
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Errorf("emulator holds %d inputs, want 3", n)
	}
}
