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
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
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
	if resultsBase(full) != "latest" || sizesFor(full).Rows != 1_000_000 || sizesFor(full).Small != 100_000 ||
		sizesFor(full).S5Rows != 1_000_000 {
		t.Errorf("full: %+v %+v", full, sizesFor(full))
	}
	s5, err := parseFlags([]string{"-scenario", "s5", "-n", "30000", "-quick"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if s := sizesFor(s5); s5.Scenario != "S5" || s.S5Rows != 30_000 || s.Rows != 20_000 || resultsBase(s5) != "quick-S5" {
		t.Errorf("S5: %+v %+v", s5, s)
	}
	if s := sizesFor(q); s.S5Rows != 20_000 {
		t.Errorf("quick S5 rows %d", s.S5Rows)
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

// TestEditedManifest checks S5's edit: the rows editedRow picks differ
// from the original in their labels only (the same URL, so the same input
// ID, and the same metadata), every label changed, and the other rows are
// byte for byte those of genManifest.
func TestEditedManifest(t *testing.T) {
	ctx := context.Background()
	const n = 1_000
	dir := t.TempDir()
	if _, err := genManifest(ctx, dir, n); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(manifestPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "manifest.csv")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	size, err := writeEditedManifest(ctx, path, n)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := os.ReadFile(path)
	if err != nil || int64(len(edited)) != size {
		t.Fatalf("read back %d bytes (%v), written %d", len(edited), err, size)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	origRows, editRows := strings.Split(string(orig), "\n"), strings.Split(string(edited), "\n")
	if len(origRows) != len(editRows) || len(origRows) != n+2 { // header, n rows, "" after the last newline
		t.Fatalf("%d and %d lines, want %d", len(origRows), len(editRows), n+2)
	}
	changed := 0
	for i := range n {
		o, e := origRows[i+1], editRows[i+1]
		if !editedRow(i) {
			if o != e {
				t.Fatalf("row %d changed:\n%s\n%s", i, o, e)
			}
			continue
		}
		changed++
		// url,concepts,metadata: the URL has no comma, the metadata is the
		// quoted object at the end.
		oURL, oRest, _ := strings.Cut(o, ",")
		eURL, eRest, _ := strings.Cut(e, ",")
		oMeta, eMeta := oRest[strings.Index(oRest, `"{`):], eRest[strings.Index(eRest, `"{`):]
		if oURL != eURL || oMeta != eMeta {
			t.Fatalf("row %d: URL or metadata changed:\n%s\n%s", i, o, e)
		}
		oLabels := strings.Split(strings.Trim(strings.TrimSuffix(oRest, ","+oMeta), `"`), ";")
		eLabels := strings.Split(strings.Trim(strings.TrimSuffix(eRest, ","+eMeta), `"`), ";")
		if len(oLabels) != len(eLabels) {
			t.Fatalf("row %d: %v -> %v", i, oLabels, eLabels)
		}
		for j := range oLabels {
			if strings.HasPrefix(oLabels[j], "-") != strings.HasPrefix(eLabels[j], "-") {
				t.Fatalf("row %d: the sign of a label changed: %v -> %v", i, oLabels, eLabels)
			}
			for _, ol := range oLabels {
				if strings.TrimPrefix(ol, "-") == strings.TrimPrefix(eLabels[j], "-") {
					t.Fatalf("row %d: label %s kept: %v -> %v", i, ol, oLabels, eLabels)
				}
			}
		}
	}
	if changed != editedRows(n) || changed != n/100 {
		t.Errorf("%d rows edited, want %d", changed, n/100)
	}
}

// TestEditedRowsBuildTheSameInputs checks that an edited row gives the
// same input ID with other concepts, through the project's source and the
// sink's ID derivation (what the emulator is checked against).
func TestEditedRowsBuildTheSameInputs(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(1_000)
	var orig []sampleRow
	for _, r := range rows {
		orig = append(orig, sampleRow{Row: r.Row})
	}
	want, err := expectedInputs(ctx, t.TempDir(), rows)
	if err != nil {
		t.Fatal(err)
	}
	before, err := expectedInputs(ctx, t.TempDir(), orig)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if want[i].GetId() != before[i].GetId() || want[i].GetId() == "" {
			t.Errorf("row %d: ID %q after the edit, %q before", r.Row, want[i].GetId(), before[i].GetId())
		}
		if same := wantConcepts(want[i]) == wantConcepts(before[i]); same == r.Edited {
			t.Errorf("row %d (edited %v): concepts %s, before %s", r.Row, r.Edited, wantConcepts(want[i]), wantConcepts(before[i]))
		}
	}
}

func TestSampleRows(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []sampleRow
	}{
		{1_000_000, []sampleRow{{0, false}, {99, true}, {499_999, true}, {999_999, true}}},
		{20_000, []sampleRow{{0, false}, {99, true}, {9_999, true}, {19_999, true}}},
		{250, []sampleRow{{0, false}, {99, true}, {199, true}, {249, false}}},
		{100, []sampleRow{{0, false}, {99, true}}},
		{50, []sampleRow{{0, false}, {49, false}}},
	} {
		got := sampleRows(tc.n)
		if len(got) != len(tc.want) {
			t.Errorf("sampleRows(%d) = %v, want %v", tc.n, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("sampleRows(%d) = %v, want %v", tc.n, got, tc.want)
				break
			}
		}
	}
}

func TestConceptSets(t *testing.T) {
	var in inspectedInput
	if err := json.Unmarshal([]byte(`{"input":{"id":"x","data":{"image":{"url":"u"},
		"concepts":[{"id":"dog","name":"dog","value":1},{"id":"cat","name":"cat"}]}},"content":[]}`), &in); err != nil {
		t.Fatal(err)
	}
	built := &pb.Input{Data: &pb.Data{Concepts: []*pb.Concept{{Id: "cat", Value: 0}, {Id: "dog", Value: 1}}}}
	if g, w := gotConcepts(in), wantConcepts(built); g != w || g != "cat=0,dog=1" {
		t.Errorf("got %q, want %q", g, w)
	}
}

func TestRunCounts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      ingestOpts
		rep    runReport
		inputs int64
		ok     bool
	}{
		{"upload", ingestOpts{want: 10}, runReport{Done: 10}, 10, true},
		{"upload short", ingestOpts{want: 10}, runReport{Done: 9, Failed: 1}, 9, false},
		{"resume", ingestOpts{want: 10, resume: true}, runReport{Resumed: 10}, 10, true},
		{"resume with failures", ingestOpts{want: 10, resume: true}, runReport{Resumed: 10, Failed: 1}, 10, false},
		{"updates", ingestOpts{want: 100, updates: 1}, runReport{Updated: 1, Resumed: 99}, 1, true},
		{"no updates", ingestOpts{want: 100, updates: 1}, runReport{Resumed: 100}, 0, false},
		{"updates posted", ingestOpts{want: 100, updates: 1}, runReport{Done: 1, Resumed: 99}, 0, false},
		{"updates conflict", ingestOpts{want: 100, updates: 1}, runReport{Updated: 1, Resumed: 99, Conflicts: 1}, 1, false},
	} {
		inputs, problem := runCounts(tc.o, tc.rep)
		if inputs != tc.inputs || (problem == "") != tc.ok {
			t.Errorf("%s: %d inputs, problem %q; want %d, ok %v", tc.name, inputs, problem, tc.inputs, tc.ok)
		}
	}
}

