package main_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// The sync kill tests: a manifest uploaded once cleanly, then edited, and
// brought in sync by `run --delete` killed with SIGKILL at random points
// of its work until a run finishes. The app must end exactly as the
// edited manifest says.

// syncRow is one row of the sync kill tests' manifest (the rich schema).
type syncRow struct {
	id       string // the given input ID, or "": derived from the content and datasets
	url      string // an image URL, or "": the row is a text file
	file     string // the text file's name, next to the manifest, and its content
	body     string
	concepts map[string]float32 // label -> 1 (positive) or 0 (negative)
	metadata map[string]any     // nil: none
	datasets []string           // sorted; nil: none
}

// syncRows are the rows of one version of the manifest by row identity; a
// nil row is not in the manifest (removed).
type syncRows []*syncRow

// syncManifestV1 is the first version of the manifest: n rows, half with
// given IDs and image URLs, half with IDs derived from their content: image
// URLs, and one in five a text file; with labels (some negative), metadata
// (some rows none) and zero, one or two datasets.
func syncManifestV1(n int) syncRows {
	rows := make(syncRows, n)
	for i := range rows {
		r := &syncRow{
			url:      fmt.Sprintf("https://example.com/v1/%05d.jpg", i),
			concepts: map[string]float32{fmt.Sprintf("c%d", i%7): 1},
			metadata: map[string]any{"row": float64(i), "tag": fmt.Sprintf("t%d", i%3)},
			datasets: [][]string{nil, {"ds-a"}, {"ds-b"}, {"ds-a", "ds-c"}}[i%4],
		}
		switch {
		case i%2 == 0:
			r.id = fmt.Sprintf("g-%05d", i)
		case i%10 == 9:
			r.url, r.file, r.body = "", fmt.Sprintf("f-%05d.txt", i), fmt.Sprintf("row %05d, first version\n", i)
		}
		if i%5 == 0 {
			r.concepts[fmt.Sprintf("n%d", i%3)] = 0
		}
		if i%11 == 0 {
			r.metadata = nil
		}
		rows[i] = r
	}
	return rows
}

// syncEdits says which share of the rows an edit changes.
type syncEdits struct {
	remove, relabel, metadata, move, content float64
}

// edit returns a copy of rows with edits drawn by rng: rows removed;
// relabeled (some left without labels); metadata changed (some emptied);
// moved to other datasets (added to one, removed from one, from all); and,
// for rows with derived IDs, a new URL or file content (a new input; the
// old one leaves).
func (rows syncRows) edit(rng *rand.Rand, e syncEdits) syncRows {
	out := make(syncRows, len(rows))
	for i, r := range rows {
		if r == nil || rng.Float64() < e.remove {
			continue
		}
		c := *r
		if rng.Float64() < e.relabel {
			c.concepts = map[string]float32{fmt.Sprintf("c%d", (i+3)%7): 1, fmt.Sprintf("r%d", i%4): 1}
			if i%13 == 0 {
				c.concepts = nil
			}
		}
		if rng.Float64() < e.metadata {
			c.metadata = map[string]any{"row": float64(i), "tag": "edited", "v": 2.0}
			if i%17 == 0 {
				c.metadata = nil
			}
		}
		if rng.Float64() < e.move {
			switch strings.Join(c.datasets, ",") {
			case "":
				c.datasets = []string{"ds-b"}
			case "ds-a":
				c.datasets = []string{"ds-b", "ds-d"}
			case "ds-b":
				c.datasets = nil
			default:
				c.datasets = []string{"ds-c"}
			}
		}
		if c.id == "" && rng.Float64() < e.content {
			if c.file != "" {
				c.body = fmt.Sprintf("row %05d, edited\n", i)
			} else {
				c.url = fmt.Sprintf("https://example.com/v2/%05d.jpg", i)
			}
		}
		out[i] = &c
	}
	return out
}

// inputIDs returns the input ID of each row of rows, given the IDs of the
// version before (nil for the first upload): a given ID; a derived one as
// the first upload derived it (a row moved to other datasets keeps its
// input), or derived again when the row's content changed (a new input).
func (rows syncRows) inputIDs(before syncRows, beforeIDs []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		switch {
		case r == nil:
		case r.id != "":
			out[i] = r.id
		case before != nil && before[i] != nil && before[i].url == r.url && before[i].body == r.body:
			out[i] = beforeIDs[i]
		case r.file != "":
			out[i] = ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte(r.body)), DatasetIDs: r.datasets}, []byte(r.body))
		default:
			out[i] = ids.DeriveID(&pipeline.Item{Kind: pipeline.KindImage, URL: r.url, DatasetIDs: r.datasets}, nil)
		}
	}
	return out
}

