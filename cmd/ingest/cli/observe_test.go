package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// TestProgressOffATerminal: CI and Kubernetes get periodic structured log
// lines instead of a redrawn status line.
func TestProgressOffATerminal(t *testing.T) {
	f := newFixture(t, emulator.Options{Faults: emulator.Faults{Latency: 30_000_000}}) // 30ms a call
	res := run(t, f, nil, "run", "--dir", textFiles(t, 40), "--state-dir", t.TempDir(),
		"--batch-size", "4", "--concurrency", "1", "--progress-every", "20ms")
	if res.code != cli.ExitOK {
		t.Fatalf("run:\n%s", res)
	}
	var lines int
	for _, l := range strings.Split(res.stderr, "\n") {
		if !strings.Contains(l, `"msg":"progress"`) {
			continue
		}
		lines++
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("progress line is not JSON: %q", l)
		}
		for _, k := range []string{"read", "done", "failed", "in_flight", "inputs_per_second", "retries", "throttled"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("progress line lacks %q: %s", k, l)
			}
		}
	}
	if lines < 2 {
		t.Errorf("%d progress lines in a run of ~10 calls of 30ms every 20ms:\n%s", lines, res.stderr)
	}
	if strings.Contains(res.stderr, "\r") {
		t.Error("terminal control characters off a terminal")
	}
	quiet := run(t, f, nil, "run", "--dir", textFiles(t, 40), "--state-dir", t.TempDir(), "--quiet", "--progress-every", "1ms")
	if strings.Contains(quiet.stderr, `"msg":"progress"`) {
		t.Error("--quiet still logs progress")
	}
}

// TestMetricsEndpoint scrapes /metrics in the middle of a real run, from a
// custom transform.
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	var once sync.Once
	var body string
	reg := transforms.NewRegistry()
	if err := reg.Register("scrape", func(ctx context.Context, it *pipeline.Item) error {
		if !strings.HasSuffix(it.Prov.Path, "t020.txt") {
			return nil
		}
		// Scrape until the first PostInputs calls show in the histogram:
		// the items before this one are uploading meanwhile. Bounded.
		once.Do(func() {
			for range 200 {
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					body = err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				if strings.Contains(body, `method="PostInputs"`) {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(25 * time.Millisecond):
				}
			}
		})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	job := writeJob(t, "target: clarifai\nsources: [{dir: {path: "+textFiles(t, 30)+"}}]\ntransforms: [{custom: scrape}]\n")
	res := run(t, f, reg, "run", "--config", job, "--state-dir", t.TempDir(), "--metrics-addr", addr, "--batch-size", "5")
	if res.code != cli.ExitOK {
		t.Fatalf("run:\n%s", res)
	}
	for _, want := range []string{
		`ingest_items_total{outcome="done"}`, `ingest_items_total{outcome="failed"} 0`,
		"ingest_items_read_total", "ingest_bytes_total", "ingest_batches_total", "ingest_requests_total",
		"ingest_retries_total 0", "ingest_throttles_total 0", "ingest_items_in_flight",
		`ingest_rpc_duration_seconds_count{code="SUCCESS",method="PostInputs"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
