package clarifai

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// Stage names of the sync paths in results.
const (
	updateStage  = "update"
	replaceStage = "replace"
	syncStage    = "sync"
)

// maxPatchInputs is the most inputs (or dataset inputs, or annotation IDs)
// in one call of the update stage.
const maxPatchInputs = 128

// updater is the update stage. It takes the items an earlier run left on
// the server and that changed since (pipeline.ActionUpdate), and those
// whose content changed under a given ID that the job allows to replace
// (pipeline.ActionReplace), from the batcher, and from upload workers that
// found an ID on the server (SinkConfig.Existing). It batches each kind up
// to maxPatchInputs items (flushed when full, after Batch.MaxWait, or at
// once when the input has ended) and works on up to Concurrency batches at
// once, each on its own goroutine; while all are busy it stops receiving,
// which holds back its senders (back-pressure).
//
// An update batch (apply) ends each item with EventDone, or EventFailed at
// stage "update" with the code of the call that refused it: the item's
// input is not verified again (its content did not change). A replace
// batch (replace) deletes the earlier inputs, waits until they are gone
// and hands the items to the batcher (the replaced mailbox), to be posted
// as new ones.
type updater struct {
	api   API
	upd   Updater // nil: the API cannot update (update items fail)
	cfg   SinkConfig
	wire  bool
	stats *sinkStats
	rep   reporter

	in        <-chan *pipeline.Item
	inputDone <-chan struct{}
	finished  <-chan struct{}
	replaced  *mailbox[*pipeline.Item] // replaced items to post, to the batcher

	wg sync.WaitGroup
}

// syncAction returns the sync action of it that the update stage takes on,
// and whether it takes it on: ActionUpdate and ActionReplace.
func syncAction(it *pipeline.Item) (pipeline.Action, bool) {
	if it.Sync == nil {
		return pipeline.ActionAdd, false
	}
	switch a := it.Sync.Action; a {
	case pipeline.ActionUpdate, pipeline.ActionReplace:
		return a, true
	default:
		return a, false
	}
}

// isSyncWork reports whether it goes to the update stage.
func isSyncWork(it *pipeline.Item) bool {
	_, ok := syncAction(it)
	return ok
}

// isNew reports whether it is sent as a new input with nothing known of
// an earlier one: SinkConfig.Existing applies to it.
func isNew(it *pipeline.Item) bool {
	return !it.Resumed && (it.Sync == nil || it.Sync.Action == pipeline.ActionAdd && it.Sync.PriorID == "")
}

