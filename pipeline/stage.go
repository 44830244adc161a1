package pipeline

import "context"

// Source streams items into the pipeline.
type Source interface {
	// Name identifies the source in logs and reports, e.g. "dir data/sample".
	Name() string
	// Stream sends every item of the source on out, in a deterministic order,
	// and returns nil when the source is exhausted. It must not close out.
	// Every send selects on ctx.Done(); when ctx is done Stream returns
	// ctx.Err() promptly. A record it cannot read is not an error: it is
	// sent as an item with Err set (see Item.Fail) and provenance filled in.
	// A non-nil error other than ctx.Err() ends the run (for example the
	// manifest cannot be opened).
	Stream(ctx context.Context, out chan<- *Item) error
}

// Transform changes items between the sources and the sink. Transforms run
// in the configured order on each item, on several workers at once, so Apply
// must be safe for concurrent use.
type Transform interface {
	// Name identifies the transform in reports ("transform:<name>").
	Name() string
	// Apply changes it in place. It returns nil to keep the item, an error
	// wrapping ErrSkip (see Skip) to drop it, or another error to fail it.
	// A failed or dropped item is reported; the run goes on.
	Apply(ctx context.Context, it *Item) error
}

// TransformFunc is the signature of a custom transform.
type TransformFunc func(ctx context.Context, it *Item) error

// Func adapts a function to a Transform with the given name.
func Func(name string, f TransformFunc) Transform { return funcTransform{name, f} }

type funcTransform struct {
	name string
	f    TransformFunc
}

func (t funcTransform) Name() string                              { return t.name }
func (t funcTransform) Apply(ctx context.Context, it *Item) error { return t.f(ctx, it) }

// Sink delivers items to their destination.
type Sink interface {
	// Run consumes items from in until it is closed, and sends on results
	// exactly one final Result per item (plus any intermediate events), in
	// any order. It must not close results. Items that arrive with Err set
	// must be reported, not sent. Every send selects on ctx.Done().
	// Run returns nil once every item received has its final result, or a
	// non-nil error that ends the run: a fatal condition (invalid key,
	// unknown app) or ctx.Err().
	Run(ctx context.Context, in <-chan *Item, results chan<- Result) error
}

// ResumeState is what the checkpoint knows of an item from earlier runs.
type ResumeState uint8

const (
	// StateNew: nothing is known; the item is delivered.
	StateNew ResumeState = iota
	// StateAccepted: an earlier run delivered the item but did not see its
	// processing confirmed; it is verified, not sent again.
	StateAccepted
	// StateDone: an earlier run finished the item; it is skipped without
	// loading its bytes.
	StateDone
	// StateUpdate: an earlier run finished the item and it changed since;
	// it goes on to the sink, which does what it.Sync says (see Action).
	// Only a SyncCheckpoint answers it.
	StateUpdate
	// StateConflict: the item's content changed under a user-given input
	// ID an earlier run used, and the job does not allow replacing it; the
	// runner fails it at stage "sync" with ErrContentChanged, or, with
	// it.Sync.VerifyContent, hands it to the sink to compare its bytes.
	// Only a SyncCheckpoint answers it.
	StateConflict
)

// Checkpoint remembers what the server acknowledged, so that a rerun skips
// it. Lookup is called from the resume filter stage and Record from the
// runner's result loop; the two may run concurrently. Lookup is called once
// per item read, before the item is processed, so it need only know what
// earlier runs recorded. A Checkpoint may also implement SourceCheckpoint.
type Checkpoint interface {
	// Lookup returns the state of it from earlier runs. It may fill in it.ID
	// (the ID the earlier run used).
	Lookup(it *Item) ResumeState
	// Record persists an acknowledged event (accepted, annotated, done, or a
	// failure the server decided). It is called from one goroutine. An error
	// ends the run: progress that cannot be saved must not be reported.
	Record(r Result) error
}

// Send sends v on out unless ctx is done first, in which case it returns
// ctx.Err(). Stages use it for every send.
func Send[T any](ctx context.Context, out chan<- T, v T) error {
	select {
	case out <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
