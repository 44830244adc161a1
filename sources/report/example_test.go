package report_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/report"
)

// A run writes its failures with a Writer (as Job.OnResult); a later run
// retries them with a Source over the same file.
func ExampleNewSource() {
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "failures.jsonl")

	w, err := report.NewWriter(path)
	if err != nil {
		panic(err)
	}
	job := pipeline.Job{
		Sources: []pipeline.Source{&pipelinetest.SliceSource{Items: []*pipeline.Item{
			{Kind: pipeline.KindImage, URL: "https://example.com/cat.jpg", Prov: pipeline.Provenance{Source: "urls.txt", Line: 1}},
			(&pipeline.Item{Prov: pipeline.Provenance{Source: "urls.txt", Line: 2}}).Fail("source", fmt.Errorf("not a URL")),
		}}},
		Sink: &pipelinetest.RecordingSink{Decide: func(it *pipeline.Item) pipeline.Result {
			return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "upload", Code: 30002, Err: fmt.Errorf("download failed")}
		}},
		OnResult: w.Write,
	}
	if _, err := pipeline.Run(context.Background(), job); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	items, err := pipelinetest.Collect(context.Background(), report.NewSource(path, report.SourceOptions{}))
	if err != nil {
		panic(err)
	}
	for _, it := range items {
		if it.Err != nil {
			fmt.Println("not retryable:", it.Prov.Line)
		} else {
			fmt.Println("retry:", it.URL)
		}
	}
	// Unordered output:
	// retry: https://example.com/cat.jpg
	// not retryable: 2
}
