package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestBadManifestIsBadInput checks that a manifest whose header cannot be
// used is answered as bad input (exit 2, nothing sent), by `run` and by
// `validate`, and not as a failed run (exit 1).
func TestBadManifestIsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, csv, want string }{
		{"unknown column", "url,colour\nhttps://example.com/a.jpg,red\n", `unknown column(s) "colour"`},
		{"empty manifest", "", "want a header row, got an empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{})
			m := filepath.Join(t.TempDir(), "m.csv")
			writeFile(t, m, tc.csv)
			for _, cmd := range []string{"run", "validate"} {
				res := run(t, f, nil, cmd, "--csv", m, "--state-dir", t.TempDir())
				if res.code != cli.ExitUsage || !strings.Contains(res.stderr, tc.want) {
					t.Errorf("%s: want exit %d and %q:\n%s", cmd, cli.ExitUsage, tc.want, res)
				}
			}
			if n := len(f.srv.Inputs(testUser, testApp)); n != 0 {
				t.Errorf("the emulator holds %d inputs, want none", n)
			}
		})
	}
}

// TestEmptyMediaFileFails checks that a 0-byte file is reported as failed
// ("empty file", exit 3), not skipped as of an unsupported type, and that the
// other files are delivered.
func TestEmptyMediaFileFails(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "note.txt"), "hello")
	writeFile(t, filepath.Join(data, "broken.jpg"), "")
	state := t.TempDir()
	res := mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--dir", data, "--state-dir", state)
	s := summary(t, res.stdout)
	if s["uploaded"] != 1 || s["failed"] != 1 || s["skipped"] != 0 {
		t.Errorf("summary uploaded/failed/skipped = %d/%d/%d, want 1/1/0:\n%s", s["uploaded"], s["failed"], s["skipped"], res)
	}
	report, err := os.ReadFile(filepath.Join(state, "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "broken.jpg") || !strings.Contains(string(report), "empty file") {
		t.Errorf("the failure report does not say broken.jpg is an empty file:\n%s", report)
	}
	if strings.Contains(string(report), "unsupported") {
		t.Errorf("the empty file is reported as unsupported:\n%s", report)
	}
}
