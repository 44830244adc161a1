package cloudjob_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fastWait(onProgress func(cloudjob.Job)) cloudjob.WaitOptions {
	return cloudjob.WaitOptions{MinInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, OnProgress: onProgress}
}

// TestStartStatusWait follows an ingestion step by step: the emulator's
// clock moves one step each time Wait polls, so the snapshots are exact.
func TestStartStatusWait(t *testing.T) {
	const d = 10 * time.Millisecond
	e := newEnv(t, d, true)
	ctx := testCtx(t)
	spec := cloudjob.Spec{URLs: []string{"s3://pub/data/"}, Concepts: []string{"cat"}, DatasetIDs: []string{"ds"}, Metadata: map[string]any{"k": "v"}}
	job, err := cloudjob.Start(ctx, e.client, spec)
	if err != nil {
		t.Fatal(err)
	}
	if job.ID == "" || len(job.Extractions) != 1 || job.State() != cloudjob.StateQueued || job.Extractions[0].URL != "s3://pub/data/" {
		t.Fatalf("started %+v", job)
	}
	if tm := job.Extractions[0].Template; len(tm.Concepts) != 1 || tm.Concepts[0] != "cat" || tm.DatasetIDs[0] != "ds" || tm.Metadata["k"] != "v" {
		t.Errorf("template %+v", tm)
	}
	var states []string
	final, err := cloudjob.Wait(ctx, e.client, job.ID, fastWait(func(j cloudjob.Job) {
		p := j.Progress()
		states = append(states, j.State().String()+":"+string(rune('0'+p.Inputs()))+string(rune('0'+p.ArchivesInProgress)))
		e.clock.Advance(d)
	}))
	if err != nil {
		t.Fatal(err)
	}
	// Queued, then 7 steps: a.png b.txt c.wav d.mp4, e.zip opens, f.png
	// and g.txt, with which it closes.
	want := "queued:00 running:00 running:10 running:20 running:30 running:40 running:41 running:51 completed:60"
	if got := strings.Join(states, " "); got != want {
		t.Fatalf("snapshots\n got %s\nwant %s", got, want)
	}
	p := final.Progress()
	if p != (cloudjob.Progress{Images: 2, Videos: 1, Audio: 1, Text: 2, ArchivesCompleted: 1}) || final.Inputs.Succeeded != 6 || final.HasFailures() {
		t.Fatalf("final %+v %+v", p, final.Inputs)
	}
	// Status by extraction job ID works too.
	ej, err := cloudjob.Status(ctx, e.client, final.Extractions[0].ID)
	if err != nil || !ej.ExtractionOnly || ej.State() != cloudjob.StateCompleted || ej.Progress() != p {
		t.Fatalf("status by extraction id: %+v %v", ej, err)
	}
	for _, in := range e.emu.Inputs(testUser, testApp) {
		if c := in.Input.Data.Concepts; len(c) != 1 || c[0].Id != "cat" || c[0].Value != 1 || in.Input.DatasetIds[0] != "ds" || in.Input.Data.Metadata.Fields["k"].GetStringValue() != "v" {
			t.Errorf("input %s lacks the template: %v", in.Input.Id, in.Input)
		}
	}
}

func TestWaitOutcomes(t *testing.T) {
	e := newEnv(t, -1, false)
	ctx := testCtx(t)
	tests := []struct {
		name     string
		spec     cloudjob.Spec
		state    cloudjob.State
		failures bool
		reason   string
	}{
		{"private with credentials", cloudjob.Spec{URLs: []string{"s3://priv/data/a"}, Credentials: cloudjob.Credentials{AWS: &cloudjob.AWSCredentials{AccessKeyID: awsID, SecretAccessKey: awsSecret}}}, cloudjob.StateCompleted, false, ""},
		{"private without", cloudjob.Spec{URLs: []string{"s3://priv/data/a"}}, cloudjob.StateFailed, false, "LIST_OBJECTS_FAILED: access denied listing s3://priv/data/a"},
		{"private, wrong secret", cloudjob.Spec{URLs: []string{"s3://priv/data/a"}, Credentials: cloudjob.Credentials{AWS: &cloudjob.AWSCredentials{AccessKeyID: awsID, SecretAccessKey: "nope"}}}, cloudjob.StateFailed, false, "rejected"},
		{"unknown bucket", cloudjob.Spec{URLs: []string{"gs://none/x"}}, cloudjob.StateFailed, false, "does not exist"},
		{"one of two fails", cloudjob.Spec{URLs: []string{"s3://pub/data/a", "s3://nope/x"}}, cloudjob.StateFailed, false, "s3://nope/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job, err := cloudjob.Start(ctx, e.client, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			final, err := cloudjob.Wait(ctx, e.client, job.ID, fastWait(nil))
			if err != nil {
				t.Fatal(err)
			}
			if final.State() != tc.state || final.HasFailures() != tc.failures || !strings.Contains(final.Reason(), tc.reason) {
				t.Fatalf("state %v, failures %v, reason %q", final.State(), final.HasFailures(), final.Reason())
			}
			if strings.Contains(final.Reason(), awsSecret) {
				t.Fatal("a secret in the reason")
			}
		})
	}
}

