package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// TestExampleConfigsRun runs the quickstart and every runnable example job
// file against the embedded emulator, as the README says to: what the
// README says runs, runs.
func TestExampleConfigsRun(t *testing.T) {
	reg := transforms.NewRegistry()
	if err := reg.Register("remove_unicode", func(_ context.Context, it *pipeline.Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		items string
	}{
		{"quickstart.yaml", "uploaded       7"},
		{"examples/dir.yaml", "uploaded       7"},
		{"examples/csv-rich.yaml", "uploaded       4"},
		{"examples/csv-sdk.yaml", "uploaded       3"},
		{"examples/urls.yaml", "uploaded       3"},
		{"examples/custom.yaml", "uploaded       1"},
		{"examples/cloud.yaml", "completed: 2 inputs created (2 images"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			env := &fixture{env: map[string]string{"INGEST_EMBEDDED_STATE_DIR": t.TempDir(), "INGEST_STATE_DIR": t.TempDir()}}
			res := run(t, env, reg, "run", "--config", filepath.Join("../../../configs", tc.file))
			if res.code != cli.ExitOK || !strings.Contains(res.stdout, tc.items) || !strings.Contains(res.stdout, "failed         0") {
				t.Fatalf("want %q and no failure:\n%s", tc.items, res)
			}
			if !strings.Contains(res.stderr, "local only") {
				t.Errorf("the screen does not say the target is local:\n%s", res.stderr)
			}
		})
	}
	// The COCO example points at a dataset that is not in the repo: it
	// must at least be a valid job file.
	res := run(t, &fixture{env: map[string]string{}}, reg, "config", "print", "--config", "../../../configs/examples/coco.yaml")
	if res.code != cli.ExitOK {
		t.Errorf("coco.yaml:\n%s", res)
	}
}
