package configs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// TestPlanSinkCounts: each item is counted by what its sync says, with the
// calls a run would make for it and up to PlanExamples examples per kind.
func TestPlanSinkCounts(t *testing.T) {
	p := newPlanSink(2)
	item := func(i int, s *pipeline.Sync) *pipeline.Item {
		return &pipeline.Item{URL: fmt.Sprintf("https://x/%d.jpg", i), Prov: pipeline.Provenance{Source: "m.csv", Row: i + 1},
			Concepts: []pipeline.Concept{pipeline.Positive("dog")}, DatasetIDs: []string{"b", "c"}, Sync: s}
	}
	// 5 new items, one of them with 2 regions.
	for i := 4; i >= 0; i-- { // met in reverse order
		it := item(i, nil)
		if i == 0 {
			it.Regions = make([]pipeline.Region, 2)
		}
		p.classify(it)
	}
	// A content change under a derived ID: a new input, the old one left.
	p.classify(item(5, &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: "old-5", Changed: 1 << pipeline.FieldContent}))
	// Updates: concepts (twice, one emptied), datasets a -> b,c; regions.
	upd := func(i int, fs pipeline.Fields) *pipeline.Item {
		it := item(i, &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: fmt.Sprintf("in-%d", i), Changed: fs, PriorDatasets: []string{"a", "b"}})
		it.ID = it.Sync.PriorID
		return it
	}
	p.classify(upd(6, pipeline.Fields(0).With(pipeline.FieldConcepts)))
	emptied := upd(7, pipeline.Fields(0).With(pipeline.FieldConcepts).With(pipeline.FieldDatasets))
	emptied.Concepts = nil
	p.classify(emptied)
	withRegions := upd(8, pipeline.Fields(0).With(pipeline.FieldRegions))
	withRegions.Regions = make([]pipeline.Region, 3)
	p.classify(withRegions)
	// A replace, and an item resumed for verification.
	p.classify(item(9, &pipeline.Sync{Action: pipeline.ActionReplace, PriorID: "given-9", Changed: 1 << pipeline.FieldContent}))
	p.classify(&pipeline.Item{Resumed: true})
	// The runner's own decisions.
	for _, r := range []pipeline.Result{
		{Event: pipeline.EventResumed}, {Event: pipeline.EventResumed},
		{Event: pipeline.EventSkipped, Item: item(20, nil)},
		{Event: pipeline.EventFailed, Stage: "transform:x", Err: fmt.Errorf("bad"), Item: item(21, nil)},
		{Event: pipeline.EventFailed, Stage: "sync", Err: fmt.Errorf("row 23: %w", pipeline.ErrContentChanged),
			Item: item(22, &pipeline.Sync{PriorID: "given-22"})},
		{Event: pipeline.EventDone, Item: item(23, nil)}, // the plan sink's own: not counted again
	} {
		if err := p.result(r); err != nil {
			t.Fatal(err)
		}
	}
	plan := &Plan{UpdateFields: map[string]int64{}}
	p.fill(plan)
	want := map[string]int64{"add": 6, "update": 3, "replace": 1, "verify": 1, "unchanged": 2, "skipped": 1, "problems": 1, "conflicts": 1}
	got := map[string]int64{"add": plan.Add, "update": plan.Update, "replace": plan.Replace, "verify": plan.Verify,
		"unchanged": plan.Unchanged, "skipped": plan.Skipped, "problems": plan.Problems, "conflicts": plan.Conflicts}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if f := plan.UpdateFields; !reflect.DeepEqual(f, map[string]int64{"concepts": 2, "datasets": 1, "regions": 1}) {
		t.Errorf("by field %v", f)
	}
	c := plan.Calls
	wantCalls := PlanCalls{
		PostInputs:        4,                         // 7 inputs posted (6 adds, 1 replace), 2 per call
		PatchInputs:       2,                         // the concept overwrite, and the removal of the emptied list
		GetInput:          1,                         // the emptied list is read back
		PostDatasetInputs: 1, DeleteDatasetInputs: 1, // c in, a out
		PostAnnotations: 2, // the new inputs' regions, the updated input's
		ListAnnotations: 1, DeleteAnnotations: 1,
		DeleteInputs: 1, // the replaced input
		Verify:       2,
		Datasets:     map[string]DatasetCalls{"c": {Add: 1}, "a": {Remove: 1}},
	}
	if !reflect.DeepEqual(c, wantCalls) {
		t.Errorf("calls\n%+v, want\n%+v", c, wantCalls)
	}
	if c.Total() != 16 {
		t.Errorf("total %d", c.Total())
	}
	if p.orphans != 1 {
		t.Errorf("orphans %d, want the content-changed input", p.orphans)
	}
	kinds := map[string]int{}
	for _, ex := range plan.Examples {
		kinds[ex.Kind]++
	}
	if !reflect.DeepEqual(kinds, map[string]int{"add": 3, "update": 3, "replace": 1, "conflict": 1}) {
		t.Errorf("examples by kind %v", kinds)
	}
	// The first examples by provenance, whatever the order met.
	var adds []string
	for _, ex := range plan.Examples {
		if ex.Kind == "add" {
			adds = append(adds, ex.Item)
		}
	}
	if !reflect.DeepEqual(adds, []string{"m.csv row 1", "m.csv row 2", "m.csv row 3"}) {
		t.Errorf("add examples %v", adds)
	}
	var update PlanExample
	for _, ex := range plan.Examples {
		if ex.Kind == "update" && ex.InputID == "in-7" {
			update = ex
		}
	}
	wantChanges := []PlanChange{{Field: "concepts", Old: oldDigest, New: "none"}, {Field: "datasets", Old: "[a, b]", New: "[b, c]"}}
	if !reflect.DeepEqual(update.Changes, wantChanges) || update.Item != "m.csv row 8" {
		t.Errorf("update example %+v", update)
	}
}

