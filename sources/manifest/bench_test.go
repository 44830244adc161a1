package manifest_test

import (
	"context"
	"io"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// BenchmarkManifestRows measures the cost of one rich-schema row (URL,
// labels, single-quoted metadata) from bytes to an item received from the
// channel.
func BenchmarkManifestRows(b *testing.B) {
	gen := &genReader{header: richHeader, row: richRow, n: b.N}
	src, err := manifest.New(manifest.Config{Path: "bench.csv", Open: func() (io.ReadCloser, error) { return gen, nil }})
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan *pipeline.Item)
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(out)
		errc <- src.Stream(context.Background(), out)
	}()
	// Drain everything before failing, so no goroutine is left blocked.
	n := 0
	var rowErr error
	for it := range out {
		if it.Err != nil && rowErr == nil {
			rowErr = it.Err
		}
		n++
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if rowErr != nil {
		b.Fatal(rowErr)
	}
	if n != b.N {
		b.Fatalf("got %d items, want %d", n, b.N)
	}
}
