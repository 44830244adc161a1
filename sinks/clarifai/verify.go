package clarifai

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// verifyStage names the verification stage in results.
const verifyStage = "verify"

// Verification tuning that is not worth a config field.
const (
	// maxPerPage is the documented maximum page size; every ListInputs by
	// IDs asks for at most this many IDs, so one page holds the answer.
	maxPerPage = 1000
	// minPollDelay is the shortest wait before a poll.
	minPollDelay = 50 * time.Millisecond
	// stragglerPolls: after this many polls of a group whose job still has
	// inputs in flight, at least three quarters settled and no progress
	// since the previous poll, the settled ones are confirmed by ID (a few
	// ListInputs calls) and the stragglers are followed one by one, so that
	// one slow input does not hold thousands of finished ones. A group
	// still progressing is left alone: its next poll is cheaper.
	stragglerPolls = 3
	// idBatchWait is how long due checks by ID may wait for others to
	// share a ListInputs call (up to 1000 IDs), unless the input has ended.
	// Inputs to check by ID arrive a batch at a time (our own duplicates,
	// resumed items); checking each batch on its own would cost a call per
	// batch.
	idBatchWait = 2 * time.Second
)

// verifier is the processing verification stage. One goroutine (run) owns
// its state and makes every verification call. Work comes in through a
// mailbox that never blocks (uploads never wait for verification);
// confirmations and failures go to the finish stage, and inputs to send
// again to the batcher's mailbox.
//
// Two ways to confirm INPUT_SUCCESS:
//
//   - Groups: the inputs created by a group's requests, which all carried
//     the group's inputs_add_job_id. One GetInputsAddJob call answers for
//     all of them: when nothing is pending or in progress and nothing
//     failed, every one succeeded. Otherwise ListInputs(ids, status =
//     INPUT_SUCCESS), up to 1000 IDs a call, finds the successes; the others
//     are checked by ID.
//   - By ID (cohorts): inputs the job cannot vouch for (accepted as our own
//     duplicate, resumed from an earlier run, re-sent, or left over from a
//     group) are read with ListInputs(ids), up to 1000 IDs a call, and each
//     one's status decides: INPUT_SUCCESS done; a failure reported (or, with
//     RetryFailedProcessing and a transient cause, deleted and re-sent);
//     pending polled again until VerifyTimeout; missing re-sent. Due checks
//     wait up to idBatchWait to fill a call, so their cost is about one call
//     per 1000 inputs however they arrive.
//
// The first poll waits for delay, an estimate of the processing time that
// starts at VerifyDelay and adapts: it shrinks by a quarter each time a
// group is found finished at its first poll, and becomes 5/4 of the age at
// which a group was found finished otherwise. Later polls wait half the
// age so far (so each poll is 1.5 times later), at most VerifyMaxInterval.
type verifier struct {
	api       InputChecker
	cfg       SinkConfig
	stats     *sinkStats
	rep       reporter
	in        *mailbox[verifyWork] // from the upload stage
	resends   *mailbox[*track]     // to the batcher
	inputDone <-chan struct{}      // closed when the sink's input is closed
	finished  <-chan struct{}      // closed when every item has its final result

	groups  []*group
	cohorts []*cohort
	delay   time.Duration
}

// verifyWork is what the upload stage hands the verifier: a group whose
// requests are all answered, or inputs to verify by ID, at the time at.
type verifyWork struct {
	g  *group
	ts []*track
	at time.Time
}

// cohort is a set of inputs verified by ID on one schedule.
type cohort struct {
	ts       []*track
	due      time.Time
	interval time.Duration
}

// receive schedules the work in the mailbox: a group for its first poll,
// inputs for their first check by ID, each after the expected processing
// delay from when it was handed over.
func (v *verifier) receive() {
	for _, w := range v.in.Take() {
		if w.g != nil {
			w.g.readyAt, w.g.due = w.at, w.at.Add(v.delay)
			v.groups = append(v.groups, w.g)
		} else {
			v.cohorts = append(v.cohorts, &cohort{ts: w.ts, due: w.at.Add(v.delay), interval: v.delay})
		}
	}
}

