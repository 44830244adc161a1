package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// syncItem returns an item as a directory source reads it: a file with a
// label, metadata, a geo point, datasets and a region, keyed by its path,
// size and mtime, scoped by its datasets. Without a given ID.
func syncItem(name string) *pipeline.Item {
	it := &pipeline.Item{
		Kind:       pipeline.KindImage,
		Blob:       &pipeline.Blob{Path: "/data/" + name, Size: 100, ModTime: time.Unix(1700000000, 0)},
		Concepts:   []pipeline.Concept{pipeline.Positive("cat")},
		Metadata:   map[string]any{"n": 1.0},
		Geo:        &pipeline.Geo{Latitude: 1, Longitude: 2},
		DatasetIDs: []string{"train", "all"},
		Prov:       pipeline.Provenance{Path: "/data/" + name},
	}
	rekey(it)
	return it
}

// rekey sets the key as the source would after an edit of the file or of
// its datasets.
func rekey(it *pipeline.Item) {
	ds := slices.Sorted(slices.Values(it.DatasetIDs))
	it.Key = fmt.Sprintf("file:%s|%d|%d", it.Blob.Path, it.Blob.Size, it.Blob.ModTime.UnixNano())
	if len(ds) > 0 {
		it.Key += "|ds=" + strings.Join(ds, ",")
	}
}

// givenItem is a text item whose source gives its ID.
func givenItem(id, text string) *pipeline.Item {
	return &pipeline.Item{ID: id, Kind: pipeline.KindText, Text: text, Key: "id:" + id,
		Concepts: []pipeline.Concept{pipeline.Positive("a")}}
}

// derive stands for the sink's derived ID: a function of the content.
func derive(it *pipeline.Item) string {
	d := digest.Of(it)
	return fmt.Sprintf("%016x%016x", d[pipeline.FieldContent], d[pipeline.FieldContent]^0x5555)
}

// send looks it up and records evs for it as a sink would, deriving its ID
// when it has none. It returns the lookup's answer.
func send(t testing.TB, c *Checkpoint, it *pipeline.Item, evs ...pipeline.Event) pipeline.ResumeState {
	t.Helper()
	rs := c.Lookup(it)
	if it.ID == "" {
		it.ID = derive(it)
	}
	for _, ev := range evs {
		mustRecord(t, c, res(it, ev))
	}
	return rs
}

func clone(it *pipeline.Item) *pipeline.Item {
	c := *it
	b := *it.Blob
	c.Blob = &b
	c.Concepts = slices.Clone(it.Concepts)
	c.DatasetIDs = slices.Clone(it.DatasetIDs)
	c.Regions = slices.Clone(it.Regions)
	m := map[string]any{}
	for k, v := range it.Metadata {
		m[k] = v
	}
	c.Metadata = m
	if it.Geo != nil {
		g := *it.Geo
		c.Geo = &g
	}
	return &c
}

func fields(fs ...pipeline.Field) pipeline.Fields {
	var out pipeline.Fields
	for _, f := range fs {
		out = out.With(f)
	}
	return out
}

