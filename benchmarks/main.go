// Command benchmarks is the throughput harness of clarifai-ingest (issue 6).
//
// It generates its datasets deterministically, starts the Clarifai emulator
// and the ingest command as separate processes, measures each scenario
// beside a raw ceiling client (the same inputs as prebuilt PostInputs
// requests, same batch size and concurrency, no pipeline, against an
// identical emulator), prints a table of ratios against their targets, and
// writes JSON and Markdown results. See README.md.
//
//	go run ./benchmarks -scenario all          # the full suite (< 10 min on 2 cores)
//	go run ./benchmarks -quick                 # every scenario at small N (CI smoke run)
//	go run ./benchmarks -scenario S2 -n 200000 # one scenario, another size
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if path := os.Getenv(launchEnv); path != "" {
		os.Exit(launch(path, os.Args[1:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := 0
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		code = 1
		if errors.Is(err, errTargetsFailed) {
			code = 2
		}
		if errors.Is(err, flag.ErrHelp) {
			code = 0
		}
	}
	stop()
	os.Exit(code)
}

// errTargetsFailed is returned with -strict when a target is not met.
var errTargetsFailed = errors.New("some targets were not met")

// config is the harness's command line.
type config struct {
	// Scenario is all, S1, S1-text, S2, S3, S4 or S5.
	Scenario string
	// Quick runs every scenario at small N: a smoke test of the harness,
	// not of speed.
	Quick bool
	// N overrides the size of the selected scenarios (images, text files,
	// manifest rows); 0 keeps each scenario's default.
	N int
	// ImageKB is the approximate size of each generated image. Default 50.
	ImageKB int
	// Work holds generated datasets, binaries and run directories.
	// Default <module>/benchmarks/work.
	Work string
	// Out receives the results files. Default <module>/benchmarks/results
	// for the full suite and the quick run, <work>/results otherwise.
	Out string
	// Concurrency and Batch are the requests in flight and inputs per
	// request, for the ingest runs and the ceiling alike. Defaults 4 and
	// 128, the ingest defaults.
	Concurrency, Batch int
	// IngestBin and EmulatorBin use prebuilt binaries instead of building
	// ./cmd/ingest and ./cmd/clarifai-emulator.
	IngestBin, EmulatorBin string
	// Pprof builds the ingest command with CPU and heap profiling
	// (benchmarks/internal/pprofingest) and writes profiles beside each
	// run's logs. Profiling costs a little throughput.
	Pprof bool
	// Reps is how many times each unlimited scenario (S1, S1-text, S2)
	// runs its ceiling and ingest in turn; the best of each is compared.
	// 0 means 3 for the folder scenarios and 2 for S2 (whose runs take
	// minutes), or 1 with Quick.
	Reps int
	// Strict exits with status 2 when a target is not met.
	Strict bool
	// Timeout bounds the whole harness.
	Timeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Scenario, "scenario", "all", "all, S1, S1-text, S2, S3, S4 or S5")
	fs.BoolVar(&c.Quick, "quick", false, "every scenario at small N (a smoke test of the harness, not of speed)")
	fs.IntVar(&c.N, "n", 0, "size of the selected scenarios (images, text files or manifest rows); 0: each scenario's default")
	fs.IntVar(&c.ImageKB, "image-kb", 50, "approximate size of each generated image, in KB")
	fs.StringVar(&c.Work, "work", "", "work directory for datasets, binaries and runs (default <module>/benchmarks/work)")
	fs.StringVar(&c.Out, "out", "", "results directory (default <module>/benchmarks/results for the full suite and -quick, <work>/results for a partial run)")
	fs.IntVar(&c.Concurrency, "concurrency", 4, "requests in flight, for ingest and the ceiling")
	fs.IntVar(&c.Batch, "batch", 128, "inputs per request, for ingest and the ceiling")
	fs.StringVar(&c.IngestBin, "ingest-bin", "", "prebuilt ingest binary (default: build ./cmd/ingest)")
	fs.StringVar(&c.EmulatorBin, "emulator-bin", "", "prebuilt clarifai-emulator binary (default: build ./cmd/clarifai-emulator)")
	fs.BoolVar(&c.Pprof, "pprof", false, "profile the ingest process (CPU and heap profiles beside each run's logs)")
	fs.IntVar(&c.Reps, "reps", 0, "repetitions of each unlimited scenario's ceiling and ingest runs; the best of each is compared (default 3 for S1, 2 for S2, 1 with -quick)")
	fs.BoolVar(&c.Strict, "strict", false, "exit with status 2 when a target is not met")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Minute, "bound on the whole harness")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Scenario = strings.ToUpper(c.Scenario)
	if c.Scenario == "ALL" {
		c.Scenario = "all"
	}
	switch c.Scenario {
	case "all", "S1", "S1-TEXT", "S2", "S3", "S4", "S5":
	default:
		return c, fmt.Errorf("-scenario %q: want all, S1, S1-text, S2, S3, S4 or S5", c.Scenario)
	}
	if c.Quick && c.Reps == 0 {
		c.Reps = 1
	}
	if c.N < 0 || c.Reps < 0 || c.ImageKB < 1 || c.Concurrency < 1 || c.Batch < 1 || c.Batch > 128 {
		return c, errors.New("-n must be >= 0, -image-kb and -concurrency >= 1, -batch in 1..128")
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	module, err := moduleDir()
	if err != nil {
		return err
	}
	if cfg.Work == "" {
		cfg.Work = filepath.Join(module, "benchmarks", "work")
	}
	if cfg.Out == "" {
		// Only the full suite and the quick run go where they are kept;
		// a partial run must not leave files beside them.
		cfg.Out = filepath.Join(module, "benchmarks", "results")
		if cfg.Scenario != "all" || cfg.N != 0 {
			cfg.Out = filepath.Join(cfg.Work, "results")
		}
	}
	start := time.Now()
	h := &harness{cfg: cfg, module: module, log: stderr, sizes: sizesFor(cfg)}
	h.res = &Results{Machine: machineInfo(module, start), Mode: "full", Params: h.params()}
	if cfg.Quick {
		h.res.Mode = "quick"
	}
	if err := h.buildBinaries(ctx); err != nil {
		return err
	}
	runErr := h.runScenarios(ctx)
	if runErr != nil {
		h.res.Failures = append(h.res.Failures, runErr.Error())
	}
	h.res.Seconds = time.Since(start).Seconds()
	if err := h.res.WriteText(stdout); err != nil {
		return err
	}
	files, err := h.res.Save(cfg.Out, resultsBase(cfg))
	if err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "\nresults: %s (%.0f s)\n", strings.Join(files, ", "), h.res.Seconds)
	if runErr != nil {
		return runErr
	}
	if cfg.Strict && !h.res.AllPass() {
		return errTargetsFailed
	}
	return nil
}