// want is what the app holds when it is in step with rows, whose inputs
// have the IDs inputIDs.
func (rows syncRows) want(inputIDs []string) map[string]wantInput {
	out := make(map[string]wantInput, len(rows))
	for i, r := range rows {
		if r == nil {
			continue
		}
		if _, dup := out[inputIDs[i]]; dup {
			panic("two rows of the test's manifest have input " + inputIDs[i])
		}
		out[inputIDs[i]] = wantInput{fields: true, concepts: r.concepts, metadata: r.metadata, datasets: r.datasets}
	}
	return out
}

// write writes rows as a rich-schema manifest at path, and the text
// files whose content is not there yet next to it.
func (rows syncRows) write(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"id", "url", "path", "concepts", "metadata", "dataset_ids"})
	for _, r := range rows {
		if r == nil {
			continue
		}
		if r.file != "" {
			name := filepath.Join(filepath.Dir(path), r.file)
			if old, err := os.ReadFile(name); err != nil || string(old) != r.body {
				if err := os.WriteFile(name, []byte(r.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		var labels []string
		for _, l := range slices.Sorted(maps.Keys(r.concepts)) {
			if r.concepts[l] == 0 {
				l = "-" + l
			}
			labels = append(labels, l)
		}
		md := ""
		if r.metadata != nil {
			b, err := json.Marshal(r.metadata)
			if err != nil {
				t.Fatal(err)
			}
			md = string(b)
		}
		_ = w.Write([]string{r.id, r.url, r.file, strings.Join(labels, ";"), md, strings.Join(r.datasets, ";")})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncKillJob is a sync kill test's job: the manifest, the state and the
// emulator, with the arguments every run of it takes.
type syncKillJob struct {
	bin, manifest, state string
	batch                int // inputs per PostInputs
	emu                  emulatorProc
}

func newSyncKillJob(t *testing.T, batch int, emulatorFlags ...string) syncKillJob {
	t.Helper()
	bin := binaries(t)
	root := t.TempDir()
	return syncKillJob{bin: bin, manifest: filepath.Join(root, "m.csv"), state: filepath.Join(root, "state"),
		batch: batch, emu: startEmulator(t, bin, emulatorFlags...)}
}

func (j syncKillJob) cmd(command string, extra ...string) *exec.Cmd {
	args := append([]string{command, "--csv", j.manifest, "--state-dir", j.state, "--concurrency", "2",
		"--batch-size", strconv.Itoa(j.batch), "--rate-limit", "-1", "--log-level", "warn"}, extra...)
	return ingestCmd(j.bin, j.emu.addr, args...)
}

// upload writes rows and runs the job once, unkilled, and checks that the
// app holds them; it returns their input IDs.
func (j syncKillJob) upload(t *testing.T, rows syncRows) []string {
	t.Helper()
	rows.write(t, j.manifest)
	if out, err := j.cmd("run").CombinedOutput(); err != nil {
		t.Fatalf("first upload: %v\n%s", err, out)
	}
	inputIDs := rows.inputIDs(nil, nil)
	checkApp(t, j.emu.addr, rows.want(inputIDs))
	if t.Failed() {
		t.FailNow()
	}
	return inputIDs
}

// planNothing checks that `ingest plan` with args finds nothing left to do:
// the checkpoint agrees with the app.
func (j syncKillJob) planNothing(t *testing.T, items int, args ...string) {
	t.Helper()
	out, err := j.cmd("plan", append(args, "--json")...).Output()
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	var p struct {
		Add       int64 `json:"to_add"`
		Update    int64 `json:"to_update"`
		Replace   int64 `json:"to_replace"`
		Conflicts int64 `json:"conflicts"`
		Unchanged int64 `json:"unchanged"`
		Delete    *struct {
			Inputs int64 `json:"inputs"`
		} `json:"to_delete"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if p.Add+p.Update+p.Replace+p.Conflicts != 0 || p.Unchanged != int64(items) || p.Delete == nil || p.Delete.Inputs != 0 {
		t.Errorf("after the sync a plan finds work left:\n%s", out)
	}
}

// TestKillDuringSyncUpdate uploads a manifest once, edits many of its rows
// (labels, metadata, datasets, the URL or file content of rows with derived
// IDs; some files only touched) and removes some, then brings the app in
// step with `run --delete`, killed with SIGKILL at random points of its
// work (some time after a random number of its mutating calls reached the
// emulator), until a run finishes. The app must then hold exactly the
// edited manifest's inputs, with its labels, metadata and datasets: none
// twice, none missing, the removed rows' and the changed contents' old
// inputs gone, touched files' inputs kept.
func TestKillDuringSyncUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs them several times")
	}
	const items = 2000
	j := newSyncKillJob(t, 16, "-latency", "40ms", "-processing-delay", "40ms")
	v1 := syncManifestV1(items)
	ids1 := j.upload(t, v1)

	rng := rand.New(rand.NewPCG(3, 4))
	v2 := v1.edit(rng, syncEdits{remove: 0.08, relabel: 0.35, metadata: 0.35, move: 0.25, content: 0.15})
	v2.write(t, j.manifest)
	// Some files are touched, not changed: the same input, nothing posted.
	later := time.Now().Add(time.Hour)
	for i, r := range v2 {
		if r != nil && r.file != "" && r.body == v1[i].body && i%3 == 0 {
			if err := os.Chtimes(filepath.Join(filepath.Dir(j.manifest), r.file), later, later); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncArgs := []string{"--delete", "--max-delete", "100%"}
	// Kills land among the calls that change the app, some time after the
	// n-th of a run. An unkilled sync run makes about 70 of them in about
	// 1.7s, and its checkpoint becomes durable every second: the first two
	// kills come within its first 25 calls (so that a rerun, which redoes
	// what was not durable, has more than 25 to make), the later ones
	// anywhere, also in its delete phase.
	mutating := []string{"PostInputs", "PatchInputs", "PostDatasetInputs", "DeleteDatasetInputs", "DeleteInputs"}
	kills := rerunUntilDone(t, func() *exec.Cmd { return j.cmd("run", syncArgs...) },
		func(attempt, kills int, ended <-chan struct{}) <-chan struct{} {
			span := 70
			switch {
			case kills >= 5:
				return nil
			case kills < 2:
				span = 25
			}
			n, delay := 1+rng.IntN(span), time.Duration(rng.IntN(80))*time.Millisecond
			t.Logf("run %d: killed %v after its call %d that changes the app, unless it ends first", attempt, delay, n)
			return j.emu.afterCalls(int64(n), delay, ended, mutating...)
		})
	if kills < 2 {
		t.Fatalf("only %d runs were killed: the test proved too little", kills)
	}
	t.Logf("%d runs killed during the sync", kills)
	want := v2.want(v2.inputIDs(v1, ids1))
	checkApp(t, j.emu.addr, want)
	j.planNothing(t, len(want), syncArgs...)
}

// TestKillDuringSyncDelete uploads a manifest once, removes 40% of its rows
// and deletes their inputs with `run --delete --max-delete 50%`, killed
// with SIGKILL inside the delete phase (some time after one of the run's
// DeleteInputs calls reached the emulator, before or after the server
// applied it) until a run finishes. Deletion is asynchronous, as on
// Clarifai. The app must then hold exactly the remaining rows' inputs:
// nothing that stays deleted, everything that left gone.
func TestKillDuringSyncDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs them several times")
	}
	const items = 2000
	const latency = 300 * time.Millisecond
	j := newSyncKillJob(t, 128, "-latency", latency.String(), "-processing-delay", "40ms", "-delete-delay", "300ms")
	v1 := syncManifestV1(items)
	ids1 := j.upload(t, v1)

	rng := rand.New(rand.NewPCG(5, 6))
	v2 := v1.edit(rng, syncEdits{remove: 0.4})
	v2.write(t, j.manifest)
	syncArgs := []string{"--delete", "--max-delete", "50%"}
	// About 800 inputs leave: 7 DeleteInputs calls of 128, in about 2s at
	// this latency; the checkpoint becomes durable every second, so some
	// runs are killed with part of their deletions recorded. The first two
	// kills come while one of a run's first 2 calls is in flight or just
	// done (so that the rerun has at least 5 to make), the later ones
	// anywhere in the phase.
	kills := rerunUntilDone(t, func() *exec.Cmd { return j.cmd("run", syncArgs...) },
		func(attempt, kills int, ended <-chan struct{}) <-chan struct{} {
			span, delay := 7, time.Duration(rng.Int64N(int64(2*latency)))
			switch {
			case kills >= 6:
				return nil
			case kills < 2:
				span, delay = 2, delay/2
			}
			n := 1 + rng.IntN(span)
			t.Logf("run %d: killed %v after its DeleteInputs call %d, unless it ends first", attempt, delay, n)
			return j.emu.afterCalls(int64(n), delay, ended, "DeleteInputs")
		})
	if kills < 2 {
		t.Fatalf("only %d runs were killed in the delete phase: the test proved too little", kills)
	}
	t.Logf("%d runs killed in the delete phase", kills)
	j.emu.waitDeletes(t)
	want := v2.want(v2.inputIDs(v1, ids1))
	checkApp(t, j.emu.addr, want)
	j.planNothing(t, len(want), syncArgs...)
}
