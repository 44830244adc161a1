package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// progress shows a running job: on a terminal, a status line redrawn in
// place; elsewhere (CI, Kubernetes), one structured log line per interval.
// It only reads snapshots of the counters.
type progress struct {
	counters *pipeline.Counters
	// total is the number of items the sources hold, once known (-1 until
	// then): counted in the background when that is cheap enough.
	total    atomic.Int64
	w        io.Writer
	terminal bool
	log      *zap.Logger
	every    time.Duration
}

func newProgress(c *pipeline.Counters, w io.Writer, terminal bool, log *zap.Logger, every time.Duration) *progress {
	p := &progress{counters: c, w: w, terminal: terminal, log: log, every: every}
	p.total.Store(-1)
	return p
}

// run reports until ctx ends, then clears the terminal line.
func (p *progress) run(ctx context.Context) {
	every := p.every
	if p.terminal {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if p.terminal {
				fmt.Fprint(p.w, "\r\033[K")
			}
			return
		case <-t.C:
			p.report()
		}
	}
}

func (p *progress) report() {
	s := p.counters.Snapshot()
	total := p.total.Load()
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K"+p.line(s, total))
		return
	}
	fields := []zap.Field{
		zap.Int64("read", s.Read), zap.Int64("done", s.Done), zap.Int64("updated", s.Updated), zap.Int64("adopted", s.Adopted), zap.Int64("skipped", s.Skipped),
		zap.Int64("failed", s.Failed), zap.Int64("already_done", s.Resumed), zap.Int64("in_flight", s.InFlight()),
		zap.Int64("bytes", s.Bytes), zap.Float64("inputs_per_second", round1(s.Rate())),
		zap.Int64("retries", s.Retries), zap.Int64("throttled", s.Throttle),
	}
	if total >= 0 {
		fields = append(fields, zap.Int64("total", total))
		if eta, ok := p.eta(s, total); ok {
			fields = append(fields, zap.Duration("eta", eta))
		}
	}
	p.log.Info("progress", fields...)
}

// line renders the terminal status line.
func (p *progress) line(s pipeline.Stats, total int64) string {
	var b strings.Builder
	finished := s.Finished()
	if total >= 0 {
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(finished) / float64(total)
		}
		fmt.Fprintf(&b, "%d/%d items (%.0f%%)", finished, total, pct)
	} else {
		fmt.Fprintf(&b, "%d items", finished)
	}
	fmt.Fprintf(&b, "  %s", humanBytes(s.Bytes))
	if s.Elapsed > 0 {
		fmt.Fprintf(&b, "  %.1f inputs/s  %.1f MB/s", s.Rate(), s.MBps())
	}
	if eta, ok := p.eta(s, total); ok {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	fmt.Fprintf(&b, "  retries %d  throttled %d  failed %d", s.Retries, s.Throttle, s.Failed)
	return b.String()
}

// eta estimates the time left from the rate so far.
func (p *progress) eta(s pipeline.Stats, total int64) (time.Duration, bool) {
	finished := s.Finished()
	if total < 0 || finished == 0 || s.Elapsed <= 0 || finished > total {
		return 0, false
	}
	perItem := s.Elapsed / time.Duration(finished)
	return perItem * time.Duration(total-finished), true
}

// count streams the sources once more, keeping nothing, to learn how many
// items they hold; it stops early when ctx ends. Sources read only names,
// stats and manifest rows here, never media bytes.
func (p *progress) count(ctx context.Context, sources []pipeline.Source) {
	var n int64
	for _, src := range sources {
		ch := make(chan *pipeline.Item)
		errc := make(chan error, 1)
		go func() {
			defer close(ch)
			errc <- src.Stream(ctx, ch)
		}()
		for range ch {
			n++
		}
		if err := <-errc; err != nil {
			return
		}
	}
	p.total.Store(n)
}

func round1(f float64) float64 { return float64(int64(f*10)) / 10 }
