package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// The harness itself runs in CI as `go run ./benchmarks -quick`; these
// tests cover its pure parts and stay fast.

// readTree returns every file under root by relative path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDatasetsAreDeterministic(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		gen  func(dir string) (datasetStamp, error)
	}{
		{"images", func(d string) (datasetStamp, error) { return genImages(ctx, d, 12, 8) }},
		{"texts", func(d string) (datasetStamp, error) { return genTexts(ctx, d, 12, 300) }},
		{"manifest", func(d string) (datasetStamp, error) { return genManifest(ctx, d, 500) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			sa, err := tc.gen(a)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := tc.gen(b)
			if err != nil {
				t.Fatal(err)
			}
			if sa != sb || sa.Bytes == 0 {
				t.Fatalf("stamps differ or are empty: %+v vs %+v", sa, sb)
			}
			ta, tb := readTree(t, a), readTree(t, b)
			if len(ta) != len(tb) {
				t.Fatalf("%d files vs %d", len(ta), len(tb))
			}
			for p, da := range ta {
				if !bytes.Equal(da, tb[p]) {
					t.Fatalf("%s differs between two generations", p)
				}
			}
			// A second call with the same parameters reuses the dataset.
			again, err := tc.gen(a)
			if err != nil || again != sa {
				t.Fatalf("regeneration: %+v, %v; want %+v", again, err, sa)
			}
		})
	}
}