// TestClassify records an item done in a first process and looks up an
// edited copy in a second one, for every branch of Lookup's comparison.
func TestClassify(t *testing.T) {
	type want struct {
		state   pipeline.ResumeState
		action  pipeline.Action
		changed pipeline.Fields
		idPrior bool // it.ID is the recorded ID (else: as read)
		prior   bool // Sync.PriorID is the recorded ID (else "")
		dsets   []string
	}
	tests := []struct {
		name  string
		first func() *pipeline.Item
		opts  Options
		edit  func(it *pipeline.Item)
		want  want
	}{
		{"unchanged", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(*pipeline.Item) {},
			want{state: pipeline.StateDone, idPrior: true, prior: true}},
		{"concepts", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Concepts[0] = pipeline.Positive("lion")
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldConcepts), true, true, nil}},
		{"metadata", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Metadata["x"] = "y"
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldMetadata), true, true, nil}},
		{"geo removed", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Geo = nil
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldGeo), true, true, nil}},
		{"datasets (key scope changes too)", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.DatasetIDs = []string{"test"}
			rekey(it)
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldDatasets), true, true, []string{"all", "train"}}},
		{"regions", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Regions = []pipeline.Region{{Box: &pipeline.BoundingBox{Top: 0.1, Left: 0.1, Bottom: 0.5, Right: 0.5},
				Concepts: []pipeline.Concept{pipeline.Positive("cat")}}}
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldRegions), true, true, nil}},
		{"labels and metadata", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Concepts = nil
			it.Metadata = nil
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldConcepts, pipeline.FieldMetadata), true, true, nil}},
		{"salt changed", func() *pipeline.Item { return syncItem("a.jpg") }, Options{DigestSalt: 7}, func(*pipeline.Item) {},
			want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldConcepts, pipeline.FieldMetadata,
				pipeline.FieldGeo, pipeline.FieldDatasets, pipeline.FieldRegions), true, true, []string{"all", "train"}}},
		{"content, derived ID", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Blob.Size, it.Blob.ModTime = 120, it.Blob.ModTime.Add(time.Second)
			rekey(it)
		}, want{pipeline.StateNew, pipeline.ActionAdd, fields(pipeline.FieldContent), false, true, nil}},
		{"content and labels, derived ID", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Blob.ModTime = it.Blob.ModTime.Add(time.Second)
			it.Concepts = nil
			rekey(it)
		}, want{pipeline.StateNew, pipeline.ActionAdd, fields(pipeline.FieldContent, pipeline.FieldConcepts), false, true, nil}},
		{"content and datasets, derived ID", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Blob.ModTime = it.Blob.ModTime.Add(time.Second)
			it.DatasetIDs = []string{"test"}
			rekey(it)
		}, want{pipeline.StateNew, pipeline.ActionAdd, fields(pipeline.FieldContent, pipeline.FieldDatasets), false, true, []string{"all", "train"}}},
		{"content, given ID", func() *pipeline.Item { return givenItem("g1", "hello") }, Options{}, func(it *pipeline.Item) {
			it.Text = "hello!"
		}, want{pipeline.StateConflict, pipeline.ActionAdd, fields(pipeline.FieldContent), true, true, nil}},
		{"content, given ID, replace allowed", func() *pipeline.Item { return givenItem("g1", "hello") }, Options{ReplaceContent: true},
			func(it *pipeline.Item) { it.Text = "hello!" },
			want{pipeline.StateNew, pipeline.ActionReplace, fields(pipeline.FieldContent), true, true, nil}},
		{"given ID, labels", func() *pipeline.Item { return givenItem("g1", "hello") }, Options{}, func(it *pipeline.Item) {
			it.Concepts = append(it.Concepts, pipeline.Positive("b"))
		}, want{pipeline.StateUpdate, pipeline.ActionUpdate, fields(pipeline.FieldConcepts), true, true, nil}},
		{"another file", func() *pipeline.Item { return syncItem("a.jpg") }, Options{}, func(it *pipeline.Item) {
			it.Blob.Path = "/data/b.jpg"
			rekey(it)
		}, want{state: pipeline.StateNew}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := tt.first()
			c := mustOpen(t, dir, Options{})
			if rs := send(t, c, first, pipeline.EventAccepted, pipeline.EventDone); rs != pipeline.StateNew {
				t.Fatalf("first run: %v", rs)
			}
			recorded := first.ID
			mustClose(t, c)

			it := tt.first()
			tt.edit(it)
			asRead := it.ID
			c = mustOpen(t, dir, tt.opts)
			defer mustClose(t, c)
			rs := c.Lookup(it)
			sy := it.Sync
			if sy == nil {
				t.Fatal("no Sync")
			}
			if rs != tt.want.state || sy.Action != tt.want.action || sy.Changed != tt.want.changed {
				t.Errorf("got %v %v changed %q, want %v %v changed %q", rs, sy.Action, sy.Changed,
					tt.want.state, tt.want.action, tt.want.changed)
			}
			wantID := asRead
			if tt.want.idPrior {
				wantID = recorded
			}
			if it.ID != wantID {
				t.Errorf("it.ID %q, want %q", it.ID, wantID)
			}
			wantPrior := ""
			if tt.want.prior {
				wantPrior = recorded
			}
			if sy.PriorID != wantPrior {
				t.Errorf("PriorID %q, want %q", sy.PriorID, wantPrior)
			}
			if !slices.Equal(sy.PriorDatasets, tt.want.dsets) {
				t.Errorf("PriorDatasets %q, want %q", sy.PriorDatasets, tt.want.dsets)
			}
			if sy.Digests != digest.OfSalted(it, tt.opts.DigestSalt) {
				t.Errorf("Sync.Digests are not those of the item as read")
			}
		})
	}
}

