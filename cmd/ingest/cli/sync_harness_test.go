package cli_test

// The harness of the table tests of keeping an app in sync
// (sync_matrix_e2e_test.go): an environment per case (emulator, files,
// job, state directory), what the app should hold field by field, and one
// driver that runs a case: first run, edit, plan, rerun(s), check the app,
// then a third run that finds nothing to do.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/configs"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// syncEnv is one case's world: the emulator, a folder of source files, the
// job file in it and the state directory.
type syncEnv struct {
	t     *testing.T
	f     *fixture
	root  string
	job   string
	state string
	// ids names the inputs of the first run ("a" -> input ID).
	ids map[string]string
}

func newSyncEnv(t *testing.T) *syncEnv {
	root := t.TempDir()
	return &syncEnv{t: t, f: newFixture(t, emulator.Options{}), root: root,
		job: filepath.Join(root, "job.yaml"), state: filepath.Join(root, "state"), ids: map[string]string{}}
}

// path is a file of the case's folder.
func (e *syncEnv) path(rel string) string { return filepath.Join(e.root, filepath.FromSlash(rel)) }

func (e *syncEnv) write(rel, content string) { writeFile(e.t, e.path(rel), content) }

func (e *syncEnv) remove(rel string) {
	e.t.Helper()
	if err := os.Remove(e.path(rel)); err != nil {
		e.t.Fatal(err)
	}
}

// png writes a small PNG of one shade: distinct shades, distinct bytes.
func (e *syncEnv) png(rel string, shade uint8) { e.pngSized(rel, shade, 8, 6) }

// pngSized writes a PNG of one shade and size.
func (e *syncEnv) pngSized(rel string, shade uint8, w, h int) {
	e.t.Helper()
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = shade
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		e.t.Fatal(err)
	}
	e.write(rel, b.String())
}

// touch rewrites a file with the bytes it has: same content, new
// modification time.
func (e *syncEnv) touch(rel string) {
	e.t.Helper()
	b, err := os.ReadFile(e.path(rel))
	if err != nil {
		e.t.Fatal(err)
	}
	fi, err := os.Stat(e.path(rel))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.path(rel), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	// A later modification time whatever the clock's resolution.
	later := fi.ModTime().Add(3e9)
	if err := os.Chtimes(e.path(rel), later, later); err != nil {
		e.t.Fatal(err)
	}
}

// args are a command's arguments on the case's job and state directory.
func (e *syncEnv) args(cmd string, extra ...string) []string {
	return append([]string{cmd, "-q", "--config", e.job, "--state-dir", e.state}, extra...)
}

// run runs the job, wants the exit code and returns its report.json.
func (e *syncEnv) run(want int, extra ...string) (cli.RunReport, result) {
	e.t.Helper()
	res := mustRun(e.t, want, e.f, nil, e.args("run", extra...)...)
	return readRunReport(e.t, e.reportPath(extra)), res
}

// reportPath is report.json of the state directory a run with extra uses
// (a shard's under the job's).
func (e *syncEnv) reportPath(extra []string) string {
	dir := e.state
	if i := slices.Index(extra, "--shard"); i >= 0 {
		var n, c int
		fmt.Sscanf(extra[i+1], "%d/%d", &n, &c)
		dir = filepath.Join(dir, fmt.Sprintf("shard-%d-of-%d", n, c))
	}
	return filepath.Join(dir, "report.json")
}

func readRunReport(t *testing.T, path string) cli.RunReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r cli.RunReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// plan runs `ingest plan --json`.
func (e *syncEnv) plan(extra ...string) configs.Plan {
	e.t.Helper()
	args := append([]string{"plan", "--config", e.job, "--state-dir", e.state, "--json"}, extra...)
	res := mustRun(e.t, cli.ExitOK, e.f, nil, args...)
	var p configs.Plan
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		e.t.Fatalf("%v\n%s", err, res)
	}
	return p
}

// humanAnnotation is the ID of the annotation a person drew in the app on
// an input, which no run may touch.
func humanAnnotation(inputID string) string { return "by-a-person-" + inputID[:min(len(inputID), 8)] }

