package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

func TestRoundTripIDForms(t *testing.T) {
	idForms := []struct{ name, id string }{
		{"derived hex", "0123456789abcdef0123456789abcdef"},
		{"lower-case UUID", "123e4567-e89b-12d3-a456-426614174000"},
		{"short", "img_42"},
		{"15 bytes, inline", "abcdefghijklmno"},
		{"16 bytes, arena", "abcdefghijklmnop"},
		{"upper-case hex, arena", "0123456789ABCDEF0123456789ABCDEF"},
		{"upper-case UUID, arena", "123E4567-E89B-12D3-A456-426614174000"},
		{"33 hex characters", "0123456789abcdef0123456789abcdef0"},
		{"hex with a dash in UUID places but wrong length", "123e4567-e89b-12d3-a456-42661417400"},
		{"longest valid ID", strings.Repeat("x", ids.MaxIDLength)},
	}
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{Fingerprint: "fp"})
	items := make([]*pipeline.Item, len(idForms))
	var want []Entry
	for i, tc := range idForms {
		items[i] = testItem(i)
		items[i].ID = tc.id
		ev, st := pipeline.EventDone, Done
		if i%2 == 1 {
			ev, st = pipeline.EventAccepted, Accepted
		}
		mustRecord(t, c, res(items[i], ev))
		want = append(want, Entry{KeyHash: EntryKey(items[i].Key), ID: tc.id, State: st, Accepted: true})
	}
	check := func(t *testing.T, c *Checkpoint) {
		for i, tc := range idForms {
			p := probe(items[i])
			p.ID = "stale-id-from-the-source"
			got := c.Lookup(p)
			wantState := pipeline.StateDone
			if i%2 == 1 {
				wantState = pipeline.StateAccepted
			}
			if got != wantState || p.ID != tc.id {
				t.Errorf("%s: Lookup = %v with ID %q, want %v with ID %q", tc.name, got, p.ID, wantState, tc.id)
			}
		}
		if diff := cmp.Diff(sortEntries(want), sortEntries(collect(c))); diff != "" {
			t.Errorf("Entries (-want +got):\n%s", diff)
		}
		st := c.Stats()
		if st.Entries != int64(len(idForms)) || st.Done != int64((len(idForms)+1)/2) || st.Accepted != int64(len(idForms)/2) {
			t.Errorf("Stats = %+v", st)
		}
	}
	// Lookup answers what earlier runs recorded: this process's records
	// are on disk, not in memory.
	if got := c.Lookup(probe(items[0])); got != pipeline.StateNew {
		t.Errorf("Lookup of an item this process recorded = %v, want new", got)
	}
	if st := c.Stats(); st.Recorded != int64(len(idForms)) || st.Entries != 0 {
		t.Errorf("Stats = %+v, want %d recorded and nothing in memory", st, len(idForms))
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{Fingerprint: "fp"})
	defer mustClose(t, c)
	t.Run("after reopen", func(t *testing.T) { check(t, c) })
	if r := c.LoadReport(); r.Entries != len(idForms) || r.Records != int64(len(idForms)) || len(r.Corruptions) != 0 {
		t.Errorf("LoadReport = %+v", r)
	}
}

func collect(c *Checkpoint) []Entry {
	var out []Entry
	for e := range c.Entries {
		out = append(out, e)
	}
	return out
}

func sortEntries(es []Entry) []Entry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.KeyHash.String(), b.KeyHash.String()) })
	return es
}

