package cloudjob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func ingestionConfig(e *env, stateDir string, spec cloudjob.Spec) cloudjob.IngestionConfig {
	return cloudjob.IngestionConfig{
		Spec: spec, JobName: "job", StateDir: stateDir,
		Client: func() cloudjob.API { return e.client },
		Wait:   cloudjob.WaitOptions{MinInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond},
	}
}

func privSpec(secret string) cloudjob.Spec {
	return cloudjob.Spec{URLs: []string{"s3://priv/data/"}, Concepts: []string{"c"},
		Credentials: cloudjob.Credentials{AWS: &cloudjob.AWSCredentials{AccessKeyID: awsID, SecretAccessKey: client.Secret(secret)}}}
}

func posts(e *env) int64 { return e.emu.Calls()["PostInputsDataSources"] }

// TestIngestionRun runs an ingestion to its end: the cloud files are
// ingested by the server, the progress is logged, and nothing secret
// reaches the logs or the state file.
func TestIngestionRun(t *testing.T) {
	e := newEnv(t, -1, false)
	core, logs := observer.New(zap.DebugLevel)
	state := t.TempDir()
	cfg := ingestionConfig(e, state, privSpec(awsSecret))
	cfg.Logger = zap.New(core)
	src, err := cloudjob.NewIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.emu.Inputs(testUser, testApp)); n != 6 {
		t.Fatalf("%d inputs ingested by the server, want 6", n)
	}
	last, ok := src.Last()
	if !ok || last.State() != cloudjob.StateCompleted || last.ID != src.JobID(1) {
		t.Fatalf("last %v %v", last.ID, last.State())
	}
	var text strings.Builder
	for _, entry := range logs.All() {
		text.WriteString(entry.Message)
		for k, v := range entry.ContextMap() {
			text.WriteString(" " + k + "=" + fmt.Sprint(v))
		}
		text.WriteString("\n")
	}
	for _, want := range []string{"cloud ingestion started", "cloud ingestion progress", "cloud ingestion completed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, text.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(state, "*"))
	if len(files) != 1 {
		t.Fatalf("state files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), src.JobID(1)) {
		t.Errorf("state file %s", b)
	}
	for _, secret := range []string{awsSecret, awsID} {
		if strings.Contains(text.String(), secret) || strings.Contains(string(b), secret) {
			t.Fatalf("%q leaked into the logs or the state file", secret)
		}
	}
}

func TestIngestionResume(t *testing.T) {
	tests := []struct {
		name      string
		run       func(t *testing.T, e *env, state string)
		wantPosts int64
		clock     bool // extraction on a fake clock, one step per 10ms
	}{
		{"a rerun after completion posts nothing", func(t *testing.T, e *env, state string) {
			mustRun(t, e, state, privSpec(awsSecret), false)
			mustRun(t, e, state, privSpec(awsSecret), false)
		}, 1, false},
		{"a lost state file: the derived ID finds the job", func(t *testing.T, e *env, state string) {
			mustRun(t, e, state, privSpec(awsSecret), false)
			files, _ := filepath.Glob(filepath.Join(state, "cloud-*.json"))
			for _, f := range files {
				_ = os.Remove(f)
			}
			mustRun(t, e, state, privSpec(awsSecret), false)
		}, 1, false},
		{"restart posts a new attempt", func(t *testing.T, e *env, state string) {
			mustRun(t, e, state, privSpec(awsSecret), false)
			src := mustRun(t, e, state, privSpec(awsSecret), true)
			if last, _ := src.Last(); last.ID != src.JobID(2) {
				t.Fatalf("restart used %s", last.ID)
			}
		}, 2, false},
		{"a failed job: the error, then a new attempt", func(t *testing.T, e *env, state string) {
			src, err := cloudjob.NewIngestion(ingestionConfig(e, state, privSpec("wrong")))
			if err != nil {
				t.Fatal(err)
			}
			err = src.Run(testCtx(t))
			if err == nil || !strings.Contains(err.Error(), "access denied listing s3://priv/data/") || strings.Contains(err.Error(), "wrong") {
				t.Fatalf("err %v", err)
			}
			src = mustRun(t, e, state, privSpec(awsSecret), false)
			if last, _ := src.Last(); last.ID != src.JobID(2) || last.Progress().Inputs() != 6 {
				t.Fatalf("second attempt %s %+v", last.ID, last.Progress())
			}
		}, 2, false},
		{"a crash before posting: the recorded ID is posted", func(t *testing.T, e *env, state string) {
			src, err := cloudjob.NewIngestion(ingestionConfig(e, state, privSpec(awsSecret)))
			if err != nil {
				t.Fatal(err)
			}
			// The state file as an earlier run wrote it just before dying.
			emutest.WriteFile(t, state, "cloud-"+strings.TrimSuffix(strings.TrimPrefix(src.JobID(3), "cloud-"), "-3")+".json",
				[]byte(`{"version":1,"inputs_add_job_id":"`+src.JobID(3)+`","attempt":3}`))
			src = mustRun(t, e, state, privSpec(awsSecret), false)
			if last, _ := src.Last(); last.ID != src.JobID(3) {
				t.Fatalf("posted %s", last.ID)
			}
		}, 1, false},
		{"a cancelled job: an error, then a new attempt", func(t *testing.T, e *env, state string) {
			src, err := cloudjob.NewIngestion(ingestionConfig(e, state, privSpec(awsSecret)))
			if err != nil {
				t.Fatal(err)
			}
			// Post attempt 1 the way the source would, and cancel it.
			spec := privSpec(awsSecret)
			spec.JobID = src.JobID(1)
			if _, err := cloudjob.Start(testCtx(t), e.client, spec); err != nil {
				t.Fatal(err)
			}
			if _, err := cloudjob.Cancel(testCtx(t), e.client, src.JobID(1)); err != nil {
				t.Fatal(err)
			}
			// A source that finds it cancelled starts attempt 2, which
			// ends as the clock moves.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
						e.clock.Advance(time.Hour)
					}
				}
			}()
			src = mustRun(t, e, state, privSpec(awsSecret), false)
			if last, _ := src.Last(); last.ID != src.JobID(2) || last.Progress().Inputs() != 6 {
				t.Fatalf("followed %s %+v", last.ID, last.Progress())
			}
		}, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, -1, false)
			if tc.clock {
				e = newEnv(t, 10*time.Millisecond, true)
			}
			tc.run(t, e, t.TempDir())
			if got := posts(e); got != tc.wantPosts {
				t.Fatalf("%d PostInputsDataSources calls, want %d", got, tc.wantPosts)
			}
		})
	}
}

