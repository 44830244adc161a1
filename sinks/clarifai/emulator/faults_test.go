package emulator

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestRateLimit(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{Now: clk.Now, RateLimit: 3})
	list := func(app string) *statuspb.Status {
		t.Helper()
		resp, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: &pb.UserAppIDSet{UserId: testUser, AppId: app}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	for i := 0; i < 3; i++ {
		if st := list(testApp); code(st) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("call %d: %v", i, st)
		}
	}
	st := list(testApp)
	if code(st) != statuspb.StatusCode_CONN_THROTTLED || st.Description != "exceeded limit of 3 requests per second" {
		t.Fatalf("4th call: %v", st)
	}
	// A throttled write changes nothing.
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("x")}})
	if code(resp.Status) != statuspb.StatusCode_CONN_THROTTLED || len(resp.Inputs) != 0 {
		t.Fatalf("throttled post: %v", resp)
	}
	if got := s.Inputs(testUser, testApp); len(got) != 0 {
		t.Fatalf("throttled post stored %d inputs", len(got))
	}
	// Other apps have their own bucket.
	if st := list("other"); code(st) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("other app: %v", st)
	}
	clk.Advance(time.Second / 3)
	if st := list(testApp); code(st) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("after refill: %v", st)
	}
	if st := list(testApp); code(st) != statuspb.StatusCode_CONN_THROTTLED {
		t.Fatalf("refill gave more than one token: %v", st)
	}
	if got := s.Calls()["ListInputs"]; got != 7 {
		t.Errorf("Calls[ListInputs] = %d, want 7 (throttled calls count)", got)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	_, c := start(t, Options{RateLimit: -1, Now: emutest.NewClock().Now})
	for i := 0; i < 100; i++ {
		resp, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: uai()})
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("call %d: %v %v", i, resp.GetStatus(), err)
		}
	}
}

func TestFaultUnavailable(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Faults: Faults{UnavailableRate: 1}})
	_, err := c.PostInputs(authCtx(t), &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("x")}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err %v, want Unavailable", err)
	}
	if len(s.Counts()) != 0 {
		t.Errorf("an unavailable call changed state: %v", s.Counts())
	}
	if s.Calls()["PostInputs"] != 1 {
		t.Errorf("calls %v", s.Calls())
	}
}

func TestFaultThrottle(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Faults: Faults{ThrottleRate: 1}})
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("x")}})
	if code(resp.Status) != statuspb.StatusCode_CONN_THROTTLED {
		t.Fatalf("status %v", resp.Status)
	}
	if len(s.Counts()) != 0 {
		t.Errorf("a throttled call changed state: %v", s.Counts())
	}
}

func TestFaultTransientInputs(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Faults: Faults{TransientInputRate: 1}})
	resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a"), urlInput("b")}, InputsAddJobId: "j"})
	if code(resp.Status) != statuspb.StatusCode_FAILURE {
		t.Fatalf("status %v", resp.Status)
	}
	for _, in := range resp.Inputs {
		if code(in.Status) != statuspb.StatusCode_TRY_AGAIN {
			t.Errorf("input %s: %v", in.Id, in.Status)
		}
	}
	if n := len(s.Inputs(testUser, testApp)); n != 0 {
		t.Errorf("stored %d inputs", n)
	}
	if p := resp.InputsAddJob.GetProgress(); p == nil || p.PendingCount+p.SuccessCount != 0 {
		t.Errorf("job counted TRY_AGAIN inputs: %v", p)
	}
}

func TestFaultProcessingFail(t *testing.T) {
	clk := emutest.NewClock()
	_, c := start(t, Options{RateLimit: -1, Now: clk.Now, Faults: Faults{ProcessingFailRate: 1}})
	post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{urlInput("a")}})
	clk.Advance(time.Hour)
	st := getInput(t, c, "a").Input.Status
	if code(st) != statuspb.StatusCode_INPUT_FAILED || st.Details != "temporary processing error; retry" {
		t.Fatalf("status %v", st)
	}
}