// addIDs schedules inputs to verify by ID, first after the expected
// processing delay, or at once when now is set.
func (v *verifier) addIDs(ts []*track, now bool) {
	if len(ts) == 0 {
		return
	}
	at := time.Now()
	c := &cohort{ts: ts, due: at, interval: v.delay}
	if !now {
		c.due = at.Add(v.delay)
	}
	v.cohorts = append(v.cohorts, c)
}

// run is the verifier's loop. It returns nil once the run is finished,
// ctx.Err() when ctx is done, or a fatal error.
func (v *verifier) run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		v.receive()
		gs, cs, next := v.take(time.Now())
		for _, g := range gs {
			if err := v.pollGroup(ctx, g); err != nil {
				return err
			}
		}
		if len(cs) > 0 {
			if err := v.pollIDs(ctx, cs); err != nil {
				return err
			}
		}
		if len(gs)+len(cs) > 0 {
			continue
		}
		var due <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			due = timer.C
		}
		select {
		case <-due:
		case <-v.in.Wake():
		case <-v.finished:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take removes and returns the groups and cohorts due at now, and the time
// the next one is due (zero if none). Cohorts are taken together, once 1000
// IDs are due, the oldest due one has waited idBatchWait, or the input has
// ended; those due within half the expected delay then come along too.
func (v *verifier) take(now time.Time) (gs []*group, cs []*cohort, next time.Time) {
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	keep := v.groups[:0]
	for _, g := range v.groups {
		if g.due.After(now) {
			keep = append(keep, g)
			earliest(g.due)
		} else {
			gs = append(gs, g)
		}
	}
	clear(v.groups[len(keep):])
	v.groups = keep

	var due []*cohort // due now, oldest first
	dueIDs := 0
	for _, c := range v.cohorts {
		if !c.due.After(now) {
			due = append(due, c)
			dueIDs += len(c.ts)
		}
	}
	slices.SortFunc(due, func(a, b *cohort) int { return a.due.Compare(b.due) })
	take := make(map[*cohort]bool)
	switch {
	case len(due) == 0:
	case !due[0].due.Add(idBatchWait).After(now) || v.inputEnded():
		// Waited enough, or nothing more will come: all that is due, and
		// what is nearly due.
		for _, c := range v.cohorts {
			take[c] = !c.due.After(now.Add(v.delay / 2))
		}
	case dueIDs >= maxPerPage:
		// A full call: the oldest, up to 1000 IDs.
		n := 0
		for i, c := range due {
			if i > 0 && n+len(c.ts) > maxPerPage {
				break
			}
			n += len(c.ts)
			take[c] = true
		}
	default:
		earliest(due[0].due.Add(idBatchWait))
	}
	keepC := v.cohorts[:0]
	for _, c := range v.cohorts {
		if take[c] {
			cs = append(cs, c)
			continue
		}
		keepC = append(keepC, c)
		if c.due.After(now) {
			earliest(c.due)
		}
	}
	clear(v.cohorts[len(keepC):])
	v.cohorts = keepC
	return gs, cs, next
}

// inputEnded reports whether the sink's input is closed: no more inputs
// will share a call, so checks need not wait for them.
func (v *verifier) inputEnded() bool {
	select {
	case <-v.inputDone:
		return true
	default:
		return false
	}
}

// count adds the requests of one call to the stats.
func (v *verifier) count(n int) { v.stats.verifyRequests.Add(int64(max(n, 1))) }

// callError sorts out a failed verification call: nil when the caller
// should carry on (check again later), an error ending the run otherwise.
func callError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_, stop := callFailure("verify: "+what, err)
	return stop
}

