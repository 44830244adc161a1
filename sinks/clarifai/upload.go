package clarifai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// stage names the upload stage in results.
const stage = "upload"

// uploader is the upload stage: one batcher (batch) and Concurrency
// workers (deliver), joined by the batches channel. The batcher takes items
// while the sink has room (MaxPending slots), groups them into batches and
// the batches into verification groups; a worker builds a batch's requests
// (loading content only then), posts them, re-sends what failed retryably,
// and hands every accepted input on (handOn): to the finish stage, to the
// verifier's mailbox and, with regions, to the annotator.
type uploader struct {
	api InputPoster
	// lister reads back inputs whose given ID the server already holds
	// (adoptGiven, adopt.go).
	lister inputLister
	cfg    SinkConfig
	stats  *sinkStats
	rep    reporter
	wire   bool // the API is a *client.Client: requests are built for the wire (see builder)

	// slots holds one token per item in the sink, from the moment the
	// batcher takes it from the input until its final result (the finish
	// stage frees it): its capacity, MaxPending, bounds the items (and so
	// the memory) the sink holds. The elements are empty structs, so the
	// buffer itself costs nothing.
	slots     chan struct{}
	inputDone chan<- struct{}      // closed by the batcher when the input is closed
	finished  <-chan struct{}      // closed by the finish stage when every item has its final result
	resends   *mailbox[*track]     // inputs the verifier wants sent again
	annotate  chan<- *track        // accepted items with regions, to the annotator
	verifyQ   *mailbox[verifyWork] // accepted inputs to verify, to the verifier
	// update takes ActionUpdate and ActionReplace items, and new items
	// found on the server that differ in what can be updated, to the
	// update stage; replaced brings back replaced items to post.
	update   chan<- *pipeline.Item
	replaced *mailbox[*pipeline.Item]
}

// dispatch is a batch on its way to an upload worker.
type dispatch struct {
	items []*pipeline.Item
	g     *group
	// resent[i] is the track of items[i] when verification is sending it
	// again; nil when no item of the batch is a re-send.
	resent []*track
}

