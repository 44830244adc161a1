package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// Targets of issue 6.
const (
	targetS1Ratio       = 0.85 // of the raw ceiling
	targetS2Ratio       = 0.85
	targetS2RSSMB       = 100.0 // 10^6 bytes
	targetRSSGrowth     = 1.10  // peak RSS at N rows over N/10 rows ("no higher"; 10% for GC noise)
	targetS3Ratio       = 0.95  // of 15 × 128 inputs/s
	targetResumeShare   = 0.05  // resume time over first-run time
	targetCheckpointTax = 0.95  // throughput with the checkpoint over without
	s3RateLimit         = 15.0
	s3Latency           = 100 * time.Millisecond
)

// sizes are the dataset sizes of one harness run.
type sizes struct {
	Images  int // S1
	Texts   int // S1-text
	TextLen int // bytes per text file
	Rows    int // S2, S4
	Small   int // S2's smaller manifest, for the RSS growth check
	S3Rows  int // S3
	S5Rows  int // S5
}

// sizesFor returns the full or quick sizes, with -n applied to the
// selected scenarios.
func sizesFor(c config) sizes {
	s := sizes{Images: 20_000, Texts: 20_000, TextLen: 2_000, Rows: 1_000_000, S3Rows: 64 * 128 * 6, S5Rows: 1_000_000}
	if c.Quick {
		s = sizes{Images: 300, Texts: 300, TextLen: 2_000, Rows: 20_000, S3Rows: 2_560, S5Rows: 20_000}
	}
	if n := c.N; n > 0 {
		switch c.Scenario {
		case "all":
			s.Images, s.Texts, s.Rows, s.S3Rows, s.S5Rows = n, n, n, n, n
		case "S1":
			s.Images = n
		case "S1-TEXT":
			s.Texts = n
		case "S2", "S4":
			s.Rows = n
		case "S3":
			s.S3Rows = n
		case "S5":
			s.S5Rows = n
		}
	}
	s.Small = max(1, s.Rows/10)
	return s
}

