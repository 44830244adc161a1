package clarifai

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

const emuUser, emuApp = "me", "app"

// emuEnv is an emulator and a client of its app emuUser/emuApp.
type emuEnv struct {
	srv *emulator.Server
	c   *client.Client
}

// startEmulator starts an emulator that processes inputs at once and has no
// rate limit (opts may change that), and a client of it with fast retries.
func startEmulator(t *testing.T, opts emulator.Options) *emuEnv {
	t.Helper()
	if opts.ProcessingDelay == 0 {
		opts.ProcessingDelay = -1
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	srv, err := emulator.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := client.New(client.Config{
		Connection: client.Connection{Base: "http://" + srv.Addr(), PAT: testPAT, UserID: emuUser, AppID: emuApp},
		Tuning:     client.Tuning{RateLimit: -1}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Counters: pipeline.NewCounters(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // before the server's (last in, first out)
	return &emuEnv{srv: srv, c: c}
}

// run runs a sink of cfg (Verify off unless set, fast re-sends) over items
// on the emulator and returns the outcomes; the run must not fail.
func (e *emuEnv) run(t *testing.T, cfg SinkConfig, items ...*pipeline.Item) map[*pipeline.Item]*outcome {
	t.Helper()
	if cfg.ResendBackoff == 0 {
		cfg.ResendBackoff = 5 * time.Millisecond
	}
	if cfg.Batch.MaxWait == 0 {
		// Partial batches go out when the input ends, never after a wait
		// that a loaded machine may reach: the call counts tests assert
		// do not depend on timing.
		cfg.Batch.MaxWait = time.Hour
	}
	cfg.AnnotationWait = time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := runSink(t, ctx, newTestSink(t, e.c, cfg), items)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustDone fails the test unless every item ended done.
func mustDone(t *testing.T, out map[*pipeline.Item]*outcome, items ...*pipeline.Item) {
	t.Helper()
	for _, it := range items {
		if o := out[it]; o == nil || o.final.Event != pipeline.EventDone {
			var r pipeline.Result
			if o != nil {
				r = o.final
			}
			t.Errorf("%s: %v at %q, code %d: %v", it.ID, r.Event, r.Stage, r.Code, r.Err)
		}
	}
}

func image(id string) *pipeline.Item {
	return &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://example.com/" + id + ".jpg"}
}

// updateOf returns a copy of it as a rerun reads it after edit changed it:
// ActionUpdate of its input, with the groups changed.
func updateOf(it *pipeline.Item, changed pipeline.Fields, edit func(*pipeline.Item)) *pipeline.Item {
	u := *it
	u.Concepts = slices.Clone(it.Concepts)
	u.Metadata = maps.Clone(it.Metadata)
	u.Regions = slices.Clone(it.Regions)
	u.DatasetIDs = slices.Clone(it.DatasetIDs)
	u.Sync = &pipeline.Sync{Action: pipeline.ActionUpdate, PriorID: it.ID, Changed: changed, PriorDatasets: slices.Clone(it.DatasetIDs)}
	edit(&u)
	return &u
}

func fields(fs ...pipeline.Field) pipeline.Fields {
	var out pipeline.Fields
	for _, f := range fs {
		out = out.With(f)
	}
	return out
}

func box(top, left float64, label string) pipeline.Region {
	return pipeline.Region{Box: &pipeline.BoundingBox{Top: top, Left: left, Bottom: top + 0.2, Right: left + 0.2},
		Concepts: []pipeline.Concept{pipeline.Positive(label)}}
}

// TestSyncUpdateFields updates each group of fields of inputs an earlier
// run posted and checks, field by field, what the server holds afterwards:
// only the changed groups move, and an annotation made in the UI stays.
func TestSyncUpdateFields(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	geo := &pipeline.Geo{Latitude: 48.85, Longitude: 2.35}
	mk := func(id string, f func(*pipeline.Item)) *pipeline.Item {
		it := image(id)
		it.Concepts = []pipeline.Concept{pipeline.Positive("cat")}
		it.Metadata = map[string]any{"a": 1.0}
		f(it)
		return it
	}
	first := map[string]*pipeline.Item{
		"relabel":    mk("relabel", func(*pipeline.Item) {}),
		"unlabel":    mk("unlabel", func(it *pipeline.Item) { it.Concepts = append(it.Concepts, pipeline.Negative("dog")) }),
		"meta":       mk("meta", func(*pipeline.Item) {}),
		"meta-empty": mk("meta-empty", func(*pipeline.Item) {}),
		"geo-set":    mk("geo-set", func(*pipeline.Item) {}),
		"geo-moved":  mk("geo-moved", func(it *pipeline.Item) { it.Geo = geo }),
		"geo-gone":   mk("geo-gone", func(it *pipeline.Item) { it.Geo = geo }),
		"dataset":    mk("dataset", func(it *pipeline.Item) { it.DatasetIDs = []string{"train", "all"} }),
		"regions": mk("regions", func(it *pipeline.Item) {
			it.Regions = []pipeline.Region{box(0.1, 0.1, "cat"), box(0.5, 0.5, "dog")}
		}),
		"regions-gone": mk("regions-gone", func(it *pipeline.Item) { it.Regions = []pipeline.Region{box(0.1, 0.1, "cat")} }),
		"regions-bad":  mk("regions-bad", func(it *pipeline.Item) { it.Regions = []pipeline.Region{box(0.1, 0.1, "cat")} }),
	}
	var items []*pipeline.Item
	for _, it := range first {
		items = append(items, it)
	}
	mustDone(t, e.run(t, SinkConfig{}, items...), items...)
	// A person draws a box on the input in the UI.
	ui := &pb.Annotation{Id: "drawn-in-ui", InputId: "regions", Data: &pb.Data{Regions: []*pb.Region{{Id: "ui-region",
		RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{TopRow: 0.1, LeftCol: 0.1, BottomRow: 0.3, RightCol: 0.3}},
		Data:       &pb.Data{Concepts: []*pb.Concept{{Id: "cat", Value: 1}}}}}}}
	if _, err := e.c.PostAnnotations(t.Context(), &pb.PostAnnotationsRequest{Annotations: []*pb.Annotation{ui}}); err != nil {
		t.Fatal(err)
	}
	before := e.srv.InputAnnotations(emuUser, emuApp, "regions")
	if len(before) != 3 {
		t.Fatalf("%d annotations before the update, want 3", len(before))
	}

	c, m, g, ds, rg := pipeline.FieldConcepts, pipeline.FieldMetadata, pipeline.FieldGeo, pipeline.FieldDatasets, pipeline.FieldRegions
	updates := []*pipeline.Item{
		updateOf(first["relabel"], fields(c), func(it *pipeline.Item) { it.Concepts = []pipeline.Concept{pipeline.Positive("dog")} }),
		updateOf(first["unlabel"], fields(c), func(it *pipeline.Item) { it.Concepts = nil }),
		updateOf(first["meta"], fields(m), func(it *pipeline.Item) { it.Metadata = map[string]any{"b": "x", "n": map[string]any{"k": true}} }),
		updateOf(first["meta-empty"], fields(m), func(it *pipeline.Item) { it.Metadata = nil }),
		updateOf(first["geo-set"], fields(g), func(it *pipeline.Item) { it.Geo = geo }),
		updateOf(first["geo-moved"], fields(g), func(it *pipeline.Item) { it.Geo = &pipeline.Geo{Latitude: -33.9, Longitude: 151.2} }),
		updateOf(first["geo-gone"], fields(g), func(it *pipeline.Item) { it.Geo = nil }),
		updateOf(first["dataset"], fields(ds), func(it *pipeline.Item) { it.DatasetIDs = []string{"all", "test"} }),
		updateOf(first["regions"], fields(rg), func(it *pipeline.Item) {
			it.Regions = []pipeline.Region{box(0.1, 0.1, "cat"), box(0.6, 0.2, "bird")}
		}),
		updateOf(first["regions-gone"], fields(rg), func(it *pipeline.Item) { it.Regions = nil }),
		// A dataset deleted since holds the input no longer.
		updateOf(first["relabel"], fields(ds), func(it *pipeline.Item) { it.Sync.PriorDatasets = []string{"deleted-since"} }),
	}
	badRegion := updateOf(first["regions-bad"], fields(rg), func(it *pipeline.Item) {
		it.Regions = []pipeline.Region{box(0.1, 0.1, "not valid!")}
	})
	calls := e.srv.Calls()
	out := e.run(t, SinkConfig{}, append(updates, badRegion)...)
	mustDone(t, out, updates...)
	if r := out[badRegion].final; r.Event != pipeline.EventFailed || r.Stage != updateStage || r.Code != int32(st.StatusCode_ANNOTATION_INVALID_ARGUMENT) {
		t.Errorf("bad region: %v at %q code %d: %v", r.Event, r.Stage, r.Code, r.Err)
	}
	if n := len(e.srv.InputAnnotations(emuUser, emuApp, "regions-bad")); n != 1 {
		t.Errorf("a refused region took the earlier annotation: %d left", n)
	}
	if n := len(e.srv.InputAnnotations(emuUser, emuApp, "regions-gone")); n != 0 {
		t.Errorf("regions-gone has %d annotations", n)
	}
	for _, it := range updates {
		if o := out[it]; o != nil && (o.final.Stage != updateStage || len(o.events) != 1) {
			t.Errorf("%s: events %v, stage %q; want one done at update", it.ID, o.events, o.final.Stage)
		}
	}
	after := e.srv.Calls()
	if n := after["PostInputs"] - calls["PostInputs"]; n != 0 {
		t.Errorf("%d PostInputs calls for updates", n)
	}
	// One overwrite and one remove call for all the inputs.
	if n := after["PatchInputs"] - calls["PatchInputs"]; n != 2 {
		t.Errorf("%d PatchInputs calls, want 2", n)
	}

	concepts := func(id string) map[string]float32 { return e.srv.InputConcepts(emuUser, emuApp, id) }
	metadata := func(id string) map[string]any { return e.srv.InputMetadata(emuUser, emuApp, id) }
	eq := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	eq("relabel concepts", concepts("relabel"), map[string]float32{"dog": 1})
	eq("relabel metadata untouched", metadata("relabel"), map[string]any{"a": 1.0})
	eq("unlabel concepts", concepts("unlabel"), map[string]float32{})
	eq("unlabel metadata untouched", metadata("unlabel"), map[string]any{"a": 1.0})
	eq("meta metadata", metadata("meta"), map[string]any{"b": "x", "n": map[string]any{"k": true}})
	eq("meta concepts untouched", concepts("meta"), map[string]float32{"cat": 1})
	eq("meta-empty metadata", metadata("meta-empty"), map[string]any{})
	geoOf := func(id string) string {
		lon, lat, ok := e.srv.InputGeo(emuUser, emuApp, id)
		if !ok {
			return "none"
		}
		return fmt.Sprintf("%.2f,%.2f", lat, lon)
	}
	eq("geo-set", geoOf("geo-set"), "48.85,2.35")
	eq("geo-moved", geoOf("geo-moved"), "-33.90,151.20")
	eq("geo-gone", geoOf("geo-gone"), "none")
	eq("geo-gone concepts untouched", concepts("geo-gone"), map[string]float32{"cat": 1})
	eq("datasets", e.srv.InputDatasets(emuUser, emuApp, "dataset"), []string{"all", "test"})
	eq("train members", e.srv.DatasetInputIDs(emuUser, emuApp, "train"), []string(nil))

	var got []string
	for _, an := range e.srv.InputAnnotations(emuUser, emuApp, "regions") {
		got = append(got, an.Id)
	}
	want := []string{before[0].Id, "drawn-in-ui"}
	r := updates[8]
	want = append(want, annotationID("regions", 1, &r.Regions[1]))
	slices.Sort(got)
	slices.Sort(want)
	eq("annotations", got, want)
	if before[0].Id != annotationID("regions", 0, &r.Regions[0]) {
		t.Errorf("the unchanged region's annotation %s is not the one the update computes", before[0].Id)
	}
}

// TestSyncUpdateRefusedInput: the server refuses the patch of one input
// (an invalid concept ID) and does not know another: both fail with the
// server's code, the others of the same call are updated.
func TestSyncUpdateRefusedInput(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	a, b := image("a"), image("b")
	mustDone(t, e.run(t, SinkConfig{}, a, b), a, b)
	relabel := func(it *pipeline.Item, label string) *pipeline.Item {
		return updateOf(it, fields(pipeline.FieldConcepts), func(u *pipeline.Item) { u.Concepts = []pipeline.Concept{pipeline.Positive(label)} })
	}
	ua, ub, missing := relabel(a, "good"), relabel(b, "not valid!"), relabel(image("gone"), "good")
	out := e.run(t, SinkConfig{}, ua, ub, missing)
	mustDone(t, out, ua)
	for _, c := range []struct {
		it   *pipeline.Item
		code st.StatusCode
	}{{ub, st.StatusCode_INPUT_INVALID_ARGUMENT}, {missing, st.StatusCode_INPUT_DOES_NOT_EXIST}} {
		r := out[c.it].final
		if r.Event != pipeline.EventFailed || r.Stage != updateStage || r.Code != int32(c.code) || r.Err == nil {
			t.Errorf("%s: %v at %q code %d (%v); want failed at update with %v", c.it.ID, r.Event, r.Stage, r.Code, r.Err, c.code)
		}
	}
	if got := e.srv.InputConcepts(emuUser, emuApp, "a"); fmt.Sprint(got) != "map[good:1]" {
		t.Errorf("a: %v", got)
	}
	if got := e.srv.InputConcepts(emuUser, emuApp, "b"); len(got) != 0 {
		t.Errorf("b changed: %v", got)
	}
}

// TestSyncUpdateBatches: 300 relabeled inputs take three PatchInputs calls
// of at most 128 inputs.
func TestSyncUpdateBatches(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	var first, updates []*pipeline.Item
	for i := range 300 {
		it := image(fmt.Sprintf("in-%03d", i))
		first = append(first, it)
		updates = append(updates, updateOf(it, fields(pipeline.FieldMetadata), func(u *pipeline.Item) { u.Metadata = map[string]any{"i": float64(i)} }))
	}
	mustDone(t, e.run(t, SinkConfig{}, first...), first...)
	before := e.srv.Calls()["PatchInputs"]
	mustDone(t, e.run(t, SinkConfig{Settings: Settings{Concurrency: 2}}, updates...), updates...)
	if n := e.srv.Calls()["PatchInputs"] - before; n != 3 {
		t.Errorf("%d PatchInputs calls, want 3", n)
	}
	for i, it := range first {
		if md := e.srv.InputMetadata(emuUser, emuApp, it.ID); md["i"] != float64(i) {
			t.Fatalf("%s: metadata %v", it.ID, md)
		}
	}
}

// TestSyncReplace: an item whose content changed under its given ID is
// posted again once its earlier input is gone, which the server takes a
// while for; a rerun of the same item (the first run killed after the
// delete) deletes nothing more and posts it.
func TestSyncReplace(t *testing.T) {
	e := startEmulator(t, emulator.Options{DeleteDelay: 30 * time.Millisecond})
	old := &pipeline.Item{ID: "doc", Kind: pipeline.KindText, Text: "old text", Regions: nil}
	mustDone(t, e.run(t, SinkConfig{}, old), old)
	replace := func() *pipeline.Item {
		return &pipeline.Item{ID: "doc", Kind: pipeline.KindText, Text: "new text", Concepts: []pipeline.Concept{pipeline.Positive("fresh")},
			Sync: &pipeline.Sync{Action: pipeline.ActionReplace, PriorID: "doc", Changed: fields(pipeline.FieldContent)}}
	}
	it := replace()
	out := e.run(t, SinkConfig{Settings: Settings{Verify: new(true)}}, it)
	mustDone(t, out, it)
	si, ok := e.srv.Input(emuUser, emuApp, "doc")
	if !ok || len(si.Content) != 1 || fmt.Sprint(e.srv.InputConcepts(emuUser, emuApp, "doc")) != "map[fresh:1]" {
		t.Fatalf("after replace: %v %+v", ok, si)
	}
	if n := e.srv.Calls()["DeleteInputs"]; n != 1 {
		t.Errorf("%d DeleteInputs calls", n)
	}
	// The rerun of a run killed between the delete and the post: the
	// earlier input is gone already.
	if _, err := e.c.DeleteInputs(t.Context(), &pb.DeleteInputsRequest{Ids: []string{"doc"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	it = replace()
	mustDone(t, e.run(t, SinkConfig{}, it), it)
	if _, ok := e.srv.Input(emuUser, emuApp, "doc"); !ok {
		t.Error("not posted again")
	}
}

// TestDeleteInputs deletes 300 inputs and 5 the server never had in three
// calls, recording each call's inputs before the next.
func TestDeleteInputs(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	var items []*pipeline.Item
	var departed []pipeline.Departed
	for i := range 300 {
		items = append(items, image(fmt.Sprintf("in-%03d", i)))
		departed = append(departed, pipeline.Departed{ID: items[i].ID, Key: [16]byte{byte(i), byte(i >> 8)}})
	}
	for i := range 5 {
		departed = append(departed, pipeline.Departed{ID: fmt.Sprintf("never-%d", i)})
	}
	mustDone(t, e.run(t, SinkConfig{}, items...), items...)
	var batches []int
	seen := map[string]bool{}
	err := DeleteInputs(t.Context(), e.c, departed, func(ds []pipeline.Departed) error {
		batches = append(batches, len(ds))
		for _, d := range ds {
			if seen[d.ID] {
				t.Errorf("%s recorded twice", d.ID)
			}
			seen[d.ID] = true
			if _, ok := e.srv.Input(emuUser, emuApp, d.ID); ok {
				t.Errorf("%s recorded before it was deleted", d.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(batches) != "[128 128 49]" || len(seen) != 305 {
		t.Errorf("batches %v, %d recorded", batches, len(seen))
	}
	if n := len(e.srv.Inputs(emuUser, emuApp)); n != 0 {
		t.Errorf("%d inputs left", n)
	}
	if n := e.srv.Calls()["DeleteInputs"]; n != 3 {
		t.Errorf("%d DeleteInputs calls", n)
	}
	// done's error stops it.
	stop := errors.New("disk full")
	if err := DeleteInputs(t.Context(), e.c, departed, func([]pipeline.Departed) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("err %v", err)
	}
}

// unknownRefuser refuses a DeleteInputs call naming an ID it does not
// know, as a stricter server might.
type unknownRefuser struct {
	known map[string]bool
	calls [][]string
}

func (u *unknownRefuser) DeleteInputs(_ context.Context, req *pb.DeleteInputsRequest, _ ...client.CallOption) (*st.BaseResponse, error) {
	u.calls = append(u.calls, req.Ids)
	for _, id := range req.Ids {
		if !u.known[id] {
			return nil, &client.APIError{Method: "DeleteInputs", Code: st.StatusCode_INPUT_DOES_NOT_EXIST, Class: client.Permanent}
		}
	}
	for _, id := range req.Ids {
		delete(u.known, id)
	}
	return &st.BaseResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}, nil
}

func TestDeleteInputsSplitsAroundUnknownIDs(t *testing.T) {
	u := &unknownRefuser{known: map[string]bool{"a": true, "b": true, "d": true}}
	ds := []pipeline.Departed{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}
	var done []string
	err := deleteDeparted(t.Context(), u, ds, func(b []pipeline.Departed) error {
		for _, d := range b {
			done = append(done, d.ID)
		}
		return nil
	})
	if err != nil || fmt.Sprint(done) != "[a b c d]" || len(u.known) != 0 {
		t.Errorf("err %v, done %v, left %v, calls %v", err, done, u.known, u.calls)
	}
}

// TestListInputIDs pages 1100 inputs by ID and stops when told.
func TestListInputIDs(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	var items []*pipeline.Item
	for i := range 1100 {
		items = append(items, image(fmt.Sprintf("in-%04d", 1099-i)))
	}
	mustDone(t, e.run(t, SinkConfig{}, items...), items...)
	var ids []string
	if err := ListInputIDs(t.Context(), e.c, func(id string) bool { ids = append(ids, id); return true }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1100 || !slices.IsSorted(ids) || ids[0] != "in-0000" {
		t.Errorf("%d ids, sorted %v, first %v", len(ids), slices.IsSorted(ids), ids[:1])
	}
	if n := e.srv.Calls()["StreamInputs"]; n != 2 {
		t.Errorf("%d StreamInputs calls", n)
	}
	n := 0
	if err := ListInputIDs(t.Context(), e.c, func(string) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Errorf("err %v after %d", err, n)
	}
}

// TestSinkExisting: new items whose IDs the app holds (adopt) are read back
// instead of posted: an equal one is done, one with other labels is
// updated, one with other content under its given ID is a conflict, and one
// with a derived ID is recognized once its content is loaded.
func TestSinkExisting(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	same, relabel, conflict := image("same"), image("relabel"), image("conflict")
	relabel.Concepts = []pipeline.Concept{pipeline.Positive("cat")}
	derived := &pipeline.Item{Kind: pipeline.KindText, Text: "derive my ID", Metadata: map[string]any{"k": "v"}}
	mustDone(t, e.run(t, SinkConfig{}, same, relabel, conflict, derived), same, relabel, conflict, derived)
	held := map[string]bool{}
	if err := ListInputIDs(t.Context(), e.c, func(id string) bool { held[id] = true; return true }); err != nil {
		t.Fatal(err)
	}
	digests := pipeline.Digests{1, 2, 3, 4, 5, 6}
	again := func(it *pipeline.Item, edit func(*pipeline.Item)) *pipeline.Item {
		c := *it
		c.Sync = &pipeline.Sync{Digests: digests} // new: ActionAdd, no PriorID
		edit(&c)
		return &c
	}
	s2 := again(same, func(*pipeline.Item) {})
	r2 := again(relabel, func(it *pipeline.Item) {
		it.Concepts = []pipeline.Concept{pipeline.Positive("dog")}
		it.Regions = []pipeline.Region{box(0.1, 0.1, "dog")}
	})
	c2 := again(conflict, func(it *pipeline.Item) { it.URL = "https://example.com/other.jpg" })
	d2 := &pipeline.Item{Kind: pipeline.KindText, Text: "derive my ID", Metadata: map[string]any{"k": "w"}}
	fresh := image("fresh")
	posts := e.srv.Calls()["PostInputs"]
	out := e.run(t, SinkConfig{Existing: func(id string) bool { return held[id] }, Settings: Settings{Verify: new(true)}},
		s2, r2, c2, d2, fresh)
	mustDone(t, out, s2, r2, d2, fresh)
	if n := e.srv.Calls()["PostInputs"] - posts; n != 1 {
		t.Errorf("%d PostInputs calls; want 1, for the fresh item", n)
	}
	if s2.Sync.Action != pipeline.ActionAdd || !s2.Sync.Adopted {
		t.Errorf("equal item became %v, adopted %v (want add, adopted)", s2.Sync.Action, s2.Sync.Adopted)
	}
	if !r2.Sync.Adopted || !d2.Sync.Adopted || fresh.Sync != nil && fresh.Sync.Adopted {
		t.Errorf("adopted marks: relabel %v, derived %v, fresh %+v", r2.Sync.Adopted, d2.Sync.Adopted, fresh.Sync)
	}
	if r2.Sync.Action != pipeline.ActionUpdate || r2.Sync.Digests != digests || r2.Sync.PriorID != "relabel" ||
		r2.Sync.Changed != fields(pipeline.FieldConcepts, pipeline.FieldRegions) {
		t.Errorf("relabeled item's sync %+v", r2.Sync)
	}
	if got := e.srv.InputConcepts(emuUser, emuApp, "relabel"); fmt.Sprint(got) != "map[dog:1]" {
		t.Errorf("relabel concepts %v", got)
	}
	if n := len(e.srv.InputAnnotations(emuUser, emuApp, "relabel")); n != 1 {
		t.Errorf("relabel has %d annotations", n)
	}
	if d2.ID != derived.ID || d2.Sync == nil || d2.Sync.Action != pipeline.ActionUpdate {
		t.Errorf("derived item: ID %s (want %s), sync %+v", d2.ID, derived.ID, d2.Sync)
	}
	if md := e.srv.InputMetadata(emuUser, emuApp, derived.ID); md["k"] != "w" {
		t.Errorf("derived metadata %v", md)
	}
	r := out[c2].final
	if r.Event != pipeline.EventFailed || r.Stage != syncStage || !errors.Is(r.Err, pipeline.ErrContentChanged) {
		t.Errorf("conflict: %v at %q: %v", r.Event, r.Stage, r.Err)
	}
	if si, _ := e.srv.Input(emuUser, emuApp, "conflict"); si.Input.GetData().GetImage().GetUrl() != conflict.URL {
		t.Errorf("conflicting input changed: %v", si.Input)
	}
}

// TestSyncUpdateWithoutUpdater: an API that cannot patch fails update
// items (not the run); other items go on as before.
func TestSyncUpdateWithoutUpdater(t *testing.T) {
	f := newFakeAPI()
	it := image("u")
	u := updateOf(it, fields(pipeline.FieldConcepts), func(u *pipeline.Item) { u.Concepts = []pipeline.Concept{pipeline.Positive("x")} })
	plain := image("plain")
	out, err := runSink(t, t.Context(), newTestSink(t, f, SinkConfig{}), []*pipeline.Item{u, plain})
	if err != nil {
		t.Fatal(err)
	}
	if r := out[u].final; r.Event != pipeline.EventFailed || r.Stage != updateStage {
		t.Errorf("update: %v at %q: %v", r.Event, r.Stage, r.Err)
	}
	mustDone(t, out, plain)
	if n := f.count("PostInputs"); n != 1 {
		t.Errorf("%d PostInputs", n)
	}
}

// TestOursReadsBackBuiltAnnotations: every annotation buildAnnotations
// makes is recognized as this tool's from what the server returns (its ID,
// region and concepts), with or without a region ID, box or polygon; one
// whose geometry or labels differ, or with two regions, is not.
func TestOursReadsBackBuiltAnnotations(t *testing.T) {
	it := &pipeline.Item{ID: "in", Regions: []pipeline.Region{
		box(0.1, 0.2, "cat"),
		{ID: "r-7", Polygon: []pipeline.Point{{Row: 0.1, Col: 0.1}, {Row: 0.5, Col: 0.3}, {Row: 0.2, Col: 0.9}},
			Concepts: []pipeline.Concept{{ID: "c1", Name: "Dog", Value: 1}, pipeline.Negative("wolf")}},
		{Box: &pipeline.BoundingBox{Top: 0.123456789, Left: 0, Bottom: 1, Right: 0.3333333}},
	}}
	anns, err := buildAnnotations(it)
	if err != nil {
		t.Fatal(err)
	}
	for i, an := range anns {
		if !ours("in", an, len(anns)) {
			t.Errorf("annotation %d not recognized", i)
		}
		if ours("in", an, i) {
			t.Errorf("annotation %d recognized with only %d annotations listed", i, i)
		}
		if ours("other", an, len(anns)) {
			t.Errorf("annotation %d recognized for another input", i)
		}
	}
	moved := proto.CloneOf(anns[0])
	moved.Data.Regions[0].RegionInfo.BoundingBox.TopRow += 0.01
	relabeled := proto.CloneOf(anns[1])
	relabeled.Data.Regions[0].Data.Concepts[0].Name = "dog"
	two := proto.CloneOf(anns[2])
	two.Data.Regions = append(two.Data.Regions, anns[0].Data.Regions[0])
	for name, an := range map[string]*pb.Annotation{"moved": moved, "relabeled": relabeled, "two regions": two} {
		if ours("in", an, len(anns)) {
			t.Errorf("%s annotation recognized as ours", name)
		}
	}
}

// TestSinkUnmovedContent: an item whose content digest changed but whose
// derived ID did not (a file rewritten with the same bytes, or touched) is
// the input the server holds: it is not posted again, and the labels or
// metadata edited with it are patched.
func TestSinkUnmovedContent(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	first := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("same bytes")), Metadata: map[string]any{"k": "v"}}
	mustDone(t, e.run(t, SinkConfig{}, first), first)

	touched := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("same bytes")), Metadata: map[string]any{"k": "w"},
		Sync: &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: first.ID,
			Changed: pipeline.Fields(0).With(pipeline.FieldContent).With(pipeline.FieldMetadata)}}
	onlyTouched := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("other, same")),
		Sync: &pipeline.Sync{Action: pipeline.ActionAdd}}
	mustDone(t, e.run(t, SinkConfig{}, onlyTouched), onlyTouched)
	onlyTouched.Sync = &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: onlyTouched.ID,
		Changed: pipeline.Fields(0).With(pipeline.FieldContent)}
	onlyTouched.ID = ""

	posts := e.srv.Calls()["PostInputs"]
	mustDone(t, e.run(t, SinkConfig{}, touched, onlyTouched), touched, onlyTouched)
	if n := e.srv.Calls()["PostInputs"] - posts; n != 0 {
		t.Errorf("%d PostInputs calls; want none: the server holds both inputs", n)
	}
	if touched.ID != first.ID || touched.Sync.Action != pipeline.ActionUpdate || touched.Sync.Changed.Has(pipeline.FieldContent) {
		t.Errorf("touched item: ID %s (want %s), sync %+v", touched.ID, first.ID, touched.Sync)
	}
	if md := e.srv.InputMetadata(emuUser, emuApp, first.ID); md["k"] != "w" {
		t.Errorf("metadata %v, want k=w", md)
	}
}

// TestSinkUnmovedContentMoved: a file touched (the same bytes) and moved to
// other datasets keeps its input, as a move alone does: its ID is derived in
// the datasets it was put in (Sync.PriorDatasets), nothing is posted, and
// the input leaves the old datasets for the new ones.
func TestSinkUnmovedContentMoved(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	first := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("moved bytes")), DatasetIDs: []string{"train"}}
	mustDone(t, e.run(t, SinkConfig{}, first), first)
	changed := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("changed bytes")), DatasetIDs: []string{"train"}}
	mustDone(t, e.run(t, SinkConfig{}, changed), changed)
	changedID := changed.ID

	moved := &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("moved bytes")), DatasetIDs: []string{"test"},
		Sync: &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: first.ID, PriorDatasets: []string{"train"},
			Changed: pipeline.Fields(0).With(pipeline.FieldContent).With(pipeline.FieldDatasets)}}
	// Content that did change, moved too: a new input, derived in its new
	// datasets.
	changed = &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("changed bytes, edited")), DatasetIDs: []string{"test"},
		Sync: &pipeline.Sync{Action: pipeline.ActionAdd, PriorID: changedID, PriorDatasets: []string{"train"},
			Changed: pipeline.Fields(0).With(pipeline.FieldContent).With(pipeline.FieldDatasets)}}
	posts := e.srv.Calls()["PostInputs"]
	mustDone(t, e.run(t, SinkConfig{}, moved, changed), moved, changed)
	if n := e.srv.Calls()["PostInputs"] - posts; n != 1 {
		t.Errorf("%d PostInputs calls; want 1, of the changed content only", n)
	}
	if moved.ID != first.ID || moved.Sync.Action != pipeline.ActionUpdate {
		t.Errorf("moved item: ID %s (want %s), sync %+v", moved.ID, first.ID, moved.Sync)
	}
	if ds := e.srv.InputDatasets(emuUser, emuApp, first.ID); !slices.Equal(ds, []string{"test"}) {
		t.Errorf("the moved input is in %q, want [test]", ds)
	}
	want := ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: changed.Blob, DatasetIDs: []string{"test"}}, []byte("changed bytes, edited"))
	if changed.ID != want || changed.Sync.Action != pipeline.ActionAdd {
		t.Errorf("changed item: ID %s (want %s), sync %+v", changed.ID, want, changed.Sync)
	}
}
