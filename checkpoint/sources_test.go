package checkpoint

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// recordRun records n done items (accepted, then done), as a first run
// does, and the source they came from as complete under fp.
func recordRun(t testing.TB, dir string, o Options, n int, fp string) {
	t.Helper()
	c := mustOpen(t, dir, o)
	for i := range n {
		mustRecord(t, c, res(testItem(i), pipeline.EventAccepted))
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	if fp != "" {
		if err := c.RecordSourceDone(fp, pipeline.SourceCounts{Done: int64(n), Skipped: 1}); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, c)
}

func sourceDone(t testing.TB, dir string, o Options, fp string) (pipeline.SourceCounts, bool) {
	t.Helper()
	c := mustOpen(t, dir, o)
	defer mustClose(t, c)
	return c.SourceDone(fp)
}

func TestSourceMarkers(t *testing.T) {
	dir := t.TempDir()
	o := Options{Fingerprint: "job"}
	recordRun(t, dir, o, 10, "manifest:/m.csv|1|2|cfg=x")
	want := pipeline.SourceCounts{Done: 10, Skipped: 1}
	if got, ok := sourceDone(t, dir, o, "manifest:/m.csv|1|2|cfg=x"); !ok || got != want {
		t.Fatalf("after reopening: SourceDone = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := sourceDone(t, dir, o, "manifest:/m.csv|1|3|cfg=x"); ok {
		t.Error("a marker matched another fingerprint (the manifest changed)")
	}

	// Markers accumulate, and a second run's marker replaces the first's.
	c := mustOpen(t, dir, o)
	if err := c.RecordSourceDone("urllist:/u.txt|5|6|cfg=y", pipeline.SourceCounts{Done: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.RecordSourceDone("manifest:/m.csv|1|2|cfg=x", pipeline.SourceCounts{Done: 11}); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.SourceDone("urllist:/u.txt|5|6|cfg=y"); !ok || got.Done != 3 {
		t.Errorf("in the same process: SourceDone = %+v, %v", got, ok)
	}
	mustClose(t, c)
	c = mustOpen(t, dir, o)
	if r := c.LoadReport(); r.SourcesDone != 2 {
		t.Errorf("LoadReport.SourcesDone = %d, want 2", r.SourcesDone)
	}
	if got, _ := c.SourceDone("manifest:/m.csv|1|2|cfg=x"); got.Done != 11 {
		t.Errorf("replaced marker: %+v, want 11 done", got)
	}
	mustClose(t, c)
}

// TestSourceMarkerFollowsItsRecords: the records of a complete source are
// durable before its marker, since a rerun will not look them up.
func TestSourceMarkerFollowsItsRecords(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, Options{}) // quiet: no timer-driven sync
	for i := range 20 {
		mustRecord(t, c, res(testItem(i), pipeline.EventDone))
	}
	onDisk := func() int64 {
		fi, err := os.Stat(logPath(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if onDisk() == c.Stats().LogBytes {
		t.Fatal("test setup: the records already reached the file")
	}
	if err := c.RecordSourceDone("fp", pipeline.SourceCounts{Done: 20}); err != nil {
		t.Fatal(err)
	}
	if got, want := onDisk(), c.Stats().LogBytes; got != want {
		t.Errorf("log file has %d bytes after RecordSourceDone, want all %d", got, want)
	}
	mustClose(t, c)
}

func TestSourceMarkersCleared(t *testing.T) {
	const fp = "manifest:/m.csv|1|2|cfg=x"
	o := Options{Fingerprint: "job"}
	t.Run("restart moves them aside", func(t *testing.T) {
		dir := t.TempDir()
		recordRun(t, dir, o, 3, fp)
		ro := o
		ro.Restart = true
		if _, ok := sourceDone(t, dir, ro, fp); ok {
			t.Error("a marker survived Restart")
		}
		if _, ok := sourceDone(t, dir, o, fp); ok {
			t.Error("a marker came back after Restart")
		}
		if _, ok := sourceDone(t, filepath.Join(dir, previousDir), o, fp); !ok {
			t.Error("the marker was not moved aside with the entries")
		}
	})
	t.Run("Reopen forgets them", func(t *testing.T) {
		dir := t.TempDir()
		recordRun(t, dir, o, 3, fp)
		c := mustOpen(t, dir, o)
		if err := c.Reopen(HashKey("file:/never/recorded|1|1")); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.SourceDone(fp); !ok {
			t.Error("reopening an unknown key forgot the markers")
		}
		if err := c.Reopen(EntryKey(testItem(1).Key)); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.SourceDone(fp); ok {
			t.Error("the marker is still there after Reopen")
		}
		mustClose(t, c)
		if _, ok := sourceDone(t, dir, o, fp); ok {
			t.Error("the marker came back after Reopen and a reopen of the checkpoint")
		}
		if _, err := os.Stat(filepath.Join(dir, sourcesName)); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", sourcesName, err)
		}
	})
	t.Run("a changed configuration drops them", func(t *testing.T) {
		dir := t.TempDir()
		recordRun(t, dir, o, 3, fp)
		c := mustOpen(t, dir, Options{Fingerprint: "job-2", AllowMismatch: true})
		_, ok := c.SourceDone(fp)
		mustClose(t, c)
		if ok {
			t.Error("a marker survived a configuration change")
		}
		if _, ok := sourceDone(t, dir, Options{Fingerprint: "job-2"}, fp); ok {
			t.Error("the marker came back")
		}
	})
	t.Run("markers without entry files are ignored", func(t *testing.T) {
		dir := t.TempDir()
		recordRun(t, dir, o, 3, fp)
		m, _ := filepath.Glob(filepath.Join(dir, logPrefix+"*"))
		for _, p := range m {
			os.Remove(p)
		}
		if _, ok := sourceDone(t, dir, o, fp); ok {
			t.Error("a marker without its entries matched")
		}
	})
	t.Run("an unreadable file is ignored", func(t *testing.T) {
		dir := t.TempDir()
		recordRun(t, dir, o, 3, fp)
		if err := os.WriteFile(filepath.Join(dir, sourcesName), []byte(`{"version": 1, "sources": [`), 0o644); err != nil {
			t.Fatal(err)
		}
		c := mustOpen(t, dir, o)
		if _, ok := c.SourceDone(fp); ok {
			t.Error("a torn markers file matched")
		}
		// The next marker replaces it.
		if err := c.RecordSourceDone(fp, pipeline.SourceCounts{Done: 3}); err != nil {
			t.Fatal(err)
		}
		mustClose(t, c)
		if _, ok := sourceDone(t, dir, o, fp); !ok {
			t.Error("the marker written over a torn file was lost")
		}
	})
}

// TestOpenDoesNotLoad: a run whose sources are all complete opens the
// checkpoint, asks for markers and closes it without loading a single
// entry, and without touching the files: a torn tail is left for the next
// load, which repairs it as before.
func TestOpenDoesNotLoad(t *testing.T) {
	dir := t.TempDir()
	recordRun(t, dir, Options{}, 50, "fp")
	path := logPath(t, dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, dir, Options{})
	if _, ok := c.SourceDone("fp"); !ok {
		t.Error("marker not found")
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	if c.idx != nil {
		t.Error("Open or SourceDone loaded the entries")
	}
	mustClose(t, c)
	if fi2, _ := os.Stat(path); fi2.Size() != fi.Size()-5 {
		t.Errorf("the log changed from %d to %d bytes without a load", fi.Size()-5, fi2.Size())
	}
	c = mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	if r := c.LoadReport(); len(r.Corruptions) != 1 || !r.Corruptions[0].Truncated || r.Records != 99 {
		t.Errorf("LoadReport = %+v, want the torn record reported and truncated, 99 records", r)
	}
}

// TestMemoryFlatDuringRecords simulates the checkpoint's part of a first
// run of 1M items (100K with -short or -race): a Lookup, an accepted and a
// done record per item. The heap must not grow with the items: this run's
// records go to the log, not to memory. (Before, the index grew by ~84
// bytes per item: 84 MB here.)
func TestMemoryFlatDuringRecords(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	c := mustOpen(t, t.TempDir(), Options{SyncInterval: 0, SyncBytes: 0, CompactMinBytes: 4 << 20}.withDefaults())
	defer mustClose(t, c)
	keys, ids := keyRing(n)
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// keys and ids are the test's, allocated before the first measure.
	it := &pipeline.Item{}
	acc := pipeline.Result{Item: it, Event: pipeline.EventAccepted, Stage: "upload"}
	done := pipeline.Result{Item: it, Event: pipeline.EventDone, Stage: "verify"}
	probe := &pipeline.Item{}
	step := func(i int) {
		probe.Key, probe.ID = keys[i], ""
		if c.Lookup(probe) != pipeline.StateNew {
			t.Fatalf("item %d: not new", i)
		}
		it.Key, it.ID = keys[i], ids[i]
		mustRecord(t, c, acc)
		mustRecord(t, c, done)
	}
	step(0) // the first use loads (nothing) and starts the log
	before := heap()
	var peak int64
	for i := 1; i < n; i++ {
		step(i)
		if i%(n/10) == 0 {
			peak = max(peak, heap()-before)
		}
	}
	peak = max(peak, heap()-before)
	st := c.Stats()
	t.Logf("%d items, %d records, log %d MB: heap growth at most %.1f MB", n, st.Recorded, st.LogBytes>>20, float64(peak)/1e6)
	if peak > 10e6 {
		t.Errorf("heap grew by %.1f MB over %d items, want it flat (< 10 MB)", float64(peak)/1e6, n)
	}
	if st.Recorded != int64(2*n) || st.Compactions != 0 {
		t.Errorf("Stats = %+v, want %d records and no compaction during the run", st, 2*n)
	}
}
