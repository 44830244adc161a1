package clarifai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// InputPoster is the sink's seam to the network: it takes a built request.
// *Client implements it; tests use fakes. PostInputs must honour the
// contract of Client.PostInputs: retry what is retryable, return
// (resp, nil) for SUCCESS and MIXED_STATUS, an *APIError otherwise, and
// report the requests sent through Attempts when given.
type InputPoster interface {
	PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...CallOption) (*pb.MultiInputResponse, error)
}

// SinkConfig configures a Sink. The zero value of every field means its
// default.
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
	// response missing its status). Default 4; negative means never.
	MaxResends int
	// ResendBackoff is the first wait before such a re-send; it doubles,
	// with jitter, up to 30s. Default 1s.
	ResendBackoff time.Duration
	// Counters receives Batches and input Retries. Default: a private set.
	// Bytes and item counts are counted by the runner from the results.
	Counters *pipeline.Counters
	// Logger receives debug events and one warning for items with regions.
	// Default no-op.
	Logger *zap.Logger
}

// Defaults of SinkConfig.
const (
	DefaultConcurrency   = 4
	DefaultMaxResends    = 4
	DefaultResendBackoff = time.Second
	maxResendBackoff     = 30 * time.Second
	maxResendElapsed     = 10 * time.Minute
)

func (c SinkConfig) withDefaults() SinkConfig {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	c.Batch = c.Batch.WithDefaults()
	if c.MaxResends == 0 {
		c.MaxResends = DefaultMaxResends
	} else if c.MaxResends < 0 {
		c.MaxResends = 0
	}
	if c.ResendBackoff == 0 {
		c.ResendBackoff = DefaultResendBackoff
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
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("sink Concurrency %d: want at least 1", c.Concurrency))
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, ok := pb.InputIDConflictResolution_name[int32(c.ConflictResolution)]; !ok {
		errs = append(errs, fmt.Errorf("sink ConflictResolution %d: unknown", c.ConflictResolution))
	}
	if c.ResendBackoff < 0 {
		errs = append(errs, errors.New("sink ResendBackoff must not be negative"))
	}
	return errors.Join(errs...)
}

// Sink is the pipeline.Sink that uploads items with PostInputs.
//
// Run batches items (sinks.Batcher: flush when full, after MaxWait, and at
// the end of the input), loads each batch's content only when it is built,
// and keeps up to Concurrency requests in flight. Every request carries an
// inputs_add_job_id (one per batch, kept for its re-sends). Each per-input
// status is mapped back to its item by position and ID:
//
//   - SUCCESS, INPUT_PENDING, INPUT_IN_PROGRESS: EventAccepted, then (until
//     processing verification exists) EventDone, with Bytes and Attempts.
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
// as they are; items marked Resumed are not sent again but reported done.
//
// A Sink may run more than once, but not concurrently with itself.
type Sink struct {
	api         InputPoster
	cfg         SinkConfig
	regionsOnce sync.Once
}

var _ pipeline.Sink = (*Sink)(nil)

