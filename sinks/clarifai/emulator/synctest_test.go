package emulator

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// inProcess calls handlers through the interceptor without a network, so
// that the default clock (time.Now) can run inside a synctest bubble.
type inProcess struct {
	s   *Server
	svc *service
}

func newInProcess(t *testing.T, opts Options) inProcess {
	t.Helper()
	s, err := newServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return inProcess{s: s, svc: &service{s: s}}
}

func call[Req, Resp any](ctx context.Context, p inProcess, method string, req Req, h func(context.Context, Req) (Resp, error)) (Resp, error) {
	resp, err := p.s.intercept(ctx, req, &grpc.UnaryServerInfo{FullMethod: "/clarifai.api.V2/" + method},
		func(ctx context.Context, req any) (any, error) { return h(ctx, req.(Req)) })
	if err != nil {
		var zero Resp
		return zero, err
	}
	return resp.(Resp), nil
}

func bubbleCtx() context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Key "+testPAT))
}

// TestProcessingDelayWithRealClock checks, in a synctest bubble, that the
// default clock drives processing: time.Sleep advances the bubble's clock.
func TestProcessingDelayWithRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInProcess(t, Options{ProcessingDelay: 100 * time.Millisecond, RateLimit: -1})
		ctx := bubbleCtx()
		resp, err := call(ctx, p, "PostInputs", &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("a")}}, p.svc.PostInputs)
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("PostInputs: %v %v", resp.GetStatus(), err)
		}
		get := func() statuspb.StatusCode {
			r, err := call(ctx, p, "GetInput", &pb.GetInputRequest{UserAppId: uai(), InputId: "a"}, p.svc.GetInput)
			if err != nil {
				t.Fatal(err)
			}
			return r.Input.GetStatus().GetCode()
		}
		if got := get(); got != statuspb.StatusCode_INPUT_PENDING {
			t.Fatalf("at once: %v", got)
		}
		time.Sleep(99 * time.Millisecond)
		if got := get(); got != statuspb.StatusCode_INPUT_IN_PROGRESS {
			t.Fatalf("after 99ms: %v", got)
		}
		time.Sleep(time.Millisecond)
		if got := get(); got != statuspb.StatusCode_INPUT_SUCCESS {
			t.Fatalf("after 100ms: %v", got)
		}
	})
}

// TestRateLimitWithRealClock checks the default 15 req/s bucket refills
// with the default clock.
func TestRateLimitWithRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInProcess(t, Options{})
		ctx := bubbleCtx()
		list := func() statuspb.StatusCode {
			r, err := call(ctx, p, "ListInputs", &pb.ListInputsRequest{UserAppId: uai()}, p.svc.ListInputs)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status.GetCode()
		}
		for i := 0; i < 15; i++ {
			if got := list(); got != statuspb.StatusCode_SUCCESS {
				t.Fatalf("call %d: %v", i, got)
			}
		}
		if got := list(); got != statuspb.StatusCode_CONN_THROTTLED {
			t.Fatalf("16th call: %v", got)
		}
		time.Sleep(time.Second)
		for i := 0; i < 15; i++ {
			if got := list(); got != statuspb.StatusCode_SUCCESS {
				t.Fatalf("after a second, call %d: %v", i, got)
			}
		}
	})
}

// TestLatencyWithRealClock checks that injected latency waits on the clock
// and ends early with the context.
func TestLatencyWithRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newInProcess(t, Options{RateLimit: -1, Faults: Faults{Latency: time.Minute}})
		begin := time.Now()
		if _, err := call(bubbleCtx(), p, "ListInputs", &pb.ListInputsRequest{UserAppId: uai()}, p.svc.ListInputs); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(begin); took != time.Minute {
			t.Fatalf("call took %v of bubble time, want 1m", took)
		}
		ctx, cancel := context.WithTimeout(bubbleCtx(), time.Second)
		defer cancel()
		_, err := call(ctx, p, "ListInputs", &pb.ListInputsRequest{UserAppId: uai()}, p.svc.ListInputs)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err %v, want DeadlineExceeded", err)
		}
	})
}
