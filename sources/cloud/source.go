package cloud

import (
	"context"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Ingestion is a server-side ingestion: Run starts or finds its server job
// and blocks until the job has ended, returning nil when it completed, an
// error when it failed or was cancelled, and ctx.Err() (wrapped) promptly
// when ctx is done. Name names it in logs and reports, without secrets.
type Ingestion interface {
	Name() string
	Run(ctx context.Context) error
}

// Source is the pipeline.Source of a server-side ingestion.
type Source struct {
	ing Ingestion
}

var _ pipeline.Source = (*Source)(nil)

// NewSource returns the source that runs ing.
func NewSource(ing Ingestion) *Source { return &Source{ing: ing} }

// Name returns the ingestion's name.
func (s *Source) Name() string { return s.ing.Name() }

// Ingestion returns the ingestion s runs, for a caller that reports on it.
func (s *Source) Ingestion() Ingestion { return s.ing }

// Stream runs the ingestion to its end and returns its error; it sends
// nothing on out, since the server creates the inputs.
func (s *Source) Stream(ctx context.Context, _ chan<- *pipeline.Item) error {
	return s.ing.Run(ctx)
}
