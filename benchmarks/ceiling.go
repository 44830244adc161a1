package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// The raw ceiling: the same inputs as the ingest run, as PostInputs
// requests built before the clock starts, sent with the same batch size and
// concurrency to an identical emulator, with nothing else in the way. It
// uses the generated gRPC client directly (not sinks/clarifai/client), so it has no
// rate budget, retries or bookkeeping: what it reaches is what the emulator
// and the gRPC stack allow on this machine.

// buildRequests reads every item of src with the project's own source (so
// that items are exactly those of the ingest run), loads file contents, and
// returns PostInputs requests of batch inputs each for user/app.
func buildRequests(ctx context.Context, src pipeline.Source, batch int, app string) ([]*pb.PostInputsRequest, int64, error) {
	items := make(chan *pipeline.Item)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(items)
		return src.Stream(ctx, items)
	})
	var reqs []*pb.PostInputsRequest
	var bytes int64
	var cur []*pb.Input
	flush := func() {
		if len(cur) > 0 {
			reqs = append(reqs, &pb.PostInputsRequest{
				UserAppId:      &pb.UserAppIDSet{UserId: benchUser, AppId: app},
				Inputs:         cur,
				InputsAddJobId: newJobID(),
			})
			cur = make([]*pb.Input, 0, batch)
		}
	}
	detect := media.Detector()
	g.Go(func() error {
		// Drain on error too, so that the source never blocks.
		var err error
		for it := range items {
			if err != nil {
				continue
			}
			if it.Err != nil {
				err = fmt.Errorf("ceiling: %w", it.Err)
				continue
			}
			if err = detect.Apply(ctx, it); err != nil {
				continue
			}
			var in *pb.Input
			var n int64
			if in, n, err = buildInput(ctx, it); err != nil {
				continue
			}
			bytes += n
			cur = append(cur, in)
			if len(cur) == batch {
				flush()
			}
		}
		flush()
		return err
	})
	return reqs, bytes, g.Wait()
}

// buildInput builds the input the ingest sink builds for it (see
// sinks/clarifai buildEntry), for the kinds the benchmark datasets have.
func buildInput(ctx context.Context, it *pipeline.Item) (*pb.Input, int64, error) {
	var content []byte
	if it.Blob != nil {
		var err error
		if content, err = it.Blob.ReadAll(ctx, 0); err != nil {
			return nil, 0, fmt.Errorf("ceiling: %s: %w", it.Prov, err)
		}
	}
	data := &pb.Data{}
	switch it.Kind {
	case pipeline.KindImage:
		data.Image = &pb.Image{Url: it.URL, Base64: content}
	case pipeline.KindText:
		switch {
		case it.Blob != nil:
			data.Text = &pb.Text{Raw: string(content)}
		case it.Text != "":
			data.Text = &pb.Text{Raw: it.Text}
		default:
			data.Text = &pb.Text{Url: it.URL}
		}
	default:
		return nil, 0, fmt.Errorf("ceiling: %s: kind %s is not in the benchmark datasets", it.Prov, it.Kind)
	}
	for _, c := range it.Concepts {
		data.Concepts = append(data.Concepts, &pb.Concept{Id: c.ID, Name: c.Name, Value: c.Value})
	}
	if it.Metadata != nil {
		md, err := structpb.NewStruct(it.Metadata)
		if err != nil {
			return nil, 0, fmt.Errorf("ceiling: %s: metadata: %w", it.Prov, err)
		}
		data.Metadata = md
	}
	id := it.ID
	if id == "" {
		id = ids.DeriveID(it, content)
	}
	return &pb.Input{Id: id, Data: data, DatasetIds: it.DatasetIDs}, int64(len(content)) + int64(len(it.Text)), nil
}

// newJobID returns a random inputs_add_job_id, as the sink gives each batch.
func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ceilingResult is what one raw run measured.
type ceilingResult struct {
	Inputs  int64
	Retries int64
	Elapsed time.Duration
	CPU     time.Duration // of the whole harness process during the run
}

// maxMessageBytes matches the project client's gRPC message limit.
const maxMessageBytes = 1 << 30

// sendRequests posts reqs to the emulator at addr with concurrency calls in
// flight, at most perSecond calls per second when perSecond > 0 (a limiter
// with a burst of one, like the ingest client's budget). A throttled or
// failed call is retried after a short pause, at most 10 times.
func sendRequests(ctx context.Context, addr string, reqs []*pb.PostInputsRequest, concurrency int, perSecond float64) (ceilingResult, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMessageBytes), grpc.MaxCallRecvMsgSize(maxMessageBytes)))
	if err != nil {
		return ceilingResult{}, err
	}
	defer conn.Close()
	api := pb.NewV2Client(conn)
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Key "+benchPAT)
	// Connect before the clock starts, as the ingest client has by the time
	// its first batch is built.
	if _, err := api.GetInputCount(ctx, &pb.GetInputCountRequest{UserAppId: reqs[0].UserAppId}); err != nil {
		return ceilingResult{}, fmt.Errorf("ceiling: connect: %w", err)
	}
	var lim *rate.Limiter
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	// The requests hold every input's content; collect what building them
	// left behind now rather than while the clock runs.
	runtime.GC()
	var next, inputs, retries atomic.Int64
	cpu0 := processCPU()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range concurrency {
		g.Go(func() error {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) {
					return nil
				}
				n, r, err := post(gctx, api, lim, reqs[i])
				if err != nil {
					return err
				}
				inputs.Add(n)
				retries.Add(r)
			}
		})
	}
	err = g.Wait()
	res := ceilingResult{Inputs: inputs.Load(), Retries: retries.Load(), Elapsed: time.Since(start), CPU: processCPU() - cpu0}
	return res, err
}

// post sends one request until it is accepted, and returns how many inputs
// it stored and how many retries it took.
func post(ctx context.Context, api pb.V2Client, lim *rate.Limiter, req *pb.PostInputsRequest) (int64, int64, error) {
	var last error
	for attempt := range 10 {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				return 0, int64(attempt), err
			}
		}
		resp, err := api.PostInputs(ctx, req)
		if err == nil && resp.GetStatus().GetCode() == st.StatusCode_SUCCESS {
			return int64(len(resp.GetInputs())), int64(attempt), nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("status %s: %s", resp.GetStatus().GetCode(), resp.GetStatus().GetDescription())
		}
		if ctx.Err() != nil {
			return 0, int64(attempt), ctx.Err()
		}
		select {
		case <-ctx.Done():
			return 0, int64(attempt), ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, 10, fmt.Errorf("ceiling: PostInputs failed 10 times: %w", last)
}

// processCPU returns the user+system time of the harness process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