func TestCancelAndList(t *testing.T) {
	const d = 10 * time.Millisecond
	e := newEnv(t, d, true)
	ctx := testCtx(t)
	a, err := cloudjob.Start(ctx, e.client, cloudjob.Spec{URLs: []string{"s3://pub/data/"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cloudjob.Start(ctx, e.client, cloudjob.Spec{URLs: []string{"s3://pub/data/b", "s3://pub/data/c"}})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(4 * d) // a: 3 steps (a.png b.txt c.wav); b: both done
	jobs, err := cloudjob.Cancel(ctx, e.client, a.ID, b.Extractions[0].ID, "nope")
	if !errors.Is(err, cloudjob.ErrNotFound) || len(jobs) != 2 {
		t.Fatalf("cancel: %v %v", jobs, err)
	}
	if jobs[0].State() != cloudjob.StateCancelled || jobs[0].Progress().Inputs() != 3 {
		t.Fatalf("cancelled job %v %+v", jobs[0].State(), jobs[0].Progress())
	}
	if jobs[1].State() != cloudjob.StateCompleted {
		t.Fatalf("cancelling an ended extraction job changed it: %v", jobs[1].State())
	}
	e.clock.Advance(time.Hour)
	after, err := cloudjob.Status(ctx, e.client, a.ID)
	if err != nil || after.State() != cloudjob.StateCancelled || after.Progress().Inputs() != 3 {
		t.Fatalf("after an hour: %v %+v %v", after.State(), after.Progress(), err)
	}
	if final, err := cloudjob.Wait(ctx, e.client, a.ID, fastWait(nil)); err != nil || final.State() != cloudjob.StateCancelled {
		t.Fatalf("wait on a cancelled job: %v %v", final.State(), err)
	}

	var urls []string
	for page := 1; ; page++ {
		list, err := cloudjob.List(ctx, e.client, page, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			urls = append(urls, x.URL+"="+x.State.String())
		}
		if len(list) < 2 {
			break
		}
		if page > 10 {
			t.Fatal("no end of list")
		}
	}
	if got := strings.Join(urls, " "); got != "s3://pub/data/=cancelled s3://pub/data/b=completed s3://pub/data/c=completed" {
		t.Fatalf("list %s", got)
	}
	if _, err := cloudjob.List(ctx, e.client, 0, 10); err == nil {
		t.Error("List accepted page 0")
	}
	if _, err := cloudjob.Status(ctx, e.client, "nope"); !errors.Is(err, cloudjob.ErrNotFound) {
		t.Errorf("status of an unknown job: %v", err)
	}
}

// fakeAPI answers GetInputsAddJob from a script and records when it was
// called; other methods fail.
type fakeAPI struct {
	cloudjob.API
	calls  []time.Time
	script func(n int) (*pb.InputsAddJob, error)
}

func (f *fakeAPI) GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest, _ ...client.CallOption) (*pb.SingleInputsAddJobResponse, error) {
	f.calls = append(f.calls, time.Now())
	j, err := f.script(len(f.calls))
	return &pb.SingleInputsAddJobResponse{InputsAddJob: j}, err
}

func running(images uint64) *pb.InputsAddJob {
	return &pb.InputsAddJob{Id: "j", Status: &statuspb.Status{Code: statuspb.StatusCode_JOB_RUNNING},
		ExtractionJobs: []*pb.InputsExtractionJob{{Id: "e", Status: &statuspb.Status{Code: statuspb.StatusCode_JOB_RUNNING},
			Progress: &pb.InputsExtractionJobProgress{ImageInputsCount: images}}}}
}

// TestWaitBackoff checks the poll intervals in a synctest bubble: they grow
// by half while nothing changes, up to the maximum, and drop back to the
// minimum when progress is seen.
func TestWaitBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{script: func(n int) (*pb.InputsAddJob, error) {
			switch {
			case n == 7:
				return running(1), nil // progress
			case n < 7:
				return running(0), nil
			case n < 9:
				return running(1), nil
			}
			j := running(1)
			j.Status.Code = statuspb.StatusCode_JOB_COMPLETED
			j.ExtractionJobs[0].Status.Code = statuspb.StatusCode_JOB_COMPLETED
			return j, nil
		}}
		final, err := cloudjob.Wait(context.Background(), f, "j", cloudjob.WaitOptions{MinInterval: time.Second, MaxInterval: 4 * time.Second})
		if err != nil || final.State() != cloudjob.StateCompleted {
			t.Fatalf("%v %v", final.State(), err)
		}
		var got []time.Duration
		for i := 1; i < len(f.calls); i++ {
			got = append(got, f.calls[i].Sub(f.calls[i-1]))
		}
		want := []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 4 * time.Second, 4 * time.Second, time.Second, 1500 * time.Millisecond}
		if len(got) != len(want) {
			t.Fatalf("intervals %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("intervals %v, want %v", got, want)
			}
		}
	})
}

func TestWaitStopsWithContextAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{script: func(int) (*pb.InputsAddJob, error) { return running(0), nil }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := cloudjob.Wait(ctx, f, "j", cloudjob.WaitOptions{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
		boom := errors.New("boom")
		f = &fakeAPI{script: func(int) (*pb.InputsAddJob, error) { return nil, boom }}
		if _, err := cloudjob.Wait(context.Background(), f, "j", cloudjob.WaitOptions{}); !errors.Is(err, boom) || len(f.calls) != 1 {
			t.Fatalf("err %v after %d calls", err, len(f.calls))
		}
	})
}

func TestJobState(t *testing.T) {
	mk := func(job statuspb.StatusCode, pending uint64, exts ...statuspb.StatusCode) cloudjob.Job {
		j := &pb.InputsAddJob{Id: "j", Status: &statuspb.Status{Code: job}, Progress: &pb.InputsAddJobProgress{PendingCount: pending}}
		for _, c := range exts {
			j.ExtractionJobs = append(j.ExtractionJobs, &pb.InputsExtractionJob{Status: &statuspb.Status{Code: c}})
		}
		f := &fakeAPI{script: func(int) (*pb.InputsAddJob, error) { return j, nil }}
		got, err := cloudjob.Status(context.Background(), f, "j")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	const (
		q   = statuspb.StatusCode_JOB_QUEUED
		r   = statuspb.StatusCode_JOB_RUNNING
		ok  = statuspb.StatusCode_JOB_COMPLETED
		bad = statuspb.StatusCode_LIST_OBJECTS_FAILED
		cx  = statuspb.StatusCode_JOB_CANCELLED
	)
	tests := []struct {
		name string
		job  cloudjob.Job
		want cloudjob.State
	}{
		{"all queued (Clarifai says the add job completed)", mk(ok, 0, q, q), cloudjob.StateQueued},
		{"one running", mk(ok, 0, q, r), cloudjob.StateRunning},
		{"done, inputs pending", mk(ok, 3, ok), cloudjob.StateRunning},
		{"done", mk(ok, 0, ok, ok), cloudjob.StateCompleted},
		{"one failed, one running", mk(r, 0, bad, r), cloudjob.StateRunning},
		{"one failed", mk(ok, 0, bad, ok), cloudjob.StateFailed},
		{"archive failure code", mk(ok, 0, statuspb.StatusCode_ARCHIVE_EXTRACT_FAILED), cloudjob.StateFailed},
		{"one cancelled", mk(r, 0, cx, r), cloudjob.StateCancelled},
		{"job cancelled", mk(cx, 0, ok), cloudjob.StateCancelled},
		{"plain job running", mk(r, 1), cloudjob.StateRunning},
		{"plain job completed, inputs pending", mk(ok, 1), cloudjob.StateRunning},
		{"plain job completed", mk(ok, 0), cloudjob.StateCompleted},
	}
	for _, tc := range tests {
		if got := tc.job.State(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