func mustRun(t *testing.T, e *env, state string, spec cloudjob.Spec, restart bool) *cloudjob.Ingestion {
	t.Helper()
	cfg := ingestionConfig(e, state, spec)
	cfg.Restart = restart
	src, err := cloudjob.NewIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(testCtx(t)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return src
}

// TestIngestionInterruptedRunIsFollowed interrupts a run while the server job
// is queued, then reruns: the rerun follows the same job to its end.
func TestIngestionInterruptedRunIsFollowed(t *testing.T) {
	const d = 10 * time.Millisecond
	e := newEnv(t, d, true)
	state := t.TempDir()
	src, err := cloudjob.NewIngestion(ingestionConfig(e, state, privSpec(awsSecret)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		err := src.Run(ctx)
		done <- err
	}()
	for i := 0; ; i++ {
		if last, ok := src.Last(); ok && last.State() == cloudjob.StateQueued {
			break
		}
		if i == 3000 {
			t.Fatal("the job was not started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run: %v", err)
	}
	e.clock.Advance(time.Hour)
	src = mustRun(t, e, state, privSpec(awsSecret), false)
	if last, _ := src.Last(); last.ID != src.JobID(1) || last.State() != cloudjob.StateCompleted || posts(e) != 1 {
		t.Fatalf("rerun: %s %v, %d posts", last.ID, last.State(), posts(e))
	}
}

func TestNewIngestionErrors(t *testing.T) {
	client := func() cloudjob.API { return nil }
	tests := []struct {
		name string
		cfg  cloudjob.IngestionConfig
		want string
	}{
		{"job id set", cloudjob.IngestionConfig{Spec: cloudjob.Spec{URLs: []string{"s3://b"}, JobID: "x"}, Client: client}, "derived"},
		{"bad spec", cloudjob.IngestionConfig{Spec: cloudjob.Spec{}, Client: client}, "no URL"},
		{"no client", cloudjob.IngestionConfig{Spec: cloudjob.Spec{URLs: []string{"s3://b"}}}, "no client"},
	}
	for _, tc := range tests {
		if _, err := cloudjob.NewIngestion(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	src, err := cloudjob.NewIngestion(cloudjob.IngestionConfig{Spec: cloudjob.Spec{URLs: []string{"https://h/a.zip?sig=SECRET"}}, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(src.Name(), "SECRET") || src.Name() != "cloud https://h/a.zip?[redacted]" {
		t.Errorf("name %q", src.Name())
	}
	if err := src.Run(testCtx(t)); err == nil || !strings.Contains(err.Error(), "no client") {
		t.Errorf("Run with a nil API: %v", err)
	}
	// The same ingestion in another job, or with other concepts, is another job ID.
	a, _ := cloudjob.NewIngestion(cloudjob.IngestionConfig{JobName: "a", Spec: cloudjob.Spec{URLs: []string{"s3://b"}}, Client: client})
	b, _ := cloudjob.NewIngestion(cloudjob.IngestionConfig{JobName: "b", Spec: cloudjob.Spec{URLs: []string{"s3://b"}}, Client: client})
	c, _ := cloudjob.NewIngestion(cloudjob.IngestionConfig{JobName: "a", Spec: cloudjob.Spec{URLs: []string{"s3://b"}, Concepts: []string{"x"}}, Client: client})
	a2, _ := cloudjob.NewIngestion(cloudjob.IngestionConfig{JobName: "a", Spec: cloudjob.Spec{URLs: []string{"s3://b"}, Credentials: cloudjob.Credentials{AWS: &cloudjob.AWSCredentials{AccessKeyID: "k", SecretAccessKey: "s"}}}, Client: client})
	if a.JobID(1) == b.JobID(1) || a.JobID(1) == c.JobID(1) || a.JobID(1) != a2.JobID(1) || a.JobID(1) == a.JobID(2) {
		t.Errorf("job ids %s %s %s %s", a.JobID(1), b.JobID(1), c.JobID(1), a2.JobID(1))
	}
}