func TestImagesAreJPEGsOfAboutTheRequestedSize(t *testing.T) {
	root := t.TempDir()
	const kb = 20
	st, err := genImages(context.Background(), root, len(imageClasses), kb)
	if err != nil {
		t.Fatal(err)
	}
	avg := st.Bytes / int64(st.N)
	if avg < kb*1000*7/10 || avg > kb*1000*13/10 {
		t.Errorf("average image size %d bytes, want about %d KB", avg, kb)
	}
	b, err := os.ReadFile(imagePath(root, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("image 3 is not a JPEG: %v", err)
	}
}

// TestDatasetsReadByTheProjectSources checks that the generated datasets
// are what the scenarios need: every item valid, kinds and labels as
// intended, and the ceiling's requests built from them.
func TestDatasetsReadByTheProjectSources(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if _, err := genImages(ctx, filepath.Join(root, "img"), 20, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := genManifest(ctx, filepath.Join(root, "m"), 300); err != nil {
		t.Fatal(err)
	}
	imgs, err := dir.New(dir.Config{Path: filepath.Join(root, "img"), LabelsFromFolders: true, Exclude: []string{stampName}})
	if err != nil {
		t.Fatal(err)
	}
	man, err := manifestSource(manifestPath(filepath.Join(root, "m")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		src      pipeline.Source
		n, batch int
	}{{"images", imgs, 20, 8}, {"manifest", man, 300, 128}} {
		t.Run(tc.name, func(t *testing.T) {
			reqs, _, err := buildRequests(ctx, tc.src, tc.batch, "app")
			if err != nil {
				t.Fatal(err)
			}
			if want := (tc.n + tc.batch - 1) / tc.batch; len(reqs) != want {
				t.Fatalf("%d requests, want %d", len(reqs), want)
			}
			seen := make(map[string]bool)
			for _, r := range reqs {
				if len(r.Inputs) > tc.batch || r.InputsAddJobId == "" || r.UserAppId.GetAppId() != "app" {
					t.Fatalf("bad request: %d inputs, job %q, app %v", len(r.Inputs), r.InputsAddJobId, r.UserAppId)
				}
				for _, in := range r.Inputs {
					if ids.ValidID(in.Id) != nil || seen[in.Id] {
						t.Fatalf("input ID %q invalid or repeated", in.Id)
					}
					seen[in.Id] = true
					if len(in.Data.GetConcepts()) == 0 {
						t.Fatalf("input %s has no concepts", in.Id)
					}
					if tc.name == "images" && len(in.Data.GetImage().GetBase64()) == 0 {
						t.Fatalf("image input %s has no bytes", in.Id)
					}
					if tc.name == "manifest" && (in.Data.GetImage().GetUrl() == "" || in.Data.GetMetadata() == nil) {
						t.Fatalf("manifest input %s lacks its URL or metadata", in.Id)
					}
				}
			}
			if len(seen) != tc.n {
				t.Fatalf("%d inputs, want %d", len(seen), tc.n)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	run := &Run{Name: "ingest", Inputs: 100, Seconds: 2}
	run.rate(4e6)
	if run.PerSec != 50 || run.MBps != 2 {
		t.Fatalf("rate: %v inputs/s, %v MB/s", run.PerSec, run.MBps)
	}
	for _, tc := range []struct {
		value, target float64
		op            Op
		pass          bool
	}{
		{0.85, 0.85, AtLeast, true}, {0.84, 0.85, AtLeast, false},
		{100, 100, AtMost, true}, {100.1, 100, AtMost, false}, {0.1, 0, Info, true},
	} {
		c := newCheck("S", "c", run, tc.value, tc.op, tc.target, "", "")
		if c.Pass != tc.pass || c.RunName != "ingest" {
			t.Errorf("%v %s %v: pass %v, want %v", tc.value, tc.op, tc.target, c.Pass, tc.pass)
		}
	}
	if ratio(1, 0) != 0 || ratio(3, 4) != 0.75 {
		t.Error("ratio")
	}
	runs := []*Run{{PerSec: 3, PeakRSSMB: 9}, {PerSec: 5, PeakRSSMB: 7}, {PerSec: 4, PeakRSSMB: 8}}
	if best(runs) != runs[1] || maxRSS(runs) != runs[0] {
		t.Error("best or maxRSS picked the wrong run")
	}
	if got := rates(runs); got != "3, 5, 4" {
		t.Errorf("rates = %q", got)
	}
}

func TestResultsRendering(t *testing.T) {
	run := &Run{Scenario: "S2", Name: "ingest", Inputs: 1000, Seconds: 2, PerSec: 500, PeakRSSMB: 42.5, Verify: "off (no status calls)"}
	ceil := &Run{Scenario: "S2", Name: "ceiling", Inputs: 1000, Seconds: 1, PerSec: 1000}
	pass := newCheck("S2", "throughput / raw ceiling", run, 0.5, AtLeast, 0.85, "", "500 / 1000 inputs/s")
	pass.Ceiling = ceil.PerSec
	rss := newCheck("S2", "peak RSS", run, 42.5, AtMost, 100, "MB", "")
	r := &Results{Machine: Machine{Cores: 2, GOMAXPROCS: 2, GoVersion: "go1.26", OS: "linux", Arch: "amd64", Date: "2026-01-01T00:00:00Z"},
		Mode: "full", Params: map[string]string{"b": "2", "a": "1"}, Runs: []*Run{ceil, run}, Checks: []Check{pass, rss}}
	if r.AllPass() {
		t.Error("AllPass with a failed check")
	}
	var md strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 cores, GOMAXPROCS 2", "Go: go1.26", "- a: 1\n- b: 2\n",
		"| S2 | throughput / raw ceiling | 1000 | 2.00 | 500 |", "| 0.500 | ≥ 0.85 | FAIL |",
		"| 42.5 MB | ≤ 100 MB | PASS |", "| S2 | ceiling | 1000 | 1.00 | 1000 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var txt bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "FAIL") || !strings.Contains(txt.String(), "off (no status calls)") {
		t.Errorf("text table:\n%s", txt.String())
	}
	files, err := r.Save(t.TempDir(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Checks) != 2 || back.Checks[0].RunName != "ingest" || back.Machine.Cores != 2 || back.Checks[1].Unit != "MB" {
		t.Errorf("JSON round trip: %+v", back)
	}
}

func TestFlagsSizesAndNames(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseFlags([]string{"-scenario", "s2", "-n", "5000"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != "S2" || c.Reps != 0 {
		t.Errorf("scenario %q reps %d", c.Scenario, c.Reps)
	}
	if s := sizesFor(c); s.Rows != 5000 || s.Small != 500 || s.Images != 20_000 {
		t.Errorf("sizes %+v", s)
	}
	if got := resultsBase(c); got != "latest-S2" {
		t.Errorf("resultsBase = %q", got)
	}
	q, err := parseFlags([]string{"-quick"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if q.Reps != 1 || resultsBase(q) != "quick" || sizesFor(q).Rows >= 100_000 {
		t.Errorf("quick: %+v", q)
	}
	full, _ := parseFlags(nil, &stderr)
	if resultsBase(full) != "latest" || sizesFor(full).Rows != 1_000_000 || sizesFor(full).Small != 100_000 {
		t.Errorf("full: %+v %+v", full, sizesFor(full))
	}
	for _, bad := range [][]string{{"-scenario", "S9"}, {"-batch", "129"}, {"extra"}} {
		if _, err := parseFlags(bad, &stderr); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestVerificationFromCalls(t *testing.T) {
	before := map[string]int64{"PostInputs": 10}
	after := map[string]int64{"PostInputs": 30, "GetInputsAddJob": 2}
	d := diffCalls(after, before)
	if d["PostInputs"] != 20 || d["GetInputsAddJob"] != 2 {
		t.Errorf("diffCalls = %v", d)
	}
	if got := verification(d); !strings.HasPrefix(got, "on (2 GetInputsAddJob") {
		t.Errorf("verification = %q", got)
	}
	if got := verification(map[string]int64{"PostInputs": 1}); !strings.HasPrefix(got, "off") {
		t.Errorf("verification = %q", got)
	}
}

func TestLauncherReportsUsage(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary, run with -test.run of nothing, is a command that
	// exists everywhere and exits 0.
	path := filepath.Join(t.TempDir(), "usage.json")
	if code := launch(path, []string{self, "-test.run", "^$"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("launch exit code %d", code)
	}
	u, err := readLaunchedUsage(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u.MaxRSS <= 0 || u.CPU <= 0 {
		t.Errorf("usage %+v", u)
	}
}
