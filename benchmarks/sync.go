package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// S5: keeping an app in sync. A rerun of a manifest of N rows of which 1%
// were edited (their labels) must finish in about the time its calls take
// at the rate limit: reading the unchanged 99% costs no calls and little
// time beside them, and each edited item costs a fraction of a call
// (PatchInputs carries up to 128 inputs).

// targetSyncShare bounds the rerun's seconds over the time its calls take
// at the rate limit ("about the time of its calls").
const targetSyncShare = 1.5

// s5App is the app of S5's runs.
const s5App = "S5"

// s5 runs the sync scenario. The first run uploads the manifest (a copy in
// the run folder) to an emulator without limits that saves its state at
// exit; the harness then rewrites the copy with every editEvery-th row's
// labels changed, restarts the emulator from the saved state with S3's
// limits (15 requests/s, 100 ms latency) and reruns ingest with its
// defaults (a 15 requests/s budget). The rerun must update exactly the
// edited rows, find the others already done and post nothing; a few
// edited rows are read back from the emulator.
func (h *harness) s5(ctx context.Context) error {
	n := h.sizes.S5Rows
	edits := editedRows(n)
	if edits == 0 {
		return fmt.Errorf("%d rows: S5 needs at least %d (it edits every %dth row)", n, editEvery, editEvery)
	}
	h.logf("S5: generating a manifest of %d rows", n)
	dataDir := h.dataDir(fmt.Sprintf("manifest-%d", n))
	base, err := genManifest(ctx, dataDir, n)
	if err != nil {
		return err
	}
	d, err := h.runDir("S5")
	if err != nil {
		return err
	}
	path := filepath.Join(d, "manifest.csv")
	if _, err := copyFile(path, manifestPath(dataDir)); err != nil {
		return err
	}
	job := manifestJob("s5", path)
	state := filepath.Join(d, "emulator-state")
	// Both emulators listen on the same port, as a real API's address
	// stays the same between runs (the checkpoint checks it).
	port, err := freePortNumber()
	if err != nil {
		return err
	}

	// The first run, as S2's: no limits anywhere.
	emu, err := startEmulator(ctx, h.emulatorBin, filepath.Join(d, "emulator-first.log"), emulatorOptions{Port: port, StateDir: state})
	if err != nil {
		return err
	}
	first, err := h.ingest(ctx, emu, d, ingestOpts{scenario: "S5", name: "first run", job: job, app: s5App,
		args: h.unlimitedArgs(), want: int64(n), dataBytes: base.Bytes})
	t := time.Now()
	eu, stopErr := emu.stop()
	save := time.Since(t)
	if first != nil {
		first.EmulatorCPUSeconds = eu.CPU.Seconds()
	}
	if err := errors.Join(err, stopErr); err != nil {
		return err
	}
	stateMB := 0.0
	if fi, err := os.Stat(filepath.Join(state, "state.gob")); err == nil {
		stateMB = float64(fi.Size()) / 1e6
	}
	h.logf("S5: the emulator saved %d inputs (%.0f MB) in %.1fs", n, stateMB, save.Seconds())

	h.logf("S5: editing the labels of %d rows of %d", edits, n)
	edited, err := writeEditedManifest(ctx, path, n)
	if err != nil {
		return err
	}

	// The rerun, as S3's: the emulator's rate limit and latency, ingest's
	// defaults.
	t = time.Now()
	emu, err = startEmulator(ctx, h.emulatorBin, filepath.Join(d, "emulator-rerun.log"),
		emulatorOptions{Port: port, StateDir: state, RateLimit: s3RateLimit, Latency: s3Latency})
	if err != nil {
		return err
	}
	load := time.Since(t)
	h.logf("S5: the emulator loaded its state in %.1fs", load.Seconds())
	rerun, err := h.ingest(ctx, emu, d, ingestOpts{scenario: "S5", name: "rerun, 1% edited (rate-limited)", job: job,
		app: s5App, want: int64(n), updates: int64(edits), dataBytes: edited,
		args: []string{"--concurrency", strconv.Itoa(h.cfg.Concurrency), "--batch-size", strconv.Itoa(h.cfg.Batch)}})
	var checked int
	if err == nil {
		checked, err = h.checkEdited(ctx, emu, d, n)
	}
	eu, stopErr = emu.stop()
	if rerun != nil {
		rerun.EmulatorCPUSeconds = eu.CPU.Seconds()
	}
	if err := errors.Join(err, stopErr); err != nil {
		return err
	}
	if posted := rerun.Calls["PostInputs"]; posted != 0 {
		return fmt.Errorf("the rerun posted: %d PostInputs calls (see %s)", posted, d)
	}

	share, calls := callsShare(rerun.Seconds, rerun.Calls, s3RateLimit)
	detail := fmt.Sprintf("%.2fs for %d calls (%.2fs at %g req/s): %s; %.4f calls per changed item; "+
		"%d edited rows read back; first run %.2fs; emulator state %.0f MB, saved in %.1fs, loaded in %.1fs",
		rerun.Seconds, calls, float64(calls)/s3RateLimit, s3RateLimit, fmtCalls(rerun.Calls),
		ratio(float64(calls), float64(edits)), checked, first.Seconds, stateMB, save.Seconds(), load.Seconds())
	h.check(newCheck("S5", "rerun time / its calls' time at 15 req/s", rerun, share, AtMost, targetSyncShare, "", detail))
	return nil
}