// TestPlanDeletes: with a checkpoint that tracks inputs, the inputs no
// item matched plus those replaced after a content change; without a
// clean full read, not counted and why.
func TestPlanDeletes(t *testing.T) {
	ps := newPlanSink(128)
	ps.orphans = 1
	look := readOnlyCheckpoint{&fakeSync{gone: departed("x", "y", "z", "w")}}
	d := planDeletes(ps, look, DeleteCap{Count: 10}, 100, false, true)
	if !d.Counted || d.Inputs != 5 || d.OverCap || d.Cap != 10 || len(ps.deleteExamples) != PlanExamples {
		t.Errorf("%+v, examples %v", d, ps.deleteExamples)
	}
	d = planDeletes(newPlanSink(1), look, DeleteCap{Percent: true, Percentage: 2}, 100, false, true)
	if !d.OverCap || d.Cap != 2 || d.Inputs != 4 {
		t.Errorf("over the cap: %+v", d)
	}
	d = planDeletes(newPlanSink(1), look, DeleteCap{Count: 10}, 100, false, false)
	if d.Counted || !strings.Contains(d.Reason, "not every source") {
		t.Errorf("without a full read: %+v", d)
	}
	if d := planDeletes(newPlanSink(1), nil, DeleteCap{Count: 10}, 0, false, true); !d.Counted || d.Inputs != 0 {
		t.Errorf("no checkpoint: %+v", d)
	}
}