// pollGroup asks a group's job how its inputs are doing.
func (v *verifier) pollGroup(ctx context.Context, g *group) error {
	live := liveTracks(g.members)
	if len(live) == 0 {
		return nil // every member already has its final result
	}
	var n int
	resp, err := v.api.GetInputsAddJob(ctx, &pb.GetInputsAddJobRequest{Id: g.id}, client.Attempts(&n))
	v.count(n)
	if err != nil {
		// "Does not exist" names the job here, not the app (the app answered
		// PostInputs): the inputs themselves are checked, as after any
		// failure that is not fatal.
		var ae *client.APIError
		jobUnknown := errors.As(err, &ae) && ae.Code == st.StatusCode_CONN_DOES_NOT_EXIST
		if !jobUnknown || ctx.Err() != nil {
			if err := callError(ctx, "GetInputsAddJob "+g.id, err); err != nil {
				return err
			}
		}
		v.cfg.Logger.Debug("cannot read the inputs-add job; checking its inputs by ID",
			zap.String("job", g.id), zap.Error(err))
		return v.listSucceeded(ctx, live)
	}
	g.polls++
	p := resp.GetInputsAddJob().GetProgress()
	now := time.Now()
	age := now.Sub(g.readyAt)
	if busy := p.GetPendingCount() + p.GetInProgressCount(); busy > 0 {
		settled := p.GetSuccessCount() + p.GetFailedCount()
		stalled := g.polls >= stragglerPolls && settled >= 3*busy && busy == g.lastBusy
		if age >= v.cfg.VerifyTimeout || stalled {
			return v.listSucceeded(ctx, live)
		}
		g.lastBusy = busy
		g.due = now.Add(v.nextWait(age))
		v.groups = append(v.groups, g)
		return nil
	}
	v.learn(g.polls, age)
	// Every input the job counted is settled. The job counts each input our
	// requests created (and, at most, earlier copies of ours): with no
	// failure and at least as many successes as members, all succeeded.
	if p.GetFailedCount() == 0 && p.GetSuccessCount() >= uint64(len(g.members)) {
		return v.rep.report(ctx, event{kind: evVerified, ts: live})
	}
	return v.listSucceeded(ctx, live)
}

// nextWait is the wait before the next poll of something first polled age
// ago: each poll comes 1.5 times later than the previous one, capped.
func (v *verifier) nextWait(age time.Duration) time.Duration {
	return min(max(age/2, minPollDelay), v.cfg.VerifyMaxInterval)
}

// learn adapts the expected processing delay from a group found finished
// at its polls-th poll, age after it was ready.
func (v *verifier) learn(polls int, age time.Duration) {
	if polls == 1 {
		v.delay = max(minPollDelay, v.delay*3/4)
	} else {
		v.delay = min(max(age*5/4, minPollDelay), v.cfg.VerifyMaxInterval)
	}
}

// listSucceeded confirms the inputs of ts that reached INPUT_SUCCESS with
// ListInputs(ids, status = INPUT_SUCCESS), and hands the others to the
// check by ID at once, which reads their status.
func (v *verifier) listSucceeded(ctx context.Context, ts []*track) error {
	byID, ids := index(ts)
	var ok, rest, later []*track
	for chunk := range slices.Chunk(ids, maxPerPage) {
		var n int
		resp, err := v.api.ListInputs(ctx, &pb.ListInputsRequest{Ids: chunk, Page: 1, PerPage: maxPerPage,
			Status: &st.Status{Code: st.StatusCode_INPUT_SUCCESS}}, client.Attempts(&n), client.InputStatuses())
		v.count(n)
		if err != nil {
			if err := callError(ctx, "ListInputs", err); err != nil {
				return err
			}
			for _, id := range chunk {
				later = append(later, byID[id]...)
			}
			continue
		}
		succeeded := make(map[string]bool, len(resp.GetInputs()))
		for _, in := range resp.GetInputs() {
			// The status is read too: a server that ignored the filter
			// must not make a pending input look done.
			succeeded[in.GetId()] = in.GetStatus().GetCode() == st.StatusCode_INPUT_SUCCESS
		}
		for _, id := range chunk {
			if succeeded[id] {
				ok = append(ok, byID[id]...)
			} else {
				rest = append(rest, byID[id]...)
			}
		}
	}
	v.addIDs(rest, true)
	v.addIDs(later, false)
	if len(ok) == 0 {
		return nil
	}
	return v.rep.report(ctx, event{kind: evVerified, ts: ok})
}