// TestRecordSemantics checks every transition twice: with all steps in one
// run (the entry is not in memory: each record must stand on its own) and
// with each step in a run of its own (the entry is loaded: its transitions
// apply), reopening the checkpoint before the final Lookup either way.
func TestRecordSemantics(t *testing.T) {
	const idA, idB = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "user-given-id"
	type step struct {
		ev    pipeline.Event
		stage string
		code  int32
		id    string
	}
	type outcome struct {
		state pipeline.ResumeState
		id    string // the probe's ID after Lookup
		entry *Entry // nil: nothing recorded
	}
	cases := []struct {
		name  string
		steps []step
		want  outcome
		// oneRun, if set, is the outcome when all steps happen in one run
		// and it differs: a key recorded twice in one run, which the
		// pipeline looks up once (the last record wins).
		oneRun *outcome
	}{
		{"done", []step{{pipeline.EventDone, "upload", 0, idA}},
			outcome{pipeline.StateDone, idA, &Entry{ID: idA, State: Done, Accepted: true}}, nil},
		{"accepted", []step{{pipeline.EventAccepted, "upload", 0, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Accepted, Accepted: true}}, nil},
		{"accepted then done", []step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventDone, "verify", 0, idA}},
			outcome{pipeline.StateDone, idA, &Entry{ID: idA, State: Done, Accepted: true}}, nil},
		{"accepted and annotated", []step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventAnnotated, "annotate", 0, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Accepted, Accepted: true, Annotated: true}}, nil},
		{"source failure is not recorded", []step{{pipeline.EventFailed, "source", 0, ""}},
			outcome{pipeline.StateNew, "", nil}, nil},
		{"transform failure is not recorded", []step{{pipeline.EventFailed, "transform:resize", 0, idA}},
			outcome{pipeline.StateNew, "", nil}, nil},
		{"skip is not recorded", []step{{pipeline.EventSkipped, "transform:filter", 0, idA}},
			outcome{pipeline.StateNew, "", nil}, nil},
		{"failure without a server code is not recorded", []step{{pipeline.EventFailed, "upload", 0, idA}},
			outcome{pipeline.StateNew, "", nil}, nil},
		{"resumed is not recorded", []step{{pipeline.EventResumed, "", 0, idA}},
			outcome{pipeline.StateNew, "", nil}, nil},
		{"server rejection is recorded but retried", []step{{pipeline.EventFailed, "upload", 30104, idA}},
			outcome{pipeline.StateNew, "", &Entry{ID: idA, State: Failed}}, nil},
		{"processing failure after acceptance is verified, not re-sent",
			[]step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventFailed, "verify", 30002, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Failed, Accepted: true}}, nil},
		{"annotation rejected after acceptance: the input exists",
			[]step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventFailed, "annotate", 10000, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Failed, Accepted: true}}, nil},
		{"network failure after acceptance keeps it accepted",
			[]step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventFailed, "verify", 0, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Accepted, Accepted: true}}, nil},
		{"re-send rejected after acceptance",
			[]step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventFailed, "upload", 30104, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Failed, Accepted: true}},
			// In one run: verification re-sends an input the server lost,
			// and the re-send is rejected, so it is not there: tried again.
			&outcome{pipeline.StateNew, "", &Entry{ID: idA, State: Failed}}},
		{"done is never undone by a failure", []step{{pipeline.EventDone, "upload", 0, idA}, {pipeline.EventFailed, "verify", 30002, idA}},
			outcome{pipeline.StateDone, idA, &Entry{ID: idA, State: Done, Accepted: true}},
			&outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Failed, Accepted: true}}},
		{"done is never undone by an acceptance", []step{{pipeline.EventDone, "upload", 0, idA}, {pipeline.EventAccepted, "upload", 0, idA}},
			outcome{pipeline.StateDone, idA, &Entry{ID: idA, State: Done, Accepted: true}},
			&outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Accepted, Accepted: true}}},
		{"rejected, then accepted on a rerun", []step{{pipeline.EventFailed, "upload", 30104, idA}, {pipeline.EventAccepted, "upload", 0, idA}},
			outcome{pipeline.StateAccepted, idA, &Entry{ID: idA, State: Accepted, Accepted: true}}, nil},
		{"the latest ID wins", []step{{pipeline.EventAccepted, "upload", 0, idA}, {pipeline.EventDone, "upload", 0, idB}},
			outcome{pipeline.StateDone, idB, &Entry{ID: idB, State: Done, Accepted: true}}, nil},
		{"an empty ID keeps the recorded one", []step{{pipeline.EventAccepted, "upload", 0, idB}, {pipeline.EventDone, "upload", 0, ""}},
			outcome{pipeline.StateDone, idB, &Entry{ID: idB, State: Done, Accepted: true}},
			// The sink sets the ID before the first acknowledgement, so
			// every result of one run carries it; a record without one
			// has none.
			&outcome{pipeline.StateDone, "", &Entry{State: Done, Accepted: true}}},
		{"done without any ID", []step{{pipeline.EventDone, "upload", 0, ""}},
			outcome{pipeline.StateDone, "", &Entry{State: Done, Accepted: true}}, nil},
	}
	for _, tc := range cases {
		for _, oneRun := range []bool{true, false} {
			name := tc.name + "/one run per step"
			want := tc.want
			if oneRun {
				name = tc.name + "/one run"
				if tc.oneRun != nil {
					want = *tc.oneRun
				}
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				c := mustOpen(t, dir, Options{})
				base := testItem(1)
				for i, s := range tc.steps {
					if i > 0 && !oneRun {
						mustClose(t, c)
						c = mustOpen(t, dir, Options{})
					}
					it := probe(base)
					it.ID = s.id
					r := pipeline.Result{Item: it, Event: s.ev, Stage: s.stage, Code: s.code}
					if r.Event == pipeline.EventFailed || r.Event == pipeline.EventSkipped {
						r.Err = errors.New("boom")
					}
					mustRecord(t, c, r)
				}
				mustClose(t, c)
				c = mustOpen(t, dir, Options{})
				defer mustClose(t, c)
				p := probe(base)
				if got := c.Lookup(p); got != want.state || p.ID != want.id {
					t.Errorf("Lookup = %v with ID %q, want %v with ID %q", got, p.ID, want.state, want.id)
				}
				var entries []Entry
				if want.entry != nil {
					e := *want.entry
					e.KeyHash = EntryKey(base.Key)
					entries = append(entries, e)
				}
				if diff := cmp.Diff(entries, collect(c)); diff != "" {
					t.Errorf("Entries (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestDoneWithRegionsIsAnnotated: in one run, the annotated flag of an
// item finished with regions survives its EventDone, which the index no
// longer joins with the EventAnnotated before it.
func TestDoneWithRegionsIsAnnotated(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	it := testItem(1)
	it.Regions = []pipeline.Region{{Concepts: []pipeline.Concept{pipeline.Positive("cat")}}}
	for _, ev := range []pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone} {
		mustRecord(t, c, res(it, ev))
	}
	plain := testItem(2)
	mustRecord(t, c, res(plain, pipeline.EventAccepted))
	mustRecord(t, c, res(plain, pipeline.EventDone))
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	if st := c.Stats(); st.Done != 2 || st.Annotated != 1 {
		t.Errorf("Stats = %+v, want 2 done, 1 annotated", st)
	}
}

func TestKeyFallsBackToID(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(&pipeline.Item{ID: "user-1"}, pipeline.EventDone))
	mustRecord(t, c, res(&pipeline.Item{ID: "user-2", DatasetIDs: []string{"b", "a"}}, pipeline.EventDone))
	mustRecord(t, c, res(&pipeline.Item{}, pipeline.EventDone)) // neither key nor ID: ignored
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	cases := []struct {
		name string
		it   *pipeline.Item
		want pipeline.ResumeState
	}{
		{"same ID, no key", &pipeline.Item{ID: "user-1"}, pipeline.StateDone},
		{"keyed as a source keys a given ID", &pipeline.Item{Key: ids.IDKey("user-1")}, pipeline.StateDone},
		{"scoped by datasets", &pipeline.Item{Key: ids.ScopeKey(ids.IDKey("user-2"), []string{"a", "b"})}, pipeline.StateDone},
		// The stable key drops the dataset scope: the same input, moved
		// (recorded without digests here, so not compared).
		{"other datasets, the same input", &pipeline.Item{ID: "user-2", DatasetIDs: []string{"a"}}, pipeline.StateDone},
		{"neither key nor ID", &pipeline.Item{}, pipeline.StateNew},
		{"another ID", &pipeline.Item{ID: "user-3"}, pipeline.StateNew},
	}
	for _, tc := range cases {
		if got := c.Lookup(tc.it); got != tc.want {
			t.Errorf("%s: Lookup = %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := c.Stats().Entries; n != 2 {
		t.Errorf("Stats().Entries = %d, want 2", n)
	}
}

// TestUnchangedEventWritesNothing: for an entry loaded from disk, an event
// that changes nothing is not written again.
func TestUnchangedEventWritesNothing(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	it := testItem(1)
	mustRecord(t, c, res(it, pipeline.EventDone))
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	before := c.Stats().LogBytes
	mustRecord(t, c, res(it, pipeline.EventDone))
	mustRecord(t, c, res(it, pipeline.EventAccepted))
	if after := c.Stats().LogBytes; after != before {
		t.Errorf("log grew from %d to %d bytes for events that change nothing", before, after)
	}
}

func TestRecordRejectsAbsurdID(t *testing.T) {
	c := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, c)
	it := testItem(1)
	it.ID = strings.Repeat("x", maxIDLen+1)
	if err := c.Record(res(it, pipeline.EventDone)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Record = %v, want an error about the ID length", err)
	}
}

// TestTornTail truncates or damages the log at several places: the records
// before the damage are kept, the damage is reported with its offset, the
// file is truncated there, and appending afterwards works.
func TestTornTail(t *testing.T) {
	base := t.TempDir()
	c := mustOpen(t, base, Options{})
	const n = 5
	for i := range n {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	mustClose(t, c)
	name := filepath.Base(logPath(t, base))
	ends := frameEnds(t, filepath.Join(base, name)) // ends[0]: header; ends[i]: record i-1
	if len(ends) != n+1 {
		t.Fatalf("log has %d frames, want %d", len(ends), n+1)
	}
	last := ends[n-1] // start of the last record
	cut := func(at int64) func([]byte) []byte { return func(b []byte) []byte { return b[:at] } }
	flip := func(at int64, mask byte) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= mask; return b }
	}
	cases := []struct {
		name    string
		damage  func([]byte) []byte
		keep    int    // records kept
		offset  int64  // offset of the reported damage; -1: none
		reason  string // in the reported reason
		rewrite bool   // the header was lost too: the log is started afresh
	}{
		{"whole file", cut(ends[n]), n, -1, "", false},
		{"one byte of the last record's length", cut(last + 1), n - 1, last, "partial record", false},
		{"into the last record's checksum", cut(last + 6), n - 1, last, "partial record", false},
		{"last record's payload", cut(ends[n] - 1), n - 1, last, "partial record", false},
		{"middle record cut: the rest is lost too", cut(ends[2] + 10), 2, ends[2], "partial record", false},
		{"only the header left", cut(ends[0]), 0, -1, "", false},
		{"payload byte flipped", flip(ends[2]+frameHeaderLen+3, 0x40), 2, ends[2], "checksum", false},
		{"checksum byte flipped", flip(ends[3]+5, 0x01), 3, ends[3], "checksum", false},
		{"length made huge", flip(ends[1]+3, 0x80), 1, ends[1], "bad record length", false},
		{"length zeroed", func(b []byte) []byte { copy(b[ends[1]:], []byte{0, 0, 0, 0}); return b }, 1, ends[1], "bad record length", false},
		{"header record torn", cut(ends[0] - 3), 0, int64(len(fileMagic)), "partial record", true},
		{"magic torn", cut(4), 0, 0, "shorter than its header", true},
		{"empty file", cut(0), 0, 0, "shorter than its header", true},
		{"not a checkpoint", func([]byte) []byte { return []byte("hello, world\n") }, 0, 0, "bad magic", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, base)
			path := filepath.Join(dir, name)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tc.damage(b)
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			c := mustOpen(t, dir, Options{})
			for i := range n {
				want := pipeline.StateNew
				if i < tc.keep {
					want = pipeline.StateDone
				}
				if got := c.Lookup(probe(testItem(i))); got != want {
					t.Errorf("item %d: Lookup = %v, want %v", i, got, want)
				}
			}
			r := c.LoadReport()
			if tc.offset < 0 {
				if len(r.Corruptions) != 0 {
					t.Errorf("Corruptions = %v, want none", r.Corruptions)
				}
			} else {
				want := Corruption{File: path, Offset: tc.offset, Dropped: int64(len(damaged)) - tc.offset, Truncated: true}
				if len(r.Corruptions) != 1 {
					t.Fatalf("Corruptions = %v, want one at offset %d", r.Corruptions, tc.offset)
				}
				got := r.Corruptions[0]
				if !strings.Contains(got.Reason, tc.reason) {
					t.Errorf("reason %q does not mention %q", got.Reason, tc.reason)
				}
				got.Reason = ""
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("corruption (-want +got):\n%s", diff)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.rewrite && fi.Size() != tc.offset {
					t.Errorf("log is %d bytes after open, want it truncated to %d", fi.Size(), tc.offset)
				}
				if tc.rewrite && len(frameEnds(t, path)) != 1 {
					t.Errorf("log was not restarted with a fresh header")
				}
			}
			// Appending after the repair gives a clean file.
			mustRecord(t, c, res(testItem(100), pipeline.EventDone))
			mustClose(t, c)
			c = mustOpen(t, dir, Options{})
			defer mustClose(t, c)
			if r := c.LoadReport(); len(r.Corruptions) != 0 || r.Entries != tc.keep+1 {
				t.Errorf("after repair and append: %d entries, corruptions %v; want %d entries, none", r.Entries, r.Corruptions, tc.keep+1)
			}
		})
	}
}

func TestCorruptSnapshotKeepsPrefix(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	const n = 200
	for i := range n {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, c, res(testItem(n), pipeline.EventDone)) // in the new log
	mustClose(t, c)
	snap := filepath.Join(dir, snapshotName)
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(t, snap)
	b[ends[100]+frameHeaderLen+1] ^= 0xff // damage entry record 101
	if err := os.WriteFile(snap, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	r := c.LoadReport()
	if len(r.Corruptions) != 1 || r.Corruptions[0].File != snap || r.Corruptions[0].Offset != ends[100] || r.Corruptions[0].Truncated {
		t.Fatalf("Corruptions = %+v, want one in the snapshot at %d, not truncated", r.Corruptions, ends[100])
	}
	// The snapshot's order is the map's: count what survived rather than
	// which. The record in the log is there whatever happened to the snapshot.
	if r.Entries != 100+1 {
		t.Errorf("Entries = %d, want the 100 records before the damage and the one in the log", r.Entries)
	}
	if got := c.Lookup(probe(testItem(n))); got != pipeline.StateDone {
		t.Errorf("item in the log: Lookup = %v", got)
	}
}

// TestCompactionPreservesEverything runs the same three runs over two
// checkpoints, one compacted along the way (explicitly before and during a
// run, and at load because the log outgrew CompactMinBytes), one never:
// both must load the same entries.
func TestCompactionPreservesEverything(t *testing.T) {
	record := func(c *Checkpoint, from, to int) {
		for i := from; i < to; i++ {
			it := testItem(i)
			switch i % 5 {
			case 0:
				mustRecord(t, c, res(it, pipeline.EventDone))
			case 1:
				it.ID = fmt.Sprintf("123e4567-e89b-12d3-a456-%012d", i)
				mustRecord(t, c, res(it, pipeline.EventAccepted))
			case 2:
				it.ID = fmt.Sprintf("a-rather-long-user-given-id-%d", i)
				mustRecord(t, c, res(it, pipeline.EventAccepted))
				mustRecord(t, c, res(it, pipeline.EventAnnotated))
			case 3:
				r := res(it, pipeline.EventFailed)
				r.Code, r.Stage = 30104, "upload"
				mustRecord(t, c, r)
			case 4:
				it.ID = fmt.Sprintf("s%d", i)
				mustRecord(t, c, res(it, pipeline.EventAccepted))
				mustRecord(t, c, res(it, pipeline.EventDone))
			}
		}
	}
	// finish records done some items accepted by an earlier run.
	finish := func(c *Checkpoint, to int) {
		for i := 1; i < to; i += 10 {
			it := testItem(i)
			it.ID = fmt.Sprintf("123e4567-e89b-12d3-a456-%012d", i)
			mustRecord(t, c, res(it, pipeline.EventDone))
		}
	}
	compacted, plain := t.TempDir(), t.TempDir()
	for _, dir := range []string{compacted, plain} {
		c := mustOpen(t, dir, Options{Fingerprint: "fp"})
		record(c, 0, 300)
		mustClose(t, c)
	}

	// Run 2 of the compacted one: compact before recording (folds all), then
	// during the run (folds what was loaded, keeps this run's log).
	c := mustOpen(t, compacted, Options{Fingerprint: "fp"})
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	if gens, hasSnap, _ := listFiles(compacted); !hasSnap || len(gens) != 1 {
		t.Errorf("after compacting before recording: logs %v, snapshot %v; want one log and a snapshot", gens, hasSnap)
	}
	record(c, 300, 400)
	finish(c, 300)
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	record(c, 400, 800) // more than the snapshot holds: the next load compacts
	if st := c.Stats(); st.Compactions != 2 || st.SnapshotBytes == 0 {
		t.Errorf("Stats = %+v, want 2 compactions and a snapshot", st)
	}
	mustClose(t, c)
	c = mustOpen(t, plain, Options{Fingerprint: "fp"})
	record(c, 300, 400)
	finish(c, 300)
	record(c, 400, 800)
	mustClose(t, c)

	// Run 3: its load compacts (the log is over 1 KiB), and it records more.
	c, err := Open(compacted, Options{Fingerprint: "fp", CompactMinBytes: 1 << 10, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	finish(c, 800)
	record(c, 800, 850)
	if r := c.LoadReport(); !r.Compacted {
		t.Errorf("LoadReport = %+v, want a compaction at load", r)
	}
	mustClose(t, c)
	c = mustOpen(t, plain, Options{Fingerprint: "fp"})
	finish(c, 800)
	record(c, 800, 850)
	mustClose(t, c)

	entries := func(dir string) ([]Entry, LoadReport) {
		c := mustOpen(t, dir, Options{Fingerprint: "fp"})
		defer mustClose(t, c)
		return sortEntries(collect(c)), c.LoadReport()
	}
	want, rPlain := entries(plain)
	got, r := entries(compacted)
	if len(want) != 850 {
		t.Fatalf("%d entries without compaction, want 850", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries with compactions (-without +with):\n%s", diff)
	}
	if len(r.Corruptions) != 0 || len(r.Files) != 2 {
		t.Errorf("LoadReport = %+v, want a snapshot and one log", r)
	}
	// The snapshot of the load holds the 800 entries loaded; only the
	// records of run 3 are replayed after it.
	if r.Records >= rPlain.Records-300 {
		t.Errorf("replayed %d records, %d without compaction: the compaction at load folded little", r.Records, rPlain.Records)
	}
}

// TestCompactionCrashLeftovers puts back what a compaction that crashed
// after its rename leaves (an old log, a temp file): Open cleans it up and
// loses nothing.
func TestCompactionCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	for i := range 10 {
		mustRecord(t, c, res(testItem(i), pipeline.EventAccepted))
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	oldLog := logPath(t, dir)
	old, err := os.ReadFile(oldLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	mustClose(t, c)
	if err := os.WriteFile(oldLog, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshotTmp), []byte("half a snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	r := c.LoadReport()
	if r.StaleLogs != 1 || len(r.Corruptions) != 0 || r.Entries != 10 {
		t.Errorf("LoadReport = %+v, want 1 stale log, no corruption, 10 entries", r)
	}
	st := c.Stats()
	if st.Done != 5 || st.Accepted != 5 {
		t.Errorf("Stats = %+v, want 5 done and 5 accepted (the stale log must not be replayed over the newer one)", st)
	}
	for _, p := range []string{oldLog, filepath.Join(dir, snapshotTmp)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (%v)", p, err)
		}
	}
}

// TestNoCompactionWhileRecording: a run that records far past
// CompactMinBytes does not compact (a snapshot of memory would lose its
// records); the next load does, in the background, while lookups, stats,
// iterations and records run concurrently (run with -race).
func TestCompactionAtLoad(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SyncInterval: time.Millisecond, SyncBytes: 512, CompactMinBytes: 4 << 10}
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		mustRecord(t, c, res(testItem(i), pipeline.EventAccepted))
	}
	if st := c.Stats(); st.Compactions != 0 || st.LogBytes < 20*opts.CompactMinBytes {
		t.Errorf("Stats = %+v, want a log far over 4 KiB and no compaction", st)
	}
	mustClose(t, c)
	if gens, hasSnap, _ := listFiles(dir); hasSnap || len(gens) != 1 {
		t.Errorf("after the first run: logs %v, snapshot %v; want one log, no snapshot", gens, hasSnap)
	}

	c, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := probe(testItem((i*31 + g) % n))
				if st := c.Lookup(p); st == pipeline.StateNew || p.ID == "" {
					t.Errorf("an entry of the first run: %v, ID %q", st, p.ID)
					return
				}
				if g == 0 && i%500 == 0 {
					_ = c.Stats()
					for range c.Entries {
					}
				}
			}
		})
	}
	for i := range n {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))   // loaded: updated
		mustRecord(t, c, res(testItem(n+i), pipeline.EventDone)) // new: logged only
	}
	close(stop)
	wg.Wait()
	mustClose(t, c)
	if got := c.Stats().Compactions; got != 1 {
		t.Errorf("Compactions = %d, want the one at load", got)
	}
	gens, hasSnap, err := listFiles(dir)
	if err != nil || !hasSnap || len(gens) != 1 {
		t.Errorf("after Close: logs %v, snapshot %v (%v); want one log and a snapshot", gens, hasSnap, err)
	}
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	if st := c.Stats(); st.Done != 2*n || st.Entries != 2*n {
		t.Errorf("after reopening: %+v, want %d done", st, 2*n)
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{Fingerprint: "config-a"})
	mustRecord(t, c, res(testItem(1), pipeline.EventDone))
	mustClose(t, c)

	_, err := Open(dir, quiet(Options{Fingerprint: "config-b"}))
	want := "checkpoint in " + dir + " was written by a job with a different configuration " +
		"(sources/transforms/target changed); use --restart to start over or --allow-config-change to continue"
	if !errors.Is(err, ErrConfigChanged) || err.Error() != want {
		t.Fatalf("Open with another fingerprint = %v, want %q", err, want)
	}

	c = mustOpen(t, dir, Options{Fingerprint: "config-b", AllowMismatch: true})
	if !c.LoadReport().ConfigChanged || c.Lookup(probe(testItem(1))) != pipeline.StateDone {
		t.Errorf("AllowMismatch: report %+v, item not kept", c.LoadReport())
	}
	mustRecord(t, c, res(testItem(2), pipeline.EventDone))
	mustClose(t, c)

	// The checkpoint now belongs to config-b.
	c = mustOpen(t, dir, Options{Fingerprint: "config-b"})
	if c.LoadReport().ConfigChanged || c.Stats().Done != 2 {
		t.Errorf("reopen under config-b: report %+v, stats %+v", c.LoadReport(), c.Stats())
	}
	mustClose(t, c)
	if _, err := Open(dir, quiet(Options{Fingerprint: "config-a"})); !errors.Is(err, ErrConfigChanged) {
		t.Errorf("Open under the old config = %v, want ErrConfigChanged", err)
	}
	// An empty fingerprint does not check.
	c = mustOpen(t, dir, Options{})
	mustClose(t, c)
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	for i := range 3 {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	mustClose(t, c)

	c = mustOpen(t, dir, Options{Restart: true})
	prev := filepath.Join(dir, previousDir)
	if r := c.LoadReport(); r.MovedAside != prev || r.Entries != 0 {
		t.Errorf("LoadReport = %+v, want old files moved to %s and nothing loaded", r, prev)
	}
	if c.Lookup(probe(testItem(0))) != pipeline.StateNew {
		t.Errorf("item of the old checkpoint still found after Restart")
	}
	mustRecord(t, c, res(testItem(9), pipeline.EventDone))
	mustClose(t, c)

	// The moved files are a whole checkpoint; the restart sticks.
	old := mustOpen(t, prev, Options{})
	if n := old.Stats().Entries; n != 3 {
		t.Errorf("moved-aside checkpoint has %d entries, want 3", n)
	}
	mustClose(t, old)
	c = mustOpen(t, dir, Options{})
	if st := c.Stats(); st.Entries != 1 {
		t.Errorf("after restart and reopen: %d entries, want 1", st.Entries)
	}
	mustClose(t, c)

	// A second restart replaces the previous set.
	c = mustOpen(t, dir, Options{Restart: true})
	mustClose(t, c)
	old = mustOpen(t, prev, Options{})
	if n := old.Stats().Entries; n != 1 {
		t.Errorf("previous after the second restart has %d entries, want 1", n)
	}
	mustClose(t, old)
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	_, err := Open(dir, quiet(Options{}))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) ||
		!strings.Contains(err.Error(), dir) {
		t.Errorf("second Open = %v, want ErrLocked naming the directory and this pid", err)
	}
	// Restart must not move files out from under the holder either.
	if _, err := Open(dir, quiet(Options{Restart: true})); !errors.Is(err, ErrLocked) {
		t.Errorf("Open with Restart while locked = %v, want ErrLocked", err)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	mustClose(t, c)
}