// annotateByHand posts, as a person in the app would, one region
// annotation on an input.
func (e *syncEnv) annotateByHand(inputID string) {
	e.t.Helper()
	c, err := client.New(client.Config{Tuning: client.Tuning{RateLimit: -1}, Connection: client.Connection{
		Base: e.f.env["CLARIFAI_API_BASE"], PAT: testPAT, UserID: testUser, AppID: testApp}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.PostAnnotations(context.Background(), &pb.PostAnnotationsRequest{Annotations: []*pb.Annotation{{
		Id: humanAnnotation(inputID), InputId: inputID, Data: &pb.Data{Regions: []*pb.Region{{
			RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: 0.05, LeftCol: 0.05, BottomRow: 0.25, RightCol: 0.25}},
			Data:       &pb.Data{Concepts: []*pb.Concept{{Id: "person", Name: "person", Value: 1}}},
		}}},
	}}})
	if err != nil || len(resp.GetAnnotations()) != 1 {
		e.t.Fatalf("posting the person's annotation: %v %v", err, resp.GetStatus())
	}
}

// wantInput is what the app should hold for one input.
type wantInput struct {
	concepts map[string]float32 // input-level concepts, id -> value
	meta     string             // metadata as JSON, sorted keys; "{}" none
	geo      *[2]float32        // latitude, longitude
	datasets []string
	// regions are the tool's region annotations, "label[top left bottom
	// right]" sorted; human says the person's annotation is on it.
	regions []string
	human   bool
	// url is the input's URL, or sha the SHA-256 of the bytes it carried.
	url, sha string
}

// wantApp is what the app should hold: every input by ID, nothing else.
type wantApp map[string]*wantInput

func (w wantApp) clone() wantApp {
	out := wantApp{}
	for id, in := range w {
		c := *in
		c.concepts = maps.Clone(in.concepts)
		c.datasets = slices.Clone(in.datasets)
		c.regions = slices.Clone(in.regions)
		out[id] = &c
	}
	return out
}

// move gives an input a new ID (its content changed: a new input).
func (w wantApp) move(from, to string) *wantInput {
	in := w[from]
	delete(w, from)
	w[to] = in
	return in
}

func box(label string, top, left, bottom, right float64) string {
	return fmt.Sprintf("%s[%.3f %.3f %.3f %.3f]", label, top, left, bottom, right)
}