func TestFaultDropConnection(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Faults: Faults{DropConnRate: 1}})
	_, err := c.PostInputs(authCtx(t), &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("applied")}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err %v, want Unavailable", err)
	}
	// The call took effect although its response was lost.
	if got := s.Inputs(testUser, testApp); len(got) != 1 || got[0].Input.Id != "applied" {
		t.Fatalf("stored %v", got)
	}
	// The client reconnects; the retry of the same id is a duplicate, which
	// is what an idempotent client must expect.
	_, err = c.PostInputs(authCtx(t), &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("applied")}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("second call err %v", err)
	}
	if n := len(s.Inputs(testUser, testApp)); n != 1 {
		t.Errorf("retry stored a second copy: %d inputs", n)
	}
}

func TestFaultLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	_, c := start(t, Options{RateLimit: -1, Faults: Faults{Latency: latency}})
	begin := time.Now()
	resp, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: uai()})
	if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("ListInputs: %v %v", resp.GetStatus(), err)
	}
	// Timers never fire early, so this lower bound holds on any machine.
	if took := time.Since(begin); took < latency {
		t.Errorf("call took %v, want at least %v", took, latency)
	}
}

func TestFaultLatencyEndsWithContext(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Faults: Faults{Latency: time.Hour}})
	ctx, cancel := context.WithTimeout(authCtx(t), 100*time.Millisecond)
	defer cancel()
	_, err := c.PostInputs(ctx, &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("x")}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err %v, want DeadlineExceeded", err)
	}
	if len(s.Counts()) != 0 {
		t.Errorf("a cancelled call changed state")
	}
	// Close must not wait for the hour either: a call blocked in latency
	// ends when the server closes.
	done := make(chan error, 1)
	blockedCtx := authCtx(t)
	go func() {
		_, err := c.ListInputs(blockedCtx, &pb.ListInputsRequest{UserAppId: uai()})
		done <- err
	}()
	for i := 0; i < 1000 && s.Calls()["ListInputs"] == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; status.Code(err) != codes.Unavailable {
		t.Errorf("blocked call ended with %v, want Unavailable", err)
	}
}

// TestFaultsAreDeterministic runs the same sequential workload against two
// servers with the same seed and compares every per-input outcome.
func TestFaultsAreDeterministic(t *testing.T) {
	run := func(seed int64) []string {
		clk := emutest.NewClock()
		_, c := start(t, Options{RateLimit: -1, Now: clk.Now, Faults: Faults{Seed: seed, TransientInputRate: 0.3, ProcessingFailRate: 0.3, ThrottleRate: 0.2}})
		var out []string
		for r := 0; r < 10; r++ {
			var ins []*pb.Input
			for i := 0; i < 10; i++ {
				ins = append(ins, urlInput(fmt.Sprintf("r%di%d", r, i)))
			}
			resp := post(t, c, &pb.PostInputsRequest{Inputs: ins})
			out = append(out, resp.Status.GetCode().String())
			for _, in := range resp.Inputs {
				out = append(out, in.Id+"="+in.Status.GetCode().String())
			}
		}
		clk.Advance(time.Hour)
		list, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: uai(), PerPage: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list.Inputs {
			out = append(out, in.Id+":"+in.Status.Code.String())
		}
		return out
	}
	a, b, other := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed gave different faults")
	}
	if fmt.Sprint(a) == fmt.Sprint(other) {
		t.Error("different seeds gave identical faults")
	}
	throttled, transient := 0, 0
	for _, v := range a {
		switch {
		case v == "CONN_THROTTLED":
			throttled++
		case len(v) > 9 && v[len(v)-9:] == "TRY_AGAIN":
			transient++
		}
	}
	if throttled == 0 || transient == 0 {
		t.Errorf("faults did not fire: %d throttled, %d transient", throttled, transient)
	}
}

// TestUnimplementedMethods checks that a V2 method outside the emulated
// subset (PostUploads) answers gRPC Unimplemented. Every method of the
// subset is implemented, so the call is made on the raw connection.
func TestUnimplementedMethods(t *testing.T) {
	s, _ := start(t, Options{RateLimit: -1})
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Invoke(authCtx(t), "/clarifai.api.V2/PostUploads", &pb.ListInputsRequest{UserAppId: uai()}, &pb.MultiInputResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("PostUploads: %v", err)
	}
}

func TestCloseIsIdempotentAndRefusesCalls(t *testing.T) {
	s, err := Start("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: uai()})
	if status.Code(err) != codes.Unavailable && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call after Close: %v", err)
	}
}
