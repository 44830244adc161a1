package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// maxMessageBytes is the gRPC send and receive limit. grpc-go's default
// receive limit is 4 MiB; a request may be up to 128 MB (one video), so the
// limit is set well above it, as the Python channel does (1 GiB).
const maxMessageBytes = 1 << 30

// ErrClosed is returned by Client methods called after Close.
var ErrClosed = errors.New("clarifai: client is closed")

// Client is the one seam between this tool and the Clarifai API. It is safe
// for concurrent use; every method blocks until the call is done, retries
// have run out, or ctx is done.
//
// Every method:
//   - fills the request's user_app_id from Config when it is nil (the
//     request is modified in place);
//   - waits for the shared rate Budget, then sends the request with
//     "authorization: Key <PAT>" and a per-attempt timeout;
//   - classifies the outcome (Classify/ClassifyCode) and retries Retryable
//     ones with jittered exponential backoff, up to Config.MaxAttempts
//     requests and Config.MaxElapsed;
//   - counts Requests, Retries and Throttle in Config.Counters.
//
// It returns (resp, nil) for a SUCCESS or MIXED_STATUS response (the caller
// reads each item's status). For any other status it returns the response
// together with an *APIError, so that per-item statuses stay readable; for a
// transport error it returns (nil, *APIError). When ctx is done it returns
// an error wrapping ctx.Err() promptly, even in the middle of a backoff.
type Client struct {
	cfg      Config // PAT cleared: the credential lives only in withAuth
	ep       Endpoint
	withAuth func(context.Context) context.Context
	conn     *grpc.ClientConn
	api      pb.V2Client
	budget   *Budget
	policy   retryPolicy // of the ordinary calls, from cfg
	closed   atomic.Bool
}

// New validates cfg and returns a Client for it. The connection is made
// lazily, on the first call; New does no network I/O. Close the Client when
// done.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ep, err := ParseEndpoint(cfg.Base)
	if err != nil {
		return nil, err
	}
	creds, err := transportCredentials(ep, cfg.RootCertificatesPath)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(ep.Addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMessageBytes), grpc.MaxCallRecvMsgSize(maxMessageBytes)),
		grpc.WithUserAgent("clarifai-ingest"),
	)
	if err != nil {
		return nil, fmt.Errorf("clarifai: dial %s: %w", ep, err)
	}
	// The credential is captured by this closure and nowhere else, so that
	// no field of Client holds it.
	md := metadata.Pairs("authorization", "Key "+string(cfg.PAT), "x-clarifai-request-id-prefix", "clarifai-ingest")
	cfg.PAT = ""
	return &Client{
		cfg: cfg, ep: ep, conn: conn, api: pb.NewV2Client(conn), budget: NewBudget(cfg.RateLimit),
		policy: retryPolicy{maxAttempts: cfg.MaxAttempts, maxElapsed: time.Duration(cfg.MaxElapsed), callTimeout: cfg.CallTimeout,
			minBackoff: cfg.MinBackoff, maxBackoff: cfg.MaxBackoff},
		withAuth: func(ctx context.Context) context.Context { return metadata.NewOutgoingContext(ctx, md) },
	}, nil
}

// Close closes the connection. Calls in flight fail; later calls return
// ErrClosed. It is safe to call more than once.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.conn.Close()
}

// String describes the client without its credential.
func (c *Client) String() string {
	return fmt.Sprintf("clarifai.Client{endpoint: %s, user: %s, app: %s}", c.ep, c.cfg.UserID, c.cfg.AppID)
}

// Format implements fmt.Formatter so that every verb, %#v included, prints
// String and never the fields.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// Budget returns the shared rate budget of the client.
func (c *Client) Budget() *Budget { return c.budget }

// Endpoint returns where the client connects.
func (c *Client) Endpoint() Endpoint { return c.ep }

// CallOption changes one call of a Client method.
type CallOption func(*callSettings)

type callSettings struct {
	attempts *int
	codec    encoding.CodecV2 // nil: gRPC's default (proto)
	policy   *retryPolicy     // nil: the Client's, from its Config
}

// retryPolicy bounds the attempts of one call. Ordinary calls use the
// Config's; Preflight uses its own short one.
type retryPolicy struct {
	maxAttempts                                     int
	maxElapsed, callTimeout, minBackoff, maxBackoff time.Duration
}

// Attempts makes the call store in *n how many requests it sent (retries
// included) when it returns, whatever the outcome. The sink uses it to know
// whether an input was already sent once.
func Attempts(n *int) CallOption { return func(s *callSettings) { s.attempts = n } }

// RecordAttempts stores n in the counter of an Attempts option among opts,
// if there is one, as a call does when it returns. It is for fakes of the
// sink's API interfaces, which take a Client's call options.
func RecordAttempts(opts []CallOption, n int) {
	var set callSettings
	for _, o := range opts {
		o(&set)
	}
	if set.attempts != nil {
		*set.attempts = n
	}
}