// run is the update stage's loop. It returns nil once the run is finished,
// ctx.Err(), or the first fatal error of a batch, in every case after its
// batches have returned.
func (w *updater) run(ctx context.Context) error {
	bctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); w.wg.Wait() }()
	busy := make(chan struct{}, w.cfg.Concurrency)
	fatal := make(chan error, 1)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var updates, replaces []*pipeline.Item
	var since time.Time // when the oldest waiting item came
	drain := w.inputDone
	draining := false
	start := func(items []*pipeline.Item, work func(context.Context, []*pipeline.Item) error) error {
		select {
		case busy <- struct{}{}:
		case err := <-fatal:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-busy }()
			if err := work(bctx, items); err != nil {
				select {
				case fatal <- err:
				default: // another batch's error ends the run already
				}
			}
		}()
		return nil
	}
	for {
		due := draining || (len(updates)+len(replaces) > 0 && time.Since(since) >= w.cfg.Batch.MaxWait)
		for len(updates) >= maxPatchInputs || (due && len(updates) > 0) {
			n := min(len(updates), maxPatchInputs)
			if err := start(slices.Clone(updates[:n]), w.apply); err != nil {
				return err
			}
			updates = slices.Delete(updates, 0, n)
		}
		for len(replaces) >= maxPatchInputs || (due && len(replaces) > 0) {
			n := min(len(replaces), maxPatchInputs)
			if err := start(slices.Clone(replaces[:n]), w.replace); err != nil {
				return err
			}
			replaces = slices.Delete(replaces, 0, n)
		}
		var wait <-chan time.Time
		if len(updates)+len(replaces) > 0 {
			timer.Reset(max(time.Until(since.Add(w.cfg.Batch.MaxWait)), 0))
			wait = timer.C
		}
		select {
		case it := <-w.in:
			if len(updates)+len(replaces) == 0 {
				since = time.Now()
			}
			if a, _ := syncAction(it); a == pipeline.ActionReplace {
				replaces = append(replaces, it)
			} else {
				updates = append(updates, it)
			}
		case <-wait:
		case <-drain:
			draining, drain = true, nil
		case err := <-fatal:
			return err
		case <-w.finished:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		if wait != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// upJob is one item of an update batch.
type upJob struct {
	it    *pipeline.Item
	calls int   // requests that carried it
	code  int32 // of the failure
	err   error // first failure; the item's later steps are skipped
}

func (j *upJob) fail(code int32, err error) {
	if j.err == nil {
		j.code, j.err = code, err
	}
}

func (j *upJob) failf(code int32, format string, args ...any) {
	j.fail(code, pipeline.Errorf(j.it.Prov, "", format, args...))
}

func (j *upJob) ok() bool { return j.err == nil }

// changed reports whether the update of j changes f.
func (j *upJob) changed(f pipeline.Field) bool { return j.it.Sync.Changed.Has(f) }

// apply updates the inputs of one batch of ActionUpdate items in place,
// step by step, each step one kind of call for the whole batch: overwrite
// the changed concepts, metadata and geo (PatchInputs "overwrite"), remove
// what became empty (PatchInputs "remove"), move the inputs between
// datasets, and replace the annotations of changed regions. An item that a
// step fails skips the later ones and gets its failure; the others get
// EventDone. The error is non-nil only for a fatal failure or when ctx is
// done.
func (w *updater) apply(ctx context.Context, items []*pipeline.Item) error {
	jobs := make([]*upJob, len(items))
	for i, it := range items {
		jobs[i] = &upJob{it: it}
		switch {
		case it.ID == "":
			jobs[i].failf(0, "an update needs the input's ID; the checkpoint gave none")
		case it.Sync.Changed.Has(pipeline.FieldContent):
			jobs[i].fail(0, pipeline.Errorf(it.Prov, "", "input %s cannot be updated: %w", it.ID, pipeline.ErrContentChanged))
		case w.upd == nil:
			jobs[i].failf(0, "input %s changed but the sink's API cannot update inputs", it.ID)
		}
	}
	steps := []func(context.Context, []*upJob) error{w.overwrite, w.remove, w.moveDatasets, w.redrawRegions}
	for _, step := range steps {
		if err := step(ctx, jobs); err != nil {
			return err
		}
	}
	for _, j := range jobs {
		if j.err != nil {
			if err := w.rep.failItem(ctx, j.it, updateStage, j.code, j.calls, 0, j.err); err != nil {
				return err
			}
			continue
		}
		res := pipeline.Result{Item: j.it, Event: pipeline.EventDone, Stage: updateStage, Attempts: j.calls}
		if err := w.rep.report(ctx, event{kind: evReport, res: res}); err != nil {
			return err
		}
	}
	return nil
}

// patchEntry is one input of a PatchInputs call.
type patchEntry struct {
	j  *upJob
	in *pb.Input
}

// overwrite sends, for each item, its changed concepts (when not empty),
// metadata (an empty Struct when it became empty) and geo (when set), as
// an upload packs them, with PatchInputs "overwrite".
func (w *updater) overwrite(ctx context.Context, jobs []*upJob) error {
	bd := &builder{wire: w.wire}
	var es []patchEntry
	for _, j := range jobs {
		if !j.ok() {
			continue
		}
		it := j.it
		data := &pb.Data{}
		send := false
		if j.changed(pipeline.FieldConcepts) && len(it.Concepts) > 0 {
			data.Concepts, send = inputConcepts(it.Concepts), true
		}
		if j.changed(pipeline.FieldMetadata) {
			if len(it.Metadata) > 0 {
				if _, err := bd.metadata(data, it.Metadata); err != nil {
					j.fail(0, pipeline.Errorf(it.Prov, "metadata", "%v", err))
					continue
				}
			} else {
				data.Metadata = &structpb.Struct{} // overwrites whatever is there
			}
			send = true
		}
		if j.changed(pipeline.FieldGeo) && it.Geo != nil {
			data.Geo, send = inputGeo(it.Geo), true
		}
		if send {
			es = append(es, patchEntry{j, &pb.Input{Id: it.ID, Data: data}})
		}
	}
	return w.patch(ctx, "overwrite", es)
}

// remove takes off what became empty, which "overwrite" cannot send: the
// concepts of an item that has none now (read back first, to name them)
// and its geo point, with PatchInputs "remove".
func (w *updater) remove(ctx context.Context, jobs []*upJob) error {
	var readBack []*upJob
	for _, j := range jobs {
		if j.ok() && j.changed(pipeline.FieldConcepts) && len(j.it.Concepts) == 0 {
			readBack = append(readBack, j)
		}
	}
	held, err := w.readBack(ctx, readBack)
	if err != nil {
		return err
	}
	var es []patchEntry
	for _, j := range jobs {
		if !j.ok() {
			continue
		}
		data := &pb.Data{}
		send := false
		if j.changed(pipeline.FieldConcepts) && len(j.it.Concepts) == 0 {
			for _, c := range held[j.it.ID].GetData().GetConcepts() {
				data.Concepts = append(data.Concepts, &pb.Concept{Id: c.GetId(), Value: c.GetValue()})
			}
			send = len(data.Concepts) > 0
		}
		if j.changed(pipeline.FieldGeo) && j.it.Geo == nil {
			data.Geo, send = &pb.Geo{GeoPoint: &pb.GeoPoint{}}, true
		}
		if send {
			es = append(es, patchEntry{j, &pb.Input{Id: j.it.ID, Data: data}})
		}
	}
	return w.patch(ctx, "remove", es)
}

// readBack reads the inputs of jobs (one ListInputs of up to 128 IDs) and
// returns them by ID; a job whose input cannot be read fails.
func (w *updater) readBack(ctx context.Context, jobs []*upJob) (map[string]*pb.Input, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	ids := distinctIDs(jobs, jobInput)
	var n int
	held, apiErr, stop := readBack(ctx, w.api, "update: read back inputs", ids, client.Attempts(&n))
	w.count(jobs, n)
	if stop != nil {
		return nil, stop
	}
	for _, j := range jobs {
		switch {
		case apiErr != nil:
			j.failf(int32(apiErr.Code), "reading input %s back failed: %v", j.it.ID, apiErr)
		case held[j.it.ID] == nil:
			j.failf(int32(st.StatusCode_INPUT_DOES_NOT_EXIST), "input %s is not on the server (deleted since the earlier run?)", j.it.ID)
		}
	}
	return held, nil
}

// count adds n requests (at least one) to each job.
func (w *updater) count(jobs []*upJob, n int) {
	for _, j := range jobs {
		j.calls += max(n, 1)
	}
}

// patch sends es with PatchInputs action, in calls of up to
// maxPatchInputs inputs.
func (w *updater) patch(ctx context.Context, action string, es []patchEntry) error {
	for chunk := range slices.Chunk(es, maxPatchInputs) {
		if err := w.patchCall(ctx, action, chunk); err != nil {
			return err
		}
	}
	return nil
}

// patchCall sends es in one PatchInputs call, as an upload sends a batch:
// a call refused as a whole with no status per input is split in halves;
// inputs with a retryable status are sent again after a backoff, up to
// MaxResends times; any other status that is not a success fails its item
// with its code.
func (w *updater) patchCall(ctx context.Context, action string, es []patchEntry) error {
	for tries := 1; ; tries++ {
		req := &pb.PatchInputsRequest{Action: action, Inputs: make([]*pb.Input, len(es))}
		for i, e := range es {
			req.Inputs[i] = e.in
		}
		var n int
		resp, err := w.upd.PatchInputs(ctx, req, client.Attempts(&n), client.InputStatuses())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range es {
			e.j.calls += max(n, 1)
		}
		if len(es) > 1 && len(resp.GetInputs()) == 0 && client.IsRequestRefused(err) {
			h := len(es) / 2
			if err := w.patchCall(ctx, action, es[:h:h]); err != nil {
				return err
			}
			return w.patchCall(ctx, action, es[h:])
		}
		apiErr, stop := callFailure("update: PatchInputs", err)
		if stop != nil {
			return stop
		}
		got := statusByID(resp.GetInputs())
		var retry []patchEntry
		lastWhy := ""
		for _, e := range es {
			s := got[e.in.Id]
			code := s.GetCode()
			switch {
			case s == nil && apiErr != nil:
				if apiErr.Class == client.Retryable {
					retry, lastWhy = append(retry, e), apiErr.Error()
					break
				}
				e.j.failf(int32(apiErr.Code), "PatchInputs (%s) of input %s failed: %v", action, e.in.Id, apiErr)
			case s == nil:
				retry, lastWhy = append(retry, e), "the response carried no status for this input"
			case patched(code):
			case client.ClassifyCode(code) == client.Retryable:
				retry, lastWhy = append(retry, e), client.Describe(s)
			case client.ClassifyCode(code) == client.Fatal:
				return fmt.Errorf("update: input %s: %w", e.in.Id, client.StatusError("PatchInputs", s, client.Fatal, tries))
			default:
				e.j.failf(int32(code), "Clarifai refused to %s the labels, metadata or geo of input %s: %s", action, e.in.Id, client.Describe(s))
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if tries > w.cfg.MaxResends {
			for _, e := range retry {
				e.j.failf(0, "PatchInputs (%s) of input %s still failing after %d requests: %s", action, e.in.Id, tries, lastWhy)
			}
			return nil
		}
		w.cfg.Counters.Retries.Add(int64(len(retry)))
		w.cfg.Logger.Debug("patching inputs again", zap.Int("inputs", len(retry)), zap.String("reason", lastWhy))
		if err := client.Sleep(ctx, backoffDelay(w.cfg.ResendBackoff, tries)); err != nil {
			return err
		}
		es = retry
	}
}

// patched reports whether a per-input status of PatchInputs means the
// patch was applied. The server answers with the input's processing
// status, which says nothing of the patch: INPUT_FAILED (its processing
// failed once) is applied too.
func patched(code st.StatusCode) bool {
	return code == st.StatusCode_ZERO || isAccepted(code) || code == st.StatusCode_INPUT_FAILED ||
		client.ClassifyCode(code) == client.OK
}

// statusByID returns the status of each input of a response by ID.
func statusByID(ins []*pb.Input) map[string]*st.Status {
	out := make(map[string]*st.Status, len(ins))
	for _, in := range ins {
		if s := in.GetStatus(); s != nil {
			out[in.GetId()] = s
		}
	}
	return out
}

// distinctIDs returns the IDs id gives for xs, each once, in order; an
// empty one (no input to name) is left out.
func distinctIDs[T any](xs []T, id func(T) string) []string {
	seen := make(map[string]bool, len(xs))
	var ids []string
	for _, x := range xs {
		if k := id(x); k != "" && !seen[k] {
			seen[k] = true
			ids = append(ids, k)
		}
	}
	return ids
}

// jobInput is the input ID of j.
func jobInput(j *upJob) string { return j.it.ID }

// moveDatasets adds each item's input to the datasets it joined
// (PostDatasetInputs) and takes it out of those it left
// (DeleteDatasetInputs), as its Sync.PriorDatasets and DatasetIDs say,
// grouped per dataset in calls of up to maxPatchInputs inputs.
func (w *updater) moveDatasets(ctx context.Context, jobs []*upJob) error {
	joined := map[string][]*upJob{}
	left := map[string][]*upJob{}
	for _, j := range jobs {
		if !j.ok() || !j.changed(pipeline.FieldDatasets) {
			continue
		}
		for _, d := range j.it.DatasetIDs {
			if !slices.Contains(j.it.Sync.PriorDatasets, d) && !slices.Contains(joined[d], j) {
				joined[d] = append(joined[d], j)
			}
		}
		for _, d := range j.it.Sync.PriorDatasets {
			if !slices.Contains(j.it.DatasetIDs, d) && !slices.Contains(left[d], j) {
				left[d] = append(left[d], j)
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(joined)) {
		for chunk := range slices.Chunk(joined[d], maxPatchInputs) {
			if err := w.joinDataset(ctx, d, chunk); err != nil {
				return err
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(left)) {
		for chunk := range slices.Chunk(left[d], maxPatchInputs) {
			if err := w.leaveDataset(ctx, d, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinDataset adds the inputs of jobs to dataset d. An input already in it
// counts as added.
func (w *updater) joinDataset(ctx context.Context, d string, jobs []*upJob) error {
	jobs = okJobs(jobs)
	if len(jobs) == 0 {
		return nil
	}
	ids := distinctIDs(jobs, jobInput)
	req := &pb.PostDatasetInputsRequest{DatasetId: d, DatasetInputs: make([]*pb.DatasetInput, len(ids))}
	for i, id := range ids {
		req.DatasetInputs[i] = &pb.DatasetInput{Input: &pb.Input{Id: id}}
	}
	var n int
	resp, err := w.upd.PostDatasetInputs(ctx, req, client.Attempts(&n))
	w.count(jobs, n)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	apiErr, stop := callFailure("update: PostDatasetInputs", err)
	if stop != nil {
		return stop
	}
	got := make(map[string]*st.Status, len(ids))
	for _, di := range resp.GetDatasetInputs() {
		if s := di.GetInput().GetStatus(); s != nil {
			got[di.GetInput().GetId()] = s
		}
	}
	for _, j := range jobs {
		s := got[j.it.ID]
		code := s.GetCode()
		switch {
		case s == nil && apiErr != nil:
			j.failf(int32(apiErr.Code), "adding input %s to dataset %s failed: %v", j.it.ID, d, apiErr)
		case s == nil, code == st.StatusCode_DATASET_INPUT_SUCCESS, code == st.StatusCode_DATASET_INPUT_DUPLICATE,
			client.ClassifyCode(code) == client.OK:
		default:
			j.failf(int32(code), "Clarifai refused to add input %s to dataset %s: %s", j.it.ID, d, client.Describe(s))
		}
	}
	return nil
}

// leaveDataset takes the inputs of jobs out of dataset d. A dataset that
// no longer exists holds none of them.
func (w *updater) leaveDataset(ctx context.Context, d string, jobs []*upJob) error {
	jobs = okJobs(jobs)
	if len(jobs) == 0 {
		return nil
	}
	var n int
	_, err := w.upd.DeleteDatasetInputs(ctx, &pb.DeleteDatasetInputsRequest{DatasetId: d, InputIds: distinctIDs(jobs, jobInput)}, client.Attempts(&n))
	w.count(jobs, n)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Code == st.StatusCode_CONN_DOES_NOT_EXIST && strings.Contains(strings.ToLower(ae.Error()), "dataset") {
		return nil // the dataset is gone: the inputs are out of it
	}
	apiErr, stop := callFailure("update: DeleteDatasetInputs", err)
	if stop != nil {
		return stop
	}
	if apiErr != nil {
		for _, j := range jobs {
			j.failf(int32(apiErr.Code), "taking input %s out of dataset %s failed: %v", j.it.ID, d, apiErr)
		}
	}
	return nil
}

// okJobs returns the jobs of js that have not failed.
func okJobs(js []*upJob) []*upJob {
	out := make([]*upJob, 0, len(js))
	for _, j := range js {
		if j.ok() {
			out = append(out, j)
		}
	}
	return out
}

// replaceAnn is one annotation of an item whose regions changed.
type replaceAnn struct {
	j     *upJob
	an    *pb.Annotation
	tries int
}

// redrawRegions replaces the annotations of items whose regions changed:
// it posts the item's region annotations first (deterministic IDs: those
// already there answer "duplicate", which counts as posted), so that the
// input is never left without them; then lists the input's annotations
// and deletes those this tool made for it that are not in the new set.
//
// An annotation is this tool's when it has one region and its ID is
// annotationID(input, i, region) for an i below the number of the input's
// annotations, the region read back from the annotation (its ID, geometry
// and concepts). That assumes the server returns a region's geometry and
// concepts as they were sent (float32 coordinates, concept ID, name and
// value): an annotation it returned changed would be taken for someone
// else's and kept. Annotations made by people (in the UI, by another tool)
// or models have other IDs and are never touched.
func (w *updater) redrawRegions(ctx context.Context, jobs []*upJob) error {
	var redraw []*upJob
	var refs []*replaceAnn
	want := map[*upJob]map[string]bool{}
	for _, j := range jobs {
		if !j.ok() || !j.changed(pipeline.FieldRegions) {
			continue
		}
		anns, err := buildAnnotations(j.it)
		if err != nil {
			j.fail(0, err)
			continue
		}
		redraw = append(redraw, j)
		want[j] = make(map[string]bool, len(anns))
		for _, an := range anns {
			want[j][an.Id] = true
			refs = append(refs, &replaceAnn{j: j, an: an})
		}
	}
	if len(redraw) == 0 {
		return nil
	}
	if err := w.postAnnotations(ctx, refs); err != nil {
		return err
	}
	redraw = okJobs(redraw)
	for chunk := range slices.Chunk(redraw, maxPatchInputs) {
		stale, err := w.staleAnnotations(ctx, chunk, want)
		if err != nil {
			return err
		}
		if err := w.deleteAnnotations(ctx, stale); err != nil {
			return err
		}
	}
	return nil
}

// postAnnotations posts refs in requests of up to MaxAnnotations, as the
// annotator does: success, pending and a duplicate ID count as posted;
// retryable failures are sent again after a backoff, up to MaxResends
// times; any other failure fails the item with its code.
func (w *updater) postAnnotations(ctx context.Context, refs []*replaceAnn) error {
	for tries := 1; len(refs) > 0; tries++ {
		var retry []*replaceAnn
		lastWhy := ""
		for chunk := range slices.Chunk(refs, w.cfg.MaxAnnotations) {
			live := chunk[:0:0]
			for _, r := range chunk {
				if r.j.ok() {
					live = append(live, r)
				}
			}
			if len(live) == 0 {
				continue
			}
			req := &pb.PostAnnotationsRequest{Annotations: make([]*pb.Annotation, len(live))}
			for i, r := range live {
				req.Annotations[i] = r.an
				r.tries++
			}
			var n int
			resp, err := w.api.PostAnnotations(ctx, req, client.Attempts(&n))
			w.stats.annotationRequests.Add(int64(max(n, 1)))
			if ctx.Err() != nil {
				return ctx.Err()
			}
			apiErr, stop := callFailure("update: PostAnnotations", err)
			if stop != nil {
				return stop
			}
			// The requests count once for each item with an annotation in
			// them, as the other update calls count (count).
			var jobs []*upJob
			for _, r := range live {
				if !slices.Contains(jobs, r.j) {
					jobs = append(jobs, r.j)
				}
			}
			w.count(jobs, n)
			got := make(map[string]*pb.Annotation, len(live))
			for _, an := range resp.GetAnnotations() {
				got[an.GetId()] = an
			}
			for _, r := range live {
				g := got[r.an.Id]
				s := g.GetStatus()
				code := s.GetCode()
				switch {
				case g == nil && apiErr != nil:
					if apiErr.Class == client.Retryable {
						retry, lastWhy = append(retry, r), apiErr.Error()
						break
					}
					r.j.failf(int32(apiErr.Code), "posting annotation %s of input %s failed: %v", r.an.Id, r.j.it.ID, apiErr)
				case g == nil:
					retry, lastWhy = append(retry, r), "the response carried no status for this annotation"
				case annotationOK(code) || code == st.StatusCode_ZERO || isDuplicateAnnotation(s):
					w.stats.annotations.Add(1)
				case client.ClassifyCode(code) == client.Retryable:
					retry, lastWhy = append(retry, r), client.Describe(s)
				case client.ClassifyCode(code) == client.Fatal:
					return fmt.Errorf("update: annotation %s of input %s: %w", r.an.Id, r.j.it.ID,
						client.StatusError("PostAnnotations", s, client.Fatal, r.tries))
				default:
					r.j.failf(int32(code), "Clarifai rejected annotation %s of input %s: %s; the input keeps its earlier annotations",
						r.an.Id, r.j.it.ID, client.Describe(s))
				}
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if tries > w.cfg.MaxResends {
			for _, r := range retry {
				r.j.failf(0, "annotation %s of input %s still failing after %d requests: %s", r.an.Id, r.j.it.ID, r.tries, lastWhy)
			}
			return nil
		}
		if err := client.Sleep(ctx, backoffDelay(w.cfg.ResendBackoff, tries)); err != nil {
			return err
		}
		refs = retry
	}
	return nil
}

// staleAnn is an annotation this tool made for an input that its item no
// longer has.
type staleAnn struct {
	j           *upJob
	id, inputID string
}

// staleAnnotations lists the annotations of the inputs of jobs (up to 128
// inputs, pages of 1000) and returns those this tool made that are not in
// want.
func (w *updater) staleAnnotations(ctx context.Context, jobs []*upJob, want map[*upJob]map[string]bool) ([]staleAnn, error) {
	ids := distinctIDs(jobs, jobInput)
	byInput := map[string][]*pb.Annotation{}
	const perPage = maxPerPage
	for page := uint32(1); ; page++ {
		var n int
		resp, err := w.upd.ListAnnotations(ctx, &pb.ListAnnotationsRequest{InputIds: ids, ListAllAnnotations: true,
			Page: page, PerPage: perPage}, client.Attempts(&n))
		w.count(jobs, n)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		apiErr, stop := callFailure("update: ListAnnotations", err)
		if stop != nil {
			return nil, stop
		}
		if apiErr != nil {
			for _, j := range jobs {
				j.failf(int32(apiErr.Code), "listing the annotations of input %s failed: %v; its new ones are posted, the old ones stay",
					j.it.ID, apiErr)
			}
			return nil, nil
		}
		for _, an := range resp.GetAnnotations() {
			byInput[an.GetInputId()] = append(byInput[an.GetInputId()], an)
		}
		if len(resp.GetAnnotations()) < perPage || page >= maxAnnotationPages {
			break
		}
	}
	var stale []staleAnn
	for _, j := range jobs {
		anns := byInput[j.it.ID]
		for _, an := range anns {
			if want[j][an.GetId()] {
				continue
			}
			if ours(j.it.ID, an, len(anns)) {
				stale = append(stale, staleAnn{j: j, id: an.GetId(), inputID: j.it.ID})
			}
		}
	}
	return stale, nil
}

// maxAnnotationPages bounds the pages of annotations listed for one batch
// of inputs (a million annotations).
const maxAnnotationPages = 1000

// ours reports whether annotation an of input inputID is one this tool
// made: one region, whose annotationID for some index below n (the
// number of the input's annotations) is the annotation's ID.
func ours(inputID string, an *pb.Annotation, n int) bool {
	r, ok := regionOf(an)
	if !ok {
		return false
	}
	for i := range n {
		if annotationID(inputID, i, &r) == an.GetId() {
			return true
		}
	}
	return false
}

// regionOf reads back the region of an annotation as buildAnnotations made
// it: one region, whose ID is the annotation's when the item's region had
// none.
func regionOf(an *pb.Annotation) (pipeline.Region, bool) {
	rs := an.GetData().GetRegions()
	if len(rs) != 1 {
		return pipeline.Region{}, false
	}
	rg := rs[0]
	var r pipeline.Region
	if rg.GetId() != an.GetId() {
		r.ID = rg.GetId()
	}
	if b := rg.GetRegionInfo().GetBoundingBox(); b != nil {
		r.Box = &pipeline.BoundingBox{Top: float64(b.GetTopRow()), Left: float64(b.GetLeftCol()),
			Bottom: float64(b.GetBottomRow()), Right: float64(b.GetRightCol())}
	}
	for _, p := range rg.GetRegionInfo().GetPolygon().GetPoints() {
		r.Polygon = append(r.Polygon, pipeline.Point{Row: float64(p.GetRow()), Col: float64(p.GetCol())})
	}
	for _, c := range rg.GetData().GetConcepts() {
		r.Concepts = append(r.Concepts, pipeline.Concept{ID: c.GetId(), Name: c.GetName(), Value: c.GetValue()})
	}
	return r, true
}

// deleteAnnotations deletes stale annotations by ID (each paired with its
// input ID), up to maxPatchInputs a call. A failed call fails the items of
// its annotations: their new annotations are there, the old ones stay.
func (w *updater) deleteAnnotations(ctx context.Context, stale []staleAnn) error {
	for chunk := range slices.Chunk(stale, maxPatchInputs) {
		req := &pb.DeleteAnnotationsRequest{Ids: make([]string, len(chunk)), InputIds: make([]string, len(chunk))}
		for i, s := range chunk {
			req.Ids[i], req.InputIds[i] = s.id, s.inputID
		}
		var n int
		_, err := w.upd.DeleteAnnotations(ctx, req, client.Attempts(&n))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		apiErr, stop := callFailure("update: DeleteAnnotations", err)
		if stop != nil {
			return stop
		}
		seen := map[*upJob]bool{}
		for _, s := range chunk {
			if !seen[s.j] {
				seen[s.j] = true
				s.j.calls += max(n, 1)
			}
			if apiErr != nil {
				s.j.failf(int32(apiErr.Code), "deleting the earlier annotation %s of input %s failed: %v; the new ones are posted",
					s.id, s.inputID, apiErr)
			}
		}
	}
	return nil
}

// replace deletes the earlier inputs of a batch of ActionReplace items
// (DeleteInputs; an unknown ID counts as deleted), waits until the server
// no longer lists them (ListInputs, polled with the re-send backoff, up to
// 10 minutes), and hands the items to the batcher to be posted again under
// their IDs. Deleting before posting makes it safe to repeat: a run killed
// in between deletes nothing more the next time (the ID is unknown) and
// posts the item. An item whose input does not go fails at stage
// "replace"; so does every item of a DeleteInputs call that failed.
func (w *updater) replace(ctx context.Context, items []*pipeline.Item) error {
	// An item without a PriorID has nothing to delete: it is posted at once.
	ids := distinctIDs(items, func(it *pipeline.Item) string { return it.Sync.PriorID })
	err := deleteIDs(ctx, w.api, ids)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		apiErr, stop := callFailure("replace: DeleteInputs", errors.Unwrap(err))
		if stop != nil {
			return stop
		}
		for _, it := range items {
			ferr := pipeline.Errorf(it.Prov, "", "its content changed and deleting the earlier input %s failed: %v", it.Sync.PriorID, err)
			if err := w.rep.failItem(ctx, it, replaceStage, int32(apiErr.Code), 1, 0, ferr); err != nil {
				return err
			}
		}
		return nil
	}
	bo := client.NewBackoff(w.cfg.ResendBackoff, maxResendBackoff, maxResendElapsed)
	left := slices.Clone(ids) // DeleteFunc below clears what it drops
	polls := 0
	for ; len(left) > 0; polls++ {
		if polls > 0 {
			delay := bo.NextBackOff()
			if delay == backoff.Stop {
				break
			}
			if err := client.Sleep(ctx, delay); err != nil {
				return err
			}
		}
		resp, err := w.api.ListInputs(ctx, &pb.ListInputsRequest{Ids: left, Page: 1, PerPage: uint32(len(left))}, client.InputStatuses())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, stop := callFailure("replace: ListInputs", err); stop != nil {
			return stop
		}
		if err != nil {
			continue // poll again
		}
		still := make(map[string]bool, len(resp.GetInputs()))
		for _, in := range resp.GetInputs() {
			still[in.GetId()] = true
		}
		left = slices.DeleteFunc(left, func(id string) bool { return !still[id] })
	}
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = !slices.Contains(left, id)
	}
	for _, it := range items {
		if it.Sync.PriorID != "" && !gone[it.Sync.PriorID] {
			ferr := pipeline.Errorf(it.Prov, "", "its content changed and the earlier input %s was deleted but is still listed after %d polls; "+
				"a rerun posts it once the server has deleted it", it.Sync.PriorID, polls)
			if err := w.rep.failItem(ctx, it, replaceStage, 0, 1, 0, ferr); err != nil {
				return err
			}
			continue
		}
		w.replaced.Put(it)
	}
	return nil
}
