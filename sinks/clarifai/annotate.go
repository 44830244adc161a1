package clarifai

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// annotateStage names the annotation stage in results.
const annotateStage = "annotate"

// annotator is the annotation stage: it takes accepted items with regions,
// batches their annotations across items into PostAnnotations requests of at
// most MaxAnnotations, and maps each annotation's status back to its item.
//
// One goroutine (run) owns all of its state; each request is posted by a
// short-lived goroutine, at most AnnotationConcurrency at once, whose answer
// comes back on a channel with room for all of them, so a poster never
// blocks. The stage holds at most AnnotationQueue items; when full it stops
// receiving, which holds back the upload workers (back-pressure). Items
// whose annotations are all in, or that failed, go to the finish stage.
type annotator struct {
	api       AnnotationPoster
	cfg       SinkConfig
	stats     *sinkStats
	rep       reporter
	in        <-chan *track   // accepted items with regions, from the upload stage
	inputDone <-chan struct{} // closed when the sink's input is closed
	finished  <-chan struct{} // closed when every item has its final result

	items   int          // items held: received, not yet annotated or failed
	fresh   []*annRef    // annotations never sent, in arrival order
	retry   []*annRef    // annotations to send again, each after its notBefore
	answers chan annDone // capacity AnnotationConcurrency
	posting int          // requests in flight
	wg      sync.WaitGroup
}

// annItem is an item whose annotations are being posted.
type annItem struct {
	t      *track
	left   int  // annotations not yet accepted
	failed bool // reported failed: its remaining annotations are dropped
}

// annRef is one annotation of an item.
type annRef struct {
	item      *annItem
	an        *pb.Annotation
	region    int
	tries     int       // requests that carried it
	queued    time.Time // when it was first queued (fresh) or became due (retry)
	notBefore time.Time // retry only
	lastCode  st.StatusCode
	lastWhy   string
}

// annDone is the answer to one PostAnnotations request.
type annDone struct {
	refs     []*annRef
	resp     *pb.MultiAnnotationResponse
	err      error
	attempts int
}

