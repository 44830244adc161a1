//go:build unix

package clarifai

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// instantAPI accepts every input at once and reports every job finished:
// what is left is the sink's own cost per item.
type instantAPI struct{ uploadOnly }

func (instantAPI) PostInputs(_ context.Context, req *pb.PostInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error) {
	attempted(opts)
	resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}, Inputs: make([]*pb.Input, len(req.Inputs))}
	for i, in := range req.Inputs {
		resp.Inputs[i] = &pb.Input{Id: in.Id, Status: &st.Status{Code: st.StatusCode_INPUT_PENDING}}
	}
	return resp, nil
}

func (instantAPI) GetInputsAddJob(_ context.Context, req *pb.GetInputsAddJobRequest, opts ...client.CallOption) (*pb.SingleInputsAddJobResponse, error) {
	attempted(opts)
	return &pb.SingleInputsAddJobResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS},
		InputsAddJob: &pb.InputsAddJob{Id: req.Id, Progress: &pb.InputsAddJobProgress{SuccessCount: 1 << 40}}}, nil
}

// cpuTime is the CPU time (user and system) of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSinkRun is the sink's cost per manifest row (URL, labels,
// metadata), from its input channel to the final result, with
// verification, against an API that costs nothing. Besides ns/op (wall
// time, which a busy machine inflates), it reports cpu-ns/op: the CPU time
// of the whole process (the item generator included) per row.
func BenchmarkSinkRun(b *testing.B) {
	s, err := NewSink(instantAPI{}, SinkConfig{Settings: Settings{Verify: new(true)}, VerifyDelay: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	labels := []pipeline.Concept{pipeline.Positive("boat"), pipeline.Positive("tree"), pipeline.Negative("house")}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	in := make(chan *pipeline.Item)
	results := make(chan pipeline.Result)
	go func() {
		defer close(in)
		for i := range b.N {
			in <- &pipeline.Item{Kind: pipeline.KindImage, URL: fmt.Sprintf("https://images.example.com/bench/%02d/%07d.jpg", i%100, i),
				Concepts: labels, Metadata: map[string]any{"row": float64(i), "source": "bench", "split": "train", "score": 0.5}}
		}
	}()
	errc := make(chan error, 1)
	go func() {
		errc <- s.Run(context.Background(), in, results)
		close(results)
	}()
	done := 0
	for r := range results {
		if r.Event == pipeline.EventDone {
			done++
		} else if r.Event.Final() {
			b.Fatalf("%v: %v", r.Event, r.Err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatal(err)
	}
	if done != b.N {
		b.Fatalf("%d done, want %d", done, b.N)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
