package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/sources/report"
)

func textFiles(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("t%03d.txt", i)), fmt.Sprintf("text number %d\n", i))
	}
	return dir
}

func TestRunWithoutPATNamesBothRemedies(t *testing.T) {
	res := run(t, nil, nil, "run", "--dir", t.TempDir())
	if res.code != cli.ExitUsage {
		t.Fatalf("exit %d, want %d (usage):\n%s", res.code, cli.ExitUsage, res)
	}
	for _, want := range []string{"CLARIFAI_PAT", "--target embedded"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("error does not mention %q:\n%s", want, res.stderr)
		}
	}
}

func TestRunInvalidKeyIsFatalAndFast(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	f.env["CLARIFAI_PAT"] = "wrong-key-SECRET"
	start := time.Now()
	res := run(t, f, nil, "run", "--dir", textFiles(t, 20), "--state-dir", t.TempDir())
	if res.code != cli.ExitFatal {
		t.Fatalf("exit %d, want %d (fatal):\n%s", res.code, cli.ExitFatal, res)
	}
	if !strings.Contains(res.stderr, "CONN_KEY_INVALID") {
		t.Errorf("error does not name the cause:\n%s", res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, "wrong-key-SECRET") {
		t.Error("the PAT was printed")
	}
	// Fatal errors are not retried: the preflight's one call, not ten,
	// and no upload.
	if calls := f.srv.Calls(); calls["ListInputs"] != 1 || len(calls) != 1 {
		t.Errorf("calls %v, want one ListInputs (the preflight; no retries on an invalid key)", calls)
	}
	if d := time.Since(start); d > 30*time.Second { // generous; retries would take minutes
		t.Errorf("took %v", d)
	}
}

func TestRunResumesAndConfigMismatch(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data, state := textFiles(t, 30), t.TempDir()
	if res := run(t, f, nil, "run", "--dir", data, "--state-dir", state); res.code != cli.ExitOK {
		t.Fatalf("first run:\n%s", res)
	}
	posts := f.srv.Calls()["PostInputs"]
	res := run(t, f, nil, "run", "--dir", data, "--state-dir", state)
	if res.code != cli.ExitOK || !strings.Contains(res.stdout, "already done   30") {
		t.Fatalf("rerun:\n%s", res)
	}
	if f.srv.Calls()["PostInputs"] != posts {
		t.Error("the rerun sent inputs again")
	}
	// Another source list is another job: refuse to mix checkpoints.
	res = run(t, f, nil, "run", "--dir", data, "--dir", t.TempDir(), "--state-dir", state)
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "--restart") || !strings.Contains(res.stderr, "--allow-config-change") {
		t.Fatalf("changed job on the same checkpoint:\n%s", res)
	}
	res = run(t, f, nil, "run", "--dir", data, "--dir", t.TempDir(), "--state-dir", state, "--allow-config-change")
	if res.code != cli.ExitOK {
		t.Fatalf("--allow-config-change:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 30 {
		t.Errorf("emulator holds %d inputs, want 30", n)
	}
}

func TestRunTornCheckpointKeepsTheValidPrefix(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data, state := textFiles(t, 10), t.TempDir()
	if res := run(t, f, nil, "run", "--dir", data, "--state-dir", state); res.code != cli.ExitOK {
		t.Fatalf("first run:\n%s", res)
	}
	// Tear the last record of the checkpoint log, as a crash mid-write would.
	logs, _ := filepath.Glob(filepath.Join(state, "log-*.ckpt"))
	if len(logs) == 0 {
		t.Fatalf("no checkpoint log in %s", state)
	}
	last := logs[len(logs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	res := run(t, f, nil, "run", "--dir", data, "--state-dir", state)
	if res.code != cli.ExitOK {
		t.Fatalf("run after a torn checkpoint:\n%s", res)
	}
	if !strings.Contains(res.stderr, "invalid tail") {
		t.Errorf("the torn tail was not reported:\n%s", res.stderr)
	}
	// The torn record's item is simply delivered again: no duplicate.
	if n := len(f.srv.Inputs(testUser, testApp)); n != 10 {
		t.Errorf("emulator holds %d inputs, want 10", n)
	}
}

func TestRunPermanentFailureGoesToTheReport(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := textFiles(t, 5)
	// Not UTF-8: the API cannot take it as text. Everything else uploads.
	if err := os.WriteFile(filepath.Join(data, "bad.txt"), []byte{'o', 'k', 0xff, 0xfe, '\n'}, 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	res := run(t, f, nil, "run", "--dir", data, "--state-dir", state)
	if res.code != cli.ExitItemsFailed {
		t.Fatalf("exit %d, want %d:\n%s", res.code, cli.ExitItemsFailed, res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 5 {
		t.Errorf("emulator holds %d inputs, want the 5 good ones", n)
	}
	recs := readReport(t, filepath.Join(state, "failures.jsonl"))
	if len(recs) != 1 || !strings.HasSuffix(recs[0].Provenance.Path, "bad.txt") || !strings.Contains(recs[0].Message, "UTF-8") {
		t.Fatalf("failure report = %+v", recs)
	}
	// The report is a source: fix the file and retry just that item.
	if err := os.WriteFile(filepath.Join(data, "bad.txt"), []byte("fixed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = run(t, f, nil, "run", "--config", writeJob(t, "target: clarifai\nsources: [{report: {path: "+filepath.Join(state, "failures.jsonl")+"}}]\n"), "--state-dir", t.TempDir())
	if res.code != cli.ExitOK || !strings.Contains(res.stdout, "uploaded       1") {
		t.Fatalf("retry from the report:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 6 {
		t.Errorf("emulator holds %d inputs, want 6", n)
	}
}

func writeJob(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "job.yaml")
	writeFile(t, p, doc)
	return p
}

func readReport(t *testing.T, path string) []report.Record {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var recs []report.Record
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r report.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestVerifyFindsInputsDeletedBehindOurBack(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data, state := textFiles(t, 12), t.TempDir()
	if res := run(t, f, nil, "run", "--dir", data, "--state-dir", state); res.code != cli.ExitOK {
		t.Fatalf("run:\n%s", res)
	}
	if res := run(t, f, nil, "verify", "--dir", data, "--state-dir", state); res.code != cli.ExitOK || !strings.Contains(res.stdout, "problems       0") {
		t.Fatalf("verify of a clean job:\n%s", res)
	}
	// Delete three inputs with another client.
	c, err := client.New(client.Config{Tuning: client.Tuning{RateLimit: -1}, Connection: client.Connection{Base: f.env["CLARIFAI_API_BASE"], PAT: testPAT, UserID: testUser, AppID: testApp}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var gone []string
	for _, si := range f.srv.Inputs(testUser, testApp)[:3] {
		gone = append(gone, si.Input.GetId())
	}
	if _, err := c.DeleteInputs(context.Background(), &pb.DeleteInputsRequest{Ids: gone}); err != nil {
		t.Fatal(err)
	}
	res := run(t, f, nil, "verify", "--dir", data, "--state-dir", state, "--repair")
	if res.code != cli.ExitItemsFailed || !strings.Contains(res.stdout, "problems       3") {
		t.Fatalf("verify after deletes:\n%s", res)
	}
	for _, id := range gone {
		if !strings.Contains(res.stdout, "missing  "+id) {
			t.Errorf("deleted input %s not reported:\n%s", id, res.stdout)
		}
	}
	// The repaired checkpoint makes the next run send them again.
	if res := run(t, f, nil, "run", "--dir", data, "--state-dir", state); res.code != cli.ExitOK {
		t.Fatalf("run after repair:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 12 {
		t.Errorf("emulator holds %d inputs after the repair run, want 12", n)
	}
}

func TestConfigPrintPrecedenceAndMasking(t *testing.T) {
	job := writeJob(t, `
target: clarifai
clarifai: {pat: file-pat-SECRET, user_id: file-user, app_id: file-app}
upload: {concurrency: 8, batch_size: 64}
sources: [{dir: {path: photos}}]
`)
	env := &fixture{env: map[string]string{"CLARIFAI_USER_ID": "env-user", "INGEST_CONCURRENCY": "2", "CLARIFAI_PAT": "env-pat-SECRET"}}
	res := run(t, env, nil, "config", "print", "--config", job, "--batch-size", "32")
	if res.code != cli.ExitOK {
		t.Fatalf("config print:\n%s", res)
	}
	for _, want := range []string{"user_id: env-user", "app_id: file-app", "concurrency: 2", "batch_size: 32", "rate_limit: 15", "pat: '****'"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("effective config lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout+res.stderr, "SECRET") {
		t.Errorf("a secret was printed:\n%s", res)
	}
	res = run(t, nil, nil, "config", "print", "--config", writeJob(t, "upload: {batch_size: 500}\nsources: [{dir: {path: x}}]\n"))
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "upload.batch_size: 500") {
		t.Errorf("bad value:\n%s", res)
	}
	res = run(t, nil, nil, "config", "print", "--config", writeJob(t, "uplod: {}\n"))
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "uplod") {
		t.Errorf("unknown key:\n%s", res)
	}
}