// TestPlanChangesNothing: a plan of a job before and after its run says
// what the run does and did, and writes neither the checkpoint nor the
// failure report; the JSON has the documented keys.
func TestPlanChangesNothing(t *testing.T) {
	data := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%d.txt", i)), []byte(fmt.Sprint("text ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	job := func() *Job {
		return &Job{Name: "plan", Target: TargetEmbedded, Sources: []Source{mustSource(t, data)},
			Embedded: Embedded{StateDir: filepath.Join(state, "emu"), ProcessingDelay: units.Duration(time.Millisecond)},
			State:    State{Dir: filepath.Join(state, "job")}}
	}
	ctx := context.Background()
	p, err := job().Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Add != 3 || p.Read != 3 || p.Checkpoint != "" || p.Calls.PostInputs != 1 {
		t.Errorf("first plan: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(state, "job")); !os.IsNotExist(err) {
		t.Errorf("the plan made the state directory: %v", err)
	}
	if _, err := job().Run(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Join(state, "job"))
	j := job()
	j.Sync.Delete = true
	p, err = j.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Add != 0 || p.Unchanged != 3 || p.Checkpoint == "" || p.Delete == nil || p.Calls.Total() != 0 {
		t.Errorf("plan after the run: %+v", p)
	}
	if after := snapshot(t, filepath.Join(state, "job")); !reflect.DeepEqual(before, after) {
		t.Errorf("the plan changed the state directory:\nbefore %v\nafter  %v", before, after)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"job", "target", "items_read", "to_add", "to_update", "to_update_by_field", "to_replace", "conflicts",
		"to_delete", "unchanged", "to_verify", "calls", "rate_limit", "duration_seconds", "examples", "old_values"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

// snapshot maps each file of dir (but the lock) to its size and
// modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "LOCK" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprint(fi.Size(), " ", fi.ModTime().UnixNano())
	}
	return out
}

// TestPlanUnmoved: an item whose content digest changed under a derived ID
// is read and its ID derived, as a run does: the same ID as before (a file
// touched) is no new input: unchanged, or an update of what else changed;
// another ID (the bytes changed) is an add whose earlier input left.
func TestPlanUnmoved(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) *pipeline.Item {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.FileBlob(p, int64(len(content))), Prov: pipeline.Provenance{Path: p}}
	}
	prior := func(content string) string {
		return ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte(content))}, []byte(content))
	}
	content := pipeline.Fields(0).With(pipeline.FieldContent)
	touched := file("touched.txt", "same")
	touched.Sync = &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: prior("same"), Changed: content}
	relabelled := file("relabelled.txt", "also same")
	relabelled.Concepts = []pipeline.Concept{pipeline.Positive("cat")}
	relabelled.Sync = &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: prior("also same"), Changed: content.With(pipeline.FieldConcepts)}
	rewritten := file("rewritten.txt", "new bytes")
	rewritten.Sync = &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: prior("old bytes"), Changed: content}

	// Touched and moved to another dataset: its ID was derived in the
	// datasets of its first post.
	moved := file("moved.txt", "moved")
	moved.DatasetIDs = []string{"test"}
	movedPrior := ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("moved")), DatasetIDs: []string{"train"}}, []byte("moved"))
	moved.Sync = &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: movedPrior, Changed: content.With(pipeline.FieldDatasets), PriorDatasets: []string{"train"}}

	p := newPlanSink(10)
	for _, it := range []*pipeline.Item{touched, relabelled, rewritten, moved} {
		if err := p.unmoved(it); err != nil {
			t.Fatal(err)
		}
		p.classify(it)
	}
	plan := &Plan{UpdateFields: map[string]int64{}}
	p.fill(plan)
	if plan.Unchanged != 1 || plan.Update != 2 || plan.UpdateFields["concepts"] != 1 || plan.UpdateFields["datasets"] != 1 || len(plan.UpdateFields) != 2 ||
		plan.Add != 1 || p.orphans != 1 || moved.ID != movedPrior {
		t.Errorf("plan %+v, orphans %d", plan, p.orphans)
	}
	if touched.ID != prior("same") || relabelled.ID != prior("also same") || rewritten.ID != "" {
		t.Errorf("IDs %q %q %q", touched.ID, relabelled.ID, rewritten.ID)
	}
}

