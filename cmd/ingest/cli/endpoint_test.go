package cli_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
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

// TestDeadOrMistypedEndpointIsFatalAndFast: the preflight call ends the
// run in seconds with exit 1 and the likely fix, before any item is read,
// sent or failed. The client's ordinary policy (10 attempts, minutes of
// backoff) never applies.
func TestDeadOrMistypedEndpointIsFatalAndFast(t *testing.T) {
	f := newFixture(t, emulator.Options{NoAutoCreateApps: true, Apps: []string{testUser + "/" + testApp}})
	data := t.TempDir()
	for i := range 20 {
		writeFile(t, filepath.Join(data, fmt.Sprintf("f%02d.txt", i)), fmt.Sprintf("item %d", i))
	}
	closed := clienttest.ClosedAddr(t)
	// ingest verify checks the endpoint the same way.
	res := run(t, &fixture{env: map[string]string{"CLARIFAI_API_BASE": "http://" + closed, "CLARIFAI_PAT": testPAT,
		"CLARIFAI_USER_ID": testUser, "CLARIFAI_APP_ID": testApp}}, nil, "verify", "--dir", data, "--state-dir", t.TempDir())
	if res.code != cli.ExitFatal || !strings.Contains(res.stderr, "nothing listens on "+closed) {
		t.Errorf("verify against a closed port: %s", res)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"closed port", map[string]string{"CLARIFAI_API_BASE": "http://" + closed}, []string{closed, "nothing listens", "check the port"}},
		{"https to the plaintext emulator", map[string]string{"CLARIFAI_API_BASE": "https://" + f.srv.Addr()},
			[]string{f.srv.Addr(), "speaks plaintext", "use http://" + f.srv.Addr()}},
		{"wrong PAT", map[string]string{"CLARIFAI_PAT": "not-the-key"}, []string{f.srv.Addr(), "CONN_KEY_INVALID", "CLARIFAI_PAT"}},
		{"unknown app", map[string]string{"CLARIFAI_APP_ID": "nope"}, []string{"CONN_DOES_NOT_EXIST", "CLARIFAI_APP_ID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &fixture{env: maps.Clone(f.env)}
			maps.Copy(env.env, tc.env)
			posts := f.srv.Calls()["PostInputs"]
			state := t.TempDir()
			start := time.Now()
			res := run(t, env, nil, "run", "--dir", data, "--state-dir", state)
			if res.code != cli.ExitFatal {
				t.Fatalf("%s\nwant exit %d", res, cli.ExitFatal)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, res.stderr)
				}
			}
			// Three quick attempts; generous bound for a loaded machine.
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("took %v", took)
			}
			if f.srv.Calls()["PostInputs"] != posts {
				t.Error("items were sent")
			}
			if b, _ := os.ReadFile(filepath.Join(state, "failures.jsonl")); len(b) > 0 {
				t.Errorf("failure report written:\n%s", b)
			}
		})
	}
}

// TestOutageMidRunLeavesItemsPending: the emulator goes away during a run.
// The run stops (exit 1) with the items it had not finished pending, not
// failed, and says so; once the emulator is back, a rerun of the same
// command resumes them and ends exit 0 with every input stored once.
func TestOutageMidRunLeavesItemsPending(t *testing.T) {
	const items = 400
	emuState := t.TempDir()
	opts := emulator.Options{StateDir: emuState, PATs: []string{testPAT}, RateLimit: -1, ProcessingDelay: -1,
		Faults: emulator.Faults{Latency: 20 * time.Millisecond}}
	srv, err := emulator.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	f := &fixture{srv: srv, env: map[string]string{"CLARIFAI_API_BASE": "http://" + addr,
		"CLARIFAI_PAT": testPAT, "CLARIFAI_USER_ID": testUser, "CLARIFAI_APP_ID": testApp}}
	data := t.TempDir()
	for i := range items {
		writeFile(t, filepath.Join(data, fmt.Sprintf("f%03d.txt", i)), fmt.Sprintf("outage item %03d", i))
	}
	job := filepath.Join(t.TempDir(), "job.yaml")
	// Two attempts per call: the pause before the run stops is short.
	writeFile(t, job, "sources: [{dir: {path: "+data+"}}]\nupload: {max_attempts: 2, batch_size: 2, concurrency: 2, rate_limit: -1}\n")
	state := t.TempDir()

	done := make(chan result, 1)
	go func() { done <- run(t, f, nil, "run", "--config", job, "--state-dir", state) }()
	for i := 0; srv.Counts()[testUser+"/"+testApp].Inputs < 20; i++ {
		if i > 6000 {
			t.Fatal("the run stored nothing in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.code != cli.ExitFatal {
		t.Fatalf("%s\nwant exit %d", res, cli.ExitFatal)
	}
	s := summary(t, res.stdout)
	if s["failed"] != 0 || s["uploaded"] >= items {
		t.Errorf("summary %v: want nothing failed and not everything uploaded", s)
	}
	for _, w := range []string{"pending", "not failed", "rerun the same command"} {
		if !strings.Contains(strings.ToLower(res.stdout), w) {
			t.Errorf("summary does not say %q:\n%s", w, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "stopped answering") || !strings.Contains(res.stderr, addr) {
		t.Errorf("stderr does not name the outage and the endpoint:\n%s", res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(state, "failures.jsonl")); len(b) > 0 {
		t.Errorf("failure report written:\n%s", b)
	}

	// The API is back on the same address, with the same state.
	srv, err = emulator.Start(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	res = run(t, f, nil, "run", "--config", job, "--state-dir", state)
	if res.code != cli.ExitOK {
		t.Fatalf("rerun: %s", res)
	}
	seen := map[string]int{}
	for _, si := range srv.Inputs(testUser, testApp) {
		seen[si.Input.GetId()]++
	}
	if len(seen) != items {
		t.Errorf("emulator holds %d distinct inputs, want %d", len(seen), items)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("input %s stored %d times", id, n)
		}
	}
}