func TestClosed(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(testItem(1), pipeline.EventDone))
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	_ = c.Stats() // loads
	mustClose(t, c)
	for name, err := range map[string]error{
		"Record":           c.Record(res(testItem(2), pipeline.EventDone)),
		"Sync":             c.Sync(),
		"Compact":          c.Compact(),
		"Close":            c.Close(),
		"RecordSourceDone": c.RecordSourceDone("fp", pipeline.SourceCounts{}),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if c.Lookup(probe(testItem(1))) != pipeline.StateDone || c.Stats().Entries != 1 {
		t.Errorf("Lookup and Stats must keep answering after Close")
	}
	// A checkpoint never used before Close loads nothing afterwards: the
	// lock is gone.
	c = mustOpen(t, dir, Options{})
	mustClose(t, c)
	if c.Lookup(probe(testItem(1))) != pipeline.StateNew || c.Stats().Entries != 0 {
		t.Errorf("a checkpoint closed unused loaded its entries after Close")
	}
}

// TestWriteFailureSticks breaks the log file under the checkpoint: the
// failure is returned by Sync, every later Record and Close, and the lock is
// released all the same.
func TestWriteFailureSticks(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(testItem(1), pipeline.EventDone))
	c.cur.f.Close() // the disk goes away
	err := c.Sync()
	if err == nil || !strings.Contains(err.Error(), c.cur.path) {
		t.Fatalf("Sync = %v, want an error naming the log", err)
	}
	if err2 := c.Record(res(testItem(2), pipeline.EventDone)); err2 != err {
		t.Errorf("Record after a failed sync = %v, want the same error %v", err2, err)
	}
	if err3 := c.Close(); err3 == nil {
		t.Errorf("Close after a failed sync = nil, want the error")
	}
	c = mustOpen(t, dir, Options{})
	mustClose(t, c)
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"negative interval", Options{SyncInterval: -1}, false},
		{"negative bytes", Options{SyncBytes: -1}, false},
		{"negative buffer", Options{BufferSize: -1}, false},
		{"huge fingerprint", Options{Fingerprint: strings.Repeat("f", maxFingerprint+1)}, false},
		{"compaction off", Options{CompactMinBytes: -1}, true},
	}
	for _, tc := range cases {
		if err := tc.o.withDefaults().Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
		if !tc.ok {
			if _, err := Open(t.TempDir(), tc.o); err == nil {
				t.Errorf("%s: Open accepted invalid options", tc.name)
			}
		}
	}
}

