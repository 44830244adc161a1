package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

const testPAT = "test-PAT-0123456789abcdef"

// testClient returns a client of f with fast retries and no rate limit,
// changed by mod.
func testClient(t testing.TB, f *clienttest.Server, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Connection: Connection{Base: f.Addr, PAT: testPAT, UserID: "me", AppID: "app"},
		Tuning:     Tuning{RateLimit: -1}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Counters: pipeline.NewCounters(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rpcs calls every method of the client once with an empty request.
var rpcs = map[string]func(context.Context, *Client) (proto.Message, error){
	"PostInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PostInputs(ctx, &pb.PostInputsRequest{})
	},
	"ListInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListInputs(ctx, &pb.ListInputsRequest{})
	},
	"GetInput": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.GetInput(ctx, &pb.GetInputRequest{})
	},
	"GetInputCount": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.GetInputCount(ctx, &pb.GetInputCountRequest{})
	},
	"DeleteInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.DeleteInputs(ctx, &pb.DeleteInputsRequest{})
	},
	"PatchInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PatchInputs(ctx, &pb.PatchInputsRequest{})
	},
	"PostAnnotations": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PostAnnotations(ctx, &pb.PostAnnotationsRequest{})
	},
	"ListAnnotations": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListAnnotations(ctx, &pb.ListAnnotationsRequest{})
	},
	"GetInputsAddJob": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.GetInputsAddJob(ctx, &pb.GetInputsAddJobRequest{})
	},
	"ListInputsAddJobs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListInputsAddJobs(ctx, &pb.ListInputsAddJobsRequest{})
	},
	"CancelInputsAddJob": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.CancelInputsAddJob(ctx, &pb.CancelInputsAddJobRequest{})
	},
	"PostInputsDataSources": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PostInputsDataSources(ctx, &pb.PostInputsDataSourcesRequest{})
	},
	"GetInputsExtractionJob": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.GetInputsExtractionJob(ctx, &pb.GetInputsExtractionJobRequest{})
	},
	"ListInputsExtractionJobs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListInputsExtractionJobs(ctx, &pb.ListInputsExtractionJobsRequest{})
	},
	"CancelInputsExtractionJobs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.CancelInputsExtractionJobs(ctx, &pb.CancelInputsExtractionJobsRequest{})
	},
	"PostDatasets": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PostDatasets(ctx, &pb.PostDatasetsRequest{})
	},
	"ListDatasets": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListDatasets(ctx, &pb.ListDatasetsRequest{})
	},
	"GetDataset": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.GetDataset(ctx, &pb.GetDatasetRequest{})
	},
	"StreamInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.StreamInputs(ctx, &pb.StreamInputsRequest{})
	},
	"PatchAnnotations": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PatchAnnotations(ctx, &pb.PatchAnnotationsRequest{})
	},
	"DeleteAnnotations": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.DeleteAnnotations(ctx, &pb.DeleteAnnotationsRequest{})
	},
	"PostDatasetInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.PostDatasetInputs(ctx, &pb.PostDatasetInputsRequest{})
	},
	"ListDatasetInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.ListDatasetInputs(ctx, &pb.ListDatasetInputsRequest{})
	},
	"DeleteDatasetInputs": func(ctx context.Context, c *Client) (proto.Message, error) {
		return c.DeleteDatasetInputs(ctx, &pb.DeleteDatasetInputsRequest{})
	},
}

func TestClientEveryMethodSendsAuthAndUserApp(t *testing.T) {
	if len(rpcs) != 24 {
		t.Fatalf("%d methods under test, want 24", len(rpcs))
	}
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_SUCCESS))
	c := testClient(t, f, nil)
	for name, call := range rpcs {
		resp, err := call(t.Context(), c)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := resp.ProtoReflect().Descriptor().Name(); !strings.HasSuffix(string(got), "Response") {
			t.Errorf("%s: response %s", name, got)
		}
	}
	calls := f.Calls()
	seen := map[string]bool{}
	for _, rc := range calls {
		seen[rc.Method] = true
		if got := rc.MD.Get("authorization"); len(got) != 1 || got[0] != "Key "+testPAT {
			t.Errorf("%s: authorization %q", rc.Method, got)
		}
		fd := rc.Req.ProtoReflect().Descriptor().Fields().ByName("user_app_id")
		ua, ok := rc.Req.ProtoReflect().Get(fd).Message().Interface().(*pb.UserAppIDSet)
		if !ok || ua.GetUserId() != "me" || ua.GetAppId() != "app" {
			t.Errorf("%s: user_app_id %v", rc.Method, ua)
		}
	}
	for name := range rpcs {
		if !seen[name] {
			t.Errorf("server never saw %s (wrong RPC wired?)", name)
		}
	}
}

