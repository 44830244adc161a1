package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// keyRing returns n distinct file keys and derived-looking IDs.
func keyRing(n int) (keys, ids []string) {
	keys, ids = make([]string, n), make([]string, n)
	for i := range n {
		keys[i] = testItem(i).Key
		ids[i] = fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
	}
	return keys, ids
}

// fill records n Done entries, with digests as a run records them, with
// the default options' disk behaviour except automatic compaction, which
// the caller chooses.
func fill(tb testing.TB, c *Checkpoint, keys, ids []string) {
	tb.Helper()
	fillEvent(tb, c, keys, ids, pipeline.EventDone, true)
}

// fillEvent is fill recording ev for each key, with digests (those a
// Lookup computes for a bare probe item, so that such probes hit as
// unchanged; every entry stores its own copy) or without (no Sync).
func fillEvent(tb testing.TB, c *Checkpoint, keys, ids []string, ev pipeline.Event, digests bool) {
	tb.Helper()
	it := &pipeline.Item{}
	sy := pipeline.Sync{Digests: digest.Of(&pipeline.Item{})}
	if digests {
		it.Sync = &sy
	}
	r := pipeline.Result{Item: it, Event: ev}
	for i := range keys {
		it.Key, it.ID = keys[i], ids[i]
		if err := c.Record(r); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRecord measures Record on the hot path: default options (timer
// and size-driven fsync in the background, automatic compaction).
func BenchmarkRecord(b *testing.B) {
	c, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ring := min(b.N, 1<<20)
	keys, ids := keyRing(ring)
	it := &pipeline.Item{}
	r := pipeline.Result{Item: it, Event: pipeline.EventAccepted}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Each round over the ring records another ID, so that every call
		// changes the entry and writes a record.
		k := i % ring
		it.Key, it.ID = keys[k], ids[(k+i/ring)%ring]
		if err := c.Record(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	const n = 1 << 20
	dir := b.TempDir()
	c := mustOpen(b, dir, Options{})
	keys, ids := keyRing(n)
	fill(b, c, keys, ids)
	mustClose(b, c)
	// Lookup answers from what was loaded: a later run.
	c = mustOpen(b, dir, Options{})
	defer c.Close()
	_ = c.Stats()
	// The probes are 4096 keys spread over the index: their strings stay in
	// the CPU cache, as a fresh item's key does, while the entries they hit
	// do not.
	hits, misses := make([]string, 4096), make([]string, 4096)
	for i := range misses {
		hits[i] = keys[(i*7919)%n]
		misses[i] = testItem(n + i).Key
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		it := &pipeline.Item{}
		for i := range b.N {
			it.Key, it.ID = hits[i%len(hits)], ""
			if c.Lookup(it) != pipeline.StateDone {
				b.Fatal("miss")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		it := &pipeline.Item{}
		for i := range b.N {
			it.Key = misses[i%len(misses)]
			if c.Lookup(it) != pipeline.StateNew {
				b.Fatal("hit")
			}
		}
	})
	b.Run("parallel-hit-while-recording", func(b *testing.B) {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			it := &pipeline.Item{}
			r := pipeline.Result{Item: it, Event: pipeline.EventAccepted}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				it.Key, it.ID = misses[i%len(misses)], ids[i%n]
				_ = c.Record(r)
			}
		}()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			it := &pipeline.Item{}
			i := 0
			for pb.Next() {
				it.Key = hits[i%len(hits)]
				c.Lookup(it)
				i++
			}
		})
		close(stop)
		<-done
	})
}

// loadCost opens the checkpoint in dir, loads its entries, and returns the
// heap it holds per entry and how long opening and loading took.
func loadCost(tb testing.TB, dir string, n int) (perEntry float64, took time.Duration) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	c := mustOpen(tb, dir, Options{})
	_ = c.LoadReport() // loads
	took = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := c.Stats().Entries; got != int64(n) {
		tb.Fatalf("loaded %d entries, want %d", got, n)
	}
	perEntry = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	mustClose(tb, c)
	return perEntry, took
}

// buildCheckpoint records n entries with 32-hex-character IDs in dir, and
// compacts them into a snapshot if snapshot is set (in a second run: a run
// keeps its own records out of memory, so only a later one can fold them).
func buildCheckpoint(tb testing.TB, dir string, n int, snapshot bool) {
	tb.Helper()
	c := mustOpen(tb, dir, Options{})
	keys, ids := keyRing(n)
	fill(tb, c, keys, ids)
	mustClose(tb, c)
	if snapshot {
		c = mustOpen(tb, dir, Options{})
		if err := c.Compact(); err != nil {
			tb.Fatal(err)
		}
		mustClose(tb, c)
	}
}

