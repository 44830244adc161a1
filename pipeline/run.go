package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Job is everything one run needs. Sources, Sink and at least one source are
// required; the rest is optional.
type Job struct {
	// Sources are read one after the other, in order.
	Sources []Source
	// Transforms run in order on every item.
	Transforms []Transform
	Sink       Sink
	// Checkpoint, if set, lets the run skip what earlier runs finished and
	// records what this run gets acknowledged.
	Checkpoint Checkpoint
	// OnResult, if set, is called for every result from one goroutine, after
	// the checkpoint has recorded it (failure report, progress, metrics). It
	// should return quickly; an error ends the run.
	OnResult func(Result) error
	// Workers is the number of transform workers; default GOMAXPROCS.
	Workers int
	// Counters receives the live counts; a new set is made when nil. Pass
	// your own to watch the run (progress display, metrics).
	Counters *Counters
	// Logger receives one line per failed or skipped item; default no-op.
	Logger *zap.Logger
	// Stop, when closed, stops reading new items: what was read is still
	// delivered, recorded and reported (soft shutdown). Cancelling the
	// context of Run stops everything at once (hard shutdown).
	Stop <-chan struct{}
}

// ErrNoSink and ErrNoSources are returned by Run for an incomplete Job.
var (
	ErrNoSink    = errors.New("pipeline: job has no sink")
	ErrNoSources = errors.New("pipeline: job has no sources")
)

// Run runs the job to the end and returns the final counts. It blocks until
// every goroutine it started has returned. The error is nil when every item
// read got a final result, even if some items failed (see Stats.Failed); it
// is non-nil when the run was cut short: a fatal sink or checkpoint error, a
// source that could not be read, or ctx cancelled.
func Run(ctx context.Context, job Job) (Stats, error) {
	if job.Sink == nil {
		return Stats{}, ErrNoSink
	}
	if len(job.Sources) == 0 {
		return Stats{}, ErrNoSources
	}
	if job.Counters == nil {
		job.Counters = NewCounters()
	}
	if job.Logger == nil {
		job.Logger = zap.NewNop()
	}
	workers := job.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &runner{job: job}

	g, gctx := errgroup.WithContext(ctx)
	// All channels are unbuffered: together with the fixed worker count and
	// the sink's own batch bound, this bounds the items in memory.
	read := make(chan *Item)
	toTransform := make(chan *Item)
	toSink := make(chan *Item)
	results := make(chan Result)

	// readCtx ends the sources only: on Stop the rest of the pipeline drains.
	readCtx, stopReading := context.WithCancel(gctx)
	defer stopReading()
	readDone := make(chan struct{})
	g.Go(func() error {
		select {
		case <-job.Stop:
			stopReading()
		case <-readDone:
		}
		return nil
	})

	// Three stages produce results; the last one to finish closes results.
	var producers sync.WaitGroup
	producers.Add(3)
	g.Go(func() error {
		defer close(readDone)
		defer close(read)
		return r.readSources(readCtx, gctx, read)
	})
	g.Go(func() error {
		defer producers.Done()
		defer close(toTransform)
		return r.filter(gctx, read, toTransform, results)
	})
	g.Go(func() error {
		defer producers.Done()
		defer close(toSink)
		return r.transform(gctx, workers, toTransform, toSink, results)
	})
	g.Go(func() error {
		defer producers.Done()
		if err := job.Sink.Run(gctx, toSink, results); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		producers.Wait()
		close(results)
		return nil
	})
	g.Go(func() error { return r.consume(results) })

	err := g.Wait()
	return job.Counters.Snapshot(), err
}

type runner struct {
	job Job
}

// readSources streams every source into out. It stops early, without error,
// when readCtx ends but the run goes on (soft stop).
func (r *runner) readSources(readCtx, runCtx context.Context, out chan<- *Item) error {
	for _, src := range r.job.Sources {
		err := src.Stream(readCtx, out)
		if readCtx.Err() != nil && runCtx.Err() == nil {
			r.job.Logger.Info("stopped reading", zap.String("source", src.Name()))
			return nil
		}
		if err != nil {
			return fmt.Errorf("source %s: %w", src.Name(), err)
		}
	}
	return nil
}

// filter counts items read, reports items that already failed in their
// source, and asks the checkpoint what earlier runs did.
func (r *runner) filter(ctx context.Context, in <-chan *Item, out chan<- *Item, results chan<- Result) error {
	for it := range in {
		r.job.Counters.Read.Add(1)
		if it.Err != nil {
			if err := Send(ctx, results, failure(it, it.Stage, it.Err)); err != nil {
				return err
			}
			continue
		}
		if r.job.Checkpoint != nil {
			switch r.job.Checkpoint.Lookup(it) {
			case StateDone:
				if err := Send(ctx, results, Result{Item: it, Event: EventResumed}); err != nil {
					return err
				}
				continue
			case StateAccepted:
				it.Resumed = true
			}
		}
		if err := Send(ctx, out, it); err != nil {
			return err
		}
	}
	return nil
}

// transform applies the transforms on a pool of workers.
func (r *runner) transform(ctx context.Context, workers int, in <-chan *Item, out chan<- *Item, results chan<- Result) error {
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for it := range in {
				// Resumed items are transformed too: the sink still needs
				// their regions (normalized) to post annotations again,
				// which is idempotent. They are few: only what was in
				// flight when the earlier run stopped.
				if t, err := r.apply(ctx, it); err != nil {
					if err := Send(ctx, results, failure(it, "transform:"+t, err)); err != nil {
						return err
					}
					continue
				}
				if err := Send(ctx, out, it); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// apply runs the transforms in order and returns the name of the one that
// failed or dropped the item. A panicking transform fails the item instead
// of crashing the run: custom funcs are user code.
func (r *runner) apply(ctx context.Context, it *Item) (name string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	for _, t := range r.job.Transforms {
		name = t.Name()
		if err := t.Apply(ctx, it); err != nil {
			return name, err
		}
	}
	return "", nil
}

// failure builds the final result of an item that failed or was skipped.
func failure(it *Item, stage string, err error) Result {
	ev := EventFailed
	if errors.Is(err, ErrSkip) {
		ev = EventSkipped
	}
	it.Err, it.Stage = err, stage
	return Result{Item: it, Event: ev, Stage: stage, Err: err}
}

// consume is the single reader of results: checkpoint first (so that a
// reported success is a saved one), then counters, log and OnResult.
func (r *runner) consume(results <-chan Result) error {
	log := r.job.Logger
	for res := range results {
		if r.job.Checkpoint != nil {
			if err := r.job.Checkpoint.Record(res); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
		r.job.Counters.count(res)
		switch res.Event {
		case EventFailed:
			log.Warn("item failed", zap.Stringer("item", res.Item.Prov), zap.String("id", res.Item.ID),
				zap.String("stage", res.Stage), zap.Int32("code", res.Code), zap.Error(res.Err))
		case EventSkipped:
			log.Info("item skipped", zap.Stringer("item", res.Item.Prov), zap.String("stage", res.Stage), zap.Error(res.Err))
		}
		if r.job.OnResult != nil {
			if err := r.job.OnResult(res); err != nil {
				return err
			}
		}
	}
	return nil
}
