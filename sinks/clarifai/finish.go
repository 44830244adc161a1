package clarifai

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// This file holds the finish stage, the last of the sink: the only sender
// on the results channel. Every other stage reports to it with events; it
// joins an accepted item's two outstanding parts (annotations,
// verification), sends each item's results in order, frees the item's
// MaxPending slot with its final result, and ends the run once every item
// taken from the input has its final result.

// track follows one item from its acceptance by the server to its final
// result. Its fields are owned by one stage at a time, as marked; an item
// is held by the upload stage until it is accepted, then by the finish
// stage, the annotator (while annotating) and the verifier (while
// verifying), and goes back to the upload stage only when the verifier
// sends it again, once its annotations are settled.
type track struct {
	it *pipeline.Item
	// packed holds the labels and metadata of it while it waits for its
	// processing to be confirmed (see pack); zero when they are in it.
	// They are put back before a failure result (the failure report needs
	// them) and before a re-send. Written by the upload stage before the
	// item is accepted, by the finish stage in the failure result, and by
	// the verifier before a re-send.
	packed   packed
	attempts int    // requests that carried the input, in this run (upload stage)
	bytes    int64  // content bytes sent (upload stage)
	stage    string // named in the EventDone result

	// state is the one field read by several stages at once: the upload
	// stage sets it when it hands the track on, after which only the
	// finish stage writes it (stateFinal, stateAnnotating); the annotator
	// and verifier read it to drop work on an item that is already final,
	// or to wait until its annotations have settled.
	state atomic.Uint32

	// The parts outstanding: set by the upload stage when it hands the
	// track on, then owned by the finish stage.
	wantAnn, wantVer bool

	// Owned by the verifier (set by the upload stage before it hands the
	// track on).
	since     time.Time // first accepted (or resumed) in this run
	lastCode  int32     // last processing status seen
	resends   int       // re-sent because the server did not have it
	reprocess int       // deleted and re-sent after a transient processing failure
}

// Bits of track.state.
const (
	stateFinal      = 1 << iota // the final result was sent
	stateAnnotating             // the annotation part is outstanding
)

// isFinal reports whether the final result of t was sent.
func (t *track) isFinal() bool { return t.state.Load()&stateFinal != 0 }

// annotating reports whether the annotation part of t is still outstanding.
func (t *track) annotating() bool { return t.state.Load() == stateAnnotating }

// pack packs the labels and metadata of t's item, which waits for its
// processing to be confirmed; md is the wire form of its metadata if the
// request build wrote it. It is called before the item is shared with any
// other stage.
func (t *track) pack(md []byte) { t.packed = pack(t.it, md) }

// unpack restores the packed fields of t's item: for a failure report or to
// send it again. It writes an item that earlier results (accepted,
// annotated) carried, but only the two fields those results carried empty;
// their readers (the failure report) read them from the failure result,
// sent after this write.
func (t *track) unpack() {
	t.packed.unpack(t.it)
	t.packed = packed{}
}

// acceptance is an input the server acknowledged, in this run or an earlier
// one, reported to the finish stage.
type acceptance struct {
	t       *track
	resumed bool // delivered by an earlier run: no EventAccepted
	fresh   bool // created by a request of a group: its job counts it
	verify  bool // its processing is to be confirmed (Verify, and not INPUT_SUCCESS yet)
}

// eventKind says what an event reports.
type eventKind uint8

const (
	evAccepted  eventKind = iota // as: inputs the server acknowledged
	evAnnotated                  // t: all its annotations are in
	evVerified                   // ts: processing confirmed
	evFailed                     // res, and t if the item has a track
	evReport                     // res: the final result of an item with no track (failed, skipped)
	evClosed                     // n: the input is closed after n items
)

// event is what a stage reports to the finish stage. A batch of items
// travels as one event.
type event struct {
	kind eventKind
	as   []acceptance
	t    *track
	ts   []*track
	res  pipeline.Result
	n    int
}

// reporter sends events to the finish stage. It is safe for concurrent
// use: every stage holds a copy.
type reporter struct {
	events   chan<- event
	finished <-chan struct{}
}