// TestMemoryAndLoadTime builds a checkpoint of 1M entries (100K with -short
// or -race; CHECKPOINT_TEST_ENTRIES=n to choose), reopens it from the log
// and from a snapshot, and checks the heap held per entry. The numbers are
// in README.md.
func TestMemoryAndLoadTime(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	if s := os.Getenv("CHECKPOINT_TEST_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("CHECKPOINT_TEST_ENTRIES=%q: want a positive number", s)
		}
		n = v
	}
	for _, snapshot := range []bool{false, true} {
		dir := t.TempDir()
		start := time.Now()
		buildCheckpoint(t, dir, n, snapshot)
		build := time.Since(start)
		perEntry, took := loadCost(t, dir, n)
		t.Logf("%d entries, from snapshot %v: built in %v (%.0f ns/record), loaded in %v, heap %.1f bytes/entry; at 10M: ~%.0f MB, ~%v",
			n, snapshot, build.Round(time.Millisecond), float64(build.Nanoseconds())/float64(n),
			took.Round(time.Millisecond), perEntry, perEntry*10e6/1e6, (took * time.Duration(10_000_000/n)).Round(100*time.Millisecond))
		// The index is 39-byte map slots plus the map's spare capacity, which
		// swings between 1/8 and 9/16 of its slots as the map grows (55 to 90
		// bytes per entry), plus the 48 bytes of digests of a done entry in
		// the shard's digest arena (up to 1/2 more in its last chunks).
		// Keeping the keys (~70 bytes here, with string headers and their
		// own map) would add as much again.
		if perEntry > 150 {
			t.Errorf("heap per entry = %.1f bytes, want at most 150", perEntry)
		}
	}
}

// BenchmarkLoad1M measures Open of a 1M-entry checkpoint from a snapshot.
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	buildCheckpoint(b, dir, n, true)
	perEntry, _ := loadCost(b, dir, n)
	for b.Loop() {
		c := mustOpen(b, dir, Options{})
		_ = c.LoadReport() // loads
		mustClose(b, c)
	}
	b.ReportMetric(perEntry, "heap-B/entry")
}

// manifestRow is an item as the S2 benchmark scenario makes it: a URL, one
// label, a small flat metadata object and a dataset.
func manifestRow() *pipeline.Item {
	return &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.test/images/000123.jpg",
		Concepts: []pipeline.Concept{pipeline.Positive("cat")},
		Metadata: map[string]any{"split": "train", "score": 0.5}, DatasetIDs: []string{"ds"}}
}

// BenchmarkRecordDone measures Record of the final event of a manifest
// row, which writes the digests its Lookup computed.
func BenchmarkRecordDone(b *testing.B) {
	c, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ring := min(b.N, 1<<20)
	keys, ids := keyRing(ring)
	it := manifestRow()
	c.Lookup(it) // sets it.Sync
	r := pipeline.Result{Item: it, Event: pipeline.EventDone}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it.Key, it.ID = keys[i%ring], ids[i%ring]
		if err := c.Record(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupRow measures Lookup of a manifest row against a loaded
// checkpoint: the digests of the row as read, the Sync, the hit and the
// seen mark.
func BenchmarkLookupRow(b *testing.B) {
	const n = 1 << 16
	dir := b.TempDir()
	keys, ids := keyRing(n)
	c := mustOpen(b, dir, Options{})
	fill(b, c, keys, ids)
	mustClose(b, c)
	c = mustOpen(b, dir, Options{})
	defer c.Close()
	_ = c.Stats()
	it := manifestRow()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		it.Key = keys[(i*7919)%n]
		c.Lookup(it)
	}
}

// BenchmarkDigestCost1M measures what the digests of entries cost per 1M
// items: heap of the loaded index and size of the snapshot, for entries
// recorded done without digests (no Sync) and with them. The difference
// is the digests' cost (DESIGN.md, "Digests").
func BenchmarkDigestCost1M(b *testing.B) {
	const n = 1_000_000
	keys, ids := keyRing(n)
	for _, digests := range []bool{false, true} {
		b.Run(fmt.Sprintf("digests=%v", digests), func(b *testing.B) {
			dir := b.TempDir()
			c := mustOpen(b, dir, Options{})
			fillEvent(b, c, keys, ids, pipeline.EventDone, digests)
			mustClose(b, c)
			c = mustOpen(b, dir, Options{})
			if err := c.Compact(); err != nil {
				b.Fatal(err)
			}
			mustClose(b, c)
			fi, err := os.Stat(filepath.Join(dir, snapshotName))
			if err != nil {
				b.Fatal(err)
			}
			var perEntry float64
			for b.Loop() {
				perEntry, _ = loadCost(b, dir, n)
			}
			b.ReportMetric(perEntry, "heap-B/entry")
			b.ReportMetric(float64(fi.Size())/n, "disk-B/entry")
		})
	}
}

// BenchmarkSeenUnseen1M measures Unseen over a loaded 1M-entry checkpoint
// of which every other entry was looked up (seen): the seen mark is a flag
// bit, so the heap is the same as without it.
func BenchmarkSeenUnseen1M(b *testing.B) {
	const n = 1_000_000
	keys, ids := keyRing(n)
	dir := b.TempDir()
	c := mustOpen(b, dir, Options{})
	fill(b, c, keys, ids)
	mustClose(b, c)
	c = mustOpen(b, dir, Options{})
	defer c.Close()
	it := &pipeline.Item{}
	for i := 0; i < n; i += 2 {
		it.Key = keys[i]
		c.Lookup(it)
	}
	for b.Loop() {
		count := 0
		for range c.Unseen {
			count++
		}
		if count != n/2 {
			b.Fatalf("unseen %d, want %d", count, n/2)
		}
	}
}