// check compares the app with w field by field, and every dataset's
// members both ways.
func (e *syncEnv) check(w wantApp) {
	e.t.Helper()
	t, srv := e.t, e.f.srv
	var got []string
	for _, si := range srv.Inputs(testUser, testApp) {
		got = append(got, si.Input.GetId())
	}
	sort.Strings(got)
	if want := slices.Sorted(maps.Keys(w)); !slices.Equal(got, want) {
		t.Errorf("the app holds inputs %v, want %v", got, want)
	}
	if p := srv.PendingDeletes(testUser, testApp); len(p) != 0 {
		t.Errorf("deletes still pending: %v", p)
	}
	members := map[string][]string{"train": nil, "test": nil}
	for _, id := range slices.Sorted(maps.Keys(w)) {
		in := w[id]
		si, ok := srv.Input(testUser, testApp, id)
		if !ok {
			continue // reported above
		}
		checkProcessed(t, id, si.Input)
		if c := srv.InputConcepts(testUser, testApp, id); !maps.Equal(c, in.concepts) && len(c)+len(in.concepts) > 0 {
			t.Errorf("%s: concepts %v, want %v", id, c, in.concepts)
		}
		mb, _ := json.Marshal(srv.InputMetadata(testUser, testApp, id))
		if want := in.meta; string(mb) != want && !(want == "" && string(mb) == "{}") {
			t.Errorf("%s: metadata %s, want %s", id, mb, want)
		}
		lon, lat, hasGeo := srv.InputGeo(testUser, testApp, id)
		switch {
		case in.geo == nil && hasGeo:
			t.Errorf("%s: geo (%v, %v), want none", id, lat, lon)
		case in.geo != nil && (!hasGeo || lat != in.geo[0] || lon != in.geo[1]):
			t.Errorf("%s: geo (%v, %v) present %v, want %v", id, lat, lon, hasGeo, *in.geo)
		}
		ds := srv.InputDatasets(testUser, testApp, id)
		if want := slices.Sorted(slices.Values(in.datasets)); !slices.Equal(ds, want) {
			t.Errorf("%s: datasets %v, want %v", id, ds, want)
		}
		for _, d := range in.datasets {
			members[d] = append(members[d], id)
		}
		var regions []string
		human := false
		for _, a := range srv.InputAnnotations(testUser, testApp, id) {
			if a.GetId() == humanAnnotation(id) {
				human = true
				r := a.GetData().GetRegions()
				if len(r) != 1 || r[0].GetData().GetConcepts()[0].GetId() != "person" || r[0].GetRegionInfo().GetBoundingBox().GetBottomRow() != 0.25 {
					t.Errorf("%s: the person's annotation changed: %v", id, a)
				}
				continue
			}
			for _, r := range a.GetData().GetRegions() {
				b := r.GetRegionInfo().GetBoundingBox()
				var label []string
				for _, c := range r.GetData().GetConcepts() {
					label = append(label, c.GetId())
				}
				regions = append(regions, box(strings.Join(label, "+"), float64(b.GetTopRow()), float64(b.GetLeftCol()), float64(b.GetBottomRow()), float64(b.GetRightCol())))
			}
		}
		sort.Strings(regions)
		if want := slices.Sorted(slices.Values(in.regions)); !slices.Equal(regions, want) {
			t.Errorf("%s: regions %v, want %v", id, regions, want)
		}
		if human != in.human {
			t.Errorf("%s: the person's annotation there: %v, want %v", id, human, in.human)
		}
		switch {
		case in.url != "":
			if u := si.Input.GetData().GetImage().GetUrl() + si.Input.GetData().GetText().GetUrl(); u != in.url {
				t.Errorf("%s: url %q, want %q", id, u, in.url)
			}
		case in.sha != "":
			if len(si.Content) != 1 || si.Content[0].SHA256 != in.sha {
				t.Errorf("%s: content %v, want sha256 %s", id, si.Content, in.sha)
			}
		}
	}
	for d, want := range members {
		if got := srv.DatasetInputIDs(testUser, testApp, d); !slices.Equal(got, slices.Sorted(slices.Values(want))) && len(got)+len(want) > 0 {
			t.Errorf("dataset %s holds %v, want %v", d, got, want)
		}
	}
}

// planWant are the counts a plan should give; Delete -1: not asked.
type planWant struct {
	add, update, replace, conflicts, unchanged int64
	fields                                     map[string]int64
	delete                                     int64
	overCap                                    bool
	// example is "field: old -> new" of one example, when set.
	example string
}

func (e *syncEnv) checkPlan(p configs.Plan, w planWant) {
	e.t.Helper()
	fields := maps.Clone(p.UpdateFields)
	if fields == nil {
		fields = map[string]int64{}
	}
	if w.fields == nil {
		w.fields = map[string]int64{}
	}
	del, over := int64(-1), false
	if p.Delete != nil {
		if !p.Delete.Counted {
			e.t.Errorf("plan: deletes not counted: %s", p.Delete.Reason)
		}
		del, over = p.Delete.Inputs, p.Delete.OverCap
	}
	if p.Add != w.add || p.Update != w.update || p.Replace != w.replace || p.Conflicts != w.conflicts ||
		p.Unchanged != w.unchanged || !maps.Equal(fields, w.fields) || del != w.delete || over != w.overCap || p.Problems != 0 {
		e.t.Errorf("plan: add %d update %d %v replace %d conflicts %d unchanged %d delete %d (over cap %v) problems %d;\n"+
			"want add %d update %d %v replace %d conflicts %d unchanged %d delete %d (over cap %v)",
			p.Add, p.Update, fields, p.Replace, p.Conflicts, p.Unchanged, del, over, p.Problems,
			w.add, w.update, w.fields, w.replace, w.conflicts, w.unchanged, w.delete, w.overCap)
	}
	if w.example != "" {
		var all []string
		for _, x := range p.Examples {
			for _, c := range x.Changes {
				all = append(all, c.Field+": "+c.Old+" -> "+c.New)
			}
		}
		if !slices.Contains(all, w.example) {
			e.t.Errorf("plan examples %q lack %q", all, w.example)
		}
	}
}