// TestClassifyStates looks up an unchanged or edited item whose entry is in
// each state an earlier run can leave.
func TestClassifyStates(t *testing.T) {
	labels := func(it *pipeline.Item) { it.Concepts = []pipeline.Concept{pipeline.Positive("lion")} }
	withRegion := func() *pipeline.Item {
		it := syncItem("r.jpg")
		it.Regions = []pipeline.Region{{Box: &pipeline.BoundingBox{Top: 0, Left: 0, Bottom: 1, Right: 1},
			Concepts: []pipeline.Concept{pipeline.Positive("cat")}}}
		return it
	}
	failedAt := func(stage string) func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
		return func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
			send(t, c, it)
			r := res(it, pipeline.EventFailed)
			r.Stage, r.Code = stage, 21200
			mustRecord(t, c, r)
		}
	}
	tests := []struct {
		name    string
		item    func() *pipeline.Item
		first   func(t *testing.T, c *Checkpoint, it *pipeline.Item)
		edit    func(it *pipeline.Item)
		want    pipeline.ResumeState
		changed pipeline.Fields
		prior   bool
	}{
		{"accepted, unchanged", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) { send(t, c, it, pipeline.EventAccepted) },
			func(*pipeline.Item) {}, pipeline.StateAccepted, 0, true},
		{"accepted, changed", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) { send(t, c, it, pipeline.EventAccepted) },
			labels, pipeline.StateUpdate, fields(pipeline.FieldConcepts), true},
		{"accepted, changed, regions not annotated", withRegion,
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) { send(t, c, it, pipeline.EventAccepted) },
			labels, pipeline.StateUpdate, fields(pipeline.FieldConcepts, pipeline.FieldRegions), true},
		{"annotated, changed", withRegion,
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
				send(t, c, it, pipeline.EventAccepted, pipeline.EventAnnotated)
			},
			labels, pipeline.StateUpdate, fields(pipeline.FieldConcepts), true},
		{"failed, never accepted", func() *pipeline.Item { return syncItem("a.jpg") }, failedAt("upload"),
			func(*pipeline.Item) {}, pipeline.StateNew, 0, false},
		{"failed after acceptance", func() *pipeline.Item { return syncItem("a.jpg") }, failedAt("verify"),
			func(*pipeline.Item) {}, pipeline.StateAccepted, 0, true},
		{"deleted", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
				send(t, c, it, pipeline.EventDone)
				mustRecord(t, c, res(it, pipeline.EventDone))
				mustDelete(t, c, EntryKey(it.Key))
			},
			func(*pipeline.Item) {}, pipeline.StateNew, 0, false},
		{"done without digests, edited", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
				it.ID = derive(it)
				mustRecord(t, c, res(it, pipeline.EventDone)) // no Lookup: no Sync
			},
			labels, pipeline.StateDone, 0, true},
		{"new input failed before acceptance", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
				send(t, c, it, pipeline.EventAccepted)
				mustClose(t, c)
				*c = *mustOpen(t, c.dir, Options{})
				e := clone(it)
				resize(e)
				e.ID = ""
				failed(t, c, e, "upload")
			},
			resize, pipeline.StateNew, fields(pipeline.FieldContent), true},
		{"update failed halfway", func() *pipeline.Item { return syncItem("a.jpg") },
			func(t *testing.T, c *Checkpoint, it *pipeline.Item) {
				send(t, c, it, pipeline.EventDone)
				mustClose(t, c)
				*c = *mustOpen(t, c.dir, Options{})
				e := clone(it)
				labels(e)
				e.ID = ""
				if rs := send(t, c, e); rs != pipeline.StateUpdate {
					t.Fatalf("update: %v", rs)
				}
				mustRecord(t, c, res(e, pipeline.EventAnnotated)) // no digests for an update
				r := res(e, pipeline.EventFailed)
				r.Stage, r.Code = "update", 21200
				mustRecord(t, c, r)
			},
			labels, pipeline.StateUpdate, fields(pipeline.FieldConcepts), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := mustOpen(t, dir, Options{})
			first := tt.item()
			tt.first(t, c, first)
			mustClose(t, c)
			it := tt.item()
			tt.edit(it)
			c = mustOpen(t, dir, Options{})
			defer mustClose(t, c)
			rs := c.Lookup(it)
			if rs != tt.want || it.Sync.Changed != tt.changed {
				t.Errorf("got %v changed %q, want %v changed %q", rs, it.Sync.Changed, tt.want, tt.changed)
			}
			wantPrior := ""
			if tt.prior {
				wantPrior = first.ID
			}
			if it.Sync.PriorID != wantPrior {
				t.Errorf("PriorID %q, want %q", it.Sync.PriorID, wantPrior)
			}
		})
	}
}

func resize(it *pipeline.Item) {
	it.Blob.Size = 300
	rekey(it)
}

// mustDelete deletes the entry of h as a delete stage would: found by
// Unseen first.
func mustDelete(t testing.TB, c *Checkpoint, h KeyHash) {
	t.Helper()
	if err := c.RecordDeleted(pipeline.Departed{Key: h}); err != nil {
		t.Fatal(err)
	}
}

