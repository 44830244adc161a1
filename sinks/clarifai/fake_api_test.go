package clarifai

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// fakeAPI is an in-memory Clarifai app for the sink, on the clock of the
// test (testing/synctest): PostInputs stores inputs, which stay pending for
// the first half of their processing time, in progress for the second, then
// succeed or fail; inputs_add_job_id jobs count the inputs they created;
// annotations are stored by ID. It is safe for concurrent use and every
// method reports one attempt.
type fakeAPI struct {
	// process decides, when input id is created for the n-th time (from
	// 1), how long it takes and how it ends (nil: INPUT_SUCCESS). Default:
	// one second, success.
	process func(id string, n int) (time.Duration, *st.Status)
	// annStatus, if set, may decide the status of the n-th post (from 1) of
	// an annotation; nil lets the store decide.
	annStatus func(an *pb.Annotation, n int) *st.Status
	// annBlock, if set, makes every PostAnnotations wait for a value.
	annBlock chan struct{}
	// noJobs makes GetInputsAddJob answer CONN_DOES_NOT_EXIST.
	noJobs bool
	// hidden leaves an input out of that many ListInputs answers (a
	// listing that lags behind the store).
	hidden map[string]int
	// latency is added to every call (on the test's fake clock).
	latency time.Duration
	// fail, if set, may fail the n-th call (from 1) of a method before it
	// does anything.
	fail func(method string, n int) error
	// refuse, if set, may refuse a PostInputs request as a whole, before
	// it stores anything (a server that cannot decode it).
	refuse func(req *pb.PostInputsRequest) error

	mu       sync.Mutex
	inputs   map[string]*fakeInput
	creates  map[string]int
	jobs     map[string][]*fakeInput
	anns     map[string]*pb.Annotation
	annPosts map[string]int
	calls    map[string]int
	postReqs []*pb.PostInputsRequest // without content bytes
	annReqs  []*pb.PostAnnotationsRequest
	listReqs []*pb.ListInputsRequest
	deleted  []string
	// violations lists requests a real server would refuse (too many IDs,
	// per_page over 1000, annotations for an input that does not exist).
	violations                  []string
	annInflight, maxAnnInflight int
}

type fakeInput struct {
	id              string
	created, doneAt time.Time
	fail            *st.Status
}

func (in *fakeInput) code(now time.Time) st.StatusCode {
	switch {
	case !now.Before(in.doneAt) && in.fail != nil:
		return st.StatusCode_INPUT_FAILED
	case !now.Before(in.doneAt):
		return st.StatusCode_INPUT_SUCCESS
	case !now.Before(in.created.Add(in.doneAt.Sub(in.created) / 2)):
		return st.StatusCode_INPUT_IN_PROGRESS
	}
	return st.StatusCode_INPUT_PENDING
}

func (in *fakeInput) status(now time.Time) *st.Status {
	if c := in.code(now); c == st.StatusCode_INPUT_FAILED {
		return &st.Status{Code: c, Description: in.fail.GetDescription(), Details: in.fail.GetDetails()}
	} else {
		return &st.Status{Code: c}
	}
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{inputs: map[string]*fakeInput{}, creates: map[string]int{}, jobs: map[string][]*fakeInput{},
		anns: map[string]*pb.Annotation{}, annPosts: map[string]int{}, calls: map[string]int{}}
}

// enter counts a call of method, applies latency and fail, and reports one
// attempt.
func (f *fakeAPI) enter(ctx context.Context, method string, opts []client.CallOption) error {
	attempted(opts)
	f.mu.Lock()
	f.calls[method]++
	n := f.calls[method]
	f.mu.Unlock()
	if f.latency > 0 {
		if err := client.Sleep(ctx, f.latency); err != nil {
			return err
		}
	}
	if f.fail != nil {
		return f.fail(method, n)
	}
	return nil
}

func attempted(opts []client.CallOption) { client.RecordAttempts(opts, 1) }

// store creates an input as if an earlier run had posted it, at time now.
func (f *fakeAPI) store(id string, delay time.Duration, fail *st.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.creates[id]++
	f.inputs[id] = &fakeInput{id: id, created: now, doneAt: now.Add(delay), fail: fail}
}

