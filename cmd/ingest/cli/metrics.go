package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// newMetrics returns a registry exposing the run's counters and the RPC
// latency histogram. Everything is read from Counters snapshots at scrape
// time, so the hot path pays nothing for metrics.
func newMetrics(c *pipeline.Counters, rpc *prometheus.HistogramVec) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, v func(pipeline.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ingest", Name: name, Help: help},
			func() float64 { return float64(v(c.Snapshot())) })
	}
	items := prometheus.NewDesc("ingest_items_total", "Items finished, by outcome (updated: changed in place since an earlier run; adopted: already in the app, taken as they are).", []string{"outcome"}, nil)
	reg.MustRegister(
		collectorFunc{desc: items, collect: func(ch chan<- prometheus.Metric) {
			s := c.Snapshot()
			for outcome, n := range map[string]int64{"done": s.Done, "updated": s.Updated, "adopted": s.Adopted, "skipped": s.Skipped, "failed": s.Failed, "already_done": s.Resumed} {
				ch <- prometheus.MustNewConstMetric(items, prometheus.CounterValue, float64(n), outcome)
			}
		}},
		counter("items_read_total", "Items read from the sources.", func(s pipeline.Stats) int64 { return s.Read }),
		counter("bytes_total", "Content bytes of delivered items.", func(s pipeline.Stats) int64 { return s.Bytes }),
		counter("batches_total", "PostInputs batches delivered.", func(s pipeline.Stats) int64 { return s.Batches }),
		counter("requests_total", "API calls made, retries included.", func(s pipeline.Stats) int64 { return s.Requests }),
		counter("retries_total", "Calls or inputs sent again after a retryable error.", func(s pipeline.Stats) int64 { return s.Retries }),
		counter("throttles_total", "Throttling answers received.", func(s pipeline.Stats) int64 { return s.Throttle }),
		counter("replaced_total", "Inputs deleted and posted again because their content changed under a given ID (also in done).",
			func(s pipeline.Stats) int64 { return s.Replaced }),
		counter("conflicts_total", "Items whose content changed under an input ID an earlier run used (also in failed).",
			func(s pipeline.Stats) int64 { return s.Conflicts }),
		counter("deleted_total", "Inputs deleted because their items left the sources.", func(s pipeline.Stats) int64 { return s.Deleted }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "ingest", Name: "items_in_flight", Help: "Items read and not yet finished."},
			func() float64 { return float64(c.Snapshot().InFlight()) }),
	)
	if rpc != nil {
		reg.MustRegister(rpc)
	}
	return reg
}

// newRPCHistogram is the latency of API calls by method and result code
// (the Clarifai status code name, or the gRPC code of a transport error).
func newRPCHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ingest", Name: "rpc_duration_seconds",
		Help:    "Latency of Clarifai API calls, by method and code.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"method", "code"})
}

// collectorFunc is a Collector with one fixed description.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// serveMetrics serves /metrics on addr until ctx ends. It returns the
// address it bound (addr may use port 0) and a func that waits for the
// server to stop.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry) (string, func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis) // ErrServerClosed at shutdown; nothing to do either way
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return lis.Addr().String(), func() { <-done }, nil
}