// runWant are the counts of a run's report.
type runWant struct {
	uploaded, updated, replaced, conflicts, deleted, failed int64
}

func (e *syncEnv) checkRun(r cli.RunReport, w runWant) {
	e.t.Helper()
	got := runWant{r.Done, r.Updated, r.Replaced, r.Conflicts, r.Deleted, r.Failed}
	if got != w {
		e.t.Errorf("run report: %+v, want %+v (error %q, delete skipped %q)", got, w, r.Error, r.DeleteSkipped)
	}
}

// syncStep is one rerun of a case: its flags, what the plan with them
// says, and what the run does.
type syncStep struct {
	flags []string
	// planFlags are the plan's flags when they differ from the run's.
	planFlags []string
	plan      planWant
	exit      int
	run       runWant
	// readOnly: the run makes no call but reads.
	readOnly bool
	// say are words the run's output (stdout and stderr) must hold.
	say []string
	// app, when set, is what the app holds after this step, from what
	// it held after the first run.
	app func(e *syncEnv, w wantApp)
}

// syncCase is an edit of the sources and the reruns that follow it.
type syncCase struct {
	name  string
	edit  func(e *syncEnv)
	steps []syncStep
}

// syncSource is a kind of source the cases edit: setup writes the files
// and the job, first is what the first run stores (and fills e.ids), and
// human names the inputs (in e.ids) a person annotates after it.
type syncSource struct {
	setup func(e *syncEnv)
	first func(e *syncEnv) wantApp
	human []string
}

// onlyReads checks that the emulator got no call but reads since before
// (its Calls).
func (e *syncEnv) onlyReads(before map[string]int64) {
	e.t.Helper()
	for m, n := range e.f.srv.Calls() {
		if d := n - before[m]; d > 0 && !strings.HasPrefix(m, "List") && !strings.HasPrefix(m, "Get") && !strings.HasPrefix(m, "Stream") {
			e.t.Errorf("the run called %s %d times; want only reads", m, d)
		}
	}
}

// runSyncCases runs each case on a fresh world: first run, the person's
// annotation, the edit, each step (plan, run, app), then a plan and a run
// that find nothing to do: the plan all unchanged, the run no call but
// reads, the app as it was.
func runSyncCases(t *testing.T, src syncSource, cases []syncCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own emulator and files
			e := newSyncEnv(t)
			src.setup(e)
			r, _ := e.run(cli.ExitOK)
			w := src.first(e)
			e.checkRun(r, runWant{uploaded: int64(len(w))})
			for _, h := range src.human {
				e.annotateByHand(e.ids[h])
				w[e.ids[h]].human = true
			}
			e.check(w)
			tc.edit(e)
			var last []string
			var after wantApp
			for i, st := range tc.steps {
				pf := st.flags
				if st.planFlags != nil {
					pf = st.planFlags
				}
				e.checkPlan(e.plan(pf...), st.plan)
				before := e.f.srv.Calls()
				r, res := e.run(st.exit, st.flags...)
				if st.readOnly {
					e.onlyReads(before)
				}
				e.checkRun(r, st.run)
				for _, s := range st.say {
					if !strings.Contains(res.stdout+res.stderr, s) {
						t.Errorf("step %d: the run does not say %q:\n%s", i, s, res)
					}
				}
				if st.app != nil {
					after = w.clone()
					st.app(e, after)
					e.check(after)
				}
				last = pf
			}
			if after == nil {
				t.Fatal("no step says what the app holds")
			}
			p := e.plan(last...)
			del := int64(-1)
			if p.Delete != nil {
				del = 0
			}
			e.checkPlan(p, planWant{unchanged: p.Read - p.Skipped, delete: del})
			before := e.f.srv.Calls()
			r, _ = e.run(cli.ExitOK, last...)
			e.checkRun(r, runWant{})
			e.onlyReads(before)
			e.check(after)
		})
	}
}
