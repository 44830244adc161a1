package clarifai

import (
	"context"
	"sync"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// This file holds the state of one Sink.Run: the bound on items in the
// sink, the per-item join of the annotation and verification parts, the
// queue of inputs verification sends again, and the verification groups.

// run is the state of one Sink.Run. Its goroutines are the batcher, the
// upload workers, the annotator and (with Verify) the verifier.
type run struct {
	s       *Sink
	cfg     SinkConfig
	results chan<- pipeline.Result

	// slots holds one token per item in the sink, from the moment the
	// batcher takes it from the input until its final result: its capacity,
	// MaxPending, bounds the items (and so the memory) the sink holds. The
	// elements are empty structs, so the buffer itself costs nothing.
	slots chan struct{}
	// annIn carries accepted items with regions to the annotator.
	// Unbuffered: a full annotator holds back the upload workers.
	annIn chan *track
	ver   *verifier // nil unless cfg.Verify
	// wire is set when the API is a *Client: requests are built for the
	// wire (see builder).
	wire bool

	mu          sync.Mutex
	open        int  // items taken from the input without a final result
	inputClosed bool // the input channel is closed
	// finished is closed when the input is closed and every item has its
	// final result: the stages that outlive the input (workers, annotator,
	// verifier) then return.
	finished chan struct{}
	// inputDone is closed when the input channel is closed: the annotator
	// stops waiting for fuller requests.
	inputDone chan struct{}

	// Inputs to send again (missing on the server, or deleted after a
	// transient processing failure). Verification appends to resendQ and
	// never blocks; the batcher takes them on resendWake. resent maps each
	// such item to its track until a worker builds it again.
	resendMu   sync.Mutex
	resendQ    []*track
	resent     map[*pipeline.Item]*track
	resendWake chan struct{} // capacity 1
}

func newRun(s *Sink, results chan<- pipeline.Result) *run {
	r := &run{
		s: s, cfg: s.cfg, results: results,
		slots:      make(chan struct{}, s.cfg.MaxPending),
		annIn:      make(chan *track),
		finished:   make(chan struct{}),
		inputDone:  make(chan struct{}),
		resent:     make(map[*pipeline.Item]*track),
		resendWake: make(chan struct{}, 1),
	}
	if s.cfg.Verify {
		r.ver = newVerifier(r)
	}
	_, r.wire = s.api.(*client.Client)
	return r
}

// took counts an item taken from the input (its slot is already held).
func (r *run) took() {
	r.mu.Lock()
	r.open++
	r.mu.Unlock()
}

// closeInput records that the input is closed.
func (r *run) closeInput() {
	close(r.inputDone)
	r.mu.Lock()
	r.inputClosed = true
	done := r.open == 0
	r.mu.Unlock()
	if done {
		close(r.finished)
	}
}

// finish sends the final result of an item and frees its slot. Every item
// taken from the input passes here exactly once.
func (r *run) finish(ctx context.Context, res pipeline.Result) error {
	err := pipeline.Send(ctx, r.results, res)
	<-r.slots
	r.mu.Lock()
	r.open--
	done := r.open == 0 && r.inputClosed
	r.mu.Unlock()
	if done { // open reaches 0 once after the input closed: nothing is added then
		close(r.finished)
	}
	return err
}

// failItem reports an item that never reached the server, or whose track
// no other goroutine knows yet.
func (r *run) failItem(ctx context.Context, it *pipeline.Item, stage string, code int32, attempts int, bytes int64, err error) error {
	return r.finish(ctx, pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: stage, Code: code, Err: err,
		Attempts: attempts, Bytes: bytes})
}

// track follows one item from its acceptance by the server to its final
// result. Two parts may be outstanding: its annotations (the annotator) and
// its processing (the verifier); the item is done when both are. The
// events of one item are sent while holding mu, so they reach the results
// channel in order (accepted, annotated, done) and none follows the final
// one, whichever goroutine finishes a part.
type track struct {
	it *pipeline.Item
	// packed holds the labels and metadata of it while it waits for its
	// processing to be confirmed (see pack); zero when they are in it.
	// They are put back before a failure result (the failure report needs
	// them) and before a re-send.
	packed   packed
	attempts int    // requests that carried the input, in this run
	bytes    int64  // content bytes sent
	stage    string // named in the EventDone result

	mu               sync.Mutex
	wantAnn, wantVer bool // parts outstanding
	final            bool // the final result was sent

	// Owned by the verifier (under verifier.mu once registered).
	since     time.Time // first accepted (or resumed) in this run
	lastCode  int32     // last processing status seen
	resends   int       // re-sent because the server did not have it
	reprocess int       // deleted and re-sent after a transient processing failure
}

// begin starts a cycle after the server accepted the input: it sets the
// parts still to do. It is called before the track is handed to the
// annotator or the verifier.
func (t *track) begin(ann, ver bool) {
	t.mu.Lock()
	t.wantAnn, t.wantVer = ann, ver
	t.mu.Unlock()
}

// isFinal reports whether the final result was sent.
func (t *track) isFinal() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.final
}

// annotating reports whether the annotation part is still outstanding.
func (t *track) annotating() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wantAnn && !t.final
}

