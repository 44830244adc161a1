package clarifai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// InputPoster is the upload part of the sink's seam to the network: it takes
// a built request. PostInputs must honour the contract of Client.PostInputs:
// retry what is retryable, return (resp, nil) for SUCCESS and MIXED_STATUS,
// an *APIError otherwise, and report the requests sent through Attempts
// when given.
type InputPoster interface {
	PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error)
}

// AnnotationPoster posts region annotations, with the contract of
// Client.PostAnnotations.
type AnnotationPoster interface {
	PostAnnotations(ctx context.Context, req *pb.PostAnnotationsRequest, opts ...client.CallOption) (*pb.MultiAnnotationResponse, error)
}

// InputChecker reads and deletes inputs for processing verification, with
// the contracts of the Client methods of the same names.
type InputChecker interface {
	GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest, opts ...client.CallOption) (*pb.SingleInputsAddJobResponse, error)
	ListInputs(ctx context.Context, req *pb.ListInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error)
	DeleteInputs(ctx context.Context, req *pb.DeleteInputsRequest, opts ...client.CallOption) (*st.BaseResponse, error)
}

// API is everything the Sink calls. *Client implements it; tests use fakes.
// All calls of a run should share one rate budget, as a Client's do.
type API interface {
	InputPoster
	AnnotationPoster
	InputChecker
}

var _ API = (*client.Client)(nil)

// SinkConfig configures a Sink. The zero value of every field means its
// default; for the booleans that is false.
type SinkConfig struct {
	// Concurrency is the number of PostInputs calls in flight. Default 4.
	// At most Concurrency batches have their content loaded at any time.
	Concurrency int
	// Batch is the batch policy (default: 128 items, 64 MiB, 1s).
	Batch sinks.BatchPolicy
	// ConflictResolution is sent with every request. Default NOT_SET, which
	// the server treats as SKIP: an existing ID is a per-input error, which
	// the sink resolves (see Sink). SUFFIX makes the server rename the new
	// input instead; then a request retried after a timeout can create a
	// second copy, so use it only when that is acceptable.
	ConflictResolution pb.InputIDConflictResolution
	// MaxResends bounds how many times an input is sent again after a
	// retryable per-input failure in a MIXED_STATUS response (or a
	// response missing its status), how many times an annotation is sent
	// again after a retryable failure, and how many times verification
	// re-sends an input the server does not have. Default 4; negative
	// means never.
	MaxResends int
	// ResendBackoff is the first wait before such a re-send; it doubles up
	// to 30s, with jitter for inputs. Annotation re-sends have no jitter,
	// so that the annotations of one failed request go again together.
	// Default 1s.
	ResendBackoff time.Duration

	// MaxAnnotations is the most annotations (one per region) in one
	// PostAnnotations request; annotations of several items share a
	// request. Default and maximum 128.
	MaxAnnotations int
	// AnnotationWait is how long a partial PostAnnotations request waits
	// for more annotations before it is sent. Default 200ms. Once the input
	// has ended, requests go out at once.
	AnnotationWait time.Duration
	// AnnotationQueue is the most items the annotation stage holds (queued
	// or in flight); when it is full, upload workers wait (back-pressure).
	// Default 1024.
	AnnotationQueue int
	// AnnotationConcurrency is the number of PostAnnotations calls in
	// flight. Default 2.
	AnnotationConcurrency int

	// Verify makes the sink confirm that every input reached INPUT_SUCCESS
	// before reporting it done; an input whose processing failed is
	// reported failed at stage "verify". The zero value, false, reports an
	// input done once the server accepted it (and its annotations), which
	// is what this sink did before verification existed and what a caller
	// that checks processing itself wants; the ingest CLI turns it on.
	// Verification runs beside the uploads and costs about one
	// GetInputsAddJob call per VerifyGroupBatches batches when all goes
	// well (see Sink). While an input waits for verification, its item's
	// Concepts and Metadata are set aside (labels and flat metadata packed
	// into a few dozen bytes), as nothing reads them unless the item fails
	// or is sent again: the results of a verified item (accepted,
	// annotated, done) carry it without them, and a failure result carries
	// them back.
	Verify bool
	// VerifyGroupBatches is how many consecutive batches share one
	// inputs_add_job_id, so that one GetInputsAddJob call verifies them
	// all. Default 64 (about 8192 inputs).
	VerifyGroupBatches int
	// VerifyGroupWait closes a group that has waited this long for more
	// batches (a slow source), so its inputs are verified meanwhile.
	// Default 10s.
	VerifyGroupWait time.Duration
	// VerifyDelay is the first guess of the processing time: the first poll
	// of a group waits this long after its last request was answered. It
	// adapts to what the polls find. Default 250ms.
	VerifyDelay time.Duration
	// VerifyMaxInterval caps the time between two polls of the same inputs.
	// Default 10s.
	VerifyMaxInterval time.Duration
	// VerifyTimeout is how long after its acceptance an input may stay
	// pending. Past it the item is reported failed ("still processing";
	// the input stays on the server, never deleted; a rerun checks it
	// again) and is not recorded as done. Default 30m.
	VerifyTimeout time.Duration
	// MaxPending bounds the items the sink holds at once, from the moment
	// it takes them from its input until their final result, whether they
	// wait for a batch, an upload, their annotations or their verification.
	// When it is reached the sink stops taking items (back-pressure), which
	// bounds memory; a pending item keeps its *Item (content is loaded only
	// to send it; labels and metadata are set aside while it is verified,
	// see Verify) and a few words. Default 100000.
	MaxPending int
	// RetryFailedProcessing makes verification delete an input whose
	// processing failed for what looks like a transient cause (see
	// transientFailure: the words of its status) and send it again with
	// the same ID, up to MaxProcessingRetries times. Default false: such an
	// input is reported failed with the server's words.
	RetryFailedProcessing bool
	// MaxProcessingRetries bounds those deletions and re-sends per input.
	// Default 2 (as the official SDK); negative means none.
	MaxProcessingRetries int

	// Counters receives Batches and input Retries. Default: a private set.
	// Bytes and item counts are counted by the runner from the results.
	Counters *pipeline.Counters
	// Logger receives debug events. Default no-op.
	Logger *zap.Logger
}