// run is the annotator's loop. It returns nil once the run is finished,
// ctx.Err() when ctx is done, or a fatal error; in every case after its
// posters have returned.
func (a *annotator) run(ctx context.Context) error {
	// The posters get their own context so that returning (on a fatal
	// error) can stop them before waiting for them.
	pctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); a.wg.Wait() }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	drain := a.inputDone // closed when the input ends: stop waiting for fuller requests
	draining := false
	for {
		now := time.Now()
		for a.posting < a.cfg.AnnotationConcurrency {
			refs := a.next(now, draining)
			if len(refs) == 0 {
				break
			}
			a.post(pctx, refs)
		}
		var in <-chan *track
		if a.items < a.cfg.AnnotationQueue {
			in = a.in
		}
		var due <-chan time.Time
		if d, ok := a.untilNext(now, draining); ok && a.posting < a.cfg.AnnotationConcurrency {
			timer.Reset(d)
			due = timer.C
		}
		select {
		case t := <-in:
			if err := a.add(ctx, t, now); err != nil {
				return err
			}
		case ans := <-a.answers:
			a.posting--
			if err := a.settle(ctx, ans); err != nil {
				return err
			}
		case <-due:
		case <-drain:
			draining, drain = true, nil
		case <-a.finished:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// add takes an accepted item and queues its annotations.
func (a *annotator) add(ctx context.Context, t *track, now time.Time) error {
	anns, err := buildAnnotations(t.it)
	if err != nil { // checked before upload; kept so that garbage is never sent
		return a.rep.fail(ctx, t, annotateStage, 0, err)
	}
	ai := &annItem{t: t, left: len(anns)}
	a.items++
	for i, an := range anns {
		a.fresh = append(a.fresh, &annRef{item: ai, an: an, region: i, queued: now})
	}
	return nil
}

// untilNext returns how long until a request should be sent, and false if
// nothing is queued.
func (a *annotator) untilNext(now time.Time, draining bool) (time.Duration, bool) {
	var at time.Time
	if len(a.fresh) > 0 {
		at = a.fresh[0].queued.Add(a.cfg.AnnotationWait)
		if draining || len(a.fresh) >= a.cfg.MaxAnnotations {
			at = now
		}
	}
	for _, ref := range a.retry {
		if at.IsZero() || ref.notBefore.Before(at) {
			at = ref.notBefore
		}
	}
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// next removes and returns the annotations of the next request, or nil if
// none is due: a request is due when MaxAnnotations are waiting, the oldest
// fresh one has waited AnnotationWait, the input has ended, or a retry is
// due. It never puts the same annotation ID twice in one request (two items
// with the same input and regions): the second waits for the next request,
// which then finds it already there.
func (a *annotator) next(now time.Time, draining bool) []*annRef {
	dueRetries := 0
	for _, ref := range a.retry {
		if !ref.notBefore.After(now) {
			dueRetries++
		}
	}
	freshDue := len(a.fresh) > 0 && (draining || len(a.fresh) >= a.cfg.MaxAnnotations ||
		!a.fresh[0].queued.Add(a.cfg.AnnotationWait).After(now))
	if dueRetries == 0 && !freshDue {
		return nil
	}
	var refs []*annRef
	ids := make(map[string]bool)
	take := func(q []*annRef, ok func(*annRef) bool) []*annRef {
		keep := q[:0]
		for _, ref := range q {
			if !ref.item.failed && ref.item.t.isFinal() {
				// Failed elsewhere (verification): stop holding it.
				ref.item.failed = true
				a.items--
			}
			switch {
			case ref.item.failed:
				// dropped: its item was reported failed
			case len(refs) < a.cfg.MaxAnnotations && ok(ref) && !ids[ref.an.Id]:
				ids[ref.an.Id] = true
				refs = append(refs, ref)
			default:
				keep = append(keep, ref)
			}
		}
		clear(q[len(keep):])
		return keep
	}
	a.retry = take(a.retry, func(ref *annRef) bool { return !ref.notBefore.After(now) })
	a.fresh = take(a.fresh, func(*annRef) bool { return true })
	return refs
}

// post sends one request on its own goroutine.
func (a *annotator) post(ctx context.Context, refs []*annRef) {
	req := &pb.PostAnnotationsRequest{Annotations: make([]*pb.Annotation, len(refs))}
	for i, ref := range refs {
		req.Annotations[i] = ref.an
		ref.tries++
	}
	a.posting++
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		var n int
		resp, err := a.api.PostAnnotations(ctx, req, client.Attempts(&n))
		a.answers <- annDone{refs: refs, resp: resp, err: err, attempts: n} // never blocks: capacity is the concurrency
	}()
}

// settle maps one answer back to the annotations and their items.
func (a *annotator) settle(ctx context.Context, ans annDone) error {
	a.stats.annotationRequests.Add(int64(max(ans.attempts, 1)))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	apiErr, stop := callFailure("annotate", ans.err)
	if stop != nil {
		return stop
	}
	got := matchAnnotations(ans.refs, ans.resp.GetAnnotations())
	now := time.Now()
	for i, ref := range ans.refs {
		ai := ref.item
		if ai.failed {
			continue
		}
		s := got[i].GetStatus()
		code := s.GetCode()
		var retryWhy string
		switch {
		case got[i] == nil || (code == st.StatusCode_ZERO && apiErr != nil):
			if apiErr == nil {
				retryWhy = "the response carried no status for this annotation"
				break
			}
			if apiErr.Class == client.Retryable {
				ref.lastCode, retryWhy = apiErr.Code, apiErr.Error()
				break
			}
			if err := a.failItem(ctx, ref, int32(apiErr.Code), fmt.Sprintf("the request failed: %v", apiErr)); err != nil {
				return err
			}
			continue
		case annotationOK(code) || code == st.StatusCode_ZERO || isDuplicateAnnotation(s):
			// A duplicate ID is this very annotation, posted by an earlier
			// attempt or run: the IDs are derived from the content.
			a.stats.annotations.Add(1)
			ai.left--
			if ai.left == 0 {
				a.items--
				if err := a.rep.report(ctx, event{kind: evAnnotated, t: ai.t}); err != nil {
					return err
				}
			}
			continue
		case code == st.StatusCode_INPUT_DOES_NOT_EXIST:
			// The input was acknowledged moments ago: read as a lag
			// between the two services, retried (bounded).
			ref.lastCode, retryWhy = code, client.Describe(s)
		default:
			switch client.ClassifyCode(code) {
			case client.Retryable:
				ref.lastCode, retryWhy = code, client.Describe(s)
			case client.Fatal:
				return fmt.Errorf("annotate: annotation %s of input %s: %w", ref.an.Id, ref.an.InputId,
					client.StatusError("PostAnnotations", s, client.Fatal, ref.tries))
			default:
				if err := a.failItem(ctx, ref, int32(code), "Clarifai rejected it: "+client.Describe(s)); err != nil {
					return err
				}
				continue
			}
		}
		ref.lastWhy = retryWhy
		if ref.tries > a.cfg.MaxResends {
			if err := a.failItem(ctx, ref, int32(ref.lastCode),
				fmt.Sprintf("still failing after %d requests: %s", ref.tries, ref.lastWhy)); err != nil {
				return err
			}
			continue
		}
		ref.notBefore = now.Add(backoffDelay(a.cfg.ResendBackoff, ref.tries))
		a.retry = append(a.retry, ref)
		a.cfg.Logger.Debug("re-sending annotation", zap.String("annotation", ref.an.Id),
			zap.String("input", ref.an.InputId), zap.String("reason", retryWhy))
	}
	return nil
}

// failItem fails the item of ref at stage "annotate". The input itself was
// accepted and stays on the server.
func (a *annotator) failItem(ctx context.Context, ref *annRef, code int32, why string) error {
	ai := ref.item
	ai.failed = true
	a.items--
	r := &ai.t.it.Regions[ref.region]
	err := pipeline.Errorf(ai.t.it.Prov, "regions", "annotation %s (%s) of input %s: %s; the input itself was uploaded "+
		"and stays on the server without this annotation (a rerun posts it again)", ref.an.Id, regionName(ref.region, r), ref.an.InputId, why)
	return a.rep.fail(ctx, ai.t, annotateStage, code, err)
}

// matchAnnotations returns, for each sent annotation, the response
// annotation reporting on it, by ID (ours are unique within a request), or
// by position when the response leaves IDs out.
func matchAnnotations(sent []*annRef, got []*pb.Annotation) []*pb.Annotation {
	out := make([]*pb.Annotation, len(sent))
	byID := make(map[string]*pb.Annotation, len(got))
	for _, g := range got {
		if g.GetId() != "" {
			byID[g.GetId()] = g
		}
	}
	for i, ref := range sent {
		if g, ok := byID[ref.an.Id]; ok {
			out[i] = g
		} else if i < len(got) && got[i].GetId() == "" {
			out[i] = got[i]
		}
	}
	return out
}

// annotationOK reports whether a per-annotation code means it was stored.
func annotationOK(code st.StatusCode) bool {
	switch code {
	case st.StatusCode_SUCCESS, st.StatusCode_ANNOTATION_SUCCESS, st.StatusCode_ANNOTATION_PENDING:
		return true
	}
	return false
}

// isDuplicateAnnotation reports whether a per-annotation status says its ID
// is taken: DATABASE_DUPLICATE_KEY, or a failure whose words say "already
// exists" or "duplicate" (the wording differs between servers).
func isDuplicateAnnotation(s *st.Status) bool {
	if s.GetCode() == st.StatusCode_DATABASE_DUPLICATE_KEY {
		return true
	}
	if client.ClassifyCode(s.GetCode()) != client.Permanent {
		return false
	}
	text := strings.ToLower(s.GetDescription() + " " + s.GetDetails())
	return strings.Contains(text, "already exists") || strings.Contains(text, "duplicate")
}

// backoffDelay is the wait before the n-th re-send (n from 1): first,
// doubled each time, up to maxResendBackoff.
func backoffDelay(first time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < maxResendBackoff; i++ {
		d *= 2
	}
	return min(d, maxResendBackoff)
}