// pollIDs reads the status of every input of cs with ListInputs(ids), up to
// 1000 IDs a call, and acts on each: done, failed (or deleted and re-sent),
// re-sent when missing, or kept for a later poll.
func (v *verifier) pollIDs(ctx context.Context, cs []*cohort) error {
	var all []*track
	for _, c := range cs {
		all = append(all, c.ts...)
	}
	byID, ids := index(liveTracks(all))
	status := make(map[string]*st.Status, len(ids))
	failed := make(map[string]error)
	for chunk := range slices.Chunk(ids, maxPerPage) {
		var n int
		resp, err := v.api.ListInputs(ctx, &pb.ListInputsRequest{Ids: chunk, Page: 1, PerPage: maxPerPage}, client.Attempts(&n), client.InputStatuses())
		v.count(n)
		if err != nil {
			if err := callError(ctx, "ListInputs", err); err != nil {
				return err
			}
			for _, id := range chunk {
				failed[id] = err
			}
			continue
		}
		for _, in := range resp.GetInputs() {
			if _, asked := byID[in.GetId()]; asked {
				status[in.GetId()] = in.GetStatus()
			}
		}
	}

	now := time.Now()
	var retry, verified []*track
	for _, c := range cs {
		keep := c.ts[:0]
		for _, t := range c.ts {
			pending, del, err := v.decide(ctx, t, status, failed, now, &verified)
			if err != nil {
				return err
			}
			if pending {
				keep = append(keep, t)
			}
			if del {
				retry = append(retry, t)
			}
		}
		clear(c.ts[len(keep):])
		if len(keep) == 0 {
			continue
		}
		c.ts = keep
		c.interval = min(max(c.interval*2, minPollDelay), v.cfg.VerifyMaxInterval)
		c.due = now.Add(c.interval)
		v.cohorts = append(v.cohorts, c)
	}
	if len(verified) > 0 {
		if err := v.rep.report(ctx, event{kind: evVerified, ts: verified}); err != nil {
			return err
		}
	}
	return v.deleteAndResend(ctx, retry)
}

// decide acts on one input's status read by pollIDs. It reports whether t
// stays pending (polled again) or must be deleted and re-sent, and adds it
// to verified when it reached INPUT_SUCCESS.
func (v *verifier) decide(ctx context.Context, t *track, status map[string]*st.Status, failed map[string]error,
	now time.Time, verified *[]*track) (pending, del bool, err error) {
	if t.isFinal() {
		return false, false, nil
	}
	id := t.it.ID
	timedOut := now.Sub(t.since) >= v.cfg.VerifyTimeout
	if callErr := failed[id]; callErr != nil {
		if timedOut {
			return false, false, v.rep.fail(ctx, t, verifyStage, t.lastCode, pipeline.Errorf(t.it.Prov, "",
				"could not confirm that input %s was processed within %v: %v; it stays on the server; rerun to check again",
				id, v.cfg.VerifyTimeout, callErr))
		}
		return true, false, nil
	}
	s, found := status[id]
	switch code := s.GetCode(); {
	case !found:
		switch {
		case t.annotating():
			return true, false, nil // re-send only once its annotations settled
		case t.resends < v.cfg.MaxResends:
			// Not on the server: sending it again cannot make a second copy.
			t.resends++
			v.cfg.Logger.Debug("input missing on the server; re-sending", zap.String("input", id))
			return false, false, v.requeue(ctx, t)
		}
		return false, false, v.rep.fail(ctx, t, verifyStage, 0, pipeline.Errorf(t.it.Prov, "",
			"input %s was accepted but is not on the server, even after %d re-sends", id, t.resends))
	case code == st.StatusCode_INPUT_SUCCESS:
		*verified = append(*verified, t)
		return false, false, nil
	case client.ClassifyCode(code) == client.OK: // INPUT_PENDING, INPUT_IN_PROGRESS
		t.lastCode = int32(code)
		if timedOut {
			return false, false, v.rep.fail(ctx, t, verifyStage, int32(code), pipeline.Errorf(t.it.Prov, "",
				"input %s still processing (%s) after %v; it stays on the server; rerun to check again",
				id, code, v.cfg.VerifyTimeout))
		}
		return true, false, nil
	default:
		t.lastCode = int32(code)
		if v.reprocess(t, s) {
			if t.annotating() {
				return true, false, nil // delete only once its annotations settled
			}
			return false, true, nil
		}
		msg := fmt.Sprintf("Clarifai could not process input %s: %s", id, client.Describe(s))
		if t.reprocess > 0 {
			msg += fmt.Sprintf(" (after %d deletions and re-sends)", t.reprocess)
		}
		return false, false, v.rep.fail(ctx, t, verifyStage, int32(code), pipeline.Errorf(t.it.Prov, "", "%s", msg))
	}
}