// response is what every V2 response has: a status.
type response interface {
	proto.Message
	GetStatus() *st.Status
}

// invoke is the one wrapper around every RPC (see Client).
func invoke[Req proto.Message, Resp response](ctx context.Context, c *Client, method string, req Req,
	rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), opts []CallOption) (Resp, error) {
	var zero Resp
	var set callSettings
	for _, o := range opts {
		o(&set)
	}
	if set.attempts != nil {
		*set.attempts = 0
	}
	if c.closed.Load() {
		return zero, ErrClosed
	}
	if !req.ProtoReflect().IsValid() {
		return zero, fmt.Errorf("%s: nil request", method)
	}
	c.fillUserApp(req)
	ctx = c.withAuth(ctx)
	var gopts []grpc.CallOption
	if set.codec != nil {
		gopts = append(gopts, grpc.ForceCodecV2(set.codec))
	}
	pol := set.policy
	if pol == nil {
		pol = &c.policy
	}
	bo := NewBackoff(pol.minBackoff, pol.maxBackoff, pol.maxElapsed)
	for attempt := 1; ; attempt++ {
		if err := c.budget.Wait(ctx); err != nil {
			return zero, fmt.Errorf("%s: %w", method, ctxErr(ctx, err))
		}
		c.cfg.Counters.Requests.Add(1)
		if attempt > 1 {
			c.cfg.Counters.Retries.Add(1)
		}
		if set.attempts != nil {
			*set.attempts = attempt
		}
		resp, fail := c.once(ctx, method, pol.callTimeout, func(ctx context.Context) (response, error) {
			return rpc(ctx, req, gopts...)
		})
		if fail == nil {
			return resp.(Resp), nil
		}
		fail.Attempts = attempt
		if ctx.Err() != nil {
			return zero, fmt.Errorf("%s: %w", method, ctx.Err())
		}
		out := zero
		if resp != nil {
			out = resp.(Resp)
		}
		if fail.Class != Retryable || attempt >= pol.maxAttempts {
			return out, fail
		}
		delay := bo.NextBackOff()
		if delay == backoff.Stop {
			return out, fail
		}
		c.cfg.Logger.Debug("retrying", zap.String("method", method), zap.Int("attempt", attempt),
			zap.Duration("delay", delay), zap.Error(fail))
		if err := Sleep(ctx, delay); err != nil {
			return zero, fmt.Errorf("%s: %w", method, err)
		}
	}
}

// once sends one attempt and turns its outcome into a response or an
// *APIError. The response is returned with the error when the server
// answered.
func (c *Client) once(ctx context.Context, method string, timeout time.Duration,
	rpc func(context.Context) (response, error)) (response, *APIError) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := rpc(ctx)
	if c.cfg.OnCall != nil {
		var code string
		if err != nil {
			code = status.Code(err).String()
		} else {
			code = resp.GetStatus().GetCode().String()
		}
		c.cfg.OnCall(method, code, time.Since(start))
	}
	if err != nil {
		s, _ := status.FromError(err)
		fail := &APIError{Method: method, GRPCCode: s.Code(), Class: Classify(err), Err: err}
		if fail.Class == Retryable && isThrottle(st.StatusCode_ZERO, s.Code()) {
			c.throttled(method)
		}
		return nil, fail
	}
	s := resp.GetStatus()
	code := s.GetCode()
	if code == st.StatusCode_SUCCESS || code == st.StatusCode_MIXED_STATUS {
		return resp, nil
	}
	fail := StatusError(method, s, ClassifyCode(code), 0)
	switch {
	case s == nil:
		fail.Description, fail.Class = "the response has no status", Permanent
	case fail.Class == OK:
		fail.Class = Permanent // a success code where SUCCESS is expected: not understood
	}
	if isThrottle(code, 0) {
		c.throttled(method)
	}
	return resp, fail
}

// throttled slows the shared budget down and counts the throttle.
func (c *Client) throttled(method string) {
	c.cfg.Counters.Throttle.Add(1)
	c.budget.Throttled()
	c.cfg.Logger.Info("server throttled; slowing down", zap.String("method", method),
		zap.Float64("rate_per_second", float64(c.budget.Limit())))
}

// fillUserApp sets field user_app_id of req from Config when it is unset.
// Every request of the V2 subset has it as field 1; reflection lets one
// wrapper serve them all.
func (c *Client) fillUserApp(req proto.Message) {
	m := req.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("user_app_id")
	if fd == nil || fd.Kind() != protoreflect.MessageKind || m.Has(fd) {
		return
	}
	ua := &pb.UserAppIDSet{UserId: c.cfg.UserID, AppId: c.cfg.AppID}
	m.Set(fd, protoreflect.ValueOfMessage(ua.ProtoReflect()))
}