// callsShare returns seconds over the time the calls take at perSecond
// (their total over perSecond), and the total. It is 0 without calls.
func callsShare(seconds float64, calls map[string]int64, perSecond float64) (float64, int64) {
	var total int64
	for _, c := range calls {
		total += c
	}
	return ratio(seconds, float64(total)/perSecond), total
}

// fmtCalls lists calls by method, most first (then by name): "79
// PatchInputs, 1 ListConcepts".
func fmtCalls(calls map[string]int64) string {
	names := slices.SortedFunc(maps.Keys(calls), func(a, b string) int {
		if c := cmp.Compare(calls[b], calls[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, m := range names {
		parts[i] = fmt.Sprintf("%d %s", calls[m], m)
	}
	if len(parts) == 0 {
		return "no calls"
	}
	return strings.Join(parts, ", ")
}

// sampleRow is a row of S5's manifest the harness reads back after the
// rerun, and whether S5 edited it.
type sampleRow struct {
	Row    int
	Edited bool
}

// sampleRows returns the rows of an n-row manifest that the harness reads
// back: the first, a middle and the last edited row, and the first and
// last rows when they are not edited (they must keep their labels).
func sampleRows(n int) []sampleRow {
	var out []sampleRow
	seen := make(map[int]bool)
	add := func(i int) {
		if i >= 0 && i < n && !seen[i] {
			seen[i] = true
			out = append(out, sampleRow{Row: i, Edited: editedRow(i)})
		}
	}
	add(0)
	if e := editedRows(n); e > 0 {
		add(editEvery - 1)
		add((e/2)*editEvery - 1)
		add(e*editEvery - 1)
	}
	add(n - 1)
	slices.SortFunc(out, func(a, b sampleRow) int { return a.Row - b.Row })
	return out
}

// expectedInputs returns the inputs the sink builds for rows (edited as
// they say), in order: it writes them as a small manifest under dir and
// builds them as the ceiling does, so that IDs and concepts are the
// project's own.
func expectedInputs(ctx context.Context, dir string, rows []sampleRow) ([]*pb.Input, error) {
	path := filepath.Join(dir, "samples.csv")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	w.WriteString(manifestHeader)
	for _, r := range rows {
		writeManifestRowEdited(w, r.Row, r.Edited)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return nil, err
	}
	src, err := manifestSource(path)
	if err != nil {
		return nil, err
	}
	reqs, _, err := buildRequests(ctx, src, len(rows), s5App)
	if err != nil {
		return nil, err
	}
	var out []*pb.Input
	for _, r := range reqs {
		out = append(out, r.Inputs...)
	}
	if len(out) != len(rows) {
		return nil, fmt.Errorf("%d sample rows gave %d inputs", len(rows), len(out))
	}
	return out, nil
}

// conceptSet renders concepts as "id=value" sorted, values 1 (positive)
// or 0 (negative).
func conceptSet(ids []string, values []float64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		v := 0
		if values[i] > 0.5 {
			v = 1
		}
		parts[i] = fmt.Sprintf("%s=%d", id, v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// wantConcepts is conceptSet of an input the harness built.
func wantConcepts(in *pb.Input) string {
	var ids []string
	var vals []float64
	for _, c := range in.GetData().GetConcepts() {
		ids, vals = append(ids, c.GetId()), append(vals, float64(c.GetValue()))
	}
	return conceptSet(ids, vals)
}

// gotConcepts is conceptSet of an input read from the emulator.
func gotConcepts(in inspectedInput) string {
	var ids []string
	var vals []float64
	for _, c := range in.Input.Data.Concepts {
		ids, vals = append(ids, c.ID), append(vals, c.Value)
	}
	return conceptSet(ids, vals)
}

// checkEdited reads the sample rows of an n-row manifest back from emu
// after the rerun: each must hold the labels of the rows as edited (an
// unedited row, its own). It returns how many edited rows it read.
func (h *harness) checkEdited(ctx context.Context, emu *emulator, dir string, n int) (int, error) {
	rows := sampleRows(n)
	want, err := expectedInputs(ctx, dir, rows)
	if err != nil {
		return 0, err
	}
	edited := 0
	var errs []error
	for i, r := range rows {
		got, err := emu.input(ctx, s5App, want[i].GetId())
		if err != nil {
			errs = append(errs, fmt.Errorf("row %d: %w", r.Row, err))
			continue
		}
		if g, w := gotConcepts(got), wantConcepts(want[i]); g != w {
			errs = append(errs, fmt.Errorf("row %d (edited %v), input %s: the emulator holds concepts %s, want %s",
				r.Row, r.Edited, want[i].GetId(), g, w))
			continue
		}
		if r.Edited {
			edited++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return edited, fmt.Errorf("after the rerun: %w (see %s)", err, dir)
	}
	h.logf("S5: %d rows read back hold their labels (%d edited)", len(rows), edited)
	return edited, nil
}
