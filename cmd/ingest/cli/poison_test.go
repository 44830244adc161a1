package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestPoisonedRowFailsAlone: a manifest of 10 valid rows and one whose
// metadata is nested 4,000 deep, which no server decodes (and which fails
// the whole request it travels in). The bad row fails alone, before
// anything is sent, naming its row; the 10 others are stored.
func TestPoisonedRowFailsAlone(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,url,metadata\n")
	for i := range 10 {
		fmt.Fprintf(&b, "r-%d,https://example.com/%d.jpg,\"{\"\"k\"\": %d}\"\n", i, i, i)
		if i == 4 { // row 7
			deep := strings.Repeat(`{""a"": `, 4000) + "1" + strings.Repeat("}", 4000)
			fmt.Fprintf(&b, "bad,https://example.com/bad.jpg,\"%s\"\n", deep)
		}
	}
	m := filepath.Join(dir, "m.csv")
	writeFile(t, m, b.String())
	state := filepath.Join(dir, "state")
	res := mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--csv", m, "--state-dir", state, "--rate-limit", "-1")
	if s := summary(t, res.stdout); s["uploaded"] != 10 || s["failed"] != 1 {
		t.Errorf("summary %v, want 10 uploaded and 1 failed", s)
	}
	report, err := os.ReadFile(filepath.Join(state, "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"input_id":"bad"`, "m.csv row 7", "metadata: nested more than 30 levels deep (at a.a.a.a"} {
		if !strings.Contains(string(report), w) {
			t.Errorf("failure report does not say %q:\n%.600s", w, report)
		}
	}
	held := storedByID(t, f)
	for i := range 10 {
		if _, ok := held[fmt.Sprintf("r-%d", i)]; !ok {
			t.Errorf("r-%d is not stored", i)
		}
	}
	if len(held) != 10 {
		t.Errorf("emulator holds %d inputs, want the 10 valid rows", len(held))
	}
}