// TestPlanVerifyContent: a file under a given ID whose stat changed is
// compared with the intent log's digest, as a run does: the same bytes are
// unchanged; other bytes are a conflict, or a replace when allowed.
func TestPlanVerifyContent(t *testing.T) {
	dir := t.TempDir()
	file := func(id, content string, action pipeline.Action) *pipeline.Item {
		p := filepath.Join(dir, id+".png")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return &pipeline.Item{ID: id, Kind: pipeline.KindImage, Blob: pipeline.FileBlob(p, int64(len(content))),
			Sync: &pipeline.Sync{Action: action, PriorID: id, Changed: 1 << pipeline.FieldContent, VerifyContent: true}}
	}
	p := newPlanSink(10)
	p.intended = func(id string) (uint64, bool) {
		sum, ok := map[string]uint64{"touched": xxhash.Sum64String("same"), "rewritten": xxhash.Sum64String("old"),
			"replaced": xxhash.Sum64String("old")}[id]
		return sum, ok
	}
	touched, rewritten, replaced := file("touched", "same", pipeline.ActionAdd), file("rewritten", "new", pipeline.ActionAdd),
		file("replaced", "new", pipeline.ActionReplace)
	if err := p.unmoved(touched); err != nil {
		t.Errorf("touched: %v", err)
	}
	if err := p.unmoved(rewritten); !errors.Is(err, pipeline.ErrContentChanged) {
		t.Errorf("rewritten: %v, want a conflict", err)
	}
	if err := p.unmoved(replaced); err != nil {
		t.Errorf("replaced: %v", err)
	}
	p.classify(touched)
	p.classify(replaced)
	plan := &Plan{UpdateFields: map[string]int64{}}
	p.fill(plan)
	if plan.Unchanged != 1 || plan.Replace != 1 || plan.Add != 0 {
		t.Errorf("plan %+v", plan)
	}
}

