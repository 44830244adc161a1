package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

// TestBadValuesNameTheKeyAndExit2: a value of the wrong type or out of
// range, in a job file, a flag or the environment, is a configuration
// error (exit 2) whose message names the job file key and what is
// expected; nothing is started.
func TestBadValuesNameTheKeyAndExit2(t *testing.T) {
	dir := t.TempDir()
	job := func(upload string) string {
		p := filepath.Join(dir, "job.yaml")
		doc := "target: embedded\nsources: [{dir: {path: .}}]\nupload:\n" + upload + "\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args func() []string
		want string
	}{
		{"batch_size many", nil, func() []string { return []string{"validate", "--config", job("  batch_size: many")} },
			`upload.batch_size: want an integer, got "many"`},
		{"concurrency four", nil, func() []string { return []string{"run", "--config", job("  concurrency: four")} },
			`upload.concurrency: want an integer, got "four"`},
		{"max_elapsed soon", nil, func() []string { return []string{"run", "--config", job("  max_elapsed: soon")} },
			`upload.max_elapsed: want a duration like 500ms, 2s or 10m, got "soon"`},
		{"max_request_bytes lots", nil, func() []string { return []string{"validate", "--config", job("  max_request_bytes: lots")} },
			`upload.max_request_bytes: want a size`},
		{"rate_limit nan", nil, func() []string { return []string{"run", "--config", job("  rate_limit: .nan")} },
			`upload.rate_limit: NaN: want a finite number`},
		{"rate_limit inf", nil, func() []string { return []string{"validate", "--config", job("  rate_limit: .inf")} },
			`upload.rate_limit: +Inf: want a finite number`},
		{"max_request_bytes 125MB", nil, func() []string { return []string{"validate", "--config", job("  max_request_bytes: 125MB")} },
			`upload.max_request_bytes: 125000000: want 1 to 120000000`},
		{"flag concurrency four", nil, func() []string { return []string{"run", "--target", "embedded", "--dir", dir, "--concurrency", "four"} },
			`--concurrency: upload.concurrency: want an integer, got "four"`},
		{"flag batch-size many", nil, func() []string { return []string{"validate", "--dir", dir, "--batch-size", "many"} },
			`--batch-size: upload.batch_size: want an integer, got "many"`},
		{"flag rate-limit nan", nil, func() []string { return []string{"validate", "--dir", dir, "--rate-limit", "NaN"} },
			`upload.rate_limit: NaN: want a finite number`},
		{"cloud flag rate-limit", nil, func() []string { return []string{"cloud", "list", "--target", "embedded", "--rate-limit", "fast"} },
			`--rate-limit: upload.rate_limit: want a number, got "fast"`},
		{"cloud flag rate-limit nan", nil, func() []string { return []string{"cloud", "list", "--target", "embedded", "--rate-limit", "NaN"} },
			`upload.rate_limit: NaN: want a finite number`},
		{"env concurrency", map[string]string{"INGEST_CONCURRENCY": "1.5"}, func() []string { return []string{"validate", "--dir", dir} },
			`INGEST_CONCURRENCY (upload.concurrency): want an integer, got "1.5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, &fixture{env: tc.env}, nil, tc.args()...)
			if res.code != cli.ExitUsage || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("want exit 2 and %q:\n%s", tc.want, res)
			}
		})
	}
}
