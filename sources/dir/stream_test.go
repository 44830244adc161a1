package dir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// bigTree makes folders × perFolder empty files.
func bigTree(tb testing.TB, folders, perFolder int) string {
	tb.Helper()
	root := tb.TempDir()
	for d := range folders {
		p := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(p, 0o755); err != nil {
			tb.Fatal(err)
		}
		for f := range perFolder {
			if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("%04d.jpg", f)), nil, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return root
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStreamingMemory walks 20000 files and checks that the heap, with the
// walk paused mid-tree, does not grow with the number of files walked: the
// source keeps nothing per file.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 20000 files")
	}
	const folders, perFolder = 100, 200
	root := bigTree(t, folders, perFolder)
	src, err := dir.New(dir.Config{Path: root, LabelsFromFolders: true, SplitFromPath: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *pipeline.Item)
	var wg sync.WaitGroup
	var streamErr error
	wg.Go(func() { streamErr = src.Stream(ctx, out) })

	n := 0
	next := func(upto int) {
		for ; n < upto; n++ {
			it := <-out
			if it.Err != nil {
				t.Fatal(it.Err)
			}
		}
	}
	// While we measure, the walk is blocked sending the next item.
	next(2000)
	early := heap()
	next(folders*perFolder - 1000)
	late := heap()
	next(folders * perFolder)
	wg.Wait()
	if streamErr != nil {
		t.Fatal(streamErr)
	}
	growth := int64(late) - int64(early)
	t.Logf("heap after 2000 items %d B, after %d items %d B (growth %d B)", early, n-1000, late, growth)
	// 16000 files between the two points: 32 bytes kept per file would
	// be 512 kB.
	if growth > 256<<10 {
		t.Errorf("heap grew by %d bytes over 16000 files; the walk keeps something per file", growth)
	}
}

func BenchmarkWalk(b *testing.B) {
	root := bigTree(b, 20, 100)
	for _, bc := range []struct {
		name string
		cfg  dir.Config
	}{
		{"plain", dir.Config{Path: root}},
		{"labels+split+include", dir.Config{Path: root, LabelsFromFolders: true, SplitFromPath: true, Include: []string{"**/*.jpg"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src, err := dir.New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				out := make(chan *pipeline.Item)
				done := make(chan error, 1)
				go func() {
					done <- src.Stream(context.Background(), out)
					close(out)
				}()
				n := 0
				for range out {
					n++
				}
				if err := <-done; err != nil || n != 2000 {
					b.Fatalf("%d items, %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/file")
		})
	}
}