// unseen returns the IDs Unseen yields, sorted.
func unseen(c *Checkpoint) []string {
	var out []string
	for d := range c.Unseen {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return out
}

// TestUnseenAndDeleted: the entries no Lookup of this process found are
// yielded (not the legacy ones, nor the ones never accepted), a deletion
// recorded is not yielded again in this process nor after reopening, and
// a later item of a deleted entry's key is new.
func TestUnseenAndDeleted(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	a, b, k, f := syncItem("a.jpg"), syncItem("b.jpg"), syncItem("keep.jpg"), syncItem("failed.jpg")
	send(t, c, a, pipeline.EventDone)
	send(t, c, b, pipeline.EventAccepted)
	send(t, c, k, pipeline.EventDone)
	failed(t, c, f, "upload")
	if got := unseen(c); len(got) != 0 {
		t.Errorf("first run: unseen %q: this run's own records are not candidates", got)
	}
	mustClose(t, c)

	c = mustOpen(t, dir, Options{})
	send(t, c, syncItem("keep.jpg"))
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if got := unseen(c); !slices.Equal(got, want) {
		t.Fatalf("unseen %q, want %q", got, want)
	}
	for d := range c.Unseen {
		if d.ID == a.ID {
			if err := c.RecordDeleted(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := unseen(c); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("after deleting a: unseen %q", got)
	}
	mustClose(t, c)

	c = mustOpen(t, dir, Options{})
	if got := unseen(c); !slices.Equal(got, []string{b.ID, k.ID}) && !slices.Equal(got, []string{k.ID, b.ID}) {
		t.Errorf("after reopen, nothing looked up: unseen %q, want b and keep", got)
	}
	if rs := c.Lookup(syncItem("a.jpg")); rs != pipeline.StateNew {
		t.Errorf("deleted a: %v, want new", rs)
	}
	if s := c.Stats(); s.Entries != 3 {
		t.Errorf("stats %+v, want 3 entries (a deleted)", s)
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	if rs := c.Lookup(syncItem("a.jpg")); rs != pipeline.StateNew {
		t.Errorf("deleted a after compaction: %v, want new", rs)
	}
	mustClose(t, c)
}

func failed(t testing.TB, c *Checkpoint, it *pipeline.Item, stage string) {
	t.Helper()
	send(t, c, it)
	r := res(it, pipeline.EventFailed)
	r.Stage, r.Code = stage, 21200
	mustRecord(t, c, r)
}

// TestOrphans: an item whose content changed under a derived ID becomes a
// new input; the old one is an orphan, yielded by Unseen in the same
// process and after reopening, until its deletion is recorded. An orphan
// whose input becomes an item's again is dropped.
func TestOrphans(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	v1 := syncItem("a.jpg")
	send(t, c, v1, pipeline.EventAccepted, pipeline.EventDone)
	mustClose(t, c)

	edit := func(it *pipeline.Item) {
		it.Blob.Size = 200
		rekey(it)
	}
	c = mustOpen(t, dir, Options{})
	v2 := syncItem("a.jpg")
	edit(v2)
	if rs := send(t, c, v2, pipeline.EventAccepted); rs != pipeline.StateNew || v2.Sync.PriorID != v1.ID || v2.ID == v1.ID {
		t.Fatalf("content change: %v prior %q id %q", rs, v2.Sync.PriorID, v2.ID)
	}
	mustRecord(t, c, res(v2, pipeline.EventDone))
	if got := unseen(c); !slices.Equal(got, []string{v1.ID}) {
		t.Errorf("same process: unseen %q, want the old input %q", got, v1.ID)
	}
	mustClose(t, c)

	c = mustOpen(t, dir, Options{})
	v2b := syncItem("a.jpg")
	edit(v2b)
	if rs := c.Lookup(v2b); rs != pipeline.StateDone || v2b.ID != v2.ID {
		t.Errorf("rerun: %v %q, want done with %q", rs, v2b.ID, v2.ID)
	}
	if got := unseen(c); !slices.Equal(got, []string{v1.ID}) {
		t.Errorf("after reopen: unseen %q, want %q", got, v1.ID)
	}
	for e := range c.Entries {
		if e.ID == v1.ID && !e.Orphan {
			t.Errorf("entry of %q not marked orphan", e.ID)
		}
	}
	mustClose(t, c)

	// Back to the first content: the old input is the item's again.
	c = mustOpen(t, dir, Options{})
	v3 := syncItem("a.jpg")
	if rs := send(t, c, v3, pipeline.EventAccepted, pipeline.EventDone); rs != pipeline.StateNew || v3.ID != v1.ID {
		t.Fatalf("content back: %v %q", rs, v3.ID)
	}
	if got := unseen(c); !slices.Equal(got, []string{v2.ID}) {
		t.Errorf("content back: unseen %q, want only %q", got, v2.ID)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	send(t, c, syncItem("a.jpg"))
	if got := unseen(c); !slices.Equal(got, []string{v2.ID}) {
		t.Errorf("content back, reopened: unseen %q, want only %q", got, v2.ID)
	}
	for d := range c.Unseen {
		if err := c.RecordDeleted(d); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	send(t, c, syncItem("a.jpg"))
	if got := unseen(c); len(got) != 0 {
		t.Errorf("after deletion: unseen %q", got)
	}
	mustClose(t, c)
}

// TestReplaceStartsAfresh: a replaced input (same ID) starts as accepted,
// not done, so that a crash before its done record verifies it again.
func TestReplaceStartsAfresh(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	send(t, c, givenItem("g1", "hello"), pipeline.EventDone)
	mustClose(t, c)
	c = mustOpen(t, dir, Options{ReplaceContent: true})
	it := givenItem("g1", "hello!")
	if rs := send(t, c, it, pipeline.EventAccepted); rs != pipeline.StateNew || it.Sync.Action != pipeline.ActionReplace {
		t.Fatalf("%v %v", rs, it.Sync.Action)
	}
	if got := unseen(c); len(got) != 0 {
		t.Errorf("replace made an orphan: %q", got)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{ReplaceContent: true})
	defer mustClose(t, c)
	if rs := c.Lookup(givenItem("g1", "hello!")); rs != pipeline.StateAccepted {
		t.Errorf("after accepted replacement: %v, want accepted", rs)
	}
}

// TestDatasetDictionary: the datasets an input was put in come back as
// PriorDatasets, from the dictionary, which is durable before the record
// that refers to it is even written out.
func TestDatasetDictionary(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	it := syncItem("a.jpg")
	send(t, c, it, pipeline.EventDone)
	// As a crash would leave it now: the log's record is still buffered,
	// the dictionary already synced.
	crashed := copyDir(t, dir)
	b, err := os.ReadFile(filepath.Join(crashed, datasetsName))
	if err != nil || !bytes.Contains(b, []byte("train")) {
		t.Fatalf("dictionary not written before the record: %q %v", b, err)
	}
	mustClose(t, c)

	for _, d := range []string{dir, crashed} {
		c = mustOpen(t, d, Options{})
		e := syncItem("a.jpg")
		e.DatasetIDs = []string{"test"}
		rekey(e)
		rs := c.Lookup(e)
		if d == crashed {
			if rs != pipeline.StateNew {
				t.Errorf("crashed copy: %v, want new (the record was lost)", rs)
			}
		} else if rs != pipeline.StateUpdate || !slices.Equal(e.Sync.PriorDatasets, []string{"all", "train"}) {
			t.Errorf("%v, prior datasets %q", rs, e.Sync.PriorDatasets)
		}
		if r := c.LoadReport(); len(r.Corruptions) != 0 {
			t.Errorf("corruptions %v", r.Corruptions)
		}
		mustClose(t, c)
	}

	// A torn dictionary tail is cut off and reported.
	path := filepath.Join(dir, datasetsName)
	b, _ = os.ReadFile(path)
	if err := os.WriteFile(path, append(b, 1, 2, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	c = mustOpen(t, dir, Options{})
	e := syncItem("a.jpg")
	e.DatasetIDs = nil
	rekey(e)
	if rs := c.Lookup(e); rs != pipeline.StateUpdate || !slices.Equal(e.Sync.PriorDatasets, []string{"all", "train"}) {
		t.Errorf("after torn tail: %v %q", rs, e.Sync.PriorDatasets)
	}
	if r := c.LoadReport(); len(r.Corruptions) != 1 || !r.Corruptions[0].Truncated {
		t.Errorf("corruptions %v, want the torn tail", r.Corruptions)
	}
	mustClose(t, c)
	if b2, _ := os.ReadFile(path); !bytes.Equal(b2, b) {
		t.Errorf("torn tail not cut off")
	}
}

// snapshotDir returns every file of dir and its bytes.
func snapshotDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadOnly: a read-only checkpoint answers Lookup and Unseen and writes
// nothing, even with a torn tail, stale logs and records offered.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	a, b := syncItem("a.jpg"), syncItem("b.jpg")
	send(t, c, a, pipeline.EventDone)
	send(t, c, b, pipeline.EventDone)
	mustClose(t, c)
	// A torn tail.
	f, err := os.OpenFile(logPath(t, dir), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{9, 9, 9})
	f.Close()
	before := snapshotDir(t, dir)

	c = mustOpen(t, dir, Options{ReadOnly: true, CompactMinBytes: 1})
	e := syncItem("a.jpg")
	e.Concepts = nil
	if rs := c.Lookup(e); rs != pipeline.StateUpdate {
		t.Errorf("lookup: %v", rs)
	}
	if got := unseen(c); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("unseen %q", got)
	}
	n := syncItem("new.jpg")
	send(t, c, n, pipeline.EventAccepted, pipeline.EventDone)
	e.ID = "x"
	mustRecord(t, c, res(e, pipeline.EventDone))
	if err := c.RecordDeleted(pipeline.Departed{ID: b.ID, Key: EntryKey(b.Key)}); err != nil {
		t.Error(err)
	}
	if err := c.RecordSourceDone("src", pipeline.SourceCounts{Done: 1}); err != nil {
		t.Error(err)
	}
	if err := c.Compact(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Compact: %v, want ErrReadOnly", err)
	}
	if err := c.Reopen(EntryKey(a.Key)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Reopen: %v, want ErrReadOnly", err)
	}
	if err := c.Sync(); err != nil {
		t.Error(err)
	}
	if r := c.LoadReport(); len(r.Corruptions) != 1 || r.Corruptions[0].Truncated {
		t.Errorf("corruptions %v: want the torn tail reported, not cut", r.Corruptions)
	}
	// A writer is excluded meanwhile.
	if _, err := Open(dir, quiet(Options{})); !errors.Is(err, ErrLocked) {
		t.Errorf("writer while read-only open: %v, want ErrLocked", err)
	}
	mustClose(t, c)
	if after := snapshotDir(t, dir); !sameFiles(before, after) {
		t.Errorf("read-only checkpoint changed the directory")
	}

	// A directory that does not exist is an empty checkpoint, not created.
	missing := filepath.Join(t.TempDir(), "none")
	c = mustOpen(t, missing, Options{ReadOnly: true})
	if rs := c.Lookup(syncItem("a.jpg")); rs != pipeline.StateNew {
		t.Errorf("missing dir: %v", rs)
	}
	mustClose(t, c)
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Open created %s: %v", missing, err)
	}
	if _, err := Open(dir, Options{ReadOnly: true, Restart: true}); err == nil {
		t.Error("ReadOnly with Restart accepted")
	}

	// A running job excludes a read-only Open.
	w := mustOpen(t, dir, Options{})
	if _, err := Open(dir, quiet(Options{ReadOnly: true})); !errors.Is(err, ErrLocked) {
		t.Errorf("read-only while a writer runs: %v, want ErrLocked", err)
	}
	mustClose(t, w)

	// Another configuration: refused as for a writer, or read as it is
	// with AllowMismatch, rewriting nothing.
	before = snapshotDir(t, dir)
	if _, err := Open(dir, quiet(Options{ReadOnly: true, Fingerprint: "other"})); !errors.Is(err, ErrConfigChanged) {
		t.Errorf("read-only, other configuration: %v, want ErrConfigChanged", err)
	}
	c = mustOpen(t, dir, Options{ReadOnly: true, Fingerprint: "other", AllowMismatch: true})
	if rs := c.Lookup(syncItem("a.jpg")); rs != pipeline.StateDone {
		t.Errorf("read-only, allowed mismatch: %v, want done", rs)
	}
	mustClose(t, c)
	if after := snapshotDir(t, dir); !sameFiles(before, after) {
		t.Errorf("read-only checkpoint under another configuration changed the directory")
	}
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFormat2Loads opens checkpoints written by the format 2 code
// (testdata/v2-*): the entries load as legacy, found by their full key,
// with their version 1 digests unknown; an unchanged done item is migrated
// to its stable key with its digests (EventResumed), which the next run
// compares; legacy entries are never Unseen; the format 2 files are never
// appended to.
func TestFormat2Loads(t *testing.T) {
	for _, name := range []string{"v2-log", "v2-snapshot"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", name)
			dir := copyDir(t, src)
			c := mustOpen(t, dir, Options{Fingerprint: "fp"})
			if r := c.LoadReport(); len(r.Corruptions) != 0 {
				t.Fatalf("corruptions: %v", r.Corruptions)
			}
			file := &pipeline.Item{Key: "file:/data/set/a.jpg|1234|1700000000000000000|ds=train", Kind: pipeline.KindImage,
				Blob: &pipeline.Blob{Path: "/data/set/a.jpg", Size: 1234}, DatasetIDs: []string{"train"}}
			rs, _, known := c.LookupDigests(file)
			if rs != pipeline.StateDone || known || file.ID != "fedcba9876543210fedcba9876543210" {
				t.Fatalf("legacy file entry: %v known %v %q", rs, known, file.ID)
			}
			done := &pipeline.Item{Key: "id:done", Kind: pipeline.KindText, Text: "done"}
			if rs := c.Lookup(done); rs != pipeline.StateDone || done.ID != "0123456789abcdef0123456789abcdef" {
				t.Errorf("done: %v %q", rs, done.ID)
			}
			acc := &pipeline.Item{Key: "id:accepted", ID: "accepted-input-with-a-long-id-over-16", Kind: pipeline.KindText, Text: "x"}
			if rs := c.Lookup(acc); rs != pipeline.StateAccepted {
				t.Errorf("accepted: %v", rs)
			}
			if rs := c.Lookup(&pipeline.Item{Key: "id:failed", ID: "failed-1"}); rs != pipeline.StateNew {
				t.Errorf("failed: %v", rs)
			}
			if got := unseen(c); len(got) != 0 {
				t.Errorf("legacy entries unseen: %q", got)
			}
			mustRecord(t, c, pipeline.Result{Item: file, Event: pipeline.EventResumed})
			mustRecord(t, c, pipeline.Result{Item: done, Event: pipeline.EventResumed})
			mustRecord(t, c, res(acc, pipeline.EventDone))
			entries := c.Stats().Entries
			mustClose(t, c)

			des, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, de := range des {
				old, _ := os.ReadFile(filepath.Join(src, de.Name()))
				now, _ := os.ReadFile(filepath.Join(dir, de.Name()))
				if !bytes.Equal(old, now) {
					t.Errorf("%s changed: format 2 files must not be appended to", de.Name())
				}
			}

			for _, compact := range []bool{false, true} {
				c = mustOpen(t, dir, Options{Fingerprint: "fp"})
				if s := c.Stats(); s.Entries != entries {
					t.Errorf("entries %d, want %d (migrated, not doubled)", s.Entries, entries)
				}
				legacy := 0
				for e := range c.Entries {
					if e.Legacy {
						legacy++
					}
				}
				if legacy != int(entries)-3 {
					t.Errorf("%d legacy entries, want %d", legacy, entries-3)
				}
				// The file moved on (size and mtime: a new key), the
				// entry found by the stable key, now compared.
				f2 := &pipeline.Item{Key: "file:/data/set/a.jpg|1234|1700000000000000000|ds=train,val", Kind: pipeline.KindImage,
					Blob: &pipeline.Blob{Path: "/data/set/a.jpg", Size: 1234}, DatasetIDs: []string{"train", "val"}}
				if rs := c.Lookup(f2); rs != pipeline.StateUpdate || f2.Sync.Changed != fields(pipeline.FieldDatasets) ||
					!slices.Equal(f2.Sync.PriorDatasets, []string{"train"}) {
					t.Errorf("migrated file: %v %q %q", rs, f2.Sync.Changed, f2.Sync.PriorDatasets)
				}
				d2 := &pipeline.Item{Key: "id:done", Kind: pipeline.KindText, Text: "done"}
				if rs, _, known := c.LookupDigests(d2); rs != pipeline.StateDone || !known {
					t.Errorf("migrated done: %v known %v", rs, known)
				}
				if got := unseen(c); !slices.Equal(got, []string{"accepted-input-with-a-long-id-over-16"}) {
					t.Errorf("unseen %q: want only the non-legacy entry not looked up", got)
				}
				if compact {
					if err := c.Compact(); err != nil {
						t.Fatal(err)
					}
				}
				mustClose(t, c)
			}
		})
	}
}

// TestFormat1Loads opens checkpoints written by the version before digests
// (format 1, testdata/v1-*): every entry loads as it was (legacy, no
// digests known), and the files stay as they were.
func TestFormat1Loads(t *testing.T) {
	for _, name := range []string{"v1-log", "v1-snapshot"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", name)
			dir := copyDir(t, src)
			c := mustOpen(t, dir, Options{Fingerprint: "fp"})
			if r := c.LoadReport(); len(r.Corruptions) != 0 {
				t.Fatalf("corruptions: %v", r.Corruptions)
			}
			done := &pipeline.Item{Key: "id:done"}
			if rs, _, known := c.LookupDigests(done); rs != pipeline.StateDone || known || done.ID != "0123456789abcdef0123456789abcdef" {
				t.Errorf("done: %v %v %q", rs, known, done.ID)
			}
			acc := &pipeline.Item{Key: "id:accepted", ID: "accepted-input-with-a-long-id-over-16", Kind: pipeline.KindText, Text: "x"}
			if rs := c.Lookup(acc); rs != pipeline.StateAccepted || acc.ID != "accepted-input-with-a-long-id-over-16" {
				t.Errorf("accepted: %v %q", rs, acc.ID)
			}
			if rs := c.Lookup(&pipeline.Item{Key: "id:failed"}); rs != pipeline.StateNew {
				t.Errorf("failed: %v", rs)
			}
			if s := c.Stats(); s.Entries != 3 || s.Done != 1 || s.Accepted != 1 || s.Failed != 1 {
				t.Errorf("stats %+v", s)
			}
			want := acc.Sync.Digests
			mustRecord(t, c, res(acc, pipeline.EventDone))
			mustClose(t, c)
			des, _ := os.ReadDir(src)
			for _, de := range des {
				old, _ := os.ReadFile(filepath.Join(src, de.Name()))
				now, _ := os.ReadFile(filepath.Join(dir, de.Name()))
				if !bytes.Equal(old, now) {
					t.Errorf("%s changed: format 1 files must not be appended to", de.Name())
				}
			}
			for range 2 {
				c = mustOpen(t, dir, Options{Fingerprint: "fp"})
				a2 := &pipeline.Item{Key: "id:accepted", ID: acc.ID, Kind: pipeline.KindText, Text: "x"}
				if rs, got, known := c.LookupDigests(a2); rs != pipeline.StateDone || !known || got != want {
					t.Errorf("accepted, then done: %v %v", rs, known)
				}
				if err := c.Compact(); err != nil {
					t.Fatal(err)
				}
				mustClose(t, c)
			}
		})
	}
}

// TestNewerFormatRefused: a file of a format this version does not know
// is refused at Open, naming it, as the format 2 code refuses format 3.
func TestNewerFormatRefused(t *testing.T) {
	dir := t.TempDir()
	b := appendFileStart(nil, header{version: formatVersion + 1, kind: kindLog, gen: 1, fingerprint: "fp"})
	if err := os.WriteFile(filepath.Join(dir, logName(1)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, quiet(Options{Fingerprint: "fp"}))
	if err == nil || !strings.Contains(err.Error(), "written by a newer version") {
		t.Errorf("Open: %v, want written by a newer version", err)
	}
}

// TestDigestsOfAnotherVersionAreUnknown checks that digests recorded under
// another digest.Version load as unknown, not as changed.
func TestDigestsOfAnotherVersionAreUnknown(t *testing.T) {
	dir := t.TempDir()
	a := syncItem("a.jpg")
	c := mustOpen(t, dir, Options{})
	send(t, c, a, pipeline.EventDone)
	mustClose(t, c)

	path := logPath(t, dir)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, path)
	start := ends[len(ends)-2]
	rec := b[start:]
	p := rec[frameHeaderLen:]
	p[len(p)-digestsLen] = digest.Version + 1
	b = append(b[:start], endFrame(append([]byte(nil), rec...), 0)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	if r := c.LoadReport(); len(r.Corruptions) != 0 {
		t.Fatalf("corruptions: %v", r.Corruptions)
	}
	e := syncItem("a.jpg")
	e.Concepts = nil
	if rs, _, known := c.LookupDigests(e); rs != pipeline.StateDone || known {
		t.Errorf("%v known %v, want done, unknown", rs, known)
	}
}

// TestDigestsSurviveReopen checks that an entry reopened by verify --repair
// keeps its digests, in memory and on disk.
func TestDigestsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	a := syncItem("a.jpg")
	c := mustOpen(t, dir, Options{})
	send(t, c, a, pipeline.EventDone)
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	if err := c.Reopen(EntryKey(a.Key)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	p := syncItem("a.jpg")
	if rs, d, known := c.LookupDigests(p); rs != pipeline.StateAccepted || !known || d != a.Sync.Digests {
		t.Errorf("%v known %v", rs, known)
	}
}

// TestEntrySize: the seen mark and the new flags cost no memory.
func TestEntrySize(t *testing.T) {
	if got := unsafeSizeofEntry(); got != 23 {
		t.Errorf("entry is %d bytes, want 23", got)
	}
}

// TestAdoptedNeverUnseen: an input the sink adopted (found on the server,
// not sent by this job) is never a deletion candidate, in the run that
// adopted it nor after reopening, and an update of its item keeps the mark;
// an input the job created is one.
func TestAdoptedNeverUnseen(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	adopted, created := syncItem("adopted.jpg"), syncItem("created.jpg")
	c.Lookup(adopted)
	adopted.ID = derive(adopted)
	adopted.Sync.Adopted = true
	mustRecord(t, c, res(adopted, pipeline.EventDone))
	send(t, c, created, pipeline.EventDone)
	mustClose(t, c)

	// A run that relabels the adopted item (an update of its input).
	c = mustOpen(t, dir, Options{})
	relabeled := syncItem("adopted.jpg")
	relabeled.Concepts = []pipeline.Concept{pipeline.Positive("lion")}
	if rs := send(t, c, relabeled, pipeline.EventDone); rs != pipeline.StateUpdate {
		t.Fatalf("relabeled adopted item: %v, want update", rs)
	}
	mustClose(t, c)

	// Neither item is read now: only the created input may be deleted.
	c = mustOpen(t, dir, Options{})
	if got := unseen(c); !slices.Equal(got, []string{created.ID}) {
		t.Errorf("unseen %q, want only the created input %s", got, created.ID)
	}
	mustClose(t, c)
}

// TestClassifyVerifyContent: a content change under a given ID asks the
// sink to compare the bytes when the content is a file (its stat changed,
// not necessarily its bytes), a conflict or a replace as before; a text or
// URL change is certain.
func TestClassifyVerifyContent(t *testing.T) {
	givenFile := func() *pipeline.Item {
		it := syncItem("g.jpg")
		it.ID, it.Key = "g-file", "id:g-file"
		return it
	}
	for _, tc := range []struct {
		name   string
		first  func() *pipeline.Item
		edit   func(*pipeline.Item)
		opts   Options
		state  pipeline.ResumeState
		action pipeline.Action
		verify bool
	}{
		{"file touched", givenFile, func(it *pipeline.Item) { it.Blob.ModTime = it.Blob.ModTime.Add(time.Second) }, Options{},
			pipeline.StateConflict, pipeline.ActionAdd, true},
		{"file touched, replace allowed", givenFile, func(it *pipeline.Item) { it.Blob.ModTime = it.Blob.ModTime.Add(time.Second) },
			Options{ReplaceContent: true}, pipeline.StateNew, pipeline.ActionReplace, true},
		{"text changed", func() *pipeline.Item { return givenItem("g-text", "hello") }, func(it *pipeline.Item) { it.Text = "hello!" }, Options{},
			pipeline.StateConflict, pipeline.ActionAdd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := mustOpen(t, dir, Options{})
			send(t, c, tc.first(), pipeline.EventAccepted, pipeline.EventDone)
			mustClose(t, c)
			it := tc.first()
			tc.edit(it)
			c = mustOpen(t, dir, tc.opts)
			defer mustClose(t, c)
			rs := c.Lookup(it)
			if sy := it.Sync; rs != tc.state || sy.Action != tc.action || sy.VerifyContent != tc.verify || sy.PriorID != it.ID {
				t.Errorf("got %v %+v, want %v %v verify %v", rs, sy, tc.state, tc.action, tc.verify)
			}
		})
	}
}
