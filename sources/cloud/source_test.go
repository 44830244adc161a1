package cloud_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/cloud"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeIngestion records its runs and returns err.
type fakeIngestion struct {
	runs int
	err  error
}

func (f *fakeIngestion) Name() string { return "cloud s3://b/p/" }

func (f *fakeIngestion) Run(ctx context.Context) error {
	f.runs++
	return f.err
}

// TestSourceInPipeline mixes a local source and a cloud source in one run:
// the local items are uploaded, the ingestion runs once and adds nothing to
// the counts.
func TestSourceInPipeline(t *testing.T) {
	ing := &fakeIngestion{}
	src := cloud.NewSource(ing)
	if src.Name() != "cloud s3://b/p/" || src.Ingestion() != cloud.Ingestion(ing) {
		t.Fatalf("name %q, ingestion %v", src.Name(), src.Ingestion())
	}
	local := &pipelinetest.SliceSource{Items: []*pipeline.Item{
		{ID: "l1", Kind: pipeline.KindText, Text: "one", Prov: pipeline.Provenance{Source: "slice", Line: 1}},
		{ID: "l2", Kind: pipeline.KindText, Text: "two", Prov: pipeline.Provenance{Source: "slice", Line: 2}},
	}}
	sink := &pipelinetest.RecordingSink{}
	stats, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{local, src}, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Read != 2 || stats.Done != 2 || ing.runs != 1 {
		t.Fatalf("stats %+v, %d runs", stats, ing.runs)
	}
}

// TestSourceError: an ingestion that failed ends the run with its error.
func TestSourceError(t *testing.T) {
	boom := errors.New("job cloud-x-1 failed")
	ing := &fakeIngestion{err: boom}
	_, err := pipeline.Run(context.Background(), pipeline.Job{Sources: []pipeline.Source{cloud.NewSource(ing)}, Sink: &pipelinetest.RecordingSink{}})
	if !errors.Is(err, boom) {
		t.Fatalf("Run: %v, want %v", err, boom)
	}
}
