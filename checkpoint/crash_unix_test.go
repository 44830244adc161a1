//go:build unix

package checkpoint

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// The crash tests run this test binary again as a child that records, syncs,
// records more and then SIGKILLs itself: no Close, no deferred code.
const (
	crashEnv     = "CHECKPOINT_TEST_CRASH_DIR"
	crashModeEnv = "CHECKPOINT_TEST_CRASH_MODE"
	crashSynced  = 100 // records synced before the kill
	crashExtra   = 50  // records appended after the sync
)

// crashChild is the child's whole life; it never returns.
func crashChild(dir, mode string) {
	o := Options{SyncInterval: 1 << 62, SyncBytes: 1 << 30, CompactMinBytes: -1}
	if mode == "torn" || mode == "datasets" {
		// A tiny buffer makes the writer hand partial records to the OS.
		o.BufferSize = 100
	}
	c, err := Open(dir, o)
	if err != nil {
		os.Exit(3)
	}
	item := func(i int) *pipeline.Item {
		it := testItem(i)
		if mode == "datasets" {
			// Every record refers to a new dataset set.
			it.DatasetIDs = crashDatasets(i)
			c.Lookup(it)
			it.ID = testItem(i).ID
		}
		return it
	}
	for i := range crashSynced {
		if c.Record(res(item(i), pipeline.EventDone)) != nil {
			os.Exit(4)
		}
	}
	if c.Sync() != nil {
		os.Exit(5)
	}
	for i := crashSynced; i < crashSynced+crashExtra; i++ {
		if c.Record(res(item(i), pipeline.EventDone)) != nil {
			os.Exit(6)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func runCrashChild(t *testing.T, dir, mode string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashModeEnv+"="+mode)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v, want it killed", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
}

func TestCrashKeepsSyncedRecords(t *testing.T) {
	cases := []struct {
		name, mode string
		torn       bool // the kill leaves a partial record in the file
	}{
		// The records after the sync are in the process's buffer only.
		{"unsynced records in the buffer", "synced", false},
		// The records after the sync partly reached the OS: the file ends in
		// the middle of a record.
		{"unsynced records partly written", "torn", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			runCrashChild(t, dir, tc.mode)

			// What reached the file: complete frames, and maybe a torn one.
			path := logPath(t, dir)
			ends := frameEnds(t, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			complete := len(ends) - 1
			if torn := fi.Size() > ends[len(ends)-1]; torn != tc.torn {
				t.Fatalf("file torn = %v, want %v: the test setup no longer produces its case", torn, tc.torn)
			}

			// The lock died with the child: Open succeeds.
			c := mustOpen(t, dir, Options{})
			r := c.LoadReport()
			if complete < crashSynced || r.Entries != complete {
				t.Errorf("loaded %d entries from %d complete records; want all of them and at least the %d synced",
					r.Entries, complete, crashSynced)
			}
			if tc.torn != (len(r.Corruptions) == 1) {
				t.Errorf("Corruptions = %v, torn = %v", r.Corruptions, tc.torn)
			}
			for i := range crashSynced {
				if got := c.Lookup(probe(testItem(i))); got != pipeline.StateDone {
					t.Fatalf("synced item %d: Lookup = %v", i, got)
				}
			}
			// The rerun re-sends what was lost and records it again.
			for i := r.Entries; i < crashSynced+crashExtra; i++ {
				if got := c.Lookup(probe(testItem(i))); got != pipeline.StateNew {
					t.Fatalf("lost item %d: Lookup = %v, want new", i, got)
				}
				mustRecord(t, c, res(testItem(i), pipeline.EventDone))
			}
			mustClose(t, c)
			c = mustOpen(t, dir, Options{})
			defer mustClose(t, c)
			if r := c.LoadReport(); len(r.Corruptions) != 0 || r.Entries != crashSynced+crashExtra {
				t.Errorf("after the rerun: %+v", r)
			}
		})
	}
}

func crashDatasets(i int) []string { return []string{"ds-" + strconv.Itoa(i), "all"} }

// TestCrashKeepsDatasetSets: a child records items that each refer to a new
// dataset set and is killed with records torn; every record that survived
// finds its set in the dictionary (written and fsynced before the record).
func TestCrashKeepsDatasetSets(t *testing.T) {
	dir := t.TempDir()
	runCrashChild(t, dir, "datasets")
	c := mustOpen(t, dir, Options{})
	defer mustClose(t, c)
	found := 0
	for i := range crashSynced + crashExtra {
		it := probe(testItem(i))
		it.DatasetIDs = []string{"other"}
		switch rs := c.Lookup(it); rs {
		case pipeline.StateUpdate:
			found++
			want := crashDatasets(i)
			slices.Sort(want)
			if !slices.Equal(it.Sync.PriorDatasets, want) {
				t.Errorf("item %d: prior datasets %q, want %q", i, it.Sync.PriorDatasets, want)
			}
		case pipeline.StateNew:
		default:
			t.Errorf("item %d: %v", i, rs)
		}
	}
	if found < crashSynced {
		t.Errorf("%d records survived, want at least the %d synced", found, crashSynced)
	}
}