func TestClientKeepsExplicitUserApp(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_SUCCESS))
	c := testClient(t, f, nil)
	req := &pb.GetInputRequest{UserAppId: &pb.UserAppIDSet{UserId: "other", AppId: "x"}, InputId: "i"}
	if _, err := c.GetInput(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := f.Calls()[0].Req.(*pb.GetInputRequest)
	if got.GetUserAppId().GetUserId() != "other" || got.GetInputId() != "i" {
		t.Errorf("request sent: %v", got)
	}
}

func TestClientRetries(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "connection refused")
	for _, tc := range []struct {
		name        string
		seq         []any
		maxAttempts int
		wantErr     bool
		wantCode    st.StatusCode
		wantClass   Class
		requests    int64
		retries     int64
		throttles   int64
	}{
		{name: "success", seq: []any{st.StatusCode_SUCCESS}, requests: 1},
		{name: "mixed status is not an error", seq: []any{st.StatusCode_MIXED_STATUS}, requests: 1},
		{name: "throttled then success", seq: []any{st.StatusCode_CONN_THROTTLED, st.StatusCode_CONN_EXCEED_HOURLY_LIMIT, st.StatusCode_SUCCESS},
			requests: 3, retries: 2, throttles: 2},
		{name: "unavailable then success", seq: []any{unavailable, unavailable, st.StatusCode_SUCCESS}, requests: 3, retries: 2},
		{name: "resource exhausted is a throttle", seq: []any{status.Error(codes.ResourceExhausted, "quota"), st.StatusCode_SUCCESS},
			requests: 2, retries: 1, throttles: 1},
		{name: "internal then success", seq: []any{st.StatusCode_INTERNAL_SERVER_ISSUE, st.StatusCode_SUCCESS}, requests: 2, retries: 1},
		{name: "fatal status is not retried", seq: []any{st.StatusCode_CONN_KEY_INVALID, st.StatusCode_SUCCESS},
			wantErr: true, wantCode: st.StatusCode_CONN_KEY_INVALID, wantClass: Fatal, requests: 1},
		{name: "unauthenticated is fatal", seq: []any{status.Error(codes.Unauthenticated, "bad key"), st.StatusCode_SUCCESS},
			wantErr: true, wantClass: Fatal, requests: 1},
		{name: "permanent is not retried", seq: []any{st.StatusCode_INPUT_INVALID_ARGUMENT, st.StatusCode_SUCCESS},
			wantErr: true, wantCode: st.StatusCode_INPUT_INVALID_ARGUMENT, wantClass: Permanent, requests: 1},
		{name: "max attempts", seq: []any{st.StatusCode_TRY_AGAIN}, maxAttempts: 3,
			wantErr: true, wantCode: st.StatusCode_TRY_AGAIN, wantClass: Retryable, requests: 3, retries: 2},
		{name: "max attempts 1 disables retries", seq: []any{unavailable}, maxAttempts: 1,
			wantErr: true, wantClass: Retryable, requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := clienttest.Start(t, clienttest.Sequence(tc.seq...))
			c := testClient(t, f, func(c *Config) { c.MaxAttempts = tc.maxAttempts })
			var n int
			resp, err := c.ListInputs(t.Context(), &pb.ListInputsRequest{}, Attempts(&n))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.Class != tc.wantClass || ae.Attempts != int(tc.requests) {
					t.Errorf("err = %#v, want code %v class %v attempts %d", err, tc.wantCode, tc.wantClass, tc.requests)
				}
				if tc.wantCode != st.StatusCode_ZERO && resp.GetStatus().GetCode() != tc.wantCode {
					t.Errorf("response with a status must come back with the error; got %v", resp)
				}
			}
			s := c.cfg.Counters.Snapshot()
			if s.Requests != tc.requests || s.Retries != tc.retries || s.Throttle != tc.throttles {
				t.Errorf("counters requests/retries/throttle = %d/%d/%d, want %d/%d/%d",
					s.Requests, s.Retries, s.Throttle, tc.requests, tc.retries, tc.throttles)
			}
			if n != int(tc.requests) || len(f.Calls()) != int(tc.requests) {
				t.Errorf("Attempts = %d, server saw %d, want %d", n, len(f.Calls()), tc.requests)
			}
		})
	}
}

func TestClientThrottleSlowsBudget(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_CONN_THROTTLED, st.StatusCode_SUCCESS))
	c := testClient(t, f, func(c *Config) { c.RateLimit = 1000 })
	if _, err := c.GetInputCount(t.Context(), &pb.GetInputCountRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := c.Budget().Limit(); got != 500 {
		t.Errorf("budget after one throttle = %v, want 500", got)
	}
}