// NewSink returns a Sink posting through api (normally a *Client).
func NewSink(api InputPoster, cfg SinkConfig) (*Sink, error) {
	if api == nil {
		return nil, errors.New("clarifai: NewSink needs an InputPoster")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sink{api: api, cfg: cfg.withDefaults()}, nil
}

// stage names the sink in results.
const stage = "upload"

// Run implements pipeline.Sink. It blocks until in is closed and every item
// has its final result, a fatal error occurs, or ctx is done; every
// goroutine it starts has returned when it returns.
func (s *Sink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	g, ctx := errgroup.WithContext(ctx)
	// Unbuffered: a closed batch waits in the batcher goroutine until a
	// worker is free, so at most Concurrency batches are built (loaded) at
	// once and reading stops while all workers are busy.
	batches := make(chan []*pipeline.Item)
	g.Go(func() error {
		defer close(batches)
		return s.batch(ctx, in, batches, results)
	})
	for range s.cfg.Concurrency {
		g.Go(func() error {
			for items := range batches {
				if err := s.deliver(ctx, items, results); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// batch is the batching stage: it reports items that cannot be sent, and
// groups the others into batches for the workers.
func (s *Sink) batch(ctx context.Context, in <-chan *pipeline.Item, out chan<- []*pipeline.Item, results chan<- pipeline.Result) error {
	b := sinks.NewBatcher(s.cfg.Batch, nil)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if d := b.UntilNext(); d >= 0 {
			timer.Reset(d)
			due = timer.C
		}
		select {
		case it, ok := <-in:
			if !ok {
				for b.Len() > 0 {
					if err := pipeline.Send(ctx, out, b.Flush()); err != nil {
						return err
					}
				}
				return nil
			}
			send, err := s.admit(ctx, it, results)
			if err != nil {
				return err
			}
			if send && b.Add(it) {
				for b.Full() {
					if err := pipeline.Send(ctx, out, b.Flush()); err != nil {
						return err
					}
				}
			}
		case <-due:
			for b.Len() > 0 && b.UntilNext() == 0 {
				if err := pipeline.Send(ctx, out, b.Flush()); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// admit reports whether it should be batched; if not, it has sent its
// final result.
func (s *Sink) admit(ctx context.Context, it *pipeline.Item, results chan<- pipeline.Result) (bool, error) {
	switch {
	case it.Err != nil:
		ev := pipeline.EventFailed
		if errors.Is(it.Err, pipeline.ErrSkip) {
			ev = pipeline.EventSkipped
		}
		return false, pipeline.Send(ctx, results, pipeline.Result{Item: it, Event: ev, Stage: it.Stage, Err: it.Err})
	case it.Resumed:
		// Delivered by an earlier run: never send it again. Seam: the
		// verification stage will confirm its processing here instead.
		return false, pipeline.Send(ctx, results, pipeline.Result{Item: it, Event: pipeline.EventDone})
	}
	if err := precheck(it); err != nil {
		return false, s.fail(ctx, results, it, 0, 0, 0, err)
	}
	if len(it.Regions) > 0 {
		s.regionsOnce.Do(func() {
			s.cfg.Logger.Warn("items have regions; posting region annotations is not implemented yet, inputs are uploaded without them")
		})
	}
	return true, nil
}

// deliver builds one batch and posts it, re-sending inputs that failed
// retryably, until every item has its result. It returns an error only for
// a fatal failure or when ctx is done.
func (s *Sink) deliver(ctx context.Context, items []*pipeline.Item, results chan<- pipeline.Result) error {
	pending := make([]*entry, 0, len(items))
	for _, it := range items {
		e, err := buildEntry(ctx, it)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := s.fail(ctx, results, it, 0, 0, 0, err); err != nil {
				return err
			}
			continue
		}
		pending = append(pending, e)
	}
	if len(pending) == 0 {
		return nil
	}
	jobID := newJobID()
	var bo *backoff.ExponentialBackOff
	for resends := 0; ; resends++ {
		req := &pb.PostInputsRequest{
			Inputs:                    make([]*pb.Input, len(pending)),
			InputsAddJobId:            jobID,
			InputIdConflictResolution: s.cfg.ConflictResolution,
		}
		for i, e := range pending {
			req.Inputs[i] = e.in
		}
		var n int
		resp, err := s.api.PostInputs(ctx, req, Attempts(&n))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range pending {
			e.attempts += max(n, 1)
		}
		retry, err := s.sortOut(ctx, jobID, pending, resp, err, results)
		if err != nil || len(retry) == 0 {
			return err
		}
		if bo == nil {
			bo = s.resendBackoff()
		}
		delay := bo.NextBackOff()
		if resends >= s.cfg.MaxResends || delay == backoff.Stop {
			for _, e := range retry {
				err := pipeline.Errorf(e.it.Prov, "", "input %s still failing after %d requests: %s", e.in.Id, e.attempts, e.lastWhy)
				if err := s.fail(ctx, results, e.it, e.lastCode, e.attempts, e.bytes, err); err != nil {
					return err
				}
			}
			return nil
		}
		s.cfg.Counters.Retries.Add(int64(len(retry)))
		s.cfg.Logger.Debug("re-sending inputs", zap.Int("inputs", len(retry)), zap.String("job", jobID),
			zap.Duration("delay", delay), zap.String("reason", retry[0].lastWhy))
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		pending = retry
	}
}

// sortOut decides each sent input's outcome from one PostInputs answer. It
// reports accepted and failed items, and returns the inputs to send again.
// The error is non-nil for a fatal failure or when ctx is done.
func (s *Sink) sortOut(ctx context.Context, jobID string, sent []*entry, resp *pb.MultiInputResponse, callErr error,
	results chan<- pipeline.Result) (retry []*entry, err error) {
	var apiErr *APIError
	if callErr != nil && !errors.As(callErr, &apiErr) {
		return nil, fmt.Errorf("upload: %w", callErr) // ErrClosed, a nil request: a bug, not data
	}
	if apiErr != nil && apiErr.Class == Fatal {
		return nil, fmt.Errorf("upload: %w", apiErr)
	}
	if callErr == nil {
		s.cfg.Counters.Batches.Add(1)
	}
	got := match(sent, resp.GetInputs(), s.cfg.ConflictResolution == pb.InputIDConflictResolution_SUFFIX)
	var accepted []*entry
	for i, e := range sent {
		g := got[i]
		status := g.GetStatus()
		code := status.GetCode()
		switch {
		case g == nil || (code == st.StatusCode_ZERO && apiErr != nil):
			if apiErr != nil { // the whole request failed
				err = s.fail(ctx, results, e.it, int32(apiErr.Code), e.attempts, e.bytes,
					pipeline.Errorf(e.it.Prov, "", "upload request failed: %v", apiErr))
				break
			}
			e.lastCode, e.lastWhy = 0, "the response carried no status for this input"
			retry = append(retry, e)
		case isDuplicateID(status):
			if e.derived || e.attempts > 1 {
				accepted = append(accepted, e) // our own earlier copy
				break
			}
			err = s.fail(ctx, results, e.it, int32(code), e.attempts, e.bytes, pipeline.Errorf(e.it.Prov, "",
				"input ID %s already exists on the server and was not sent by this run: %s", e.in.Id, describe(status)))
		case isAccepted(code) || code == st.StatusCode_ZERO:
			if id := g.GetId(); id != e.in.Id { // renamed by SUFFIX conflict resolution
				e.it.ID, e.in.Id = id, id
			}
			accepted = append(accepted, e)
		default:
			switch ClassifyCode(code) {
			case Retryable:
				e.lastCode, e.lastWhy = int32(code), describe(status)
				retry = append(retry, e)
			case Fatal:
				return nil, fmt.Errorf("upload: input %s: %w", e.in.Id, &APIError{Method: "PostInputs", Code: code,
					Description: status.GetDescription(), Details: status.GetDetails(), ReqID: status.GetReqId(),
					Class: Fatal, Attempts: e.attempts})
			default:
				err = s.fail(ctx, results, e.it, int32(code), e.attempts, e.bytes,
					pipeline.Errorf(e.it.Prov, "", "Clarifai rejected input %s: %s", e.in.Id, describe(status)))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return retry, s.accepted(ctx, jobID, accepted, results)
}

// accepted reports inputs the server acknowledged, posted under the
// inputs_add_job_id jobID. This is the seam for what follows acceptance:
//   - items with Regions get their annotations posted (PostAnnotations,
//     after acceptance, as the SDK does) and EventAnnotated;
//   - processing verification confirms INPUT_SUCCESS (GetInputsAddJob by
//     the batch's job ID, ListInputs by IDs) on its own goroutine, so uploads
//     do not wait for it, and only then reports EventDone.
//
// Until those exist, an accepted input is done.
func (s *Sink) accepted(ctx context.Context, jobID string, es []*entry, results chan<- pipeline.Result) error {
	_ = jobID // for verification (GetInputsAddJob)
	for _, e := range es {
		r := pipeline.Result{Item: e.it, Event: pipeline.EventAccepted, Stage: stage, Attempts: e.attempts, Bytes: e.bytes}
		if err := pipeline.Send(ctx, results, r); err != nil {
			return err
		}
		r.Event = pipeline.EventDone
		if err := pipeline.Send(ctx, results, r); err != nil {
			return err
		}
	}
	return nil
}

// fail reports it failed by the upload stage.
func (s *Sink) fail(ctx context.Context, results chan<- pipeline.Result, it *pipeline.Item, code int32, attempts int, bytes int64, err error) error {
	return pipeline.Send(ctx, results, pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: stage,
		Code: code, Err: err, Attempts: attempts, Bytes: bytes})
}

func (s *Sink) resendBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     s.cfg.ResendBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         maxResendBackoff,
		MaxElapsedTime:      maxResendElapsed, // explicit; MaxResends bounds it first
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
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
	if ClassifyCode(s.GetCode()) == OK {
		return false
	}
	return strings.Contains(strings.ToLower(s.GetDetails()), "duplicate id") ||
		strings.Contains(strings.ToLower(s.GetDescription()), "duplicate id")
}

// describe renders a status for a message: "NAME (code): description: details".
func describe(s *st.Status) string {
	msg := fmt.Sprintf("%s (%d)", s.GetCode(), int32(s.GetCode()))
	if d := s.GetDescription(); d != "" {
		msg += ": " + d
	}
	if d := s.GetDetails(); d != "" && d != s.GetDescription() {
		msg += ": " + d
	}
	return msg
}

// newJobID returns a random inputs_add_job_id: 32 hex characters.
func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