func (f *fakeAPI) PostInputs(ctx context.Context, req *pb.PostInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	if err := f.enter(ctx, "PostInputs", opts); err != nil {
		return nil, err
	}
	if f.refuse != nil {
		if err := f.refuse(req); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := &pb.PostInputsRequest{InputsAddJobId: req.InputsAddJobId}
	resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
	now := time.Now()
	for _, in := range req.Inputs {
		rec.Inputs = append(rec.Inputs, &pb.Input{Id: in.Id})
		if _, ok := f.inputs[in.Id]; ok {
			resp.Status.Code = st.StatusCode_MIXED_STATUS
			resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: &st.Status{
				Code: st.StatusCode_INPUT_INVALID_ARGUMENT, Description: "Duplicate input ID", Details: "Input has a duplicate ID."}})
			continue
		}
		f.creates[in.Id]++
		delay, fail := time.Second, (*st.Status)(nil)
		if f.process != nil {
			delay, fail = f.process(in.Id, f.creates[in.Id])
		}
		fi := &fakeInput{id: in.Id, created: now, doneAt: now.Add(delay), fail: fail}
		f.inputs[in.Id] = fi
		if req.InputsAddJobId != "" {
			f.jobs[req.InputsAddJobId] = append(f.jobs[req.InputsAddJobId], fi)
		}
		resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: fi.status(now)})
	}
	f.postReqs = append(f.postReqs, rec)
	return resp, nil
}

func (f *fakeAPI) GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest, opts ...client.CallOption) (*pb.SingleInputsAddJobResponse, error) {
	if err := f.enter(ctx, "GetInputsAddJob", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	entries, ok := f.jobs[req.Id]
	if !ok || f.noJobs {
		s := &st.Status{Code: st.StatusCode_CONN_DOES_NOT_EXIST, Description: "Resource does not exist"}
		return &pb.SingleInputsAddJobResponse{Status: s},
			&client.APIError{Method: "GetInputsAddJob", Code: s.Code, Description: s.Description, Class: client.Fatal}
	}
	now := time.Now()
	p := &pb.InputsAddJobProgress{}
	for _, e := range entries { // deleting an input does not change its job's counts
		switch e.code(now) {
		case st.StatusCode_INPUT_SUCCESS:
			p.SuccessCount++
		case st.StatusCode_INPUT_FAILED:
			p.FailedCount++
		case st.StatusCode_INPUT_IN_PROGRESS:
			p.InProgressCount++
		default:
			p.PendingCount++
		}
	}
	return &pb.SingleInputsAddJobResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS},
		InputsAddJob: &pb.InputsAddJob{Id: req.Id, Progress: p}}, nil
}