// batch is the batcher: it takes items while the sink has room
// (MaxPending), reports items that cannot be sent, hands resumed items on,
// groups the others into batches and the batches into verification
// groups, and takes back inputs verification wants sent again. It returns
// once the input is closed and every item has its final result.
func (u *uploader) batch(ctx context.Context, in <-chan *pipeline.Item, out chan<- dispatch) error {
	b := sinks.NewBatcher(u.cfg.Batch, nil)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	taken := 0                           // items taken from the input
	var resent map[*pipeline.Item]*track // re-sends waiting in b, by item
	var open *group                      // the group the next batch joins; nil until a batch opens one
	sealOpen := func() {
		if open != nil {
			u.seal(open)
			open = nil
		}
	}
	// flush dispatches the closed batches, and the open one too when it is
	// due or all is set (the input has ended).
	flush := func(all bool) error {
		for b.Full() || (b.Len() > 0 && (all || b.UntilNext() == 0)) {
			if open == nil {
				open = newGroup()
			}
			g := open
			if g.dispatched() >= u.cfg.VerifyGroupBatches {
				sealOpen()
			}
			d := dispatch{items: b.Flush(), g: g}
			if len(resent) > 0 {
				for i, it := range d.items {
					if t := resent[it]; t != nil {
						if d.resent == nil {
							d.resent = make([]*track, len(d.items))
						}
						d.resent[i] = t
						delete(resent, it)
					}
				}
			}
			if err := pipeline.Send(ctx, out, d); err != nil {
				return err
			}
		}
		return nil
	}
	holding := false // a slot is held for the next item
	for {
		ended := in == nil
		if err := flush(ended); err != nil {
			return err
		}
		if ended {
			sealOpen()
		}
		var inCh <-chan *pipeline.Item
		var slotCh chan<- struct{}
		if !ended {
			if !holding {
				select {
				case u.slots <- struct{}{}:
					holding = true
				default:
					// The sink is full: close the open group now, so that
					// its inputs get verified and free their slots, rather
					// than after VerifyGroupWait.
					sealOpen()
				}
			}
			if holding {
				inCh = in
			} else {
				slotCh = u.slots
			}
		}
		wait := b.UntilNext()
		if open != nil {
			if gw := max(time.Until(open.opened.Add(u.cfg.VerifyGroupWait)), 0); wait < 0 || gw < wait {
				wait = gw
			}
		}
		var due <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			due = timer.C
		} else {
			timer.Stop()
		}
		select {
		case slotCh <- struct{}{}:
			holding = true
		case it, ok := <-inCh:
			holding = false
			if !ok {
				<-u.slots // the slot held for an item that never came
				in = nil
				close(u.inputDone)
				if err := u.rep.report(ctx, event{kind: evClosed, n: taken}); err != nil {
					return err
				}
				continue
			}
			taken++
			send, err := u.admit(ctx, it)
			if err != nil {
				return err
			}
			if send {
				b.Add(it)
			}
		case <-due:
			if open != nil && !time.Now().Before(open.opened.Add(u.cfg.VerifyGroupWait)) {
				sealOpen()
			}
		case <-u.replaced.Wake():
			// Their earlier inputs are deleted: posted as new ones (they
			// passed precheck when they came in).
			for _, it := range u.replaced.Take() {
				b.Add(it)
			}
		case <-u.resends.Wake():
			for _, t := range u.resends.Take() {
				if resent == nil {
					resent = make(map[*pipeline.Item]*track)
				}
				resent[t.it] = t
				b.Add(t.it) // passed precheck before it was queued
			}
		case <-u.finished:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// admit reports whether it should be batched; if not, it has been handled:
// reported (failed, skipped), or, for a resumed item, handed on to the
// annotation and verification stages without being sent again.
func (u *uploader) admit(ctx context.Context, it *pipeline.Item) (bool, error) {
	switch {
	case it.Err != nil:
		ev := pipeline.EventFailed
		if errors.Is(it.Err, pipeline.ErrSkip) {
			ev = pipeline.EventSkipped
		}
		return false, u.rep.report(ctx, event{kind: evReport, res: pipeline.Result{Item: it, Event: ev, Stage: it.Stage, Err: it.Err}})
	case isSyncWork(it) && !it.Sync.VerifyContent:
		// Changed since an earlier run: updated in place, or deleted and
		// posted again, by the update stage. (Items whose bytes are to be
		// compared first are loaded by an upload worker: see unmoved.)
		if err := precheck(it); err != nil {
			return false, u.rep.failItem(ctx, it, stage, 0, 0, 0, err)
		}
		if err := checkRegions(it); err != nil {
			return false, u.rep.failItem(ctx, it, annotateStage, 0, 0, 0, err)
		}
		return false, pipeline.Send(ctx, u.update, it)
	case it.Resumed && it.ID != "":
		// Delivered by an earlier run: never send it again (its ID is the
		// one the server has). Without an ID it is sent like a new item;
		// a duplicate answer for its derived ID is then our own copy.
		if err := checkRegions(it); err != nil {
			return false, u.rep.failItem(ctx, it, annotateStage, 0, 0, 0, err)
		}
		t := &track{it: it}
		if u.cfg.verifying() {
			t.pack(nil)
		}
		return false, u.handOn(ctx, nil, []acceptance{{t: t, resumed: true, verify: u.cfg.verifying()}})
	}
	if err := precheck(it); err != nil {
		return false, u.rep.failItem(ctx, it, stage, 0, 0, 0, err)
	}
	// Regions are checked before the upload: an item whose annotations
	// could never be sent is not uploaded half.
	if err := checkRegions(it); err != nil {
		return false, u.rep.failItem(ctx, it, annotateStage, 0, 0, 0, err)
	}
	return true, nil
}

// unmoved takes out of pending the items whose content digest changed
// (ActionAdd with a PriorID) but whose derived ID, now that their content
// is loaded, is still PriorID: a file rewritten with the same bytes, or only
// touched. The server already holds that input, so it is not posted: the
// other groups that changed with it (labels, metadata, ...) go to the
// update stage as an ActionUpdate of them, and with none the update stage
// has no call to make and finishes it, so that its new digests are
// recorded. It returns the entries to post.
//
// Items whose bytes the checkpoint asked to compare (Sync.VerifyContent: a
// file under a given ID whose size or modification time changed) are taken
// out too: the same bytes as the intent log recorded under the ID make the
// item an ActionUpdate of its other changed groups, as above; other bytes,
// or none recorded, an ActionReplace (when that was the action) for the
// update stage to delete and send back, or a conflict failure.
func (u *uploader) unmoved(ctx context.Context, pending []*entry) ([]*entry, error) {
	post := pending[:0]
	for _, e := range pending {
		sy := e.it.Sync
		if e.t == nil && sy != nil && sy.VerifyContent {
			sy.VerifyContent = false
			same := false
			if b := intentBytes(e.in); b != nil && u.cfg.Intents != nil {
				prior, ok := u.cfg.Intents.Intended(e.in.Id)
				same = ok && prior == xxhash.Sum64(b)
			}
			switch {
			case same:
				sy.Action = pipeline.ActionUpdate
				sy.Changed = sy.Changed.Without(pipeline.FieldContent)
			case sy.Action == pipeline.ActionReplace:
			default:
				if err := u.rep.failItem(ctx, e.it, pipeline.StageSync, 0, 0, 0, pipeline.ContentConflict(e.it)); err != nil {
					return nil, err
				}
				continue
			}
			if err := pipeline.Send(ctx, u.update, e.it); err != nil {
				return nil, err
			}
			continue
		}
		if e.t != nil || !e.derived || sy == nil || sy.Action != pipeline.ActionAdd || sy.PriorID == "" || sy.PriorID != e.it.ID {
			post = append(post, e)
			continue
		}
		sy.Action = pipeline.ActionUpdate
		sy.Changed = sy.Changed.Without(pipeline.FieldContent)
		if err := pipeline.Send(ctx, u.update, e.it); err != nil {
			return nil, err
		}
	}
	return post, nil
}

// deliver is an upload worker's work on one batch: it builds the batch and
// posts it, re-sending inputs that failed retryably, until every item has
// its result or has been handed on. It returns an error only for a fatal
// failure or when ctx is done.
func (u *uploader) deliver(ctx context.Context, d dispatch) error {
	// The group may be verified only once every batch in it is answered
	// and its accepted inputs are registered (in sortOut, below).
	defer u.batchDone(d.g)
	bd := &builder{wire: u.wire}
	defer bd.release() // after the last request of the batch
	pending := make([]*entry, 0, len(d.items))
	for i, it := range d.items {
		var t *track
		if d.resent != nil {
			t = d.resent[i]
		}
		e, err := bd.build(ctx, it)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := u.failEntry(ctx, &entry{it: it, t: t}, 0, err); err != nil {
				return err
			}
			continue
		}
		if t != nil {
			e.t, e.attempts = t, t.attempts
		}
		pending = append(pending, e)
	}
	if d.resent == nil {
		var err error
		if pending, err = u.unmoved(ctx, pending); err != nil {
			return err
		}
	}
	if u.cfg.Existing != nil && d.resent == nil {
		var err error
		if pending, err = u.existing(ctx, pending); err != nil {
			return err
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if u.cfg.Intents != nil {
		if err := u.intend(ctx, pending); err != nil {
			return err
		}
	}
	return u.send(ctx, d.g, pending)
}

// send posts pending in one request, re-sending the inputs that failed
// retryably, until every one has its result or has been handed on. A
// request the server refuses as a whole for what it carries
// (client.IsRequestRefused: it could not decode it, an argument is invalid)
// is split in two halves, each sent the same way, so that the inputs at
// fault fail alone and the others go through: one bad input among 128
// costs 14 more requests. Nothing was stored by a refused request, so a
// half sends nothing twice. It returns an error only for a fatal failure or
// when ctx is done.
func (u *uploader) send(ctx context.Context, g *group, pending []*entry) error {
	jobID := g.id
	var bo *backoff.ExponentialBackOff
	for resends := 0; ; resends++ {
		req := &pb.PostInputsRequest{
			Inputs:                    make([]*pb.Input, len(pending)),
			InputsAddJobId:            jobID,
			InputIdConflictResolution: u.cfg.ConflictResolution,
		}
		for i, e := range pending {
			req.Inputs[i] = e.in
		}
		var n int
		resp, err := u.api.PostInputs(ctx, req, client.Attempts(&n), client.InputStatuses())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range pending {
			e.attempts += max(n, 1)
		}
		// Split only an answer that says nothing of each input: per-input
		// statuses already tell which inputs are at fault.
		if len(pending) > 1 && len(resp.GetInputs()) == 0 && client.IsRequestRefused(err) {
			u.cfg.Logger.Debug("request refused as a whole; splitting it", zap.Int("inputs", len(pending)),
				zap.String("job", jobID), zap.Error(err))
			h := len(pending) / 2
			if err := u.send(ctx, g, pending[:h:h]); err != nil {
				return err
			}
			return u.send(ctx, g, pending[h:])
		}
		retry, err := u.sortOut(ctx, g, pending, resp, err)
		if err != nil || len(retry) == 0 {
			return err
		}
		if bo == nil {
			bo = client.NewBackoff(u.cfg.ResendBackoff, maxResendBackoff, maxResendElapsed) // MaxResends bounds it first
		}
		delay := bo.NextBackOff()
		if resends >= u.cfg.MaxResends || delay == backoff.Stop {
			for _, e := range retry {
				err := pipeline.Errorf(e.it.Prov, "", "input %s still failing after %d requests: %s", e.in.Id, e.attempts, e.lastWhy)
				if err := u.failEntry(ctx, e, e.lastCode, err); err != nil {
					return err
				}
			}
			return nil
		}
		u.cfg.Counters.Retries.Add(int64(len(retry)))
		u.stats.inputRetries.Add(int64(len(retry)))
		u.cfg.Logger.Debug("re-sending inputs", zap.Int("inputs", len(retry)), zap.String("job", jobID),
			zap.Duration("delay", delay), zap.String("reason", retry[0].lastWhy))
		if err := client.Sleep(ctx, delay); err != nil {
			return err
		}
		pending = retry
	}
}

// failEntry reports an input failed by the upload stage.
func (u *uploader) failEntry(ctx context.Context, e *entry, code int32, err error) error {
	if e.t != nil { // re-sent by verification: held by this worker alone now
		e.t.attempts, e.t.bytes = max(e.attempts, e.t.attempts), e.bytes
		return u.rep.fail(ctx, e.t, stage, code, err)
	}
	return u.rep.failItem(ctx, e.it, stage, code, e.attempts, e.bytes, err)
}

// sortOut decides each sent input's outcome from one PostInputs answer. It
// reports failed items, hands accepted ones on, and returns the inputs to
// send again. The error is non-nil for a fatal failure or when ctx is done.
func (u *uploader) sortOut(ctx context.Context, grp *group, sent []*entry, resp *pb.MultiInputResponse, callErr error) (retry []*entry, err error) {
	apiErr, stop := callFailure("upload", callErr)
	if stop != nil {
		return nil, stop
	}
	if callErr == nil {
		u.cfg.Counters.Batches.Add(1)
		u.stats.batches.Add(1)
	}
	got := match(sent, resp.GetInputs(), u.cfg.ConflictResolution == pb.InputIDConflictResolution_SUFFIX)
	var accepted []*entry
	var foreign []foreignDup // given IDs the server holds: read back and adopted if they match (adopt.go)
	for i, e := range sent {
		g := got[i]
		status := g.GetStatus()
		code := status.GetCode()
		switch {
		case g == nil || (code == st.StatusCode_ZERO && apiErr != nil):
			if apiErr != nil { // the whole request failed
				err = u.failEntry(ctx, e, int32(apiErr.Code), pipeline.Errorf(e.it.Prov, "", "upload request failed: %v", apiErr))
				break
			}
			e.lastCode, e.lastWhy = 0, "the response carried no status for this input"
			retry = append(retry, e)
		case isDuplicateID(status):
			// Ours when the ID was derived from the content (the same
			// content is there), when this run sent it before (an earlier
			// attempt landed), or when verification is sending it again.
			if e.derived || e.attempts > 1 || e.t != nil {
				e.dup = true
				accepted = append(accepted, e)
				break
			}
			foreign = append(foreign, foreignDup{e, status})
		case isAccepted(code) || code == st.StatusCode_ZERO ||
			(code == st.StatusCode_INPUT_FAILED && u.cfg.verifying() && (u.cfg.RetryFailedProcessing || e.it.Reprocess)):
			// An input stored and already failed processing (a server that
			// processes at once) goes to verification when a failure there
			// may be deleted and sent again: it decides as for any other.
			if id := g.GetId(); id != e.in.Id { // renamed by SUFFIX conflict resolution
				e.it.ID, e.in.Id = id, id
			}
			e.code = code
			accepted = append(accepted, e)
		default:
			switch client.ClassifyCode(code) {
			case client.Retryable:
				e.lastCode, e.lastWhy = int32(code), client.Describe(status)
				retry = append(retry, e)
			case client.Fatal:
				return nil, fmt.Errorf("upload: input %s: %w", e.in.Id, client.StatusError("PostInputs", status, client.Fatal, e.attempts))
			default:
				err = u.failEntry(ctx, e, int32(code),
					pipeline.Errorf(e.it.Prov, "", "Clarifai rejected input %s: %s", e.in.Id, client.Describe(status)))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	adopted, err := u.adoptGiven(ctx, foreign)
	if err != nil {
		return nil, err
	}
	accepted = append(accepted, adopted...)
	if len(accepted) == 0 {
		return retry, nil
	}
	as := make([]acceptance, len(accepted))
	for i, e := range accepted {
		t := e.t
		if t == nil {
			t = &track{it: e.it, stage: stage}
		}
		t.attempts, t.bytes = e.attempts, e.bytes
		processed := e.code == st.StatusCode_INPUT_SUCCESS
		if u.cfg.verifying() && !processed {
			t.pack(e.metadata) // before the item is handed on
		}
		// Only an input this request created is counted by the group's
		// job; a duplicate (an earlier attempt or run) or a re-send is
		// verified by ID.
		as[i] = acceptance{t: t, fresh: !e.dup && e.t == nil, verify: u.cfg.verifying() && !processed}
	}
	return retry, u.handOn(ctx, grp, as)
}

// handOn is the single place every accepted input passes through (and
// every resumed one, with g nil). In this order, each of which the next
// relies on: it sets what is left to do for each input, reports the
// acceptances to the finish stage (which sends EventAccepted), registers the
// inputs to verify (with the group, or by ID: the verifier's mailbox never
// blocks), and sends those with regions to the annotator, which blocks
// while the annotator is full (back-pressure).
func (u *uploader) handOn(ctx context.Context, g *group, as []acceptance) error {
	now := time.Now()
	var members, byID []*track
	for _, a := range as {
		t := a.t
		if t.since.IsZero() {
			t.since = now
		}
		// Set while this stage alone holds t: the annotator and the
		// verifier, which then hold it too, read the state at once.
		t.wantAnn, t.wantVer = len(t.it.Regions) > 0, a.verify
		t.state.Store(0)
		if t.wantAnn {
			t.state.Store(stateAnnotating)
		}
		switch {
		case !a.verify:
		case a.fresh && g != nil:
			members = append(members, t)
		default:
			byID = append(byID, t)
		}
	}
	if err := u.rep.report(ctx, event{kind: evAccepted, as: as}); err != nil {
		return err
	}
	if len(members) > 0 {
		g.add(members)
	}
	if len(byID) > 0 {
		u.verifyQ.Put(verifyWork{ts: byID, at: now})
	}
	for _, a := range as {
		if len(a.t.it.Regions) > 0 {
			if err := pipeline.Send(ctx, u.annotate, a.t); err != nil {
				return err
			}
		}
	}
	return nil
}

// group is a verification group: consecutive batches sharing one
// inputs_add_job_id, so that one GetInputsAddJob call reports on all of
// their inputs. The batcher opens and seals it; workers count its batches
// done and add the inputs it created; when it is sealed and no batch is in
// flight, it goes to the verifier's mailbox, and belongs to the verifier.
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
func (u *uploader) seal(g *group) {
	g.mu.Lock()
	g.sealed = true
	ready := g.inflight == 0 && !g.handed
	g.handed = g.handed || ready
	g.mu.Unlock()
	if ready {
		u.groupReady(g)
	}
}

func (u *uploader) batchDone(g *group) {
	g.mu.Lock()
	g.inflight--
	ready := g.sealed && g.inflight == 0 && !g.handed
	g.handed = g.handed || ready
	g.mu.Unlock()
	if ready {
		u.groupReady(g)
	}
}

// groupReady hands a group whose requests are all answered to the
// verifier. members is not written after handed is set.
func (u *uploader) groupReady(g *group) {
	if u.cfg.verifying() && len(g.members) > 0 {
		u.verifyQ.Put(verifyWork{g: g, at: time.Now()})
	}
}

// match returns, for each sent input, the response input that reports on
// it, or nil. A response input matches by position when its ID agrees, else
// by ID; each is used once. With SUFFIX conflict resolution a renamed input
// ("<id>-1", ...) matches by position when its ID extends the sent one.
func match(sent []*entry, got []*pb.Input, suffix bool) []*pb.Input {
	out := make([]*pb.Input, len(sent))
	used := make([]bool, len(got))
	missing := false
	for i, e := range sent {
		if i < len(got) && got[i].GetId() == e.in.Id {
			out[i], used[i] = got[i], true
		} else {
			missing = true
		}
	}
	if !missing {
		return out
	}
	byID := make(map[string][]int, len(got))
	for j, g := range got {
		if !used[j] {
			byID[g.GetId()] = append(byID[g.GetId()], j)
		}
	}
	for i, e := range sent {
		if out[i] != nil {
			continue
		}
		if js := byID[e.in.Id]; len(js) > 0 {
			out[i], used[js[0]] = got[js[0]], true
			byID[e.in.Id] = js[1:]
		} else if suffix && i < len(got) && !used[i] && strings.HasPrefix(got[i].GetId(), e.in.Id) {
			out[i], used[i] = got[i], true
		}
	}
	return out
}

// isAccepted reports whether a per-input code acknowledges the input.
func isAccepted(code st.StatusCode) bool {
	switch code {
	case st.StatusCode_SUCCESS, st.StatusCode_INPUT_SUCCESS, st.StatusCode_INPUT_PENDING,
		st.StatusCode_INPUT_IN_PROGRESS, st.StatusCode_ACCEPTED:
		return true
	}
	return false
}

// isDuplicateID reports whether a per-input status says the input ID is
// taken. The SDK matches the details text "Input has a duplicate ID.".
func isDuplicateID(s *st.Status) bool {
	if s.GetCode() == st.StatusCode_DATABASE_DUPLICATE_KEY {
		return true
	}
	if client.ClassifyCode(s.GetCode()) == client.OK {
		return false
	}
	return strings.Contains(strings.ToLower(s.GetDetails()), "duplicate id") ||
		strings.Contains(strings.ToLower(s.GetDescription()), "duplicate id")
}

// newJobID returns a random inputs_add_job_id: 32 hex characters.
func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// callFailure sorts out the error of a call made by the sink's stages: the
// *client.APIError in it (nil for a nil err), and a non-nil stop, prefixed
// with what, when the run must end: err is not an *client.APIError
// (client.ErrClosed, a nil request: a bug, not data), its class is Fatal, or
// the API did not answer to the end of the call's retries (client.IsOutage):
// the items of the call then stay pending for a rerun instead of failing.
func callFailure(what string, err error) (apiErr *client.APIError, stop error) {
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &apiErr) {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if apiErr.Class == client.Fatal || client.IsOutage(apiErr) {
		return apiErr, fmt.Errorf("%s: %w", what, apiErr)
	}
	return apiErr, nil
}
