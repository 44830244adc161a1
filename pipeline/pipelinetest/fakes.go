// Package pipelinetest provides fakes of the pipeline's seams (sources,
// sinks, checkpoints) for tests of this module and of users' own code.
package pipelinetest

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Collect runs src to the end and returns every item it sent, in order.
func Collect(ctx context.Context, src pipeline.Source) ([]*pipeline.Item, error) {
	ch := make(chan *pipeline.Item)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		errc <- src.Stream(ctx, ch)
	}()
	var items []*pipeline.Item
	for it := range ch {
		items = append(items, it)
	}
	return items, <-errc
}

// SliceSource is a Source that sends its items in order.
type SliceSource struct {
	SourceName string
	Items      []*pipeline.Item
}

var _ pipeline.Source = (*SliceSource)(nil)

// Name returns SourceName, or "slice".
func (s *SliceSource) Name() string {
	if s.SourceName == "" {
		return "slice"
	}
	return s.SourceName
}

// Stream sends the items.
func (s *SliceSource) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	for _, it := range s.Items {
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
	return nil
}

// FingerprintSource is a SliceSource with a fingerprint: it implements
// pipeline.Fingerprinter, and counts the calls of Stream, so that a test
// can tell whether a run read it. It is safe for concurrent use.
type FingerprintSource struct {
	SliceSource
	// FP is what Fingerprint returns; Err, if set, is returned instead.
	FP  string
	Err error

	streams atomic.Int64
}

var _ pipeline.Fingerprinter = (*FingerprintSource)(nil)

// Fingerprint returns FP, or Err.
func (s *FingerprintSource) Fingerprint() (string, error) {
	if s.Err != nil {
		return "", s.Err
	}
	return s.FP, nil
}

// Stream counts the call and sends the items.
func (s *FingerprintSource) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	s.streams.Add(1)
	return s.SliceSource.Stream(ctx, out)
}

// Streams returns how many times Stream was called.
func (s *FingerprintSource) Streams() int64 { return s.streams.Load() }

// FuncSource is a Source backed by a function.
type FuncSource func(ctx context.Context, out chan<- *pipeline.Item) error

// Name returns "func".
func (f FuncSource) Name() string { return "func" }

// Stream calls f.
func (f FuncSource) Stream(ctx context.Context, out chan<- *pipeline.Item) error { return f(ctx, out) }

// RecordingSink is a Sink that accepts every item as done (or as the
// result Decide returns) and records what it received. It is safe for
// concurrent use.
type RecordingSink struct {
	// Decide, if set, chooses the final result of an item.
	Decide func(it *pipeline.Item) pipeline.Result
	// Fatal, if set, is returned by Run after the item it is returned for.
	Fatal func(it *pipeline.Item) error

	mu    sync.Mutex
	items []*pipeline.Item
}

var _ pipeline.Sink = (*RecordingSink)(nil)

// Run records and reports every item.
func (s *RecordingSink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	for it := range in {
		s.mu.Lock()
		s.items = append(s.items, it)
		s.mu.Unlock()
		if s.Fatal != nil {
			if err := s.Fatal(it); err != nil {
				return err
			}
		}
		res := pipeline.Result{Item: it, Event: pipeline.EventDone, Attempts: 1}
		if s.Decide != nil {
			res = s.Decide(it)
		}
		if err := pipeline.Send(ctx, results, res); err != nil {
			return err
		}
	}
	return nil
}

// Items returns the items received so far, in order.
func (s *RecordingSink) Items() []*pipeline.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pipeline.Item(nil), s.items...)
}

// MemCheckpoint is an in-memory Checkpoint keyed by Item.Key (or ID). It
// also remembers complete sources (pipeline.SourceCheckpoint). It is safe
// for concurrent use.
type MemCheckpoint struct {
	mu      sync.Mutex
	states  map[string]pipeline.ResumeState
	events  []pipeline.Result
	sources map[string]pipeline.SourceCounts
}

var _ pipeline.SourceCheckpoint = (*MemCheckpoint)(nil)

func key(it *pipeline.Item) string {
	if it.Key != "" {
		return it.Key
	}
	return it.ID
}

// Set presets the state of an item key.
func (c *MemCheckpoint) Set(k string, s pipeline.ResumeState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = make(map[string]pipeline.ResumeState)
	}
	c.states[k] = s
}

// Lookup returns the recorded state.
func (c *MemCheckpoint) Lookup(it *pipeline.Item) pipeline.ResumeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.states[key(it)]
}

// Record remembers accepted and done items.
func (c *MemCheckpoint) Record(r pipeline.Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, r)
	if c.states == nil {
		c.states = make(map[string]pipeline.ResumeState)
	}
	switch r.Event {
	case pipeline.EventAccepted:
		c.states[key(r.Item)] = pipeline.StateAccepted
	case pipeline.EventDone:
		c.states[key(r.Item)] = pipeline.StateDone
	}
	return nil
}

// Events returns every result recorded so far.
func (c *MemCheckpoint) Events() []pipeline.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]pipeline.Result(nil), c.events...)
}

// SourceDone returns the counts recorded for the source fingerprint fp.
func (c *MemCheckpoint) SourceDone(fp string) (pipeline.SourceCounts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.sources[fp]
	return n, ok
}

// RecordSourceDone remembers the source fingerprint fp as complete.
func (c *MemCheckpoint) RecordSourceDone(fp string, counts pipeline.SourceCounts) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sources == nil {
		c.sources = make(map[string]pipeline.SourceCounts)
	}
	c.sources[fp] = counts
	return nil
}

// SourcesDone returns the complete sources recorded so far, by fingerprint.
func (c *MemCheckpoint) SourcesDone() map[string]pipeline.SourceCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.sources)
}
