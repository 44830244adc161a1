package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Run is one measured run: an ingest process, or the raw ceiling client.
type Run struct {
	Scenario string `json:"scenario"`
	// Name says what ran: "ingest", "ceiling", "ingest --no-checkpoint",
	// "resume", "ingest 100000 rows", ...
	Name    string  `json:"name"`
	Inputs  int64   `json:"inputs"`
	Seconds float64 `json:"seconds"`
	// PerSec is Inputs / Seconds.
	PerSec float64 `json:"inputs_per_second"`
	// MBps is the dataset's bytes (image or text files, or the manifest)
	// per second, in 10^6 bytes.
	MBps float64 `json:"megabytes_per_second"`
	// CPUSeconds is user+system time of the ingest process; for a ceiling
	// run, of the harness process while it sent.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSSMB is the ingest process's peak resident set in MB (10^6
	// bytes, as the targets are written); 0 for a
	// ceiling run (the harness holds every prebuilt request).
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	// EmulatorCPUSeconds is the emulator process's CPU time over its life
	// (the run, plus startup and shutdown).
	EmulatorCPUSeconds float64 `json:"emulator_cpu_seconds,omitempty"`
	// Calls are the emulator's calls by method during the run.
	Calls map[string]int64 `json:"emulator_calls,omitempty"`
	// Verify says whether processing verification ran: status-check calls
	// (GetInputsAddJob, ListInputs) seen by the emulator.
	Verify      string  `json:"verification,omitempty"`
	Retries     int64   `json:"retries,omitempty"`
	Throttled   int64   `json:"throttled,omitempty"`
	ReportedSec float64 `json:"reported_seconds,omitempty"` // the run report's own duration
	Error       string  `json:"error,omitempty"`
}

// rate fills PerSec and MBps from Inputs, Seconds and bytes.
func (r *Run) rate(bytes int64) {
	if r.Seconds > 0 {
		r.PerSec = float64(r.Inputs) / r.Seconds
		r.MBps = float64(bytes) / 1e6 / r.Seconds
	}
}

// Op is the comparison of a target.
type Op string

// The comparisons of targets.
const (
	AtLeast Op = ">="
	AtMost  Op = "<="
	// Info is a figure reported without a target.
	Info Op = "info"
)

