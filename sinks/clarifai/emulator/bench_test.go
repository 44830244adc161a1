package emulator

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// batchOf builds n labeled URL inputs with ids prefix-0..n-1.
func batchOf(prefix string, n int) []*pb.Input {
	ins := make([]*pb.Input, n)
	for i := range ins {
		ins[i] = labeledInput(fmt.Sprintf("%s-%d", prefix, i))
	}
	return ins
}

// TestMemoryPerInput stores 30,000 labeled URL inputs in-process and checks
// the heap they take, extrapolated to 1,000,000, stays well under 2 GB.
func TestMemoryPerInput(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 30,000 inputs")
	}
	const total = 30_000
	p := newInProcess(t, Options{RateLimit: -1})
	ctx := bubbleCtx()
	// Several collections empty sync.Pools (and their victim caches) that may
	// still hold large buffers from earlier tests.
	heap := func() int64 {
		var m runtime.MemStats
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	for b := 0; b < total/MaxInputsPerRequest+1; b++ {
		n := min(MaxInputsPerRequest, total-b*MaxInputsPerRequest)
		if n <= 0 {
			break
		}
		resp, err := call(ctx, p, "PostInputs", &pb.PostInputsRequest{UserAppId: uai(), Inputs: batchOf(fmt.Sprintf("b%d", b), n), InputsAddJobId: fmt.Sprintf("job%d", b)}, p.svc.PostInputs)
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("batch %d: %v %v", b, resp.GetStatus(), err)
		}
	}
	perInput := float64(heap()-before) / total
	t.Logf("%.0f bytes of heap per stored input (%.0f MB per million)", perInput, perInput*1e6/1e6)
	if got := p.s.Counts()[testUser+"/"+testApp].Inputs; got != total {
		t.Fatalf("stored %d inputs", got)
	}
	if perInput <= 0 || perInput > 1000 {
		t.Errorf("%.0f bytes per input: a million would take %.1f GB", perInput, perInput*1e6/1e9)
	}
}

// BenchmarkPostInputs measures one PostInputs of 128 labeled URL inputs,
// in-process (no network), into an app that grows with b.N.
func BenchmarkPostInputs(b *testing.B) {
	s, err := newServer(Options{RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := inProcess{s: s, svc: &service{s: s}}
	ctx := bubbleCtx()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		resp, err := call(ctx, p, "PostInputs", &pb.PostInputsRequest{UserAppId: uai(), Inputs: batchOf(fmt.Sprintf("b%d", i), MaxInputsPerRequest)}, p.svc.PostInputs)
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			b.Fatalf("%v %v", resp.GetStatus(), err)
		}
	}
}

// BenchmarkListInputsByIDs measures the SDK's check call: 128 ids with a
// status filter, in an app of 100,000 inputs.
func BenchmarkListInputsByIDs(b *testing.B) {
	s, p, ctx := appOf100k(b)
	defer s.Close()
	ids := make([]string, MaxInputsPerRequest)
	for i := range ids {
		ids[i] = fmt.Sprintf("b500-%d", i)
	}
	req := &pb.ListInputsRequest{UserAppId: uai(), Ids: ids, PerPage: uint32(len(ids)), Status: &statuspb.Status{Code: 30000}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := call(ctx, p, "ListInputs", req, p.svc.ListInputs)
		if err != nil || len(resp.Inputs) != len(ids) {
			b.Fatalf("%d inputs, %v", len(resp.GetInputs()), err)
		}
	}
}

// BenchmarkPostInputsOverGRPC measures PostInputs of 128 labeled URL inputs
// through a real gRPC connection on 127.0.0.1, from parallel clients.
func BenchmarkPostInputsOverGRPC(b *testing.B) {
	_, c := start(b, Options{RateLimit: -1})
	ctx := authCtx(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb_ *testing.PB) {
		for pb_.Next() {
			i := n.Add(1)
			resp, err := c.PostInputs(ctx, &pb.PostInputsRequest{UserAppId: uai(), Inputs: batchOf(fmt.Sprintf("g%d", i), MaxInputsPerRequest)})
			if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
				b.Errorf("%v %v", resp.GetStatus(), err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*MaxInputsPerRequest)/b.Elapsed().Seconds(), "inputs/s")
}

// appOf100k returns an in-process server holding 100,000 inputs in one app
// (IDs b<batch>-<n>), its in-process caller, and the context to call with.
// The caller closes the server.
func appOf100k(b *testing.B) (*Server, inProcess, context.Context) {
	b.Helper()
	s, err := newServer(Options{RateLimit: -1, ProcessingDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	p := inProcess{s: s, svc: &service{s: s}}
	ctx := bubbleCtx()
	for i := 0; i < 100_000/MaxInputsPerRequest; i++ {
		if _, err := call(ctx, p, "PostInputs", &pb.PostInputsRequest{UserAppId: uai(), Inputs: batchOf(fmt.Sprintf("b%d", i), MaxInputsPerRequest)}, p.svc.PostInputs); err != nil {
			s.Close()
			b.Fatal(err)
		}
	}
	return s, p, ctx
}