func (f *fakeAPI) ListInputs(ctx context.Context, req *pb.ListInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	if err := f.enter(ctx, "ListInputs", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listReqs = append(f.listReqs, proto.Clone(req).(*pb.ListInputsRequest))
	if req.PerPage > 1000 || len(req.Ids) > 1000 || len(req.Ids) > int(req.PerPage) {
		f.violations = append(f.violations, fmt.Sprintf("ListInputs with %d ids, per_page %d", len(req.Ids), req.PerPage))
	}
	now := time.Now()
	resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
	for _, id := range req.Ids {
		in, ok := f.inputs[id]
		if !ok {
			continue
		}
		if f.hidden[id] > 0 {
			f.hidden[id]--
			continue
		}
		s := in.status(now)
		if c := req.GetStatus().GetCode(); c != st.StatusCode_ZERO && s.Code != c {
			continue
		}
		resp.Inputs = append(resp.Inputs, &pb.Input{Id: id, Status: s})
	}
	return resp, nil
}

func (f *fakeAPI) DeleteInputs(ctx context.Context, req *pb.DeleteInputsRequest, opts ...client.CallOption) (*st.BaseResponse, error) {
	if err := f.enter(ctx, "DeleteInputs", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range req.Ids {
		f.deleted = append(f.deleted, id)
		delete(f.inputs, id)
		for aid, an := range f.anns {
			if an.InputId == id {
				delete(f.anns, aid)
			}
		}
	}
	return &st.BaseResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}, nil
}

func (f *fakeAPI) PostAnnotations(ctx context.Context, req *pb.PostAnnotationsRequest, opts ...client.CallOption) (*pb.MultiAnnotationResponse, error) {
	if err := f.enter(ctx, "PostAnnotations", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.annReqs = append(f.annReqs, proto.Clone(req).(*pb.PostAnnotationsRequest))
	f.annInflight++
	f.maxAnnInflight = max(f.maxAnnInflight, f.annInflight)
	block := f.annBlock
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.annInflight--; f.mu.Unlock() }()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &pb.MultiAnnotationResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
	ok := 0
	for _, an := range req.Annotations {
		f.annPosts[an.Id]++
		var s *st.Status
		if f.annStatus != nil {
			s = f.annStatus(an, f.annPosts[an.Id])
		}
		switch _, exists := f.anns[an.Id]; {
		case s != nil:
		case f.inputs[an.InputId] == nil:
			f.violations = append(f.violations, "annotation for missing input "+an.InputId)
			s = &st.Status{Code: st.StatusCode_INPUT_DOES_NOT_EXIST, Description: "Input does not exist"}
		case exists:
			s = &st.Status{Code: st.StatusCode_ANNOTATION_INVALID_ARGUMENT, Description: "Invalid annotation argument",
				Details: fmt.Sprintf("annotation id %q already exists", an.Id)}
		default:
			f.anns[an.Id] = proto.Clone(an).(*pb.Annotation)
			s = &st.Status{Code: st.StatusCode_ANNOTATION_SUCCESS}
		}
		if s.Code == st.StatusCode_ANNOTATION_SUCCESS {
			ok++
		}
		resp.Annotations = append(resp.Annotations, &pb.Annotation{Id: an.Id, InputId: an.InputId, Status: s})
	}
	switch {
	case ok == len(req.Annotations):
	case ok > 0:
		resp.Status.Code = st.StatusCode_MIXED_STATUS
	default:
		resp.Status.Code = st.StatusCode_FAILURE
		return resp, &client.APIError{Method: "PostAnnotations", Code: st.StatusCode_FAILURE, Class: client.Permanent}
	}
	return resp, nil
}

// count returns how many calls of method were made.
func (f *fakeAPI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeAPI) problems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.violations)
}

// uploadOnly is the API of fakes that only expect PostInputs (and accept
// annotations): verification calls fail the test through their error.
type uploadOnly struct{}

var errUnexpected = errors.New("unexpected verification call")

func (uploadOnly) GetInputsAddJob(context.Context, *pb.GetInputsAddJobRequest, ...client.CallOption) (*pb.SingleInputsAddJobResponse, error) {
	return nil, errUnexpected
}

func (uploadOnly) ListInputs(context.Context, *pb.ListInputsRequest, ...client.CallOption) (*pb.MultiInputResponse, error) {
	return nil, errUnexpected
}

func (uploadOnly) DeleteInputs(context.Context, *pb.DeleteInputsRequest, ...client.CallOption) (*st.BaseResponse, error) {
	return nil, errUnexpected
}

func (uploadOnly) PostAnnotations(_ context.Context, req *pb.PostAnnotationsRequest, opts ...client.CallOption) (*pb.MultiAnnotationResponse, error) {
	attempted(opts)
	resp := &pb.MultiAnnotationResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
	for _, an := range req.Annotations {
		resp.Annotations = append(resp.Annotations, &pb.Annotation{Id: an.Id, Status: &st.Status{Code: st.StatusCode_ANNOTATION_SUCCESS}})
	}
	return resp, nil
}

const testPAT = "test-PAT-0123456789abcdef"

// testClient returns a real client of the fake server f, with fast retries
// and no rate limit, changed by mod.
func testClient(t testing.TB, f *clienttest.Server, mod func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{
		Connection: client.Connection{Base: f.Addr, PAT: testPAT, UserID: "me", AppID: "app"},
		Tuning:     client.Tuning{RateLimit: -1}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Counters: pipeline.NewCounters(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