// Defaults of SinkConfig.
const (
	DefaultConcurrency           = 4
	DefaultMaxResends            = 4
	DefaultResendBackoff         = time.Second
	DefaultMaxAnnotations        = 128
	MaxAnnotationsPerRequest     = 128
	DefaultAnnotationWait        = 200 * time.Millisecond
	DefaultAnnotationQueue       = 1024
	DefaultAnnotationConcurrency = 2
	DefaultVerifyGroupBatches    = 64
	DefaultVerifyGroupWait       = 10 * time.Second
	DefaultVerifyDelay           = 250 * time.Millisecond
	DefaultVerifyMaxInterval     = 10 * time.Second
	DefaultVerifyTimeout         = 30 * time.Minute
	DefaultMaxPending            = 100_000
	DefaultMaxProcessingRetries  = 2
	maxResendBackoff             = 30 * time.Second
	maxResendElapsed             = 10 * time.Minute
)

func (c SinkConfig) withDefaults() SinkConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Concurrency, DefaultConcurrency)
	c.Batch = c.Batch.WithDefaults()
	if c.MaxResends == 0 {
		c.MaxResends = DefaultMaxResends
	} else if c.MaxResends < 0 {
		c.MaxResends = 0
	}
	defDur(&c.ResendBackoff, DefaultResendBackoff)
	def(&c.MaxAnnotations, DefaultMaxAnnotations)
	defDur(&c.AnnotationWait, DefaultAnnotationWait)
	def(&c.AnnotationQueue, DefaultAnnotationQueue)
	def(&c.AnnotationConcurrency, DefaultAnnotationConcurrency)
	def(&c.VerifyGroupBatches, DefaultVerifyGroupBatches)
	defDur(&c.VerifyGroupWait, DefaultVerifyGroupWait)
	defDur(&c.VerifyDelay, DefaultVerifyDelay)
	defDur(&c.VerifyMaxInterval, DefaultVerifyMaxInterval)
	defDur(&c.VerifyTimeout, DefaultVerifyTimeout)
	def(&c.MaxPending, DefaultMaxPending)
	if c.MaxProcessingRetries == 0 {
		c.MaxProcessingRetries = DefaultMaxProcessingRetries
	} else if c.MaxProcessingRetries < 0 {
		c.MaxProcessingRetries = 0
	}
	if c.Counters == nil {
		c.Counters = pipeline.NewCounters()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate returns an error listing every invalid field of c (after
// defaults).
func (c SinkConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	atLeast1 := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("sink %s %d: want at least 1", name, v))
		}
	}
	notNegative := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("sink %s %v: must not be negative", name, d))
		}
	}
	atLeast1("Concurrency", c.Concurrency)
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, ok := pb.InputIDConflictResolution_name[int32(c.ConflictResolution)]; !ok {
		errs = append(errs, fmt.Errorf("sink ConflictResolution %d: unknown", c.ConflictResolution))
	}
	notNegative("ResendBackoff", c.ResendBackoff)
	if c.MaxAnnotations < 1 || c.MaxAnnotations > MaxAnnotationsPerRequest {
		errs = append(errs, fmt.Errorf("sink MaxAnnotations %d: want 1 to %d", c.MaxAnnotations, MaxAnnotationsPerRequest))
	}
	notNegative("AnnotationWait", c.AnnotationWait)
	atLeast1("AnnotationQueue", c.AnnotationQueue)
	atLeast1("AnnotationConcurrency", c.AnnotationConcurrency)
	atLeast1("VerifyGroupBatches", c.VerifyGroupBatches)
	notNegative("VerifyGroupWait", c.VerifyGroupWait)
	notNegative("VerifyDelay", c.VerifyDelay)
	notNegative("VerifyMaxInterval", c.VerifyMaxInterval)
	notNegative("VerifyTimeout", c.VerifyTimeout)
	atLeast1("MaxPending", c.MaxPending)
	return errors.Join(errs...)
}