// TestPlanAdopt: a plan with sync.adopt of a job whose checkpoint was lost
// lists the app's inputs and reads back those the new items would use, as
// a run does: equal ones are adopted as they are, an edited label is an
// adopt-update, other content under a given ID a conflict, and only an item
// the app does not hold is to add. The run then does what the plan said.
// Without a reachable target the plan says adoption was not planned.
func TestPlanAdopt(t *testing.T) {
	root := t.TempDir()
	data, manifest := filepath.Join(root, "notes"), filepath.Join(root, "m.csv")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%d.txt", i)), []byte(fmt.Sprint("note ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest := func(rows string) {
		if err := os.WriteFile(manifest, []byte("id,url,concepts\n"+rows), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest("cat-1,https://example.com/cat.jpg,cat\ndog-1,https://example.com/dog.jpg,dog\n")
	job := func(state string, adopt bool) *Job {
		j, err := Parse([]byte("sources: [{dir: {path: " + data + "}}, {csv: {path: " + manifest + "}}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		j.Name, j.Target = "adopt", TargetEmbedded
		j.Embedded = Embedded{StateDir: filepath.Join(root, "emu"), ProcessingDelay: units.Duration(time.Millisecond)}
		j.State = State{Dir: filepath.Join(root, state)}
		j.Sync.Adopt = adopt
		return j
	}
	ctx := context.Background()
	if _, err := job("lost", false).Run(ctx); err != nil {
		t.Fatal(err)
	}
	// The state is lost; one label edited, one URL changed under its ID,
	// one row added.
	writeManifest("cat-1,https://example.com/cat.jpg,kitten\ndog-1,https://example.com/dog2.jpg,dog\nowl-1,https://example.com/owl.jpg,owl\n")

	p, err := job("fresh", false).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Adopt != nil || p.Add != 6 {
		t.Errorf("plan without adopt: add %d, adopt %+v", p.Add, p.Adopt)
	}
	p, err = job("fresh", true).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Adopt
	if a == nil || !a.Planned || a.AppInputs != 5 || a.AsIs != 3 || a.Update != 1 || a.UpdateFields["concepts"] != 1 || len(a.UpdateFields) != 1 ||
		a.Conflicts != 1 || a.Unread != 0 || a.Total() != 5 {
		t.Fatalf("adopt: %+v", a)
	}
	if p.Add != 1 || p.Update != 0 || p.Conflicts != 0 || p.Read != 6 {
		t.Errorf("plan: %+v", p)
	}
	if c := p.Calls; c.StreamInputs != 1 || c.ListInputs != 1 || c.PatchInputs != 1 || c.PostInputs != 1 {
		t.Errorf("calls: %+v", c)
	}
	kinds := map[string][]PlanExample{}
	for _, ex := range p.Examples {
		kinds[ex.Kind] = append(kinds[ex.Kind], ex)
	}
	if u := kinds["adopt-update"]; len(u) != 1 || u[0].InputID != "cat-1" || len(u[0].Changes) != 1 ||
		u[0].Changes[0].Old != "[cat]" || u[0].Changes[0].New != "[kitten]" {
		t.Errorf("adopt-update examples: %+v (old values: %s)", u, p.OldValues)
	}
	if c := kinds["adopt-conflict"]; len(c) != 1 || c[0].InputID != "dog-1" || !strings.Contains(c[0].Note, "dog2.jpg") {
		t.Errorf("adopt-conflict examples: %+v", c)
	}
	if len(kinds["adopt"]) != PlanExamples || len(kinds["add"]) != 1 {
		t.Errorf("examples: %+v", p.Examples)
	}
	if _, err := os.Stat(filepath.Join(root, "fresh")); !os.IsNotExist(err) {
		t.Errorf("the plan made the state directory: %v", err)
	}

	// The run does what the plan said.
	rep, err := job("fresh", true).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Stats; s.Adopted != a.AsIs || s.Updated != a.Update || s.Conflicts != a.Conflicts || s.Done != p.Add {
		t.Errorf("run: %+v, plan %+v", s, a)
	}

	// A target that cannot be reached: adoption is not planned.
	j := job("fresh2", true)
	j.Target, j.Clarifai.PAT = TargetClarifai, ""
	j.Clarifai.UserID, j.Clarifai.AppID = "u", "a"
	p, err = j.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Adopt == nil || p.Adopt.Planned || !strings.Contains(p.Adopt.Reason, "could not be listed") || p.Add != 6 {
		t.Errorf("unreachable: add %d, adopt %+v", p.Add, p.Adopt)
	}
}

// TestPlanSinkAdoptBatches: the items whose input the app holds are read
// back at most maxIDsPerCall at a time, each with its result once read; a
// read that fails leaves them not read back, with the reason.
func TestPlanSinkAdoptBatches(t *testing.T) {
	for _, fail := range []bool{false, true} {
		p := newPlanSink(32)
		var reads []int
		p.adopt = &planAdopt{
			has: func(id string) bool { return strings.HasPrefix(id, "held-") },
			read: func(_ context.Context, ids []string) (map[string]*pb.Input, error) {
				reads = append(reads, len(ids))
				if fail {
					return nil, errors.New("unavailable")
				}
				out := map[string]*pb.Input{}
				for _, id := range ids {
					out[id] = &pb.Input{Id: id, Data: &pb.Data{Text: &pb.Text{Raw: "t"}}}
				}
				return out, nil
			},
		}
		const n = 300
		in := make(chan *pipeline.Item, n+1)
		for i := range n {
			in <- &pipeline.Item{ID: fmt.Sprintf("held-%03d", i), Kind: pipeline.KindText, Text: "t"}
		}
		in <- &pipeline.Item{ID: "new", Kind: pipeline.KindText, Text: "t"}
		close(in)
		results := make(chan pipeline.Result, n+1)
		if err := p.Run(context.Background(), in, results); err != nil {
			t.Fatal(err)
		}
		if len(results) != n+1 || !reflect.DeepEqual(reads, []int{128, 128, 44}) {
			t.Errorf("fail %v: %d results, reads %v", fail, len(results), reads)
		}
		plan := &Plan{UpdateFields: map[string]int64{}, Adopt: &PlanAdopt{UpdateFields: map[string]int64{}}}
		p.fill(plan)
		a := plan.Adopt
		switch {
		case plan.Add != 1:
			t.Errorf("fail %v: add %d", fail, plan.Add)
		case !fail && (a.AsIs != n || a.Unread != 0 || plan.Calls.ListInputs != ceilDiv(n, 32)):
			t.Errorf("adopt %+v, calls %+v", a, plan.Calls)
		case fail && (a.AsIs != 0 || a.Unread != n || !strings.Contains(p.adopt.why, "unavailable")):
			t.Errorf("failed reads: adopt %+v, why %q", a, p.adopt.why)
		}
	}
}