// TestReopen: `ingest verify --repair` reopens done entries whose inputs the
// server lost; the next run must verify them again, and that survives a
// restart.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{Fingerprint: "fp"})
	done, other := testItem(1), testItem(2)
	mustRecord(t, c, res(done, pipeline.EventDone))
	mustRecord(t, c, res(other, pipeline.EventDone))
	mustClose(t, c)
	// As `ingest verify --repair` does: a fresh Open, then Reopen.
	c = mustOpen(t, dir, Options{Fingerprint: "fp"})
	if err := c.Reopen(EntryKey(done.Key)); err != nil {
		t.Fatal(err)
	}
	if err := c.Reopen(HashKey("file:/never/recorded|1|1")); err != nil {
		t.Fatalf("unknown key: %v", err)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{Fingerprint: "fp"})
	defer mustClose(t, c)
	p := probe(done)
	if got := c.Lookup(p); got != pipeline.StateAccepted || p.ID != done.ID {
		t.Errorf("reopened entry: %v %q, want accepted with ID %q", got, p.ID, done.ID)
	}
	if got := c.Lookup(probe(other)); got != pipeline.StateDone {
		t.Errorf("other entry: %v, want done", got)
	}
	if s := c.Stats(); s.Entries != 2 || s.Done != 1 || s.Accepted != 1 {
		t.Errorf("stats = %+v", s)
	}
}
