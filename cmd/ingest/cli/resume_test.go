package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestRunSkipsCompleteSources: a rerun of a finished job reads neither its
// URL list nor its manifest, and reports their items as before: the done
// ones as already done, the skipped one as skipped. --restart reads them
// again.
func TestRunSkipsCompleteSources(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir, state := t.TempDir(), t.TempDir()
	urls, manifest := filepath.Join(dir, "urls.txt"), filepath.Join(dir, "manifest.csv")
	writeFile(t, urls, "https://x.test/a.jpg\nhttps://x.test/b.jpg\nhttps://x.test/c.unknown\n")
	writeFile(t, manifest, "url,concepts\nhttps://x.test/d.jpg,cat\nhttps://x.test/e.png,dog\n")
	args := []string{"run", "--urls", urls, "--csv", manifest, "--state-dir", state}

	first := mustRun(t, cli.ExitOK, f, nil, args...)
	if s := summary(t, first.stdout); s["uploaded"] != 4 || s["skipped"] != 1 {
		t.Fatalf("first run: %v\n%s", s, first)
	}
	if _, err := os.Stat(filepath.Join(state, "sources.json")); err != nil {
		t.Errorf("no complete-source markers after a complete run: %v", err)
	}
	posts := f.srv.Calls()["PostInputs"]

	again := mustRun(t, cli.ExitOK, f, nil, args...)
	if s := summary(t, again.stdout); s["uploaded"] != 0 || s["skipped"] != 1 || s["items read"] != 5 ||
		!strings.Contains(again.stdout, "already done   4") {
		t.Errorf("rerun: %v\n%s", s, again)
	}
	if n := strings.Count(again.stderr, "source complete in an earlier run"); n != 2 {
		t.Errorf("rerun: %d sources skipped whole, want 2\n%s", n, again.stderr)
	}
	if f.srv.Calls()["PostInputs"] != posts {
		t.Error("the rerun sent inputs")
	}

	// A changed list is read again; the manifest is still skipped.
	writeFile(t, urls, "https://x.test/a.jpg\nhttps://x.test/b.jpg\nhttps://x.test/c.unknown\nhttps://x.test/f.jpg\n")
	changed := mustRun(t, cli.ExitOK, f, nil, args...)
	if s := summary(t, changed.stdout); s["uploaded"] != 1 || !strings.Contains(changed.stdout, "already done   4") {
		t.Errorf("after changing the list: %v\n%s", s, changed)
	}
	if n := strings.Count(changed.stderr, "source complete in an earlier run"); n != 1 {
		t.Errorf("after changing the list: %d sources skipped whole, want 1 (the manifest)\n%s", n, changed.stderr)
	}

	restarted := mustRun(t, cli.ExitOK, f, nil, append(args, "--restart")...)
	if strings.Contains(restarted.stderr, "source complete in an earlier run") ||
		strings.Contains(restarted.stdout, "already done") {
		t.Errorf("--restart skipped something:\n%s", restarted)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Errorf("emulator holds %d inputs, want 5", n)
	}
}
