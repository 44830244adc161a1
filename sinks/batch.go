package sinks

import (
	"errors"
	"fmt"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
)

// BatchPolicy says when a batch is closed. It is a passive value: the
// Batcher applies it, and the zero value means "all defaults". A job file
// sets it under upload: with the keys batch_size and max_request_bytes.
type BatchPolicy struct {
	// MaxItems is the most items in one batch. Default and maximum:
	// MaxItemsPerRequest (128).
	MaxItems int `yaml:"batch_size"`
	// MaxBytes is the request budget: the sum of EstimateSize over a batch
	// stays within it. Default 64 MiB; at most MaxBatchBytes, so that a
	// request stays under the 128 MB limit with its protobuf overhead. An
	// item larger than MaxBytes on its own (a big video) is sent in a batch
	// of its own; the per-item limits (CheckLimits) bound it.
	MaxBytes units.ByteSize `yaml:"max_request_bytes"`
	// MaxWait is how long a partial batch may wait for more items after its
	// first item was added before it is flushed. Default 1s.
	MaxWait time.Duration `yaml:"-"`
}

// Defaults of BatchPolicy.
const (
	DefaultMaxItems                = MaxItemsPerRequest
	DefaultMaxBytes units.ByteSize = 64 << 20
	DefaultMaxWait                 = time.Second
)

// WithDefaults returns p with every zero field set to its default.
func (p BatchPolicy) WithDefaults() BatchPolicy {
	if p.MaxItems == 0 {
		p.MaxItems = DefaultMaxItems
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxWait == 0 {
		p.MaxWait = DefaultMaxWait
	}
	return p
}

// Validate returns an error naming every field of p (after defaults) that is
// out of range.
func (p BatchPolicy) Validate() error {
	p = p.WithDefaults()
	var errs []error
	if p.MaxItems < 1 || p.MaxItems > MaxItemsPerRequest {
		errs = append(errs, fmt.Errorf("batch MaxItems %d: want 1 to %d", p.MaxItems, MaxItemsPerRequest))
	}
	if p.MaxBytes < 1 || int64(p.MaxBytes) > MaxBatchBytes {
		errs = append(errs, fmt.Errorf("batch MaxBytes %d: want 1 to %d (requests must stay under %d bytes)",
			p.MaxBytes, MaxBatchBytes, MaxRequestBytes))
	}
	if p.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("batch MaxWait %v: must not be negative", p.MaxWait))
	}
	return errors.Join(errs...)
}

// Batcher groups items into batches by a BatchPolicy. It is owned by one
// goroutine, starts none of its own and is not safe for concurrent use.
//
// Add closes the open batch by itself whenever the next item would break a
// rule (count, bytes, or a second video), so no sequence of calls can produce
// a batch that breaks one. Closed batches wait, in order, until Flush takes
// them. The usual loop is:
//
//	if b.Add(it) {
//		for b.Full() {
//			send(b.Flush())
//		}
//	}
//	// and when UntilNext() reaches 0, or the input ends:
//	for b.Len() > 0 {
//		send(b.Flush())
//	}
//
// Items must have passed CheckLimits; Add does not load their content.
type Batcher struct {
	p   BatchPolicy
	now func() time.Time

	open      []*pipeline.Item
	openBytes int64
	openVideo bool
	opened    time.Time // when the first item of open was added

	ready [][]*pipeline.Item // closed batches, oldest first
	n     int                // items held, open and closed
}

// NewBatcher returns an empty Batcher applying p (with defaults; an invalid
// p is clamped to the nearest valid value, so callers should Validate it
// first). now is the clock used for MaxWait; nil means time.Now.
func NewBatcher(p BatchPolicy, now func() time.Time) *Batcher {
	p = p.WithDefaults()
	p.MaxItems = min(max(p.MaxItems, 1), MaxItemsPerRequest)
	p.MaxBytes = units.ByteSize(min(max(int64(p.MaxBytes), 1), MaxBatchBytes))
	p.MaxWait = max(p.MaxWait, 0)
	if now == nil {
		now = time.Now
	}
	return &Batcher{p: p, now: now}
}

// Add adds it to the open batch and reports whether a closed batch is ready
// to Flush. If it does not fit the open batch (MaxItems, MaxBytes, or it is
// a second video), the open batch is closed first and it starts a new one; a
// batch that reaches MaxItems or MaxBytes is closed at once.
func (b *Batcher) Add(it *pipeline.Item) (full bool) {
	size := EstimateSize(it)
	video := it.Kind == pipeline.KindVideo
	if len(b.open) > 0 && (len(b.open) >= b.p.MaxItems || b.openBytes+size > int64(b.p.MaxBytes) || (video && b.openVideo)) {
		b.close()
	}
	if len(b.open) == 0 {
		b.opened = b.now()
		b.open = make([]*pipeline.Item, 0, min(b.p.MaxItems, 16))
	}
	b.open = append(b.open, it)
	b.openBytes += size
	b.openVideo = b.openVideo || video
	b.n++
	if len(b.open) >= b.p.MaxItems || b.openBytes >= int64(b.p.MaxBytes) {
		b.close()
	}
	return len(b.ready) > 0
}

// Full reports whether a closed batch is waiting for Flush.
func (b *Batcher) Full() bool { return len(b.ready) > 0 }

// Flush removes and returns the oldest closed batch or, if none is closed,
// the open batch (a partial flush, for MaxWait or the end of the input). It
// returns nil when the Batcher is empty. The caller owns the returned slice.
func (b *Batcher) Flush() []*pipeline.Item {
	if len(b.ready) == 0 {
		if len(b.open) == 0 {
			return nil
		}
		b.close()
	}
	batch := b.ready[0]
	copy(b.ready, b.ready[1:])
	b.ready[len(b.ready)-1] = nil
	b.ready = b.ready[:len(b.ready)-1]
	b.n -= len(batch)
	return batch
}

// UntilNext returns how long until a batch must be flushed: 0 when a closed
// batch is waiting or the open batch has waited MaxWait, the time left
// otherwise, and a negative duration when the Batcher is empty (nothing to
// wait for).
func (b *Batcher) UntilNext() time.Duration {
	switch {
	case len(b.ready) > 0:
		return 0
	case len(b.open) == 0:
		return -1
	}
	return max(b.opened.Add(b.p.MaxWait).Sub(b.now()), 0)
}

// Len returns the number of items held, in closed and open batches.
func (b *Batcher) Len() int { return b.n }

// close moves the open batch to the ready queue.
func (b *Batcher) close() {
	b.ready = append(b.ready, b.open)
	b.open, b.openBytes, b.openVideo = nil, 0, false
}