// NewBackoff returns the run's one backoff policy, started: waits from
// initial doubling up to maxInterval, each randomized by ±50%, until
// maxElapsed has passed. maxElapsed is always explicit: the library default
// (15 min) would end long retries silently.
func NewBackoff(initial, maxInterval, maxElapsed time.Duration) *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         maxInterval,
		MaxElapsedTime:      maxElapsed,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// Sleep waits d or until ctx is done, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ctxErr prefers ctx.Err() over err when ctx is done (rate.Limiter reports
// "would exceed context deadline" before the deadline passes).
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// The RPCs. Each is one line: the behaviour is in invoke (see Client).

// PostInputs adds inputs. It is asynchronous on the server: per-input status
// INPUT_PENDING means accepted, not processed.
func (c *Client) PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...CallOption) (*pb.MultiInputResponse, error) {
	return invoke(ctx, c, "PostInputs", req, c.api.PostInputs, opts)
}

// ListInputs lists inputs, by page or by IDs, optionally filtered by status.
func (c *Client) ListInputs(ctx context.Context, req *pb.ListInputsRequest, opts ...CallOption) (*pb.MultiInputResponse, error) {
	return invoke(ctx, c, "ListInputs", req, c.api.ListInputs, opts)
}

// GetInput returns one input.
func (c *Client) GetInput(ctx context.Context, req *pb.GetInputRequest, opts ...CallOption) (*pb.SingleInputResponse, error) {
	return invoke(ctx, c, "GetInput", req, c.api.GetInput, opts)
}

// GetInputCount returns the app's input counts by processing state.
func (c *Client) GetInputCount(ctx context.Context, req *pb.GetInputCountRequest, opts ...CallOption) (*pb.SingleInputCountResponse, error) {
	return invoke(ctx, c, "GetInputCount", req, c.api.GetInputCount, opts)
}

// DeleteInputs deletes inputs by ID. The server answers at once and deletes
// later: an input may still be listed, and its ID still taken, for a while
// after a SUCCESS.
func (c *Client) DeleteInputs(ctx context.Context, req *pb.DeleteInputsRequest, opts ...CallOption) (*st.BaseResponse, error) {
	return invoke(ctx, c, "DeleteInputs", req, c.api.DeleteInputs, opts)
}

// PatchInputs merges, overwrites or removes the concepts, metadata and geo
// of inputs named by ID (action "merge", "overwrite" or "remove"). It is not
// atomic: each input of the response carries its own status, as in
// PostInputs; InputStatuses decodes only those.
func (c *Client) PatchInputs(ctx context.Context, req *pb.PatchInputsRequest, opts ...CallOption) (*pb.MultiInputResponse, error) {
	return invoke(ctx, c, "PatchInputs", req, c.api.PatchInputs, opts)
}

// StreamInputs returns one page of the app's inputs after req.LastId (empty:
// the first page), by creation or, with OrderById, by ID. It is a unary
// call; the next page starts after the ID of the last input of this one,
// and a short page is the last.
func (c *Client) StreamInputs(ctx context.Context, req *pb.StreamInputsRequest, opts ...CallOption) (*pb.MultiInputResponse, error) {
	return invoke(ctx, c, "StreamInputs", req, c.api.StreamInputs, opts)
}

// PostAnnotations adds annotations (regions) to existing inputs.
func (c *Client) PostAnnotations(ctx context.Context, req *pb.PostAnnotationsRequest, opts ...CallOption) (*pb.MultiAnnotationResponse, error) {
	return invoke(ctx, c, "PostAnnotations", req, c.api.PostAnnotations, opts)
}

// ListAnnotations lists annotations, by IDs or input IDs.
func (c *Client) ListAnnotations(ctx context.Context, req *pb.ListAnnotationsRequest, opts ...CallOption) (*pb.MultiAnnotationResponse, error) {
	return invoke(ctx, c, "ListAnnotations", req, c.api.ListAnnotations, opts)
}

// PatchAnnotations merges, overwrites or removes the data (regions,
// concepts) of annotations named by ID. It is not atomic: each annotation of
// the response carries its own status.
func (c *Client) PatchAnnotations(ctx context.Context, req *pb.PatchAnnotationsRequest, opts ...CallOption) (*pb.MultiAnnotationResponse, error) {
	return invoke(ctx, c, "PatchAnnotations", req, c.api.PatchAnnotations, opts)
}

// DeleteAnnotations deletes annotations by ID, or every annotation of the
// given inputs.
func (c *Client) DeleteAnnotations(ctx context.Context, req *pb.DeleteAnnotationsRequest, opts ...CallOption) (*st.BaseResponse, error) {
	return invoke(ctx, c, "DeleteAnnotations", req, c.api.DeleteAnnotations, opts)
}

