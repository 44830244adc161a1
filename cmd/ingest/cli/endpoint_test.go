package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

// TestPlaintextPATOffLoopbackIsRefused: a plaintext base whose host is not
// this machine is a configuration error (exit 2) unless --insecure or
// `insecure: true` opts in. The refusal happens while the configuration is
// validated; GuardDial fails the test if a client for that host is ever
// made, so nothing here can dial it.
func TestPlaintextPATOffLoopbackIsRefused(t *testing.T) {
	cli.GuardDial(t)
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "a.txt"), "a")
	f := &fixture{env: map[string]string{
		"CLARIFAI_API_BASE": "http://192.0.2.1:8080",
		"CLARIFAI_PAT":      testPAT,
		"CLARIFAI_USER_ID":  testUser,
		"CLARIFAI_APP_ID":   testApp,
	}}
	for _, args := range [][]string{
		{"run", "--dir", data, "--state-dir", t.TempDir()},
		{"verify", "--dir", data, "--state-dir", t.TempDir()},
		{"cloud", "status", "some-job"},
	} {
		res := run(t, f, nil, args...)
		if res.code != cli.ExitUsage {
			t.Fatalf("%v: %s\nwant exit %d", args, res, cli.ExitUsage)
		}
		for _, w := range []string{"clarifai.base", "http://192.0.2.1:8080", "clear text", "--insecure", "insecure: true"} {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("%v: stderr does not say %q:\n%s", args, w, res.stderr)
			}
		}
	}

	// The opt-in, checked without sending: config print validates.
	res := run(t, f, nil, "config", "print", "--dir", data, "--insecure")
	if res.code != cli.ExitOK || !strings.Contains(res.stdout, "insecure: true") {
		t.Errorf("config print --insecure: %s", res)
	}
	job := filepath.Join(t.TempDir(), "job.yaml")
	writeFile(t, job, "clarifai: {insecure: true}\nsources: [{dir: {path: "+data+"}}]\n")
	if res := run(t, f, nil, "config", "print", "--config", job); res.code != cli.ExitOK {
		t.Errorf("config print of a job file with insecure: true: %s", res)
	}
	// Loopback needs no opt-in.
	f.env["CLARIFAI_API_BASE"] = "http://127.0.0.1:8080"
	if res := run(t, f, nil, "config", "print", "--dir", data); res.code != cli.ExitOK {
		t.Errorf("config print with a loopback base: %s", res)
	}
}
