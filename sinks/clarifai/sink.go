package clarifai

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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

// Updater is what the Sink calls, besides API, to update the inputs of
// items whose labels, metadata, geo, datasets or regions changed since an
// earlier run (pipeline.ActionUpdate), with the contracts of the Client
// methods of the same names. An API that does not implement it fails such
// items.
type Updater interface {
	PatchInputs(ctx context.Context, req *pb.PatchInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error)
	PostDatasetInputs(ctx context.Context, req *pb.PostDatasetInputsRequest, opts ...client.CallOption) (*pb.MultiDatasetInputResponse, error)
	DeleteDatasetInputs(ctx context.Context, req *pb.DeleteDatasetInputsRequest, opts ...client.CallOption) (*st.BaseResponse, error)
	ListAnnotations(ctx context.Context, req *pb.ListAnnotationsRequest, opts ...client.CallOption) (*pb.MultiAnnotationResponse, error)
	DeleteAnnotations(ctx context.Context, req *pb.DeleteAnnotationsRequest, opts ...client.CallOption) (*st.BaseResponse, error)
}

var _ Updater = (*client.Client)(nil)

// Settings are the settings of a Sink that a job file names, with their
// keys (the upload section of package configs inlines them). SinkConfig
// embeds them; their defaults are SinkConfig's.
type Settings struct {
	// Batch is the batch policy (default: 128 items, 64 MiB, 1s): keys
	// batch_size and max_request_bytes.
	Batch sinks.BatchPolicy `yaml:",inline"`
	// Concurrency is the number of PostInputs calls in flight. Default 4,
	// at most MaxConcurrency (64).
	// At most Concurrency batches have their content loaded at any time.
	Concurrency int `yaml:"concurrency"`
	// Verify makes the sink confirm that every input reached INPUT_SUCCESS
	// before reporting it done; an input whose processing failed is
	// reported failed at stage "verify". Default (nil) true: a sink
	// promises processed inputs. Set it to false to report an input done
	// once the server accepted it (and its annotations), for a caller that
	// checks processing itself.
	// Verification runs beside the uploads and costs about one
	// GetInputsAddJob call per VerifyGroupBatches batches when all goes
	// well (see Sink). While an input waits for verification, its item's
	// Concepts and Metadata are set aside (labels and flat metadata packed
	// into a few dozen bytes), as nothing reads them unless the item fails
	// or is sent again: the results of a verified item (accepted,
	// annotated, done) carry it without them, and a failure result carries
	// them back.
	Verify *bool `yaml:"verify"`
	// RetryFailedProcessing makes verification delete an input whose
	// processing failed for what looks like a transient cause (see
	// transientFailure: the words of its status) and send it again with
	// the same ID, up to MaxProcessingRetries times. Default false: such an
	// input is reported failed with the server's words.
	RetryFailedProcessing bool `yaml:"retry_failed_processing"`
}

// SinkConfig configures a Sink. The zero value of every field means its
// default; for RetryFailedProcessing that is false, for Verify (nil) true.
type SinkConfig struct {
	// Settings are Batch, Concurrency, Verify and RetryFailedProcessing.
	Settings
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
	// MaxProcessingRetries bounds those deletions and re-sends per input.
	// Default 2 (as the official SDK); negative means none.
	MaxProcessingRetries int

	// Intents, when set, records which bytes this job sends under each
	// user-given ID before the request goes out (see IntentLog). Nil: no
	// intents; a duplicate-ID answer for content sent as bytes is then
	// compared by kind, labels and metadata only.
	Intents IntentLog

	// Existing, when set, reports whether the app already holds an input
	// ID (typically a set filled by ListInputIDs before the run: "adopt").
	// A new item (no Sync, or ActionAdd without PriorID) whose ID, given
	// or derived from its content once loaded, is held is not posted: the
	// input is read back (ListInputs) and compared with the item
	// (inputDiffs). Equal: the item is done as a resumed one (its regions
	// posted again, its processing verified). Only concepts, metadata, geo
	// or datasets differ: it is updated (it.Sync becomes an ActionUpdate of
	// those groups, and of its regions if it has any, keeping its Digests).
	// Its content differs: it fails at stage "sync" with an error wrapping
	// pipeline.ErrContentChanged. An ID the read-back does not find is
	// posted as usual. Nil: every new item is posted.
	Existing func(id string) bool

	// Counters receives Batches and input Retries. Default: a private set.
	// Bytes and item counts are counted by the runner from the results.
	Counters *pipeline.Counters
	// Logger receives debug events. Default no-op.
	Logger *zap.Logger
}