func TestClientCancelStopsRetries(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(status.Error(codes.Unavailable, "down")))
	// A one-hour backoff: only cancellation can end the call in time.
	c := testClient(t, f, func(c *Config) {
		c.MinBackoff, c.MaxBackoff, c.MaxElapsed = time.Hour, time.Hour, units.Duration(24*time.Hour)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.PostInputs(ctx, &pb.PostInputsRequest{})
		done <- err
	}()
	for i := 0; len(f.Calls()) == 0; i++ {
		if i > 5000 {
			t.Fatal("no request reached the server")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("call did not return after cancel")
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestClientMaxElapsed(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_RPC_SERVER_UNAVAILABLE))
	c := testClient(t, f, func(c *Config) {
		c.MaxAttempts, c.MaxElapsed = 100000, units.Duration(50*time.Millisecond)
		c.MinBackoff, c.MaxBackoff = 10*time.Millisecond, 10*time.Millisecond
	})
	_, err := c.ListDatasets(t.Context(), &pb.ListDatasetsRequest{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Class != Retryable {
		t.Fatalf("err = %v", err)
	}
	// 50ms of 5-15ms waits is at most about 10 attempts; generous bound.
	if n := len(f.Calls()); n < 2 || n > 1000 {
		t.Errorf("%d attempts: MaxElapsed not honoured", n)
	}
}

func TestClientLargeMessages(t *testing.T) {
	// 6 MiB each way: above grpc-go's 4 MiB default receive limit.
	big := bytes.Repeat([]byte{0xff}, 6<<20)
	f := clienttest.Start(t, func(method string, _ int, req proto.Message) (proto.Message, error) {
		in := req.(*pb.PostInputsRequest).GetInputs()
		return &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}, Inputs: in}, nil
	})
	c := testClient(t, f, nil)
	resp, err := c.PostInputs(t.Context(), &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: "v", Data: &pb.Data{Video: &pb.Video{Base64: big}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetInputs()[0].GetData().GetVideo().GetBase64(); !bytes.Equal(got, big) {
		t.Errorf("echoed %d bytes, want %d", len(got), len(big))
	}
}

func TestClientClosed(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(st.StatusCode_SUCCESS))
	c := testClient(t, f, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.GetInput(t.Context(), &pb.GetInputRequest{}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if _, err := testClient(t, f, nil).GetInput(t.Context(), nil); err == nil || len(f.Calls()) != 0 {
		t.Errorf("nil request: %v, %d calls", err, len(f.Calls()))
	}
}

func TestClientNeverLeaksPAT(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := clienttest.Start(t, clienttest.Sequence(status.Error(codes.Unavailable, "down"), st.StatusCode_CONN_THROTTLED, st.StatusCode_CONN_KEY_INVALID))
	cfg := Config{Connection: Connection{Base: f.Addr, PAT: testPAT, UserID: "me", AppID: "app"}, Tuning: Tuning{RateLimit: -1},
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Logger: zap.New(core)}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, callErr := c.PostInputs(t.Context(), &pb.PostInputsRequest{})
	if Classify(callErr) != Fatal {
		t.Fatalf("err = %v, want fatal", callErr)
	}
	if len(f.Calls()) != 3 || logs.Len() < 2 {
		t.Fatalf("%d calls, %d log entries: the test did not exercise retries and logs", len(f.Calls()), logs.Len())
	}
	var outs []string
	for _, v := range []any{cfg, &cfg, c, callErr, cfg.Validate(), (Config{}).Validate()} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
	}
	for _, e := range logs.All() {
		outs = append(outs, e.Message)
		for k, v := range e.ContextMap() {
			outs = append(outs, fmt.Sprintf("%s=%v", k, v))
		}
	}
	for _, o := range outs {
		if strings.Contains(o, testPAT) {
			t.Errorf("PAT leaked: %s", o)
		}
	}
	if s := c.String(); !strings.Contains(s, f.Addr) || !strings.Contains(s, "app") {
		t.Errorf("String() = %q, want endpoint and app", s)
	}
}

// TestClientOnCallSeesEveryAttempt: metrics see each attempt with its code.
func TestClientOnCallSeesEveryAttempt(t *testing.T) {
	f := clienttest.Start(t, clienttest.Sequence(clienttest.ErrUnavailable, st.StatusCode_CONN_THROTTLED, st.StatusCode_SUCCESS))
	var mu sync.Mutex
	var got []string
	c := testClient(t, f, func(c *Config) {
		c.OnCall = func(method, code string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if d < 0 {
				t.Errorf("negative latency %v", d)
			}
			got = append(got, method+" "+code)
		}
	})
	if _, err := c.ListInputs(t.Context(), &pb.ListInputsRequest{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "ListInputs Unavailable,ListInputs CONN_THROTTLED,ListInputs SUCCESS"; strings.Join(got, ",") != want {
		t.Errorf("OnCall saw %q, want %q", strings.Join(got, ","), want)
	}
}
