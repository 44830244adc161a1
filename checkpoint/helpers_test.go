package checkpoint

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir, os.Getenv(crashModeEnv)) // never returns
	}
	goleak.VerifyTestMain(m)
}

// quiet are options for tests: no timer-driven syncs and no automatic
// compaction, so what reaches the disk depends only on the test's calls.
func quiet(o Options) Options {
	if o.SyncInterval == 0 {
		o.SyncInterval = time.Hour
	}
	if o.SyncBytes == 0 {
		o.SyncBytes = 1 << 30
	}
	if o.CompactMinBytes == 0 {
		o.CompactMinBytes = -1
	}
	return o
}

func mustOpen(t testing.TB, dir string, o Options) *Checkpoint {
	t.Helper()
	c, err := Open(dir, quiet(o))
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return c
}

func mustClose(t testing.TB, c *Checkpoint) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// testItem returns the i-th test item: a file key and a derived-looking ID.
func testItem(i int) *pipeline.Item {
	return &pipeline.Item{
		ID:   fmt.Sprintf("%032x", i*7919+1),
		Kind: pipeline.KindImage,
		Key:  fmt.Sprintf("file:/data/set/img-%09d.jpg|%d|1700000000000000000", i, 1000+i),
		Prov: pipeline.Provenance{Source: "data/set", Path: fmt.Sprintf("data/set/img-%09d.jpg", i)},
	}
}

// probe returns a copy of it as a rerun's source would produce it: same
// Key, no ID yet.
func probe(it *pipeline.Item) *pipeline.Item {
	return &pipeline.Item{Kind: it.Kind, Key: it.Key, DatasetIDs: it.DatasetIDs, Prov: it.Prov}
}

func res(it *pipeline.Item, ev pipeline.Event) pipeline.Result {
	return pipeline.Result{Item: it, Event: ev, Stage: "upload", Attempts: 1}
}

func mustRecord(t testing.TB, c *Checkpoint, r pipeline.Result) {
	t.Helper()
	if err := c.Record(r); err != nil {
		t.Fatalf("Record(%v): %v", r.Event, err)
	}
}

// logPath returns the only log in dir.
func logPath(t testing.TB, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logPrefix+"*"+logSuffix))
	if err != nil || len(m) != 1 {
		t.Fatalf("want one log in %s, got %v (%v)", dir, m, err)
	}
	return m[0]
}

// frameEnds returns the offsets at which each frame of a file ends (the
// first is the end of the header record).
func frameEnds(t testing.TB, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(int64(len(fileMagic)), 0); err != nil {
		t.Fatal(err)
	}
	fr := &frameReader{r: bufio.NewReader(f), off: int64(len(fileMagic))}
	var ends []int64
	for {
		if _, err := fr.next(); err != nil {
			break
		}
		ends = append(ends, fr.off)
	}
	return ends
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