// harness runs the scenarios and collects their results.
type harness struct {
	cfg                    config
	module                 string
	log                    io.Writer
	sizes                  sizes
	ingestBin, emulatorBin string
	res                    *Results
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (h *harness) params() map[string]string {
	s := h.sizes
	return map[string]string{
		"S1 images":             strconv.Itoa(s.Images),
		"S1 image KB (approx)":  strconv.Itoa(h.cfg.ImageKB),
		"S1-text files":         fmt.Sprintf("%d of ~%d bytes", s.Texts, s.TextLen),
		"S2/S4 manifest rows":   fmt.Sprintf("%d (and %d for the RSS comparison)", s.Rows, s.Small),
		"S3 manifest rows":      strconv.Itoa(s.S3Rows),
		"S5 manifest rows":      fmt.Sprintf("%d, %d edited (every %dth row's labels)", s.S5Rows, editedRows(s.S5Rows), editEvery),
		"batch size":            strconv.Itoa(h.cfg.Batch),
		"concurrency":           strconv.Itoa(h.cfg.Concurrency),
		"repetitions (best of)": fmt.Sprintf("S1 and S1-text %d, S2 %d", h.reps(folderReps), h.reps(manifestReps)),
	}
}

func (h *harness) selected(name string) bool {
	return h.cfg.Scenario == "all" || h.cfg.Scenario == name
}

// runScenarios runs the selected scenarios in order. S4 reuses S2's runs
// when both are selected.
func (h *harness) runScenarios(ctx context.Context) error {
	if h.selected("S1") {
		if err := h.s1(ctx); err != nil {
			return fmt.Errorf("S1: %w", err)
		}
	}
	if h.selected("S1-TEXT") {
		if err := h.s1Text(ctx); err != nil {
			return fmt.Errorf("S1-text: %w", err)
		}
	}
	if h.selected("S2") || h.selected("S4") {
		if err := h.s2s4(ctx, h.selected("S2"), h.selected("S4")); err != nil {
			return fmt.Errorf("S2/S4: %w", err)
		}
	}
	if h.selected("S3") {
		if err := h.s3(ctx); err != nil {
			return fmt.Errorf("S3: %w", err)
		}
	}
	if h.selected("S5") {
		if err := h.s5(ctx); err != nil {
			return fmt.Errorf("S5: %w", err)
		}
	}
	return nil
}

func (h *harness) dataDir(name string) string { return filepath.Join(h.cfg.Work, "data", name) }

// runDir returns a fresh directory for one run's job file, logs and state.
func (h *harness) runDir(name string) (string, error) {
	d := filepath.Join(h.cfg.Work, "runs", name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

func (h *harness) add(r *Run) *Run {
	h.res.Runs = append(h.res.Runs, r)
	rss := ""
	if r.PeakRSSMB > 0 {
		rss = fmt.Sprintf(", peak RSS %.1f MB", r.PeakRSSMB)
	}
	h.logf("%s %s: %d inputs in %.2fs = %.0f inputs/s, %.1f MB/s, CPU %.1fs%s %s", r.Scenario, r.Name, r.Inputs,
		r.Seconds, r.PerSec, r.MBps, r.CPUSeconds, rss, r.Verify)
	return r
}

func (h *harness) check(c Check) {
	h.res.Checks = append(h.res.Checks, c)
	h.logf("%s %s: %s (target %s) %s", c.Scenario, c.Name, fmtValue(c), fmtTarget(c), verdict(c))
}

// ceilingRequests builds the ceiling's requests for src (untimed).
func (h *harness) ceilingRequests(ctx context.Context, scenario string, src pipeline.Source) ([]*pb.PostInputsRequest, error) {
	h.logf("%s ceiling: building requests", scenario)
	reqs, _, err := buildRequests(ctx, src, h.cfg.Batch, "ceiling")
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("ceiling: the dataset is empty")
	}
	return reqs, nil
}

// ceiling measures the raw ceiling: it starts an emulator with opts, sends
// reqs, and stops the emulator.
func (h *harness) ceiling(ctx context.Context, scenario, name string, reqs []*pb.PostInputsRequest, dataBytes int64,
	opts emulatorOptions, perSecond float64) (*Run, error) {
	d, err := h.runDir(scenario + "-" + sanitize(name))
	if err != nil {
		return nil, err
	}
	emu, err := startEmulator(ctx, h.emulatorBin, filepath.Join(d, "emulator.log"), opts)
	if err != nil {
		return nil, err
	}
	res, sendErr := sendRequests(ctx, emu.addr, reqs, h.cfg.Concurrency, perSecond)
	calls, _ := emu.calls(ctx)
	eu, stopErr := emu.stop()
	if sendErr != nil {
		return nil, sendErr
	}
	if stopErr != nil {
		return nil, stopErr
	}
	r := &Run{Scenario: scenario, Name: name, Inputs: res.Inputs, Seconds: res.Elapsed.Seconds(),
		CPUSeconds: res.CPU.Seconds(), EmulatorCPUSeconds: eu.CPU.Seconds(), Calls: calls, Retries: res.Retries}
	r.rate(dataBytes)
	return h.add(r), nil
}

// Default repetitions: a folder scenario's pair of runs takes seconds, S2's
// takes about two minutes.
const (
	folderReps   = 3
	manifestReps = 2
)

// reps returns the repetitions of a scenario whose default is def.
func (h *harness) reps(def int) int {
	if h.cfg.Reps > 0 {
		return h.cfg.Reps
	}
	return def
}

// repName names repetition i of reps runs.
func repName(name string, i, reps int) string {
	if reps == 1 {
		return name
	}
	return fmt.Sprintf("%s #%d", name, i+1)
}

// best returns the run with the highest throughput: on a shared machine
// other work only ever slows a run down, so the best of a few runs is the
// closest to what the code can do, and comparing bests compares like with
// like.
func best(runs []*Run) *Run {
	var b *Run
	for _, r := range runs {
		if b == nil || r.PerSec > b.PerSec {
			b = r
		}
	}
	return b
}

// rates lists the throughputs of runs, for a check's detail.
func rates(runs []*Run) string {
	var s []string
	for _, r := range runs {
		s = append(s, fmt.Sprintf("%.0f", r.PerSec))
	}
	return strings.Join(s, ", ")
}

// ingestOpts describes one ingest run.
type ingestOpts struct {
	scenario, name string
	job            string // YAML
	args           []string
	want           int64 // inputs that must be uploaded (or resumed)
	dataBytes      int64
	resume         bool   // the run must skip everything (already done)
	app            string // the app to upload to; default the scenario
	// updates > 0: the run must update exactly this many items of want and
	// find the others already done, uploading nothing (a rerun of an
	// edited source).
	updates int64
}

// runCounts returns the inputs a run is measured by (uploaded; already
// done for a resume; updated for a rerun with updates) and, when the run
// report's counts are not what o wants, what is wrong.
func runCounts(o ingestOpts, rep runReport) (int64, string) {
	counts := fmt.Sprintf("uploaded %d, updated %d, already done %d, failed %d, skipped %d, conflicts %d, replaced %d",
		rep.Done, rep.Updated, rep.Resumed, rep.Failed, rep.Skipped, rep.Conflicts, rep.Replaced)
	switch {
	case o.updates > 0:
		if rep.Updated != o.updates || rep.Resumed != o.want-o.updates || rep.Done != 0 || rep.Failed != 0 ||
			rep.Conflicts != 0 || rep.Replaced != 0 {
			return rep.Updated, fmt.Sprintf("want %d updated and %d already done, nothing else; got %s",
				o.updates, o.want-o.updates, counts)
		}
		return rep.Updated, ""
	case o.resume:
		if rep.Failed > 0 || rep.Resumed != o.want {
			return rep.Resumed, fmt.Sprintf("want %d inputs already done; got %s", o.want, counts)
		}
		return rep.Resumed, ""
	}
	if rep.Failed > 0 || rep.Done != o.want {
		return rep.Done, fmt.Sprintf("want %d inputs uploaded; got %s", o.want, counts)
	}
	return rep.Done, ""
}

// ingest runs the ingest command against emu and returns the run. The run
// directory is dir (reused by a resume run, which needs the state).
func (h *harness) ingest(ctx context.Context, emu *emulator, dir string, o ingestOpts) (*Run, error) {
	before, err := emu.calls(ctx)
	if err != nil {
		return nil, err
	}
	app := o.app
	if app == "" {
		app = o.scenario
	}
	r := ingestRun{Bin: h.ingestBin, Dir: dir, Job: o.job, Addr: emu.addr, App: app, Args: o.args}
	if h.cfg.Pprof {
		tag := sanitize(o.name)
		r.Env = []string{"INGEST_CPUPROFILE=" + filepath.Join(dir, tag+".cpu.pprof"),
			"INGEST_MEMPROFILE=" + filepath.Join(dir, tag+".heap.pprof")}
	}
	h.logf("%s %s: running ingest", o.scenario, o.name)
	rep, u, err := r.run(ctx)
	if err != nil {
		return nil, err
	}
	after, err := emu.calls(ctx)
	if err != nil {
		return nil, err
	}
	calls := diffCalls(after, before)
	run := &Run{Scenario: o.scenario, Name: o.name, Seconds: u.Elapsed.Seconds(), CPUSeconds: u.CPU.Seconds(),
		PeakRSSMB: float64(u.MaxRSS) / 1e6, Calls: calls, Verify: verification(calls),
		Retries: rep.Retries, Throttled: rep.Throttled, ReportedSec: rep.Seconds}
	run.Inputs, run.Error = runCounts(o, rep)
	if run.Error != "" {
		run.Error += " (see " + dir + ")"
	}
	run.rate(o.dataBytes)
	h.add(run)
	if run.Error != "" {
		return run, fmt.Errorf("%s %s: %s", o.scenario, o.name, run.Error)
	}
	return run, nil
}

// ingestFresh runs ingest against a fresh emulator started with opts, in a
// fresh run directory, and stops the emulator.
func (h *harness) ingestFresh(ctx context.Context, opts emulatorOptions, o ingestOpts) (*Run, error) {
	d, err := h.runDir(o.scenario + "-" + sanitize(o.name))
	if err != nil {
		return nil, err
	}
	emu, err := startEmulator(ctx, h.emulatorBin, filepath.Join(d, "emulator.log"), opts)
	if err != nil {
		return nil, err
	}
	run, err := h.ingest(ctx, emu, d, o)
	eu, stopErr := emu.stop()
	if run != nil {
		run.EmulatorCPUSeconds = eu.CPU.Seconds()
	}
	if err != nil {
		return run, err
	}
	return run, stopErr
}

// diffCalls returns after - before by method.
func diffCalls(after, before map[string]int64) map[string]int64 {
	out := make(map[string]int64)
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// verification says whether a run verified processing, from the status
// checks the emulator saw.
func verification(calls map[string]int64) string {
	jobs, lists, gets := calls["GetInputsAddJob"], calls["ListInputs"], calls["GetInput"]
	if jobs+lists+gets == 0 {
		return "off (no status calls)"
	}
	return fmt.Sprintf("on (%d GetInputsAddJob, %d ListInputs, %d GetInput)", jobs, lists, gets)
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}

// noLimits is the emulator of S1 and S2: no rate limit, no added latency.
var noLimits = emulatorOptions{}

// unlimitedArgs are the ingest flags of S1 and S2: no client-side budget,
// the harness's batch size and concurrency.
func (h *harness) unlimitedArgs(extra ...string) []string {
	return append([]string{"--rate-limit", "-1", "--concurrency", strconv.Itoa(h.cfg.Concurrency),
		"--batch-size", strconv.Itoa(h.cfg.Batch)}, extra...)
}

// s1 is the folder of images: ingest over the raw ceiling.
func (h *harness) s1(ctx context.Context) error {
	n := h.sizes.Images
	dataDir := h.dataDir(fmt.Sprintf("images-%d-%dkb", n, h.cfg.ImageKB))
	h.logf("S1: generating %d images of ~%d KB (cached in %s)", n, h.cfg.ImageKB, dataDir)
	t := time.Now()
	stamp, err := genImages(ctx, dataDir, n, h.cfg.ImageKB)
	if err != nil {
		return err
	}
	h.logf("S1: dataset ready in %.1fs: %.1f MB", time.Since(t).Seconds(), float64(stamp.Bytes)/1e6)
	job := fmt.Sprintf("name: s1\nsources:\n  - dir:\n      path: %q\n      labels_from_folders: true\n      exclude: [%q]\n",
		dataDir, stampName)
	return h.folderScenario(ctx, "S1", dir.Config{Path: dataDir, LabelsFromFolders: true, Exclude: []string{stampName}},
		job, n, stamp.Bytes, targetS1Ratio)
}

// s1Text is the folder of text files: ingest over the raw ceiling. It is
// not one of the scenarios and has no target: it shows the cost of
// many small files, which the ceiling (contents in memory) does not pay.
func (h *harness) s1Text(ctx context.Context) error {
	n := h.sizes.Texts
	dataDir := h.dataDir(fmt.Sprintf("texts-%d-%db", n, h.sizes.TextLen))
	h.logf("S1-text: generating %d text files (cached in %s)", n, dataDir)
	stamp, err := genTexts(ctx, dataDir, n, h.sizes.TextLen)
	if err != nil {
		return err
	}
	job := fmt.Sprintf("name: s1text\nsources:\n  - dir:\n      path: %q\n      exclude: [%q]\n", dataDir, stampName)
	return h.folderScenario(ctx, "S1-text", dir.Config{Path: dataDir, Exclude: []string{stampName}}, job, n, stamp.Bytes, 0)
}

// folderScenario runs repeated pairs of (ceiling, ingest) on a folder and
// checks the best ingest over the best ceiling against target (0: no
// target, reported only).
func (h *harness) folderScenario(ctx context.Context, scenario string, cfg dir.Config, job string, n int, bytes int64, target float64) error {
	src, err := dir.New(cfg)
	if err != nil {
		return err
	}
	reqs, err := h.ceilingRequests(ctx, scenario, src)
	if err != nil {
		return err
	}
	var ceils, runs []*Run
	reps := h.reps(folderReps)
	for i := range reps {
		c, err := h.ceiling(ctx, scenario, repName("ceiling", i, reps), reqs, bytes, noLimits, 0)
		if err != nil {
			return err
		}
		r, err := h.ingestFresh(ctx, noLimits, ingestOpts{scenario: scenario, name: repName("ingest", i, reps), job: job,
			args: h.unlimitedArgs(), want: int64(n), dataBytes: bytes})
		if err != nil {
			return err
		}
		ceils, runs = append(ceils, c), append(runs, r)
	}
	h.throughputCheck(scenario, "throughput / raw ceiling", runs, ceils, target)
	return nil
}

// throughputCheck compares the best of runs with the best of ceils.
func (h *harness) throughputCheck(scenario, name string, runs, ceils []*Run, target float64) {
	run, ceil := best(runs), best(ceils)
	op := AtLeast
	if target == 0 {
		op = Info
	}
	detail := fmt.Sprintf("%.0f / %.0f inputs/s; CPU per 1000 inputs: ingest %.3fs, ceiling client %.3fs; emulator CPU %.1fs vs %.1fs",
		run.PerSec, ceil.PerSec, 1000*ratio(run.CPUSeconds, float64(run.Inputs)), 1000*ratio(ceil.CPUSeconds, float64(ceil.Inputs)),
		run.EmulatorCPUSeconds, ceil.EmulatorCPUSeconds)
	if len(runs) > 1 {
		detail += fmt.Sprintf("; best of %d: ingest runs %s, ceiling runs %s inputs/s", len(runs), rates(runs), rates(ceils))
	}
	c := newCheck(scenario, name, run, ratio(run.PerSec, ceil.PerSec), op, target, "", detail)
	c.Ceiling = ceil.PerSec
	h.check(c)
}

// manifestJob is the job file of a manifest scenario.
func manifestJob(name, path string) string {
	return fmt.Sprintf("name: %s\nsources:\n  - csv:\n      path: %q\n", name, path)
}

// manifestSource is the project's CSV source over a generated manifest, as
// the ingest command builds it from manifestJob.
func manifestSource(path string) (pipeline.Source, error) {
	return manifest.New(manifest.Config{Path: path})
}

// s2s4 runs the manifest scenarios. S2: ingest (checkpoint on, as users
// run it) over the raw ceiling, and the peak RSS at N and N/10 rows, with
// and without the checkpoint. S4: the rerun of S2's first run, which must
// skip everything, and the checkpoint's cost (S2 with and without it).
// Each repetition runs the ceiling, ingest and ingest --no-checkpoint in
// turn, so that all three see the same state of the machine.
func (h *harness) s2s4(ctx context.Context, s2, s4 bool) error {
	n, small := h.sizes.Rows, h.sizes.Small
	h.logf("S2: generating manifests of %d and %d rows", n, small)
	bigDir, smallDir := h.dataDir(fmt.Sprintf("manifest-%d", n)), h.dataDir(fmt.Sprintf("manifest-%d", small))
	big, err := genManifest(ctx, bigDir, n)
	if err != nil {
		return err
	}
	var reqs []*pb.PostInputsRequest
	if s2 {
		src, err := manifestSource(manifestPath(bigDir))
		if err != nil {
			return err
		}
		if reqs, err = h.ceilingRequests(ctx, "S2", src); err != nil {
			return err
		}
	}
	job := manifestJob("s2", manifestPath(bigDir))
	var ceils, firsts, noCkpts []*Run
	var resume, resumed *Run
	reps := h.reps(manifestReps)
	for i := range reps {
		if s2 {
			c, err := h.ceiling(ctx, "S2", repName("ceiling", i, reps), reqs, big.Bytes, noLimits, 0)
			if err != nil {
				return err
			}
			ceils = append(ceils, c)
		}
		// The first run with the checkpoint, then (once) its rerun against
		// the same emulator and state: the rerun must skip everything.
		d, err := h.runDir("S2-" + sanitize(repName("ingest", i, reps)))
		if err != nil {
			return err
		}
		emu, err := startEmulator(ctx, h.emulatorBin, filepath.Join(d, "emulator.log"), noLimits)
		if err != nil {
			return err
		}
		first, err := h.ingest(ctx, emu, d, ingestOpts{scenario: "S2", name: repName("ingest", i, reps), job: job,
			args: h.unlimitedArgs(), want: int64(n), dataBytes: big.Bytes})
		if err == nil && s4 && i == 0 {
			resume, err = h.ingest(ctx, emu, d, ingestOpts{scenario: "S4", name: "resume (rerun of S2 ingest)", job: job,
				app: "S2", args: h.unlimitedArgs(), want: int64(n), dataBytes: big.Bytes, resume: true})
			resumed = first
		}
		eu, stopErr := emu.stop()
		if first != nil {
			first.EmulatorCPUSeconds = eu.CPU.Seconds()
		}
		if err != nil {
			return err
		}
		if stopErr != nil {
			return stopErr
		}
		firsts = append(firsts, first)

		noCkpt, err := h.ingestFresh(ctx, noLimits, ingestOpts{scenario: "S2", name: repName("ingest --no-checkpoint", i, reps),
			job: job, args: h.unlimitedArgs("--no-checkpoint"), want: int64(n), dataBytes: big.Bytes})
		if err != nil {
			return err
		}
		noCkpts = append(noCkpts, noCkpt)
	}
	reqs = nil // the harness holds no more than it must (the requests of 1M rows are ~1 GB)
	first, noCkpt := best(firsts), best(noCkpts)

	if s2 {
		h.throughputCheck("S2", "throughput / raw ceiling", firsts, ceils, targetS2Ratio)
		h.throughputCheck("S2", "throughput / raw ceiling, --no-checkpoint", noCkpts, ceils, targetS2Ratio)

		sm, err := genManifest(ctx, smallDir, small)
		if err != nil {
			return err
		}
		smallJob := manifestJob("s2small", manifestPath(smallDir))
		sFirst, err := h.ingestFresh(ctx, noLimits, ingestOpts{scenario: "S2", name: fmt.Sprintf("ingest %d rows", small),
			job: smallJob, args: h.unlimitedArgs(), want: int64(small), dataBytes: sm.Bytes})
		if err != nil {
			return err
		}
		sNo, err := h.ingestFresh(ctx, noLimits, ingestOpts{scenario: "S2", name: fmt.Sprintf("ingest %d rows --no-checkpoint", small),
			job: smallJob, args: h.unlimitedArgs("--no-checkpoint"), want: int64(small), dataBytes: sm.Bytes})
		if err != nil {
			return err
		}
		peakCkpt, peakNo := maxRSS(firsts), maxRSS(noCkpts)
		h.check(newCheck("S2", "peak RSS", peakCkpt, peakCkpt.PeakRSSMB, AtMost, targetS2RSSMB, "MB", ""))
		h.check(newCheck("S2", "peak RSS, --no-checkpoint", peakNo, peakNo.PeakRSSMB, AtMost, targetS2RSSMB, "MB", ""))
		h.check(newCheck("S2", fmt.Sprintf("peak RSS %d / %d rows", n, small), peakCkpt, ratio(peakCkpt.PeakRSSMB, sFirst.PeakRSSMB),
			AtMost, targetRSSGrowth, "", fmt.Sprintf("%.1f / %.1f MB", peakCkpt.PeakRSSMB, sFirst.PeakRSSMB)))
		h.check(newCheck("S2", fmt.Sprintf("peak RSS %d / %d rows, --no-checkpoint", n, small), peakNo,
			ratio(peakNo.PeakRSSMB, sNo.PeakRSSMB), AtMost, targetRSSGrowth, "",
			fmt.Sprintf("%.1f / %.1f MB", peakNo.PeakRSSMB, sNo.PeakRSSMB)))
	}
	if s4 {
		h.check(newCheck("S4", "resume time / first run time", resume, ratio(resume.Seconds, resumed.Seconds), AtMost,
			targetResumeShare, "", fmt.Sprintf("%.2fs / %.2fs (%s)", resume.Seconds, resumed.Seconds, resumed.Name)))
		detail := fmt.Sprintf("%.0f / %.0f inputs/s", first.PerSec, noCkpt.PerSec)
		if len(firsts) > 1 {
			detail += fmt.Sprintf("; best of %d: with %s, without %s inputs/s", len(firsts), rates(firsts), rates(noCkpts))
		}
		h.check(newCheck("S4", "throughput with / without checkpoint", first, ratio(first.PerSec, noCkpt.PerSec), AtLeast,
			targetCheckpointTax, "", detail))
	}
	return nil
}

// maxRSS returns the run with the highest peak RSS.
func maxRSS(runs []*Run) *Run {
	var m *Run
	for _, r := range runs {
		if m == nil || r.PeakRSSMB > m.PeakRSSMB {
			m = r
		}
	}
	return m
}

// s3 is the rate-limited scenario: the emulator at 15 requests/s with
// 100 ms added latency, ingest with its defaults (a 15 requests/s budget,
// processing verification on when the build has it), over the ceiling
// 15 × batch inputs/s. The raw client is run too, at the same rate, to
// show that the ceiling is reachable here.
func (h *harness) s3(ctx context.Context) error {
	n := h.sizes.S3Rows
	dataDir := h.dataDir(fmt.Sprintf("manifest-%d", n))
	m, err := genManifest(ctx, dataDir, n)
	if err != nil {
		return err
	}
	opts := emulatorOptions{RateLimit: s3RateLimit, Latency: s3Latency}
	src, err := manifestSource(manifestPath(dataDir))
	if err != nil {
		return err
	}
	reqs, err := h.ceilingRequests(ctx, "S3", src)
	if err != nil {
		return err
	}
	// One repetition: the rate limit, not the machine, bounds this one.
	raw, err := h.ceiling(ctx, "S3", "raw client at 15 req/s", reqs, m.Bytes, opts, s3RateLimit)
	if err != nil {
		return err
	}
	run, err := h.ingestFresh(ctx, opts, ingestOpts{scenario: "S3", name: "ingest (rate-limited)",
		job: manifestJob("s3", manifestPath(dataDir)), want: int64(n), dataBytes: m.Bytes,
		args: []string{"--concurrency", strconv.Itoa(h.cfg.Concurrency), "--batch-size", strconv.Itoa(h.cfg.Batch)}})
	if err != nil {
		return err
	}
	ceiling := s3RateLimit * float64(h.cfg.Batch)
	c := newCheck("S3", "throughput / (15 req/s × batch)", run, ratio(run.PerSec, ceiling), AtLeast, targetS3Ratio, "",
		fmt.Sprintf("%.0f / %.0f inputs/s; verification %s; raw client at 15 req/s: %.0f inputs/s; %d throttled",
			run.PerSec, ceiling, run.Verify, raw.PerSec, run.Throttled))
	c.Ceiling = ceiling
	h.check(c)
	return nil
}