// reprocess reports whether an input whose processing failed with s is
// deleted and sent again: with RetryFailedProcessing or for an item that
// asks for it (pipeline.Item.Reprocess: a retry of a failure report), when
// the cause looks transient, up to MaxProcessingRetries times; and for such
// an item once whatever the cause, since the user asked to retry it (the
// content at its URL or in its file may have been fixed since). The input
// on the server is ours: sent by this run, or read back and found equal to
// the item (adoptGiven).
func (v *verifier) reprocess(t *track, s *st.Status) bool {
	if t.it.Reprocess && t.reprocess == 0 {
		return true
	}
	return (v.cfg.RetryFailedProcessing || t.it.Reprocess) && transientFailure(s) && t.reprocess < v.cfg.MaxProcessingRetries
}

// deleteAndResend deletes inputs whose processing failed transiently and
// queues them to be sent again with the same IDs (RetryFailedProcessing).
func (v *verifier) deleteAndResend(ctx context.Context, ts []*track) error {
	byID, ids := index(ts)
	for chunk := range slices.Chunk(ids, maxPerPage) {
		var n int
		_, err := v.api.DeleteInputs(ctx, &pb.DeleteInputsRequest{Ids: chunk}, client.Attempts(&n))
		v.count(n)
		if err != nil {
			if err := callError(ctx, "DeleteInputs", err); err != nil {
				return err
			}
		}
		for _, id := range chunk {
			for _, t := range byID[id] {
				if err != nil {
					ferr := pipeline.Errorf(t.it.Prov, "", "processing of input %s failed (status %d) and deleting it for a retry failed: %v",
						id, t.lastCode, err)
					if err := v.rep.fail(ctx, t, verifyStage, t.lastCode, ferr); err != nil {
						return err
					}
					continue
				}
				t.reprocess++
				if sy := t.it.Sync; sy != nil {
					// The input found on the server is gone: the one sent
					// next is this job's own.
					sy.Adopted = false
				}
				if err := v.requeue(ctx, t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// requeue hands t back to the upload stage to be sent again. Its
// annotations have settled and it is not final, so no other stage holds it.
// The batcher's mailbox never blocks: the item already holds its slot, so
// the queue is bounded by MaxPending.
func (v *verifier) requeue(ctx context.Context, t *track) error {
	t.unpack()
	if err := precheck(t.it); err != nil { // a resumed item was never checked
		return v.rep.fail(ctx, t, stage, 0, err)
	}
	v.cfg.Counters.Retries.Add(1)
	v.stats.resent.Add(1)
	v.resends.Put(t)
	return nil
}

// liveTracks returns the tracks of ts without a final result.
func liveTracks(ts []*track) []*track {
	out := make([]*track, 0, len(ts))
	for _, t := range ts {
		if !t.isFinal() {
			out = append(out, t)
		}
	}
	return out
}

// index groups ts by input ID (two items may share one) and returns the
// distinct IDs in first-seen order.
func index(ts []*track) (map[string][]*track, []string) {
	byID := make(map[string][]*track, len(ts))
	var ids []string
	for _, t := range ts {
		id := t.it.ID
		if _, ok := byID[id]; !ok {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], t)
	}
	return byID, ids
}

// Words that classify a processing failure (RetryFailedProcessing). The
// server's status names the failure only in words, and its codes do not
// separate causes (INPUT_FAILED covers both a corrupt file and a worker
// crash), so the description and details are read, lower-cased:
// a permanent word wins (the bytes or the request are bad: retrying sends
// the same bad bytes); else a retryable status code or a transient word
// means the failure may pass.
var (
	permanentWords = []string{"decod", "format", "invalid", "unsupported", "corrupt", "malformed", "too large",
		"larger than", "exceed", "not valid", "utf-8", "permission", "forbidden"}
	transientWords = []string{"temporar", "timeout", "timed out", "try again", "retry", "unavailable", "internal",
		"busy", "overload", "throttl", "deadline", "connection reset"}
)

// transientFailure reports whether a processing failure looks transient
// (see permanentWords).
func transientFailure(s *st.Status) bool {
	text := strings.ToLower(s.GetDescription() + " " + s.GetDetails())
	for _, w := range permanentWords {
		if strings.Contains(text, w) {
			return false
		}
	}
	if client.ClassifyCode(s.GetCode()) == client.Retryable {
		return true
	}
	for _, w := range transientWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}