// GetInputsAddJob returns an inputs-add job and its progress counts.
func (c *Client) GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest, opts ...CallOption) (*pb.SingleInputsAddJobResponse, error) {
	return invoke(ctx, c, "GetInputsAddJob", req, c.api.GetInputsAddJob, opts)
}

// ListInputsAddJobs lists inputs-add jobs.
func (c *Client) ListInputsAddJobs(ctx context.Context, req *pb.ListInputsAddJobsRequest, opts ...CallOption) (*pb.MultiInputsAddJobResponse, error) {
	return invoke(ctx, c, "ListInputsAddJobs", req, c.api.ListInputsAddJobs, opts)
}

// CancelInputsAddJob cancels an inputs-add job.
func (c *Client) CancelInputsAddJob(ctx context.Context, req *pb.CancelInputsAddJobRequest, opts ...CallOption) (*pb.SingleInputsAddJobResponse, error) {
	return invoke(ctx, c, "CancelInputsAddJob", req, c.api.CancelInputsAddJob, opts)
}

// PostInputsDataSources starts server-side ingestion of a cloud or archive
// URL.
func (c *Client) PostInputsDataSources(ctx context.Context, req *pb.PostInputsDataSourcesRequest, opts ...CallOption) (*pb.MultiInputsAddJobResponse, error) {
	return invoke(ctx, c, "PostInputsDataSources", req, c.api.PostInputsDataSources, opts)
}

// GetInputsExtractionJob returns an archive extraction job.
func (c *Client) GetInputsExtractionJob(ctx context.Context, req *pb.GetInputsExtractionJobRequest, opts ...CallOption) (*pb.SingleInputsExtractionJobResponse, error) {
	return invoke(ctx, c, "GetInputsExtractionJob", req, c.api.GetInputsExtractionJob, opts)
}

// ListInputsExtractionJobs lists archive extraction jobs.
func (c *Client) ListInputsExtractionJobs(ctx context.Context, req *pb.ListInputsExtractionJobsRequest, opts ...CallOption) (*pb.MultiInputsExtractionJobResponse, error) {
	return invoke(ctx, c, "ListInputsExtractionJobs", req, c.api.ListInputsExtractionJobs, opts)
}

// CancelInputsExtractionJobs cancels archive extraction jobs.
func (c *Client) CancelInputsExtractionJobs(ctx context.Context, req *pb.CancelInputsExtractionJobsRequest, opts ...CallOption) (*pb.MultiInputsExtractionJobResponse, error) {
	return invoke(ctx, c, "CancelInputsExtractionJobs", req, c.api.CancelInputsExtractionJobs, opts)
}

// PostDatasets creates datasets (atomically: all or none).
func (c *Client) PostDatasets(ctx context.Context, req *pb.PostDatasetsRequest, opts ...CallOption) (*pb.MultiDatasetResponse, error) {
	return invoke(ctx, c, "PostDatasets", req, c.api.PostDatasets, opts)
}

// ListDatasets lists the app's datasets.
func (c *Client) ListDatasets(ctx context.Context, req *pb.ListDatasetsRequest, opts ...CallOption) (*pb.MultiDatasetResponse, error) {
	return invoke(ctx, c, "ListDatasets", req, c.api.ListDatasets, opts)
}

// GetDataset returns one dataset.
func (c *Client) GetDataset(ctx context.Context, req *pb.GetDatasetRequest, opts ...CallOption) (*pb.SingleDatasetResponse, error) {
	return invoke(ctx, c, "GetDataset", req, c.api.GetDataset, opts)
}

// PostDatasetInputs adds existing inputs to a dataset. It is not atomic:
// each dataset input of the response carries its own status in
// Input.Status (DATASET_INPUT_SUCCESS, DATASET_INPUT_DUPLICATE when already
// there, or an error).
func (c *Client) PostDatasetInputs(ctx context.Context, req *pb.PostDatasetInputsRequest, opts ...CallOption) (*pb.MultiDatasetInputResponse, error) {
	return invoke(ctx, c, "PostDatasetInputs", req, c.api.PostDatasetInputs, opts)
}

// ListDatasetInputs lists the inputs of a dataset, by page.
func (c *Client) ListDatasetInputs(ctx context.Context, req *pb.ListDatasetInputsRequest, opts ...CallOption) (*pb.MultiDatasetInputResponse, error) {
	return invoke(ctx, c, "ListDatasetInputs", req, c.api.ListDatasetInputs, opts)
}

// DeleteDatasetInputs removes inputs from a dataset; the inputs stay in the
// app.
func (c *Client) DeleteDatasetInputs(ctx context.Context, req *pb.DeleteDatasetInputsRequest, opts ...CallOption) (*st.BaseResponse, error) {
	return invoke(ctx, c, "DeleteDatasetInputs", req, c.api.DeleteDatasetInputs, opts)
}
