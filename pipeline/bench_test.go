package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
)

// nopCheckpoint answers StateNew and records nothing: the runner's own
// per-item cost, without a checkpoint's. Record reads the item's key, as
// any checkpoint does, so that the item is in the result loop's cache as in
// a real run.
type nopCheckpoint struct{}

var keyBytes int

func (nopCheckpoint) Lookup(*pipeline.Item) pipeline.ResumeState { return pipeline.StateNew }
func (nopCheckpoint) Record(r pipeline.Result) error {
	keyBytes += len(r.Item.Key) + len(r.Item.ID)
	return nil
}

// nopSourceCheckpoint is a nopCheckpoint that remembers no source but lets
// the runner follow every source's items (pipeline.SourceCheckpoint).
type nopSourceCheckpoint struct{ nopCheckpoint }

func (nopSourceCheckpoint) SourceDone(string) (pipeline.SourceCounts, bool) {
	return pipeline.SourceCounts{}, false
}
func (nopSourceCheckpoint) RecordSourceDone(string, pipeline.SourceCounts) error { return nil }

// BenchmarkRun measures the runner's cost per item: items from a slice
// source through the filter, one no-op transform, a sink that finishes
// every item, and the result loop. "sources" adds what whole-source resume
// costs per item: the tag and the tally of a fingerprinted source.
func BenchmarkRun(b *testing.B) {
	const n = 1 << 14
	in := make([]*pipeline.Item, n)
	for i := range in {
		in[i] = &pipeline.Item{ID: fmt.Sprintf("id-%d", i), Kind: pipeline.KindText, Text: "t"}
	}
	nop := pipeline.Func("nop", func(context.Context, *pipeline.Item) error { return nil })
	for _, bc := range benchCases(in) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st, err := pipeline.Run(context.Background(), pipeline.Job{
					Sources:    []pipeline.Source{bc.src},
					Transforms: []pipeline.Transform{nop},
					Sink:       &pipelinetest.RecordingSink{},
					Checkpoint: bc.cp,
					Workers:    2,
				})
				if err != nil || st.Done != n {
					b.Fatalf("%+v, %v", st, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
		})
	}
}

type benchCase struct {
	name string
	src  pipeline.Source
	cp   pipeline.Checkpoint
}

func benchCases(in []*pipeline.Item) []benchCase {
	return []benchCase{
		{"plain", &pipelinetest.SliceSource{Items: in}, nopCheckpoint{}},
		{"sources", &pipelinetest.FingerprintSource{SliceSource: pipelinetest.SliceSource{Items: in}, FP: "fp"}, nopSourceCheckpoint{}},
	}
}