// annotated reports EventAnnotated for t, and EventDone if its processing is
// confirmed (or not verified).
func (r *run) annotated(ctx context.Context, t *track) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.final || !t.wantAnn {
		return nil
	}
	t.wantAnn = false
	r.s.stats.annotatedItems.Add(1)
	if err := pipeline.Send(ctx, r.results, pipeline.Result{Item: t.it, Event: pipeline.EventAnnotated,
		Stage: "annotate", Attempts: t.attempts, Bytes: t.bytes}); err != nil {
		return err
	}
	return r.doneLocked(ctx, t)
}

// verified records that t reached INPUT_SUCCESS, and reports EventDone if
// its annotations are in too.
func (r *run) verified(ctx context.Context, t *track) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.final || !t.wantVer {
		return nil
	}
	t.wantVer = false
	r.s.stats.verified.Add(1)
	return r.doneLocked(ctx, t)
}

// doneLocked sends EventDone if no part is outstanding. t.mu is held.
func (r *run) doneLocked(ctx context.Context, t *track) error {
	if t.final || t.wantAnn || t.wantVer {
		return nil
	}
	t.final = true
	return r.finish(ctx, pipeline.Result{Item: t.it, Event: pipeline.EventDone, Stage: t.stage,
		Attempts: t.attempts, Bytes: t.bytes})
}

// fail reports t failed, unless its final result was already sent.
func (r *run) fail(ctx context.Context, t *track, stage string, code int32, err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.final {
		return nil
	}
	t.final = true
	t.unpackLocked() // for the failure report
	return r.finish(ctx, pipeline.Result{Item: t.it, Event: pipeline.EventFailed, Stage: stage, Code: code, Err: err,
		Attempts: t.attempts, Bytes: t.bytes})
}

// pack packs the labels and metadata of t's item, which waits for its
// processing to be confirmed; md is the wire form of its metadata if the
// request build wrote it. It is called before the item is shared with any
// other goroutine (in a result or with the verifier).
func (t *track) pack(md []byte) { t.packed = pack(t.it, md) }

// unpack restores the packed fields of t's item, to send it again.
func (t *track) unpack() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unpackLocked()
}

// unpackLocked is unpack with t.mu held. It writes an item that earlier
// results (accepted, annotated) carried, but only the two fields those
// results carried empty; their readers (the failure report) read them from
// the failure result, sent after this write.
func (t *track) unpackLocked() {
	t.packed.unpack(t.it)
	t.packed = packed{}
}

// resend queues t's input to be built and sent again by the upload stage.
// It never blocks: the item already holds its slot, so the queue is
// bounded by MaxPending.
func (r *run) resend(t *track) {
	r.resendMu.Lock()
	r.resendQ = append(r.resendQ, t)
	r.resent[t.it] = t
	r.resendMu.Unlock()
	r.cfg.Counters.Retries.Add(1)
	r.s.stats.resent.Add(1)
	select {
	case r.resendWake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// takeResends returns the queued re-sends and empties the queue.
func (r *run) takeResends() []*track {
	r.resendMu.Lock()
	defer r.resendMu.Unlock()
	q := r.resendQ
	r.resendQ = nil
	return q
}

// resentTrack returns the track of it if verification queued it for a
// re-send, and forgets it; nil for a first send.
func (r *run) resentTrack(it *pipeline.Item) *track {
	r.resendMu.Lock()
	defer r.resendMu.Unlock()
	t := r.resent[it]
	delete(r.resent, it)
	return t
}

// group is a verification group: consecutive batches sharing one
// inputs_add_job_id, so that one GetInputsAddJob call reports on all of
// their inputs. The batcher opens and seals it; workers count its batches
// done and add the inputs it created; when it is sealed and no batch is in
// flight, it is handed to the verifier.
type group struct {
	id     string
	opened time.Time

	mu       sync.Mutex
	batches  int      // batches dispatched
	inflight int      // batches dispatched and not yet finished
	sealed   bool     // no more batches join
	handed   bool     // given to the verifier (or dropped)
	members  []*track // inputs this group's requests created, to verify

	// Owned by the verifier once handed.
	readyAt  time.Time
	due      time.Time
	polls    int
	lastBusy uint64 // inputs pending or in progress at the last poll
}

func newGroup() *group { return &group{id: newJobID(), opened: time.Now()} }

// dispatched counts a batch sent to a worker.
func (g *group) dispatched() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.batches++
	g.inflight++
	return g.batches
}

// add records inputs created by one of the group's requests.
func (g *group) add(ts []*track) {
	g.mu.Lock()
	g.members = append(g.members, ts...)
	g.mu.Unlock()
}

// seal closes g to new batches; batchDone closes one batch. Whichever
// comes last hands g to the verifier.
func (r *run) seal(g *group) {
	g.mu.Lock()
	g.sealed = true
	ready := g.inflight == 0 && !g.handed
	g.handed = g.handed || ready
	g.mu.Unlock()
	if ready {
		r.groupReady(g)
	}
}

func (r *run) batchDone(g *group) {
	g.mu.Lock()
	g.inflight--
	ready := g.sealed && g.inflight == 0 && !g.handed
	g.handed = g.handed || ready
	g.mu.Unlock()
	if ready {
		r.groupReady(g)
	}
}

// groupReady hands a group whose requests are all answered to the
// verifier. members is not written after handed is set.
func (r *run) groupReady(g *group) {
	if r.ver != nil && len(g.members) > 0 {
		r.ver.addGroup(g)
	}
}