// resultsBase names the results files: latest.* for the full suite, which
// is the one committed; quick.* for the smoke run; latest-<scenario>.* for
// a single scenario, so that it never replaces the full table.
func resultsBase(c config) string {
	switch {
	case c.Quick && c.Scenario == "all":
		return "quick"
	case c.Quick:
		return "quick-" + c.Scenario
	case c.Scenario == "all" && c.N == 0:
		return "latest"
	}
	return "latest-" + c.Scenario
}

// moduleDir returns the root of the main module (where go.mod is), from
// `go env GOMOD`, falling back to the working directory.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return os.Getwd()
}

// buildBinaries builds the ingest and emulator commands into the work
// directory, unless prebuilt ones were given.
func (h *harness) buildBinaries(ctx context.Context) error {
	bin := filepath.Join(h.cfg.Work, "bin")
	build := func(pkg, name string) (string, error) {
		out := filepath.Join(bin, name)
		t := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = h.module
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %w\n%s(use -ingest-bin/-emulator-bin to run prebuilt binaries)", pkg, err, msg)
		}
		h.logf("built %s in %.1fs", pkg, time.Since(t).Seconds())
		return out, nil
	}
	var err error
	h.ingestBin, h.emulatorBin = h.cfg.IngestBin, h.cfg.EmulatorBin
	if h.ingestBin == "" {
		pkg := "./cmd/ingest"
		if h.cfg.Pprof {
			pkg = "./benchmarks/internal/pprofingest"
		}
		if h.ingestBin, err = build(pkg, "ingest"); err != nil {
			return err
		}
	}
	if h.emulatorBin == "" {
		if h.emulatorBin, err = build("./cmd/clarifai-emulator", "clarifai-emulator"); err != nil {
			return err
		}
	}
	return nil
}