func TestCallsShare(t *testing.T) {
	calls := map[string]int64{"PatchInputs": 79, "ListConcepts": 1}
	share, total := callsShare(8, calls, 15)
	if total != 80 || share != 1.5 {
		t.Errorf("callsShare = %v, %d", share, total)
	}
	if s, n := callsShare(3, nil, 15); s != 0 || n != 0 {
		t.Errorf("no calls: %v, %d", s, n)
	}
	if got := fmtCalls(calls); got != "79 PatchInputs, 1 ListConcepts" {
		t.Errorf("fmtCalls = %q", got)
	}
	if got := fmtCalls(nil); got != "no calls" {
		t.Errorf("fmtCalls(nil) = %q", got)
	}
}

func TestEmulatorArgs(t *testing.T) {
	plain := strings.Join(emulatorOptions{RateLimit: 15, Latency: s3Latency}.args("127.0.0.1:1"), " ")
	if !strings.Contains(plain, "-rate-limit 15 -latency 100ms") || strings.Contains(plain, "-state") {
		t.Errorf("args %q", plain)
	}
	withState := strings.Join(emulatorOptions{StateDir: "/s"}.args("127.0.0.1:1"), " ")
	if !strings.Contains(withState, "-rate-limit 0") || !strings.HasSuffix(withState, "-state /s -save-interval 0") {
		t.Errorf("args %q", withState)
	}
}