// SinkStats counts what the sink did beyond uploading. Request counts
// include the client's retries (they come from Attempts), so they compare
// with pipeline.Counters.Requests, which counts every call of the client.
type SinkStats struct {
	// AnnotationRequests is the number of PostAnnotations requests.
	AnnotationRequests int64
	// Annotations is the number of annotations accepted (including those
	// already there from an earlier attempt or run).
	Annotations int64
	// AnnotatedItems is the number of items whose annotations were all
	// accepted.
	AnnotatedItems int64
	// VerifyRequests is the number of verification requests:
	// GetInputsAddJob, ListInputs and DeleteInputs.
	VerifyRequests int64
	// Verified is the number of inputs confirmed INPUT_SUCCESS.
	Verified int64
	// Resent is the number of inputs verification sent again (missing on
	// the server, or deleted after a transient processing failure).
	Resent int64
}

type sinkStats struct {
	annotationRequests, annotations, annotatedItems atomic.Int64
	verifyRequests, verified, resent                atomic.Int64
}

// Sink is the pipeline.Sink that uploads items with PostInputs, posts
// their region annotations and, with Verify, confirms their processing.
//
// Run batches items (sinks.Batcher: flush when full, after MaxWait, and at
// the end of the input), loads each batch's content only when it is built,
// and keeps up to Concurrency requests in flight. Every request carries the
// inputs_add_job_id of its verification group (VerifyGroupBatches
// consecutive batches; kept for re-sends). Each per-input status is mapped
// back to its item by position and ID:
//
//   - SUCCESS, INPUT_PENDING, INPUT_IN_PROGRESS: EventAccepted, with Bytes
//     and Attempts; then annotations and verification, below.
//   - a retryable status, or no status for the input: only those inputs are
//     sent again, after a backoff, up to MaxResends times.
//   - a duplicate ID ("Input has a duplicate ID." or DATABASE_DUPLICATE_KEY):
//     accepted when the ID was derived from the content (the same content
//     is already there) or this run already sent the input (our own earlier
//     attempt); failed with "already exists on the server" otherwise.
//   - any other failure: EventFailed with the code and the server's words.
//   - a fatal status (credentials, unknown app): Run returns the error.
//
// A whole request that fails after the client's retries fails every item
// in it, unless the failure is fatal. Items that arrive failed are reported
// as they are. Items marked Resumed are never sent again: their annotations
// are posted again (idempotent) and they are verified by ID.
//
// Annotations: an accepted item with regions gets one annotation per region
// (buildAnnotations; deterministic IDs, so a duplicate-ID answer is our own
// copy and counts as success), posted in requests of up to MaxAnnotations
// shared across items. When all of an item's annotations are in, it gets
// EventAnnotated. An annotation the server rejects fails its item at stage
// "annotate"; the input stays on the server. A region that cannot be sent
// (still in pixels, outside [0, 1]) fails its item at stage "annotate"
// before anything is uploaded.
//
// Verification (Verify): EventDone waits until the input reached
// INPUT_SUCCESS; see verifier for the calls. With all inputs succeeding it
// costs one GetInputsAddJob per group (about 1.5% of the calls at the
// defaults); failures cost ListInputs calls of up to 1000 IDs. Uploads never
// wait for it, except when MaxPending items are in the sink. A processing
// failure is EventFailed at stage "verify" with the input's status code and
// the server's words; a pending input is waited for (never deleted) up to
// VerifyTimeout. Without Verify, an item is done once accepted (and
// annotated). With Verify, an accepted item waits with its labels and
// metadata packed (see SinkConfig.Verify): its accepted, annotated and done
// results carry it with Concepts and Metadata nil; a failure result, after
// acceptance as before it, carries the whole item.
//
// Run returns once every item taken from the input has its final result.
// A Sink may run more than once, but not concurrently with itself.
type Sink struct {
	api   API
	cfg   SinkConfig
	stats sinkStats
}