// report sends ev to the finish stage. Once the finish stage has ended
// (every item has its final result) ev is dropped: it can only concern an
// item that is already final.
func (r reporter) report(ctx context.Context, ev event) error {
	select {
	case r.events <- ev:
		return nil
	case <-r.finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail reports t failed at stage, unless its final result was already sent.
func (r reporter) fail(ctx context.Context, t *track, stage string, code int32, err error) error {
	return r.report(ctx, event{kind: evFailed, t: t,
		res: pipeline.Result{Item: t.it, Event: pipeline.EventFailed, Stage: stage, Code: code, Err: err}})
}

// failItem reports an item that has no track: it never reached the server.
func (r reporter) failItem(ctx context.Context, it *pipeline.Item, stage string, code int32, attempts int, bytes int64, err error) error {
	return r.report(ctx, event{kind: evReport, res: pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: stage,
		Code: code, Err: err, Attempts: attempts, Bytes: bytes}})
}

// finisher is the finish stage's state.
type finisher struct {
	results  chan<- pipeline.Result
	slots    <-chan struct{} // one token per item in the sink; a final result frees one
	stats    *sinkStats
	finished chan<- struct{}

	taken  int  // items taken from the input (known once closed)
	closed bool // the input is closed
	finals int  // final results sent
}

// run is the finish stage's loop. It returns nil once the input is closed
// and every item has its final result, after closing finished; or ctx.Err().
func (f *finisher) run(ctx context.Context, events <-chan event) error {
	for !f.closed || f.finals < f.taken {
		var ev event
		select {
		case ev = <-events:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := f.handle(ctx, ev); err != nil {
			return err
		}
	}
	close(f.finished)
	return nil
}

func (f *finisher) handle(ctx context.Context, ev event) error {
	switch ev.kind {
	case evAccepted:
		// All acceptances of the request first, then what is already done:
		// the order the upload workers always sent them in.
		for _, a := range ev.as {
			t := a.t
			if !a.resumed {
				if err := pipeline.Send(ctx, f.results, pipeline.Result{Item: t.it, Event: pipeline.EventAccepted,
					Stage: stage, Attempts: t.attempts, Bytes: t.bytes}); err != nil {
					return err
				}
			}
		}
		for _, a := range ev.as {
			if err := f.idle(ctx, a.t); err != nil {
				return err
			}
		}
	case evAnnotated:
		t := ev.t
		if t.isFinal() || !t.wantAnn {
			return nil
		}
		t.wantAnn = false
		f.stats.annotatedItems.Add(1)
		if err := pipeline.Send(ctx, f.results, pipeline.Result{Item: t.it, Event: pipeline.EventAnnotated,
			Stage: annotateStage, Attempts: t.attempts, Bytes: t.bytes}); err != nil {
			return err
		}
		return f.idle(ctx, t)
	case evVerified:
		for _, t := range ev.ts {
			if t.isFinal() || !t.wantVer {
				continue
			}
			t.wantVer = false
			f.stats.verified.Add(1)
			if err := f.idle(ctx, t); err != nil {
				return err
			}
		}
	case evFailed:
		t := ev.t
		if t.isFinal() {
			return nil
		}
		t.state.Store(stateFinal)
		t.unpack() // for the failure report
		res := ev.res
		res.Attempts, res.Bytes = t.attempts, t.bytes
		return f.final(ctx, res)
	case evReport:
		return f.final(ctx, ev.res)
	case evClosed:
		f.closed, f.taken = true, ev.n
	}
	return nil
}

// idle sends EventDone for t if no part is outstanding, and publishes what
// is outstanding otherwise.
func (f *finisher) idle(ctx context.Context, t *track) error {
	if t.isFinal() {
		return nil
	}
	if t.wantAnn || t.wantVer {
		if t.wantAnn {
			t.state.Store(stateAnnotating)
		} else {
			t.state.Store(0)
		}
		return nil
	}
	t.state.Store(stateFinal)
	return f.final(ctx, pipeline.Result{Item: t.it, Event: pipeline.EventDone, Stage: t.stage,
		Attempts: t.attempts, Bytes: t.bytes})
}

// final sends the final result of an item and frees its slot. Every item
// taken from the input passes here exactly once.
func (f *finisher) final(ctx context.Context, res pipeline.Result) error {
	err := pipeline.Send(ctx, f.results, res)
	<-f.slots
	f.finals++
	return err
}

// mailbox is a queue from one stage to another that never blocks its
// senders: Put appends and wakes the receiver, which takes everything with
// Take. The sink's mailboxes are bounded by what is put in them: every
// entry carries items that hold a MaxPending slot. It is safe for
// concurrent use.
type mailbox[T any] struct {
	mu   sync.Mutex
	q    []T
	wake chan struct{} // capacity 1: a wake-up is pending
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{wake: make(chan struct{}, 1)} }

// Put queues v and wakes the receiver.
func (m *mailbox[T]) Put(v T) {
	m.mu.Lock()
	m.q = append(m.q, v)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Wake is ready to receive after a Put.
func (m *mailbox[T]) Wake() <-chan struct{} { return m.wake }

// Take returns what was queued and empties the queue.
func (m *mailbox[T]) Take() []T {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.q
	m.q = nil
	return q
}
