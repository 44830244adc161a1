package cloudjob

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// API is the part of *client.Client this package calls. Every call of a
// client.Client goes through its shared rate budget and retries; tests
// substitute fakes.
type API interface {
	PostInputsDataSources(ctx context.Context, req *pb.PostInputsDataSourcesRequest, opts ...client.CallOption) (*pb.MultiInputsAddJobResponse, error)
	GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest, opts ...client.CallOption) (*pb.SingleInputsAddJobResponse, error)
	CancelInputsAddJob(ctx context.Context, req *pb.CancelInputsAddJobRequest, opts ...client.CallOption) (*pb.SingleInputsAddJobResponse, error)
	GetInputsExtractionJob(ctx context.Context, req *pb.GetInputsExtractionJobRequest, opts ...client.CallOption) (*pb.SingleInputsExtractionJobResponse, error)
	ListInputsExtractionJobs(ctx context.Context, req *pb.ListInputsExtractionJobsRequest, opts ...client.CallOption) (*pb.MultiInputsExtractionJobResponse, error)
	CancelInputsExtractionJobs(ctx context.Context, req *pb.CancelInputsExtractionJobsRequest, opts ...client.CallOption) (*pb.MultiInputsExtractionJobResponse, error)
}

var _ API = (*client.Client)(nil)

// ErrNotFound is wrapped by Status, Wait and Cancel when an ID names neither
// an inputs-add job nor an inputs-extraction job of the app.
var ErrNotFound = errors.New("no such cloud ingestion job")

// Start asks the server to ingest spec's URLs (PostInputsDataSources) and
// returns the new job as the server answered: usually every extraction job
// queued. It validates spec first. It blocks for one call (with the
// client's retries); the ingestion itself goes on on the server.
func Start(ctx context.Context, api API, spec Spec) (Job, error) {
	req, err := spec.Request() // a new random job ID when spec has none
	if err != nil {
		return Job{}, err
	}
	resp, err := api.PostInputsDataSources(ctx, req)
	if err != nil {
		return Job{}, fmt.Errorf("start cloud ingestion: %w", err)
	}
	jobs := resp.GetInputsAddJobs()
	if len(jobs) == 0 {
		return Job{}, errors.New("start cloud ingestion: the server answered without a job")
	}
	// Every data source names the same job ID, so the server answers one job.
	// Should it answer several, their extraction jobs are merged so that
	// none goes unreported.
	job := jobOf(jobs[0])
	for _, j := range jobs[1:] {
		job.Extractions = append(job.Extractions, jobOf(j).Extractions...)
	}
	return job, nil
}

// Status returns a snapshot of the job id: an inputs-add job ID (as Start
// returns) or an inputs-extraction job ID (as List returns). An unknown ID
// gives an error wrapping ErrNotFound.
func Status(ctx context.Context, api API, id string) (Job, error) {
	if id == "" {
		return Job{}, fmt.Errorf("%w: empty job ID", ErrNotFound)
	}
	resp, err := api.GetInputsAddJob(ctx, &pb.GetInputsAddJobRequest{Id: id})
	if err == nil {
		return jobOf(resp.GetInputsAddJob()), nil
	}
	if !isNotFound(err) {
		return Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return extractionStatus(ctx, api, id)
}

// extractionStatus returns the job made of one extraction job.
func extractionStatus(ctx context.Context, api API, id string) (Job, error) {
	resp, err := api.GetInputsExtractionJob(ctx, &pb.GetInputsExtractionJobRequest{InputsExtractionJobId: id})
	if err != nil {
		if isNotFound(err) {
			return Job{}, fmt.Errorf("%w: %q is neither an inputs-add job nor an inputs-extraction job of the app", ErrNotFound, id)
		}
		return Job{}, fmt.Errorf("get extraction job %s: %w", id, err)
	}
	e := extractionOf(resp.GetInputsExtractionJob())
	return Job{ID: id, ExtractionOnly: true, Status: e.Status, Extractions: []Extraction{e}, Created: e.Created, Modified: e.Modified}, nil
}

// isNotFound reports whether err is the server's "does not exist" answer.
func isNotFound(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Code == statuspb.StatusCode_CONN_DOES_NOT_EXIST
}

// Defaults of WaitOptions.
const (
	DefaultMinInterval = time.Second
	DefaultMaxInterval = 15 * time.Second
)

// WaitOptions tune Wait.
type WaitOptions struct {
	// MinInterval is the first wait between polls, and the wait after a
	// poll that saw progress. Default 1s.
	MinInterval time.Duration
	// MaxInterval caps the wait, which grows by half after each poll that
	// saw no progress. Default 15s. Every poll also waits for the client's
	// shared rate budget, so polling never starves uploads.
	MaxInterval time.Duration
	// OnProgress, if set, is called with every snapshot, the first and
	// the final one included, from the goroutine that called Wait.
	OnProgress func(Job)
}

func (o WaitOptions) withDefaults() WaitOptions {
	if o.MinInterval <= 0 {
		o.MinInterval = DefaultMinInterval
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultMaxInterval
	}
	o.MaxInterval = max(o.MaxInterval, o.MinInterval)
	return o
}

// Wait polls the job id until it reaches a final state (Job.Done) and
// returns that snapshot; the caller reads Job.State and Job.HasFailures for
// the outcome. It blocks; it returns ctx.Err() (wrapped) promptly when ctx
// is done, and the first error of Status otherwise (the client has already
// retried transient ones). It never cancels the job.
func Wait(ctx context.Context, api API, id string, opts WaitOptions) (Job, error) {
	opts = opts.withDefaults()
	byExtraction := false
	interval := opts.MinInterval
	var last changeKey
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			t.Reset(interval)
			select {
			case <-ctx.Done():
				return Job{}, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
			case <-t.C:
			}
		}
		var job Job
		var err error
		if byExtraction {
			job, err = extractionStatus(ctx, api, id)
		} else {
			job, err = Status(ctx, api, id)
			byExtraction = job.ExtractionOnly
		}
		if err != nil {
			if ctx.Err() != nil {
				return Job{}, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
			}
			return Job{}, err
		}
		if opts.OnProgress != nil {
			opts.OnProgress(job)
		}
		if job.Done() {
			return job, nil
		}
		if k := job.changeKey(); first || k != last {
			last, interval = k, opts.MinInterval
		} else {
			interval = min(opts.MaxInterval, interval+interval/2)
		}
	}
}

