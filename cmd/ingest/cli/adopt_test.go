package cli_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
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
	if s := summary(t, res.stdout); s["adopted"] != 3 || s["uploaded"] != 0 || s["failed"] != 0 {
		t.Errorf("rerun without the checkpoint: %v, want the 3 inputs adopted", s)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Errorf("emulator holds %d inputs, want 3", n)
	}

	writeFile(t, manifest, strings.Replace(rows, "b.jpg,dog", "b.jpg,bird", 1))
	state := t.TempDir()
	res = mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--csv", manifest, "--state-dir", state)
	if s := summary(t, res.stdout); s["adopted"] != 2 || s["uploaded"] != 0 || s["failed"] != 1 {
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

// TestGivenIDsWithChangedFile: local files under given IDs are sent as
// bytes, which the API never returns; the intents the first run recorded in
// its state directory before sending tell a rerun which bytes that was. The
// run's done records are lost (a crash after the server stored the inputs:
// here, a state directory holding only the intent log), and one file is
// replaced by another image of the same size. The rerun adopts the
// unchanged files, fails the replaced one naming the content, and sends
// nothing twice.
func TestGivenIDsWithChangedFile(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir := t.TempDir()
	img := func(name string, shade uint8) string {
		m := image.NewGray(image.Rect(0, 0, 8, 8))
		for i := range m.Pix {
			m.Pix[i] = shade
		}
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := img("a.png", 10), img("b.png", 20), img("c.png", 30)
	manifest := filepath.Join(dir, "m.csv")
	writeFile(t, manifest, "id,path,concepts\nm-1,"+a+",cat\nm-2,"+b+",dog\nm-3,"+c+",\n")
	first := t.TempDir()
	mustRun(t, cli.ExitOK, f, nil, "run", "--csv", manifest, "--state-dir", first)

	intents, err := os.ReadFile(filepath.Join(first, checkpoint.IntentsFile))
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	writeFile(t, filepath.Join(state, checkpoint.IntentsFile), string(intents))
	img("b.png", 200) // same size, other bytes
	res := mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--csv", manifest, "--state-dir", state)
	if s := summary(t, res.stdout); s["adopted"] != 2 || s["uploaded"] != 0 || s["failed"] != 1 {
		t.Errorf("rerun with a replaced file: %v, want 2 adopted and 1 failed", s)
	}
	rep, err := os.ReadFile(filepath.Join(state, "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rep), "\n"); n != 1 {
		t.Errorf("failure report has %d lines, want 1:\n%s", n, rep)
	}
	for _, w := range []string{"m-2", "content: an earlier run of this job sent other bytes under this ID (file changed since)"} {
		if !strings.Contains(string(rep), w) {
			t.Errorf("failure report does not say %q:\n%s", w, rep)
		}
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Errorf("emulator holds %d inputs, want 3", n)
	}
}