// Defaults of SinkConfig.
const (
	DefaultConcurrency           = 4
	DefaultVerify                = true
	MaxConcurrency               = 64
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

// WithDefaults returns s with every unset field set to its default: the
// batch policy's, DefaultConcurrency and DefaultVerify.
func (s Settings) WithDefaults() Settings {
	s.Batch = s.Batch.WithDefaults()
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.Verify == nil {
		s.Verify = new(DefaultVerify)
	}
	return s
}

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
	c.Settings = c.Settings.WithDefaults()
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

// verifying reports whether the sink verifies processing (Verify, nil
// meaning true).
func (c SinkConfig) verifying() bool {
	return c.Verify == nil && DefaultVerify || c.Verify != nil && *c.Verify
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
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		errs = append(errs, fmt.Errorf("sink Concurrency %d: want 1 to %d", c.Concurrency, MaxConcurrency))
	}
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

// SinkStats counts what the sink did. Request counts include the client's
// retries (they come from Attempts), so they compare with
// pipeline.Counters.Requests, which counts every call of the client.
type SinkStats struct {
	// Batches is the number of PostInputs requests answered (SUCCESS or
	// MIXED_STATUS). The sink also adds it to SinkConfig.Counters.Batches.
	Batches int64
	// InputRetries is the number of inputs sent again after a retryable
	// per-input failure, or by verification (see Resent). The sink also
	// adds it to SinkConfig.Counters.Retries, which counts the client's
	// retried calls too.
	InputRetries int64
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

// sinkStats are the counters behind SinkStats: each stage adds to its own.
type sinkStats struct {
	batches, inputRetries                           atomic.Int64 // upload
	annotationRequests, annotations, annotatedItems atomic.Int64 // annotate, finish
	verifyRequests, verified, resent                atomic.Int64 // verify, finish
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
//     attempt); otherwise (a given ID) the input is read back and adopted
//     when it matches the item (adopt.go: an earlier run sent it and was
//     killed before recording it), and failed with "already exists on the
//     server" and what differs when it does not.
//   - any other failure: EventFailed with the code and the server's words.
//   - a fatal status (credentials, unknown app): Run returns the error.
//
// A whole request that fails after the client's retries fails every item
// in it, unless the failure is fatal or the API did not answer at all
// (client.IsOutage): then Run returns the error and the items stay
// pending. Items that arrive failed are reported
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
// Sync (pipeline.Item.Sync, set by a checkpoint that compares items; nil
// means none of this applies): an ActionUpdate item is not posted; its
// input is changed in place (see updater.apply: PatchInputs, dataset
// inputs, annotations) and it ends with EventDone at stage "update", or
// EventFailed there with the code of the call that refused it. An
// ActionReplace item's earlier input is deleted, and once it is gone the
// item is posted as a new one. An ActionAdd item is posted as ever. With
// SinkConfig.Existing, a new item whose ID the app holds is read back and
// adopted, updated or failed as a conflict instead of posted.
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
		Batches:            s.stats.batches.Load(),
		InputRetries:       s.stats.inputRetries.Load() + s.stats.resent.Load(),
		AnnotationRequests: s.stats.annotationRequests.Load(),
		Annotations:        s.stats.annotations.Load(),
		AnnotatedItems:     s.stats.annotatedItems.Load(),
		VerifyRequests:     s.stats.verifyRequests.Load(),
		Verified:           s.stats.verified.Load(),
		Resent:             s.stats.resent.Load(),
	}
}

// Run implements pipeline.Sink. It blocks until in is closed and every item
// has its final result (annotations posted and, with Verify, processing
// confirmed), a fatal error occurs, or ctx is done; every goroutine it
// starts has returned when it returns.
//
// The sink is six stages joined by channels, run under one errgroup:
//
//	in ─► batcher ─► upload workers ─┬─► annotator ─┐
//	       │ ▲ ▲          │          ├─► verifier ──┤
//	       │ │ └ re-sends ┼──────────┼──────┘       │
//	       │ └ replaced ─ updater ◄──┘              │
//	       └─────────────► updater ─────► finish ◄──┘ ─► results
//
// An item goes through them top-down:
//
//  1. The batcher (uploader.batch) takes an item when a MaxPending slot is
//     free, fails or skips what cannot be sent, and batches the rest.
//  2. An upload worker (uploader.deliver) builds a batch's request, posts
//     it, re-sends inputs that failed retryably, and hands each accepted
//     input on (uploader.handOn): to the finish stage (EventAccepted), to
//     the verifier's mailbox, and with regions to the annotator.
//  3. The annotator posts the regions, batched across items, and reports
//     each item whose annotations are all in.
//  4. The verifier confirms processing (one GetInputsAddJob per group of
//     batches; ListInputs by ID otherwise), reports successes and
//     failures, and hands inputs to send again back to the batcher.
//  5. The update stage (updater) takes the items an earlier run left on
//     the server that changed since (pipeline.ActionUpdate: patched in
//     place, never verified again) or whose content changed under a given
//     ID (pipeline.ActionReplace: deleted, then handed back to the batcher
//     to be posted), from the batcher and from workers that found a new
//     item's ID on the server (SinkConfig.Existing).
//  6. The finish stage (finisher) joins an item's parts, sends its results
//     in order, frees its slot with the final one, and closes finished when
//     the input is closed and every item has its final result; the other
//     stages then return.
//
// Only the channels into the annotator and the updater block their senders
// on purpose (back-pressure); the mailboxes into the verifier and the batcher never
// block (each entry holds items that hold a slot, so MaxPending bounds
// them), which keeps the stages free of cycles that could deadlock.
func (s *Sink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	g, ctx := errgroup.WithContext(ctx)
	var (
		// One token per item in the sink; capacity MaxPending (empty
		// structs: the buffer costs nothing).
		slots = make(chan struct{}, s.cfg.MaxPending)
		// Unbuffered: a closed batch waits in the batcher until a worker
		// is free, so at most Concurrency batches are built (loaded) at
		// once and reading stops while all workers are busy.
		batches = make(chan dispatch)
		// Unbuffered: a full annotator holds back the upload workers.
		toAnnotate = make(chan *track)
		toVerify   = newMailbox[verifyWork]()
		resends    = newMailbox[*track]()
		events     = make(chan event)
		// Unbuffered: a busy update stage holds back its senders.
		toUpdate  = make(chan *pipeline.Item)
		replaced  = newMailbox[*pipeline.Item]()
		inputDone = make(chan struct{}) // closed by the batcher
		finished  = make(chan struct{}) // closed by the finish stage
	)
	rep := reporter{events: events, finished: finished}
	up := &uploader{api: s.api, lister: s.api, cfg: s.cfg, stats: &s.stats, rep: rep,
		slots: slots, inputDone: inputDone, finished: finished, resends: resends, annotate: toAnnotate, verifyQ: toVerify,
		update: toUpdate, replaced: replaced}
	_, up.wire = s.api.(*client.Client)
	upd := &updater{api: s.api, cfg: s.cfg, wire: up.wire, stats: &s.stats, rep: rep, in: toUpdate,
		inputDone: inputDone, finished: finished, replaced: replaced}
	upd.upd, _ = s.api.(Updater)
	g.Go(func() error { return upd.run(ctx) })

	g.Go(func() error {
		defer close(batches)
		return up.batch(ctx, in, batches)
	})
	for range s.cfg.Concurrency {
		g.Go(func() error {
			for d := range batches {
				if err := up.deliver(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ann := &annotator{api: s.api, cfg: s.cfg, stats: &s.stats, rep: rep, in: toAnnotate, inputDone: inputDone,
		finished: finished, answers: make(chan annDone, s.cfg.AnnotationConcurrency)}
	g.Go(func() error { return ann.run(ctx) })
	if s.cfg.verifying() {
		ver := &verifier{api: s.api, cfg: s.cfg, stats: &s.stats, rep: rep, in: toVerify, resends: resends,
			inputDone: inputDone, finished: finished, delay: s.cfg.VerifyDelay}
		g.Go(func() error { return ver.run(ctx) })
	}
	fin := &finisher{results: results, slots: slots, stats: &s.stats, finished: finished}
	g.Go(func() error { return fin.run(ctx, events) })
	return g.Wait()
}