// Check is one target of the issue, evaluated on a run.
type Check struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"check"`
	Run      *Run    `json:"-"`
	RunName  string  `json:"run"`
	Ceiling  float64 `json:"ceiling_inputs_per_second,omitempty"`
	Value    float64 `json:"value"`
	Op       Op      `json:"op"`
	Target   float64 `json:"target"`
	Unit     string  `json:"unit,omitempty"` // "" for a ratio, "MB"
	Pass     bool    `json:"pass"`
	Detail   string  `json:"detail,omitempty"`
}

// newCheck evaluates value against target.
func newCheck(scenario, name string, run *Run, value float64, op Op, target float64, unit, detail string) Check {
	c := Check{Scenario: scenario, Name: name, Run: run, Value: value, Op: op, Target: target, Unit: unit, Detail: detail}
	if run != nil {
		c.RunName = run.Name
	}
	switch op {
	case AtLeast:
		c.Pass = value >= target
	case AtMost:
		c.Pass = value <= target
	case Info:
		c.Pass = true
	}
	return c
}

// ratio returns a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Machine describes where the results were measured.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPU        string `json:"cpu,omitempty"`
	MemoryMiB  int64  `json:"memory_mib,omitempty"`
	Revision   string `json:"revision,omitempty"`
	Date       string `json:"date"`
}

// machineInfo describes this machine; moduleDir is where the revision is
// read from.
func machineInfo(moduleDir string, now time.Time) Machine {
	m := Machine{
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Date: now.UTC().Format(time.RFC3339),
	}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemoryMiB = kb / 1024
	}
	if out, err := exec.Command("git", "-C", moduleDir, "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Revision = strings.TrimSpace(string(out))
		// Reading the status only; the harness never changes the tree.
		if st, err := exec.Command("git", "-C", moduleDir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Revision += " (with uncommitted changes)"
		}
	}
	return m
}

// procField returns the first value of "key: value" in a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// quickNote says what a quick run's verdicts are worth.
const quickNote = "quick mode: sizes are too small for the targets; the verdicts only show that the harness works"

// Results is everything one harness invocation measured; it is written as
// JSON and rendered as tables.
type Results struct {
	Machine  Machine           `json:"machine"`
	Mode     string            `json:"mode"` // "full" or "quick"
	Params   map[string]string `json:"params"`
	Seconds  float64           `json:"harness_seconds"`
	Runs     []*Run            `json:"runs"`
	Checks   []Check           `json:"checks"`
	Failures []string          `json:"harness_errors,omitempty"`
}

// AllPass reports whether every check passed.
func (r *Results) AllPass() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

func fmtValue(c Check) string {
	if c.Unit == "" {
		return strconv.FormatFloat(c.Value, 'f', 3, 64)
	}
	return strconv.FormatFloat(c.Value, 'f', 1, 64) + " " + c.Unit
}

func fmtTarget(c Check) string {
	if c.Op == Info {
		return "-"
	}
	op := "≥"
	if c.Op == AtMost {
		op = "≤"
	}
	t := strconv.FormatFloat(c.Target, 'f', -1, 64)
	if c.Unit != "" {
		t += " " + c.Unit
	}
	return op + " " + t
}

func verdict(c Check) string {
	if c.Op == Info {
		return "info"
	}
	if c.Pass {
		return "PASS"
	}
	return "FAIL"
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// checkRows are the rows of the targets table.
func (r *Results) checkRows() [][]string {
	rows := [][]string{{"scenario", "check", "inputs", "seconds", "inputs/s", "MB/s", "CPU s", "peak RSS MB",
		"ceiling inputs/s", "ratio/value", "target", "result"}}
	for _, c := range r.Checks {
		row := []string{c.Scenario, c.Name, "", "", "", "", "", "", "", fmtValue(c), fmtTarget(c), verdict(c)}
		if run := c.Run; run != nil {
			row[2], row[3], row[4] = strconv.FormatInt(run.Inputs, 10), f2(run.Seconds), f0(run.PerSec)
			row[5], row[6] = f1(run.MBps), f1(run.CPUSeconds)
			if run.PeakRSSMB > 0 {
				row[7] = f1(run.PeakRSSMB)
			}
		}
		if c.Ceiling > 0 {
			row[8] = f0(c.Ceiling)
		}
		rows = append(rows, row)
	}
	return rows
}

// runRows are the rows of the runs table.
func (r *Results) runRows() [][]string {
	rows := [][]string{{"scenario", "run", "inputs", "seconds", "inputs/s", "MB/s", "CPU s", "peak RSS MB",
		"emulator CPU s", "verification", "error"}}
	for _, run := range r.Runs {
		rss := ""
		if run.PeakRSSMB > 0 {
			rss = f1(run.PeakRSSMB)
		}
		rows = append(rows, []string{run.Scenario, run.Name, strconv.FormatInt(run.Inputs, 10), f2(run.Seconds),
			f0(run.PerSec), f1(run.MBps), f1(run.CPUSeconds), rss, f1(run.EmulatorCPUSeconds), run.Verify, run.Error})
	}
	return rows
}

// WriteText prints both tables for a terminal.
func (r *Results) WriteText(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "\n%s run, %d cores (GOMAXPROCS %d), %s %s/%s, %s\n", r.Mode, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.Date)
	if r.Mode == "quick" {
		fmt.Fprintln(w, quickNote)
	}
	for _, rows := range [][][]string{r.checkRows(), r.runRows()} {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintln(w, "harness error:", f)
	}
	return nil
}

// WriteMarkdown renders the results as a Markdown document.
func (r *Results) WriteMarkdown(w io.Writer) error {
	m := r.Machine
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results (%s run)\n\n", r.Mode)
	fmt.Fprintf(&b, "- date: %s\n- machine: %d cores, GOMAXPROCS %d, %s/%s", m.Date, m.Cores, m.GOMAXPROCS, m.OS, m.Arch)
	if m.CPU != "" {
		fmt.Fprintf(&b, ", %s", m.CPU)
	}
	if m.MemoryMiB > 0 {
		fmt.Fprintf(&b, ", %d MiB RAM", m.MemoryMiB)
	}
	fmt.Fprintf(&b, "\n- Go: %s\n", m.GoVersion)
	if m.Revision != "" {
		fmt.Fprintf(&b, "- revision: %s\n", m.Revision)
	}
	fmt.Fprintf(&b, "- harness time: %.0f s\n", r.Seconds)
	if r.Mode == "quick" {
		fmt.Fprintf(&b, "- %s\n", quickNote)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Params[k])
	}
	b.WriteString("\nWhat bounds each result, and how to read it: benchmarks/README.md.\n\n## Targets\n\n")
	writeMDTable(&b, r.checkRows())
	b.WriteString("\nDetails:\n\n")
	for _, c := range r.Checks {
		if c.Detail != "" {
			fmt.Fprintf(&b, "- %s %s: %s\n", c.Scenario, c.Name, c.Detail)
		}
	}
	b.WriteString("\n## Runs\n\n")
	writeMDTable(&b, r.runRows())
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\nHarness error: %s\n", f)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMDTable(b *strings.Builder, rows [][]string) {
	for i, row := range rows {
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		if i == 0 {
			seps := make([]string, len(row))
			for j := range seps {
				seps[j] = "---"
				if j >= 2 && j != len(row)-1 {
					seps[j] = "---:"
				}
			}
			b.WriteString("|" + strings.Join(seps, "|") + "|\n")
		}
	}
}

// Save writes base.json and base.md into dir.
func (r *Results) Save(dir, base string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	jp, mp := filepath.Join(dir, base+".json"), filepath.Join(dir, base+".md")
	if err := os.WriteFile(jp, append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(mp)
	if err != nil {
		return nil, err
	}
	if err := r.WriteMarkdown(f); err != nil {
		f.Close()
		return nil, err
	}
	return []string{jp, mp}, f.Close()
}
