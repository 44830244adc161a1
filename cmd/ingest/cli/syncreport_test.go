package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// TestItemsExitCode: 4 when every failure is a conflict, 3 as soon as
// another item failed, 0 with no failure.
func TestItemsExitCode(t *testing.T) {
	for _, tc := range []struct {
		s    pipeline.Stats
		want int
	}{
		{pipeline.Stats{}, ExitOK},
		{pipeline.Stats{Done: 5, Updated: 2, Replaced: 1, Deleted: 3}, ExitOK},
		{pipeline.Stats{Failed: 2, Conflicts: 2}, ExitConflicts},
		{pipeline.Stats{Failed: 3, Conflicts: 2}, ExitItemsFailed},
		{pipeline.Stats{Failed: 1}, ExitItemsFailed},
	} {
		if got := itemsExitCode(tc.s); got != tc.want {
			t.Errorf("%+v: exit %d, want %d", tc.s, got, tc.want)
		}
		if got := exitCode(itemsError(tc.s)); got != tc.want {
			t.Errorf("%+v: itemsError exits %d, want %d", tc.s, got, tc.want)
		}
	}
	if ExitConflicts != 4 {
		t.Errorf("ExitConflicts = %d; the documented code is 4", ExitConflicts)
	}
	if !silent(errConflicts) || !silent(errItemsFailed) || silent(errors.New("x")) {
		t.Error("the item errors print nothing after the summary; others do")
	}
	if ExitDeleteCapped != 5 {
		t.Errorf("ExitDeleteCapped = %d; the documented code is 5", ExitDeleteCapped)
	}
	if capErr := (&configs.DeleteCapError{Departed: 20, Cap: 10, MaxDelete: "10"}); !isDeleteCap(fmt.Errorf("run: %w", capErr)) {
		t.Error("a refused delete is not recognized")
	}
}

// TestSyncMetrics: the sync counters are exported under their names.
func TestSyncMetrics(t *testing.T) {
	c := pipeline.NewCounters()
	c.Done.Add(5)
	c.Updated.Add(2)
	c.Replaced.Add(1)
	c.Conflicts.Add(3)
	c.Deleted.Add(4)
	mfs, err := newMetrics(c, nil).Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"ingest_items_total{outcome=updated}": 2, "ingest_items_total{outcome=done}": 5,
		"ingest_replaced_total": 1, "ingest_conflicts_total": 3, "ingest_deleted_total": 4,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

// TestRunReportSyncFields: report.json carries the sync counts, and why a
// run asked to delete deleted nothing.
func TestRunReportSyncFields(t *testing.T) {
	dir := t.TempDir()
	job := &configs.Job{Name: "r", State: configs.State{Dir: dir, Report: filepath.Join(dir, "report.json")}}
	rep := &configs.Report{
		Stats:  pipeline.Stats{Done: 4, Updated: 3, Replaced: 1, Conflicts: 2, Failed: 2, Deleted: 0},
		Delete: &configs.DeleteReport{Reason: "the run was stopped before it read every source"},
	}
	if err := writeRunReport(job, rep, nil, ExitConflicts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(job.State.Report)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"updated": 3.0, "replaced": 1.0, "conflicts": 2.0, "deleted": 0.0, "exit_code": 4.0,
		"delete_skipped": "the run was stopped before it read every source"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

// TestSummarySyncLines: the summary says what changed in place, what was
// replaced, the conflicts and what was deleted or why not.
func TestSummarySyncLines(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out}
	job := &configs.Job{Name: "s", Target: "embedded", State: configs.State{Dir: "d", Failures: "d/failures.jsonl"}}
	e.printSummary(job, &configs.Report{
		Stats:  pipeline.Stats{Read: 9, Done: 3, Updated: 2, Replaced: 1, Failed: 2, Conflicts: 2, Deleted: 1},
		Delete: &configs.DeleteReport{Done: true, Departed: 1, Deleted: 1, Cap: 10},
	}, nil)
	for _, w := range []string{"  updated        2", "  replaced       1", "  conflicts      2", "  deleted        1 (of 1 inputs that left the sources; cap 10)",
		"Rerun with --replace-content"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	e.printSummary(job, &configs.Report{Delete: &configs.DeleteReport{Departed: 30, Cap: 10}},
		&configs.DeleteCapError{Departed: 30, Cap: 10, MaxDelete: "10"})
	for _, w := range []string{"deleted        0: 30 inputs left the sources, over the cap of 10", "Nothing was deleted"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, out.String())
		}
	}
}

// TestPrintPlan: the plan's lines, in order, and its examples old -> new.
func TestPrintPlan(t *testing.T) {
	var out bytes.Buffer
	printPlan(&out, &configs.Plan{
		Job: "p", Target: "embedded", Checkpoint: "d", Read: 12, Add: 1, Update: 2,
		UpdateFields: map[string]int64{"concepts": 2, "datasets": 1}, Replace: 0, Conflicts: 1, Unchanged: 8,
		Delete: &configs.PlanDelete{Counted: true, Inputs: 1, Cap: 10},
		Calls: configs.PlanCalls{PostInputs: 1, PatchInputs: 1, PostDatasetInputs: 1, DeleteInputs: 1, Verify: 2,
			Datasets: map[string]configs.DatasetCalls{"train": {Add: 1}}},
		RateLimit: 15, Seconds: 6.0 / 15,
		Examples: []configs.PlanExample{
			{Kind: "update", Item: "labels.csv row 3", InputID: "cat-1", Changes: []configs.PlanChange{{Field: "concepts", Old: "[cat]", New: "[kitten]"}}},
			{Kind: "delete", InputID: "gone-1", Note: "its item left the sources"},
		},
		OldValues: "server",
	})
	want := `Plan of job p (target embedded): 12 items read
  to add         1
  to update      2 (concepts 2, datasets 1)
  to replace     0
  conflicts      1
  to delete      1 (cap 10)
  unchanged      8
Calls: about 6 (1 PostInputs, 1 PatchInputs, 1 PostDatasetInputs, 1 DeleteInputs, 2 verification); at 15 requests/s that is under a second.
  dataset train: 1 inputs in, 0 out
Examples:
  update   labels.csv row 3, input cat-1
           concepts: [cat] -> [kitten]
  delete   input gone-1
           (its item left the sources)
`
	if out.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", out.String(), want)
	}
}