// MaxPerPage is the largest page List accepts (the API's maximum).
const MaxPerPage = 1000

// List returns one page of the app's extraction jobs (ListInputsExtractionJobs),
// in the server's order. page starts at 1; perPage is 1..MaxPerPage. A page
// shorter than perPage is the last.
func List(ctx context.Context, api API, page, perPage int) ([]Extraction, error) {
	if page < 1 || perPage < 1 || perPage > MaxPerPage {
		return nil, fmt.Errorf("list: page %d, per page %d: want page >= 1 and 1 <= per page <= %d", page, perPage, MaxPerPage)
	}
	resp, err := api.ListInputsExtractionJobs(ctx, &pb.ListInputsExtractionJobsRequest{Page: uint32(page), PerPage: uint32(perPage)})
	if err != nil {
		return nil, fmt.Errorf("list extraction jobs: %w", err)
	}
	out := make([]Extraction, 0, len(resp.GetInputsExtractionJobs()))
	for _, e := range resp.GetInputsExtractionJobs() {
		out = append(out, extractionOf(e))
	}
	return out, nil
}

// Cancel stops the jobs ids: an inputs-add job ID cancels its extraction
// jobs still running (CancelInputsExtractionJobs) and the job itself
// (CancelInputsAddJob); an extraction job ID cancels that one. Inputs
// already created stay. It goes on past a failure and returns the jobs it
// cancelled, as they are afterwards, with the errors joined. Cancelling a
// job that has ended changes nothing.
func Cancel(ctx context.Context, api API, ids ...string) ([]Job, error) {
	var out []Job
	var errs []error
	for _, id := range ids {
		job, err := cancelOne(ctx, api, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, job)
	}
	return out, errors.Join(errs...)
}

func cancelOne(ctx context.Context, api API, id string) (Job, error) {
	job, err := Status(ctx, api, id)
	if err != nil {
		return Job{}, err
	}
	var running []string
	for _, e := range job.Extractions {
		if !e.State.Final() {
			running = append(running, e.ID)
		}
	}
	if len(running) > 0 {
		if _, err := api.CancelInputsExtractionJobs(ctx, &pb.CancelInputsExtractionJobsRequest{Ids: running}); err != nil {
			return Job{}, fmt.Errorf("cancel extraction jobs of %s: %w", id, err)
		}
	}
	if !job.ExtractionOnly && !job.Done() {
		if _, err := api.CancelInputsAddJob(ctx, &pb.CancelInputsAddJobRequest{Id: id}); err != nil {
			return Job{}, fmt.Errorf("cancel job %s: %w", id, err)
		}
	}
	return Status(ctx, api, id)
}