var _ pipeline.Sink = (*Sink)(nil)

// NewSink returns a Sink calling api (normally a *Client).
func NewSink(api API, cfg SinkConfig) (*Sink, error) {
	if api == nil {
		return nil, errors.New("clarifai: NewSink needs an API")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sink{api: api, cfg: cfg.withDefaults()}, nil
}

// Stats returns a snapshot of the sink's counts, cumulative over its runs.
// It is safe to call at any time.
func (s *Sink) Stats() SinkStats {
	return SinkStats{
		AnnotationRequests: s.stats.annotationRequests.Load(),
		Annotations:        s.stats.annotations.Load(),
		AnnotatedItems:     s.stats.annotatedItems.Load(),
		VerifyRequests:     s.stats.verifyRequests.Load(),
		Verified:           s.stats.verified.Load(),
		Resent:             s.stats.resent.Load(),
	}
}

// stage names the upload stage in results.
const stage = "upload"

// dispatch is a batch on its way to an upload worker.
type dispatch struct {
	items []*pipeline.Item
	g     *group
}

// Run implements pipeline.Sink. It blocks until in is closed and every item
// has its final result (annotations posted and, with Verify, processing
// confirmed), a fatal error occurs, or ctx is done; every goroutine it
// starts has returned when it returns.
func (s *Sink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	r := newRun(s, results)
	g, ctx := errgroup.WithContext(ctx)
	// Unbuffered: a closed batch waits in the batcher goroutine until a
	// worker is free, so at most Concurrency batches are built (loaded) at
	// once and reading stops while all workers are busy.
	batches := make(chan dispatch)
	g.Go(func() error {
		defer close(batches)
		return r.batch(ctx, in, batches)
	})
	for range s.cfg.Concurrency {
		g.Go(func() error {
			for d := range batches {
				if err := r.deliver(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error { return newAnnotator(r).run(ctx) })
	if r.ver != nil {
		g.Go(func() error { return r.ver.run(ctx) })
	}
	return g.Wait()
}

// batch is the batching stage: it takes items while the sink has room
// (MaxPending), reports items that cannot be sent, groups the others into
// batches and the batches into verification groups, and takes back inputs
// verification wants sent again. It returns once the input is closed and
// every item has its final result.
func (r *run) batch(ctx context.Context, in <-chan *pipeline.Item, out chan<- dispatch) error {
	b := sinks.NewBatcher(r.cfg.Batch, nil)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var open *group // the group the next batch joins; nil until a batch opens one
	sealOpen := func() {
		if open != nil {
			r.seal(open)
			open = nil
		}
	}
	// flush dispatches the closed batches, and the open one too when it is
	// due or all is set (the input has ended).
	flush := func(all bool) error {
		for b.Full() || (b.Len() > 0 && (all || b.UntilNext() == 0)) {
			if open == nil {
				open = newGroup()
			}
			g := open
			if g.dispatched() >= r.cfg.VerifyGroupBatches {
				sealOpen()
			}
			if err := pipeline.Send(ctx, out, dispatch{items: b.Flush(), g: g}); err != nil {
				return err
			}
		}
		return nil
	}
	holding := false // a slot is held for the next item
	for {
		ended := in == nil
		if err := flush(ended); err != nil {
			return err
		}
		if ended {
			sealOpen()
		}
		var inCh <-chan *pipeline.Item
		var slotCh chan<- struct{}
		if !ended {
			if !holding {
				select {
				case r.slots <- struct{}{}:
					holding = true
				default:
					// The sink is full: close the open group now, so that
					// its inputs get verified and free their slots, rather
					// than after VerifyGroupWait.
					sealOpen()
				}
			}
			if holding {
				inCh = in
			} else {
				slotCh = r.slots
			}
		}
		wait := b.UntilNext()
		if open != nil {
			if gw := max(time.Until(open.opened.Add(r.cfg.VerifyGroupWait)), 0); wait < 0 || gw < wait {
				wait = gw
			}
		}
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		} else {
			timer.Stop()
		}
		select {
		case slotCh <- struct{}{}:
			holding = true
		case it, ok := <-inCh:
			holding = false
			if !ok {
				<-r.slots // the slot held for an item that never came
				in = nil
				r.closeInput()
				continue
			}
			r.took()
			send, err := r.admit(ctx, it)
			if err != nil {
				return err
			}
			if send {
				b.Add(it)
			}
		case <-due:
			if open != nil && !time.Now().Before(open.opened.Add(r.cfg.VerifyGroupWait)) {
				sealOpen()
			}
		case <-r.resendWake:
			for _, t := range r.takeResends() {
				b.Add(t.it) // passed CheckLimits (precheck) before it was queued
			}
		case <-r.finished:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// admit reports whether it should be batched; if not, it has been handled:
// reported (failed, skipped), or, for a resumed item, handed to the
// annotation and verification stages without being sent again.
func (r *run) admit(ctx context.Context, it *pipeline.Item) (bool, error) {
	switch {
	case it.Err != nil:
		ev := pipeline.EventFailed
		if errors.Is(it.Err, pipeline.ErrSkip) {
			ev = pipeline.EventSkipped
		}
		return false, r.finish(ctx, pipeline.Result{Item: it, Event: ev, Stage: it.Stage, Err: it.Err})
	case it.Resumed && it.ID != "":
		// Delivered by an earlier run: never send it again (its ID is the
		// one the server has). Without an ID it is sent like a new item;
		// a duplicate answer for its derived ID is then our own copy.
		if err := checkRegions(it); err != nil {
			return false, r.failItem(ctx, it, annotateStage, 0, 0, 0, err)
		}
		t := &track{it: it}
		if r.ver != nil {
			t.pack(nil)
		}
		return false, r.accepted(ctx, nil, []acceptance{{t: t}})
	}
	if err := precheck(it); err != nil {
		return false, r.failItem(ctx, it, stage, 0, 0, 0, err)
	}
	// Regions are checked before the upload: an item whose annotations
	// could never be sent is not uploaded half.
	if err := checkRegions(it); err != nil {
		return false, r.failItem(ctx, it, annotateStage, 0, 0, 0, err)
	}
	return true, nil
}

// deliver builds one batch and posts it, re-sending inputs that failed
// retryably, until every item has its result or has been handed on. It
// returns an error only for a fatal failure or when ctx is done.
func (r *run) deliver(ctx context.Context, d dispatch) error {
	// The group may be verified only once every batch in it is answered
	// and its accepted inputs are registered (in sortOut, below).
	defer r.batchDone(d.g)
	bd := &builder{wire: r.wire}
	defer bd.release() // after the last request of the batch
	pending := make([]*entry, 0, len(d.items))
	for _, it := range d.items {
		t := r.resentTrack(it)
		e, err := bd.build(ctx, it)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := r.failEntry(ctx, &entry{it: it, t: t}, 0, err); err != nil {
				return err
			}
			continue
		}
		if t != nil {
			e.t, e.attempts = t, t.attempts
		}
		pending = append(pending, e)
	}
	if len(pending) == 0 {
		return nil
	}
	jobID := d.g.id
	var bo *backoff.ExponentialBackOff
	for resends := 0; ; resends++ {
		req := &pb.PostInputsRequest{
			Inputs:                    make([]*pb.Input, len(pending)),
			InputsAddJobId:            jobID,
			InputIdConflictResolution: r.cfg.ConflictResolution,
		}
		for i, e := range pending {
			req.Inputs[i] = e.in
		}
		var n int
		resp, err := r.s.api.PostInputs(ctx, req, client.Attempts(&n), client.InputStatuses())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range pending {
			e.attempts += max(n, 1)
		}
		retry, err := r.sortOut(ctx, d.g, pending, resp, err)
		if err != nil || len(retry) == 0 {
			return err
		}
		if bo == nil {
			bo = client.NewBackoff(r.cfg.ResendBackoff, maxResendBackoff, maxResendElapsed) // MaxResends bounds it first
		}
		delay := bo.NextBackOff()
		if resends >= r.cfg.MaxResends || delay == backoff.Stop {
			for _, e := range retry {
				err := pipeline.Errorf(e.it.Prov, "", "input %s still failing after %d requests: %s", e.in.Id, e.attempts, e.lastWhy)
				if err := r.failEntry(ctx, e, e.lastCode, err); err != nil {
					return err
				}
			}
			return nil
		}
		r.cfg.Counters.Retries.Add(int64(len(retry)))
		r.cfg.Logger.Debug("re-sending inputs", zap.Int("inputs", len(retry)), zap.String("job", jobID),
			zap.Duration("delay", delay), zap.String("reason", retry[0].lastWhy))
		if err := client.Sleep(ctx, delay); err != nil {
			return err
		}
		pending = retry
	}
}

// failEntry reports an input failed by the upload stage.
func (r *run) failEntry(ctx context.Context, e *entry, code int32, err error) error {
	if e.t != nil { // re-sent by verification: known to no other goroutine now
		e.t.attempts, e.t.bytes = max(e.attempts, e.t.attempts), e.bytes
		return r.fail(ctx, e.t, stage, code, err)
	}
	return r.failItem(ctx, e.it, stage, code, e.attempts, e.bytes, err)
}

// sortOut decides each sent input's outcome from one PostInputs answer. It
// reports accepted and failed items, and returns the inputs to send again.
// The error is non-nil for a fatal failure or when ctx is done.
func (r *run) sortOut(ctx context.Context, grp *group, sent []*entry, resp *pb.MultiInputResponse, callErr error) (retry []*entry, err error) {
	apiErr, stop := callFailure("upload", callErr)
	if stop != nil {
		return nil, stop
	}
	if callErr == nil {
		r.cfg.Counters.Batches.Add(1)
	}
	got := match(sent, resp.GetInputs(), r.cfg.ConflictResolution == pb.InputIDConflictResolution_SUFFIX)
	var accepted []*entry
	for i, e := range sent {
		g := got[i]
		status := g.GetStatus()
		code := status.GetCode()
		switch {
		case g == nil || (code == st.StatusCode_ZERO && apiErr != nil):
			if apiErr != nil { // the whole request failed
				err = r.failEntry(ctx, e, int32(apiErr.Code), pipeline.Errorf(e.it.Prov, "", "upload request failed: %v", apiErr))
				break
			}
			e.lastCode, e.lastWhy = 0, "the response carried no status for this input"
			retry = append(retry, e)
		case isDuplicateID(status):
			// Ours when the ID was derived from the content (the same
			// content is there), when this run sent it before (an earlier
			// attempt landed), or when verification is sending it again.
			if e.derived || e.attempts > 1 || e.t != nil {
				e.dup = true
				accepted = append(accepted, e)
				break
			}
			err = r.failEntry(ctx, e, int32(code), pipeline.Errorf(e.it.Prov, "",
				"input ID %s already exists on the server and was not sent by this run: %s", e.in.Id, client.Describe(status)))
		case isAccepted(code) || code == st.StatusCode_ZERO:
			if id := g.GetId(); id != e.in.Id { // renamed by SUFFIX conflict resolution
				e.it.ID, e.in.Id = id, id
			}
			e.code = code
			accepted = append(accepted, e)
		default:
			switch client.ClassifyCode(code) {
			case client.Retryable:
				e.lastCode, e.lastWhy = int32(code), client.Describe(status)
				retry = append(retry, e)
			case client.Fatal:
				return nil, fmt.Errorf("upload: input %s: %w", e.in.Id, client.StatusError("PostInputs", status, client.Fatal, e.attempts))
			default:
				err = r.failEntry(ctx, e, int32(code),
					pipeline.Errorf(e.it.Prov, "", "Clarifai rejected input %s: %s", e.in.Id, client.Describe(status)))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return retry, r.acceptEntries(ctx, grp, accepted)
}

// acceptEntries reports EventAccepted for inputs the server acknowledged
// in a request of group g, and hands them on (see accepted).
func (r *run) acceptEntries(ctx context.Context, g *group, es []*entry) error {
	as := make([]acceptance, len(es))
	for i, e := range es {
		t := e.t
		if t == nil {
			t = &track{it: e.it, stage: stage}
		}
		t.attempts, t.bytes = e.attempts, e.bytes
		processed := e.code == st.StatusCode_INPUT_SUCCESS
		if r.ver != nil && !processed {
			t.pack(e.metadata) // before the item is shared
		}
		if err := pipeline.Send(ctx, r.results, pipeline.Result{Item: e.it, Event: pipeline.EventAccepted, Stage: stage,
			Attempts: e.attempts, Bytes: e.bytes}); err != nil {
			return err
		}
		// Only an input this request created is counted by the group's
		// job; a duplicate (an earlier attempt or run) or a re-send is
		// verified by ID.
		as[i] = acceptance{t: t, fresh: !e.dup && e.t == nil, processed: processed}
	}
	return r.accepted(ctx, g, as)
}

// acceptance is an input the server acknowledged, in this run or an earlier
// one.
type acceptance struct {
	t         *track
	fresh     bool // created by a request of the group: its job counts it
	processed bool // already INPUT_SUCCESS: nothing to verify
}

// accepted is the single place every accepted input passes through (and
// every resumed one, with g nil). It sets what is left to do for each
// input, registers those to verify (with the group, or by ID) and sends
// those with regions to the annotator, which blocks while the annotator is
// full (back-pressure). An input with nothing left to do is done at once.
func (r *run) accepted(ctx context.Context, g *group, as []acceptance) error {
	now := time.Now()
	var members, byID []*track
	for _, a := range as {
		t := a.t
		ver := r.ver != nil && !a.processed
		if t.since.IsZero() {
			t.since = now
		}
		// Set before the track is handed to either stage, which may then
		// finish their parts in any order.
		t.begin(len(t.it.Regions) > 0, ver)
		switch {
		case !ver:
		case a.fresh && g != nil:
			members = append(members, t)
		default:
			byID = append(byID, t)
		}
	}
	if len(members) > 0 {
		g.add(members)
	}
	if len(byID) > 0 {
		r.ver.addIDs(byID, false)
	}
	for _, a := range as {
		if len(a.t.it.Regions) > 0 {
			if err := pipeline.Send(ctx, r.annIn, a.t); err != nil {
				return err
			}
			continue
		}
		if err := r.idle(ctx, a.t); err != nil {
			return err
		}
	}
	return nil
}

// idle reports t done if no part is outstanding.
func (r *run) idle(ctx context.Context, t *track) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return r.doneLocked(ctx, t)
}

// match returns, for each sent input, the response input that reports on
// it, or nil. A response input matches by position when its ID agrees, else
// by ID; each is used once. With SUFFIX conflict resolution a renamed input
// ("<id>-1", ...) matches by position when its ID extends the sent one.
func match(sent []*entry, got []*pb.Input, suffix bool) []*pb.Input {
	out := make([]*pb.Input, len(sent))
	used := make([]bool, len(got))
	missing := false
	for i, e := range sent {
		if i < len(got) && got[i].GetId() == e.in.Id {
			out[i], used[i] = got[i], true
		} else {
			missing = true
		}
	}
	if !missing {
		return out
	}
	byID := make(map[string][]int, len(got))
	for j, g := range got {
		if !used[j] {
			byID[g.GetId()] = append(byID[g.GetId()], j)
		}
	}
	for i, e := range sent {
		if out[i] != nil {
			continue
		}
		if js := byID[e.in.Id]; len(js) > 0 {
			out[i], used[js[0]] = got[js[0]], true
			byID[e.in.Id] = js[1:]
		} else if suffix && i < len(got) && !used[i] && strings.HasPrefix(got[i].GetId(), e.in.Id) {
			out[i], used[i] = got[i], true
		}
	}
	return out
}

// isAccepted reports whether a per-input code acknowledges the input.
func isAccepted(code st.StatusCode) bool {
	switch code {
	case st.StatusCode_SUCCESS, st.StatusCode_INPUT_SUCCESS, st.StatusCode_INPUT_PENDING,
		st.StatusCode_INPUT_IN_PROGRESS, st.StatusCode_ACCEPTED:
		return true
	}
	return false
}

// isDuplicateID reports whether a per-input status says the input ID is
// taken. The SDK matches the details text "Input has a duplicate ID.".
func isDuplicateID(s *st.Status) bool {
	if s.GetCode() == st.StatusCode_DATABASE_DUPLICATE_KEY {
		return true
	}
	if client.ClassifyCode(s.GetCode()) == client.OK {
		return false
	}
	return strings.Contains(strings.ToLower(s.GetDetails()), "duplicate id") ||
		strings.Contains(strings.ToLower(s.GetDescription()), "duplicate id")
}

// newJobID returns a random inputs_add_job_id: 32 hex characters.
func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// callFailure sorts out the error of a call made by the sink's stages:
// the *client.APIError in it (nil for a nil err), and a non-nil stop, prefixed
// with what, when the run must end: err is not an *client.APIError (ErrClosed, a
// nil request: a bug, not data) or its class is Fatal.
func callFailure(what string, err error) (apiErr *client.APIError, stop error) {
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &apiErr) {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if apiErr.Class == client.Fatal {
		return apiErr, fmt.Errorf("%s: %w", what, apiErr)
	}
	return apiErr, nil
}
