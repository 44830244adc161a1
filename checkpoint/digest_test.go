package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// labelled returns testItem(i) with a label and metadata, as a sink has it
// when the item is done.
func labelled(i int, label string) *pipeline.Item {
	it := testItem(i)
	it.Concepts = []pipeline.Concept{pipeline.Positive(label)}
	it.Metadata = map[string]any{"n": float64(i)}
	return it
}

// mustDigests looks up it and checks the state and digests it gets. It
// returns the ID the lookup gave.
func mustDigests(t *testing.T, c *Checkpoint, it *pipeline.Item, wantState pipeline.ResumeState, want *pipeline.Digests) string {
	t.Helper()
	p := probe(it)
	rs, got, known := c.LookupDigests(p)
	if rs != wantState {
		t.Errorf("%s: state %v, want %v", it.Key, rs, wantState)
	}
	switch {
	case want == nil && known:
		t.Errorf("%s: digests %v, want none known", it.Key, got)
	case want != nil && !known:
		t.Errorf("%s: no digests known, want %v", it.Key, want)
	case want != nil && got != *want:
		t.Errorf("%s: digests differ in %s", it.Key, got.Diff(*want))
	}
	return p.ID
}

// TestDigestsRecordedWhenDone checks that Record keeps digest.Of of the
// done item, that later runs get them from the log and from a snapshot,
// that a second done replaces them and that other events keep them.
func TestDigestsRecordedWhenDone(t *testing.T) {
	dir := t.TempDir()
	a, b, accepted := labelled(1, "cat"), labelled(2, "dog"), labelled(3, "cow")
	da, db := digest.Of(a), digest.Of(b)

	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(a, pipeline.EventAccepted))
	mustRecord(t, c, res(a, pipeline.EventDone))
	mustRecord(t, c, res(b, pipeline.EventDone))
	mustRecord(t, c, res(accepted, pipeline.EventAccepted))
	mustClose(t, c)

	check := func(c *Checkpoint) {
		t.Helper()
		mustDigests(t, c, a, pipeline.StateDone, &da)
		mustDigests(t, c, b, pipeline.StateDone, &db)
		mustDigests(t, c, accepted, pipeline.StateAccepted, nil)
		mustDigests(t, c, testItem(99), pipeline.StateNew, nil)
	}
	c = mustOpen(t, dir, Options{})
	check(c)
	// A loaded entry done again (a sink reporting a key twice) gets the
	// new digests; an accepted event after done keeps them.
	b2 := labelled(2, "lion")
	db = digest.Of(b2)
	mustRecord(t, c, res(b2, pipeline.EventDone))
	mustRecord(t, c, res(a, pipeline.EventAccepted))
	mustClose(t, c)

	c = mustOpen(t, dir, Options{}) // from the logs
	check(c)
	if err := c.Compact(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, Options{}) // from the snapshot
	check(c)
	if got := c.Lookup(probe(a)); got != pipeline.StateDone {
		t.Errorf("Lookup = %v, want done", got)
	}
	mustClose(t, c)
}

// TestDigestsSurviveReopen checks that an entry reopened by verify --repair
// keeps the digests it was done with, in memory and on disk.
func TestDigestsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	a := labelled(1, "cat")
	da := digest.Of(a)
	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(a, pipeline.EventDone))
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	if err := c.Reopen(HashKey(a.Key)); err != nil {
		t.Fatal(err)
	}
	mustDigests(t, c, a, pipeline.StateAccepted, &da)
	mustClose(t, c)
	c = mustOpen(t, dir, Options{})
	mustDigests(t, c, a, pipeline.StateAccepted, &da)
	mustClose(t, c)
}

// TestFormat1Loads opens checkpoints written by the version before digests
// (format 1, testdata/v1-*, one with only a log, one with a snapshot): every
// entry loads as it was, with no digests known; new records go to a new
// log and the format 1 files stay as they were, so that the version that
// wrote them can still read them.
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
			if id := mustDigests(t, c, done, pipeline.StateDone, nil); id != "0123456789abcdef0123456789abcdef" {
				t.Errorf("ID %q", id)
			}
			acc := &pipeline.Item{Key: "id:accepted", ID: "accepted-input-with-a-long-id-over-16"}
			if id := mustDigests(t, c, acc, pipeline.StateAccepted, nil); id != acc.ID {
				t.Errorf("ID %q", id)
			}
			mustDigests(t, c, &pipeline.Item{Key: "id:failed"}, pipeline.StateNew, nil)
			if s := c.Stats(); s.Entries != 3 || s.Done != 1 || s.Accepted != 1 || s.Failed != 1 {
				t.Errorf("stats %+v", s)
			}

			fin := &pipeline.Item{Key: acc.Key, ID: acc.ID, Kind: pipeline.KindText, Text: "x"}
			want := digest.Of(fin)
			mustRecord(t, c, res(fin, pipeline.EventDone))
			mustClose(t, c)

			des, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, de := range des {
				old, err := os.ReadFile(filepath.Join(src, de.Name()))
				if err != nil {
					t.Fatal(err)
				}
				now, err := os.ReadFile(filepath.Join(dir, de.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(old, now) {
					t.Errorf("%s changed: format 1 files must not be appended to", de.Name())
				}
			}

			c = mustOpen(t, dir, Options{Fingerprint: "fp"})
			mustDigests(t, c, done, pipeline.StateDone, nil)
			mustDigests(t, c, acc, pipeline.StateDone, &want)
			if err := c.Compact(); err != nil {
				t.Fatal(err)
			}
			mustClose(t, c)
			c = mustOpen(t, dir, Options{Fingerprint: "fp"})
			mustDigests(t, c, done, pipeline.StateDone, nil)
			mustDigests(t, c, acc, pipeline.StateDone, &want)
			mustClose(t, c)
		})
	}
}

// TestDigestsOfAnotherVersionAreUnknown checks that digests recorded under
// another digest.Version load as unknown, not as changed.
func TestDigestsOfAnotherVersionAreUnknown(t *testing.T) {
	dir := t.TempDir()
	a := labelled(1, "cat")
	c := mustOpen(t, dir, Options{})
	mustRecord(t, c, res(a, pipeline.EventDone))
	mustClose(t, c)

	// Rewrite the log with the record's digest version changed.
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
	if r := c.LoadReport(); len(r.Corruptions) != 0 {
		t.Fatalf("corruptions: %v", r.Corruptions)
	}
	mustDigests(t, c, a, pipeline.StateDone, nil)
	mustClose(t, c)
}
