package configs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// Plan is what a run of the job would do to the app, found by reading the
// sources and comparing each item with the job's checkpoint, sending
// nothing that changes the app. `ingest plan` prints it; `ingest plan
// --json` writes it as JSON in this struct's shape.
type Plan struct {
	Job    string `json:"job"`
	Target string `json:"target"`
	// UserID and AppID are the app the plan read (the inputs to adopt,
	// the examples' old values); empty when it read none.
	UserID string `json:"user_id,omitempty"`
	AppID  string `json:"app_id,omitempty"`
	// Checkpoint is the state directory compared with; empty when the job
	// has none yet (every item is new).
	Checkpoint string `json:"checkpoint,omitempty"`

	// Read is the number of items the sources sent.
	Read int64 `json:"items_read"`
	// Add are the items a run would post as new inputs (new, or whose
	// content changed under a derived ID).
	Add int64 `json:"to_add"`
	// Update are the items a run would change in place; UpdateFields
	// counts them by changed group (concepts, metadata, geo, datasets,
	// regions): one item may count under several.
	Update       int64            `json:"to_update"`
	UpdateFields map[string]int64 `json:"to_update_by_field"`
	// Replace are the items whose content changed under a given input ID,
	// deleted and posted again (sync.replace_content).
	Replace int64 `json:"to_replace"`
	// Conflicts are the items whose content changed under a given input ID
	// without sync.replace_content: a run fails them (exit code 4).
	Conflicts int64 `json:"conflicts"`
	// Delete is set with sync.delete: the inputs a run would delete.
	Delete *PlanDelete `json:"to_delete,omitempty"`
	// Adopt is set with sync.adopt: the new items whose input the app
	// already holds, which a run compares instead of posting (not counted
	// in Add).
	Adopt *PlanAdopt `json:"to_adopt,omitempty"`
	// Unchanged are the items an earlier run finished that did not
	// change (or whose digests an older checkpoint did not keep).
	Unchanged int64 `json:"unchanged"`
	// Verify are the items an earlier run sent whose processing was not
	// confirmed: a run checks them, sending nothing again.
	Verify int64 `json:"to_verify"`
	// Skipped are the items a transform drops; Problems the items that
	// fail before anything would be sent (a bad record, a transform
	// error). `ingest validate` checks the rest against the API limits.
	Skipped  int64 `json:"skipped"`
	Problems int64 `json:"problems"`
	// CloudSources is the number of cloud sources not planned: the server
	// ingests them.
	CloudSources int `json:"cloud_sources_not_planned"`

	// Calls are the API calls a run would make, and Seconds about how long
	// they take at RateLimit requests/s (0 when the rate is not limited).
	Calls     PlanCalls `json:"calls"`
	RateLimit float64   `json:"rate_limit"`
	Seconds   float64   `json:"duration_seconds"`

	// Examples are up to PlanExamples items of each kind (add, adopt,
	// adopt-update, adopt-conflict, update, replace, conflict, delete),
	// with what changes.
	Examples []PlanExample `json:"examples"`
	// OldValues says where the examples' old values come from: "server"
	// (read from the app), or why they could not be read, in which case a
	// change's old value is "changed (digest)".
	OldValues string `json:"old_values"`
}

// PlanExamples is the most examples a Plan lists per kind.
const PlanExamples = 3

// PlanDelete is what a run with sync.delete would delete.
type PlanDelete struct {
	// Counted is false when the plan could not tell what left the sources
	// (Reason says why); a run would delete nothing then.
	Counted bool   `json:"counted"`
	Reason  string `json:"reason,omitempty"`
	// Inputs are the job's inputs whose items left the sources (among them
	// those replaced by a new input after a content change).
	Inputs int64 `json:"inputs"`
	// Cap is sync.max_delete of the Held inputs; OverCap means a run would
	// stop with an error and delete nothing.
	Cap     int64 `json:"cap"`
	Held    int64 `json:"held"`
	OverCap bool  `json:"over_cap"`
}

// PlanCalls are the API calls of a run by method. They are estimates:
// PostInputs counts batch_size inputs per call (a byte budget may split
// more), the annotation calls assume one per updated item at most.
type PlanCalls struct {
	PostInputs          int64 `json:"PostInputs"`
	PatchInputs         int64 `json:"PatchInputs"`
	GetInput            int64 `json:"GetInput"`
	PostDatasetInputs   int64 `json:"PostDatasetInputs"`
	DeleteDatasetInputs int64 `json:"DeleteDatasetInputs"`
	PostAnnotations     int64 `json:"PostAnnotations"`
	ListAnnotations     int64 `json:"ListAnnotations"`
	DeleteAnnotations   int64 `json:"DeleteAnnotations"`
	DeleteInputs        int64 `json:"DeleteInputs"`
	// StreamInputs list the app's input IDs and ListInputs read back the
	// inputs to adopt (sync.adopt), about one per upload batch holding any.
	StreamInputs int64 `json:"StreamInputs,omitempty"`
	ListInputs   int64 `json:"ListInputs,omitempty"`
	// Verify are the processing checks of the posted inputs (about two
	// GetInputsAddJob calls per 64 PostInputs calls).
	Verify int64 `json:"verify"`
	// Datasets are the dataset calls by dataset ID.
	Datasets map[string]DatasetCalls `json:"datasets,omitempty"`
}

// DatasetCalls are the changes of one dataset's membership.
type DatasetCalls struct {
	// Add are the inputs a run puts in the dataset (PostDatasetInputs) and
	// Remove those it takes out (DeleteDatasetInputs).
	Add    int64 `json:"add"`
	Remove int64 `json:"remove"`
}

// Total is the number of calls.
func (c PlanCalls) Total() int64 {
	return c.PostInputs + c.PatchInputs + c.GetInput + c.PostDatasetInputs + c.DeleteDatasetInputs +
		c.PostAnnotations + c.ListAnnotations + c.DeleteAnnotations + c.DeleteInputs + c.StreamInputs + c.ListInputs + c.Verify
}

// PlanExample is one item of a kind, with what changes.
type PlanExample struct {
	// Kind is add, adopt (the app holds the input as the item makes it),
	// adopt-update, adopt-conflict, update, replace, conflict or delete.
	Kind string `json:"kind"`
	// Item says where the item comes from (file, manifest row); empty for
	// a delete.
	Item string `json:"item,omitempty"`
	// InputID is the input on the server the change is about (the earlier
	// input for an update, replace, conflict or delete; the given ID of a
	// new item; empty when it is derived from the content at upload).
	InputID string `json:"input_id,omitempty"`
	// Changes are the groups that change, old -> new.
	Changes []PlanChange `json:"changes,omitempty"`
	// Note says more in words.
	Note string `json:"note,omitempty"`
}

// PlanChange is one changed group of an example.
type PlanChange struct {
	// Field is content, concepts, metadata, geo, datasets or regions.
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// oldDigest is a change's old value when the server was not read.
const oldDigest = "changed (digest)"

// Plan reads the job's sources, runs its transforms and compares every item
// with the job's checkpoint, opened read-only, to say what a run with the
// same settings would do: it sends nothing that changes the app, and writes
// neither the checkpoint nor the failure report. The examples' old values
// are read from the target (GetInput, ListAnnotations) when it can be
// reached; no PAT is needed otherwise. With sync.adopt it lists the app's
// input IDs as a run does (when the target can be reached; otherwise
// Plan.Adopt says why and the new items count as to add), finds the input
// ID a run would use for each new item (given, or derived from its content,
// read for it) and reads back, 128 IDs a ListInputs, the inputs the app
// holds, to count them as a run would decide (clarifai.Adoption): adopted
// as they are, adopted and updated, or conflicts. It takes the options of
// Run that apply (WithLogger, WithTransform(s), WithSource, WithGetenv, WithStop,
// WithNewClient, WithoutCheckpoint, WithOutput, WithAllowConfigChange: the
// checkpoint of a job whose configuration changed is compared with as a
// run with it would, still read-only).
func (j *Job) Plan(ctx context.Context, opts ...RunOption) (*Plan, error) {
	o, reg, err := j.prepare(false, opts)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Job: j.Name, Target: j.Target, UpdateFields: map[string]int64{}, Examples: []PlanExample{}, RateLimit: j.ShardRate()}
	sources, err := j.buildSources(o.log, o.sources, func(*CloudSource) (pipeline.Source, error) {
		plan.CloudSources++
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if len(sources) == 0 {
		return plan, nil // only cloud sources
	}
	ts, _, err := j.buildTransforms(reg, o.extra, o.log)
	if err != nil {
		return nil, err
	}
	var cp *checkpoint.Checkpoint
	var held int64
	if !o.noCheckpoint {
		if cp, err = j.openReadOnly(o.log, o.allowChange); err != nil {
			return nil, err
		}
	}
	var look pipeline.Checkpoint
	ps := newPlanSink(j.Upload.Batch.MaxItems)
	if cp != nil {
		defer cp.Close()
		plan.Checkpoint = j.State.Dir
		held = heldInputs(cp)
		look = readOnlyCheckpoint{cp}
		in, err := checkpoint.ReadIntents(j.State.Dir)
		if err != nil {
			return nil, err
		}
		ps.intended = in.Intended
	}
	// The target, opened when the plan needs it: for sync.adopt now, for
	// the examples' old values after the sources are read.
	var tgt *target
	var unreachable string // why the target could not be reached, once tried
	defer func() {
		if tgt != nil {
			_ = tgt.close()
		}
	}()
	if j.Sync.Adopt {
		plan.Adopt = &PlanAdopt{UpdateFields: map[string]int64{}}
		if tgt, unreachable = j.reachTarget(ctx, o); tgt == nil {
			plan.Adopt.Reason = "the app's inputs could not be listed: " + unreachable
		} else if has, n, err := existingInputs(ctx, tgt.client, clarifai.ListInputIDs); err != nil {
			plan.Adopt.Reason = err.Error()
		} else {
			plan.Adopt.Planned, plan.Adopt.AppInputs = true, int64(n)
			plan.Calls.StreamInputs = ceilDiv(max(int64(n), 1), maxStreamPage)
			c := tgt.client
			ps.adopt = &planAdopt{has: has, read: func(ctx context.Context, ids []string) (map[string]*pb.Input, error) {
				return clarifai.ReadInputs(ctx, c, ids)
			}}
			ts = append(slices.Clip(ts), adoptIDTransform(has))
		}
	}
	pj := pipeline.Job{
		Sources: sources, Transforms: ts, Sink: ps, Checkpoint: look, Workers: j.Upload.Workers, Stop: o.stop,
		// Problems are counted, not logged.
		Logger:   o.log.WithOptions(zap.IncreaseLevel(zap.ErrorLevel)),
		OnResult: ps.result,
	}
	pj.ReadAll = true
	stats, runErr := pipeline.Run(ctx, pj)
	if runErr != nil {
		return nil, runErr
	}
	ps.fill(plan)
	plan.Read = stats.Read
	if a := ps.adopt; a != nil && a.why != "" {
		plan.Adopt.Reason = a.why
	}
	if j.Sync.Delete {
		limit, err := ParseDeleteCap(j.Sync.MaxDelete)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("sync.max_delete: %w", err)}
		}
		plan.Delete = planDeletes(ps, look, limit, held, stopped(o.stop), stats.ReadAll)
		ps.addDeleteExamples(plan)
		if plan.Delete.Counted {
			plan.Calls.DeleteInputs += ceilDiv(plan.Delete.Inputs, maxIDsPerCall)
		}
	}
	if plan.RateLimit > 0 {
		plan.Seconds = float64(plan.Calls.Total()) / plan.RateLimit
	}
	plan.OldValues = j.fillOldValues(ctx, plan, o, &tgt, unreachable)
	return plan, nil
}

// openReadOnly opens the job's checkpoint read-only, or returns nil when
// the job has none yet (nothing is created).
func (j *Job) openReadOnly(log *zap.Logger, allowChange bool) (*checkpoint.Checkpoint, error) {
	if _, err := os.Stat(j.State.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cp, err := checkpoint.Open(j.State.Dir, checkpoint.Options{
		Fingerprint: j.Fingerprint(), Logger: log, CompactMinBytes: -1, ReadOnly: true, AllowMismatch: allowChange,
		ReplaceContent: j.Sync.ReplaceContent, DigestSalt: j.DigestSalt(),
	})
	if err != nil {
		return nil, &ConfigError{err}
	}
	return cp, nil
}

// readOnlyCheckpoint answers Lookup and Unseen and records nothing. It is
// no SourceCheckpoint, so that a plan streams every source, also those an
// earlier run finished.
type readOnlyCheckpoint struct{ cp pipeline.Checkpoint }

func (r readOnlyCheckpoint) Lookup(it *pipeline.Item) pipeline.ResumeState { return r.cp.Lookup(it) }
func (readOnlyCheckpoint) Record(pipeline.Result) error                    { return nil }

// Unseen implements pipeline.SyncCheckpoint when the checkpoint does.
func (r readOnlyCheckpoint) Unseen(yield func(pipeline.Departed) bool) {
	if sc, ok := r.cp.(pipeline.SyncCheckpoint); ok {
		sc.Unseen(yield)
	}
}

// RecordDeleted implements pipeline.SyncCheckpoint; it records nothing.
func (readOnlyCheckpoint) RecordDeleted(pipeline.Departed) error { return nil }

// planDeletes counts what a run with sync.delete would delete: the inputs
// no item matched, and the earlier inputs of items whose content changed
// under a derived ID (a run records those when it posts the new input).
func planDeletes(ps *planSink, look pipeline.Checkpoint, limit DeleteCap, held int64, stop, readAll bool) *PlanDelete {
	d := &PlanDelete{Held: held, Cap: limit.Limit(held)}
	r, ok := look.(readOnlyCheckpoint)
	if !ok {
		// No checkpoint yet: the job made no inputs to delete.
		d.Counted = true
		return d
	}
	if why := whyNoDelete(r.cp, nil, stop, readAll); why != "" {
		d.Reason = why
		return d
	}
	d.Counted = true
	r.Unseen(func(dep pipeline.Departed) bool {
		d.Inputs++
		if len(ps.deleteExamples) < PlanExamples {
			ps.deleteExamples = append(ps.deleteExamples, dep.ID)
		}
		return true
	})
	d.Inputs += ps.orphans
	d.OverCap = d.Inputs > d.Cap
	return d
}

// maxIDsPerCall is the most input IDs one PatchInputs, DeleteInputs or
// dataset call carries.
const maxIDsPerCall = 128

// maxStreamPage is the most input IDs one StreamInputs lists, and
// maxVerifyIDs the most inputs one ListInputs of the verifier checks.
const (
	maxStreamPage = 1000
	maxVerifyIDs  = 1000
)

func ceilDiv(n, d int64) int64 {
	if n <= 0 {
		return 0
	}
	return (n + d - 1) / d
}

// planSink is the sink of a plan: it counts each item by what its sync
// says, keeps a few examples, and sends nothing.
type planSink struct {
	batch int64
	// intended is the job's intent log (checkpoint.Intents.Intended): the
	// digest of the bytes a run sent under a given ID; nil without one.
	intended func(id string) (uint64, bool)

	mu      sync.Mutex
	add     int64
	update  int64
	fields  [pipeline.NumFields]int64
	replace int64
	verify  int64
	orphans int64
	// From the results: the runner's own decisions.
	unchanged, skipped, problems, conflicts int64

	// Per call kind: inputs to post, patch, patch with remove, regions to
	// post for new and for updated inputs, updated inputs whose regions
	// change, inputs to replace.
	post, patch, patchRemove, getInput, newRegions, updRegions, regionItems int64
	datasets                                                                map[string]DatasetCalls

	// adopt plans sync.adopt (nil without it, or when the app's inputs
	// could not be listed); the items the app holds an input for, and how
	// they count.
	adopt                                             *planAdopt
	adoptHeld, adoptAsIs, adoptUpdate, adoptConflicts int64
	adoptUnread                                       int64
	adoptFields                                       [pipeline.NumFields]int64

	// examples are kept by kind when met (the items belong to the run).
	examples       map[string][]PlanExample
	deleteExamples []string
}

func newPlanSink(batch int) *planSink {
	return &planSink{batch: int64(max(batch, 1)), datasets: map[string]DatasetCalls{}, examples: map[string][]PlanExample{}}
}

// Run implements pipeline.Sink. With sync.adopt, the items whose input the
// app holds wait (up to maxIDsPerCall) to be read back together; their
// results are sent then.
func (p *planSink) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	for it := range in {
		if p.adopt != nil && p.adopt.held(it) {
			p.adopt.pending = append(p.adopt.pending, it)
			if len(p.adopt.pending) >= maxIDsPerCall {
				if err := p.flushAdopt(ctx, results); err != nil {
					return err
				}
			}
			continue
		}
		r := pipeline.Result{Item: it, Event: pipeline.EventDone, Stage: "plan"}
		if it.Err != nil {
			r = pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: it.Stage, Err: it.Err}
		} else if err := p.unmoved(it); err != nil {
			r = pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: pipeline.StageSync, Err: err}
		} else {
			p.classify(it)
		}
		if err := pipeline.Send(ctx, results, r); err != nil {
			return err
		}
	}
	return p.flushAdopt(ctx, results)
}

// unmoved does what the sink does with an item whose content digest changed
// but whose bytes may not have (a file touched): it reads the bytes. Under a
// derived ID it derives the ID: the same ID as before is the input the
// server holds, so the item is an update of the other groups that changed
// (none: nothing to do), not a new input whose earlier one left the
// sources. Under a given ID (Sync.VerifyContent) it compares them with the
// job's intent log: the same bytes make it such an update too; other
// bytes a replace, or a conflict, which it returns. It reads the bytes of
// such items only; one that cannot be read is left as the checkpoint said.
func (p *planSink) unmoved(it *pipeline.Item) error {
	s := it.Sync
	if s == nil || s.PriorID == "" || it.Blob == nil || it.Blob.Open == nil {
		return nil
	}
	verify := s.VerifyContent
	if !verify && (s.Action != pipeline.ActionAdd || it.ID != "") {
		return nil
	}
	s.VerifyContent = false
	same := false
	if b, err := readBlob(it); err == nil {
		if verify {
			// The bytes the sink records: those of image, video and audio
			// content (a text file's are sent as text).
			if p.intended != nil && it.Kind != pipeline.KindText {
				prior, ok := p.intended(it.ID)
				same = ok && prior == xxhash.Sum64(b)
			}
		} else {
			// As the sink derives it: touched and moved, in the datasets
			// of the first post too.
			same = clarifai.PriorScopeID(it, b) == s.PriorID
		}
	}
	switch {
	case same:
		s.Action = pipeline.ActionUpdate
		s.Changed = s.Changed.Without(pipeline.FieldContent)
		it.ID = s.PriorID
	case verify && s.Action != pipeline.ActionReplace:
		return pipeline.ContentConflict(it)
	}
	return nil
}

// readBlob reads an item's content, up to the API's limit for its kind.
func readBlob(it *pipeline.Item) ([]byte, error) {
	r, err := it.Blob.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, sinks.LimitFor(it.Kind)))
}

// classify counts one item that reached the sink.
func (p *planSink) classify(it *pipeline.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := it.Sync
	switch {
	case it.Resumed:
		p.verify++
	case s == nil || s.Action == pipeline.ActionAdd:
		p.add++
		p.post++
		p.newRegions += int64(len(it.Regions))
		if s != nil && s.PriorID != "" && s.PriorID != it.ID {
			p.orphans++
			p.keep("add", it, nil, fmt.Sprintf("content changed: posted as a new input; the earlier input %s left the sources", s.PriorID))
		} else {
			p.keep("add", it, nil, "")
		}
	case s.Action == pipeline.ActionReplace:
		p.replace++
		p.post++
		p.newRegions += int64(len(it.Regions))
		p.keep("replace", it, []pipeline.Field{pipeline.FieldContent}, "content changed under a given ID: the input is deleted and posted again")
	case s.Action == pipeline.ActionUpdate && s.Changed == 0:
		p.unchanged++ // a file touched: nothing to send
	case s.Action == pipeline.ActionUpdate:
		p.update++
		p.keep("update", it, p.countUpdate(it, &p.fields), "")
	}
}

// countUpdate counts the calls of an update (it.Sync.Action ActionUpdate)
// and its changed groups into fields, and returns them. p.mu is held.
func (p *planSink) countUpdate(it *pipeline.Item, fields *[pipeline.NumFields]int64) []pipeline.Field {
	s := it.Sync
	var changed []pipeline.Field
	for f := range pipeline.NumFields {
		if s.Changed.Has(f) {
			fields[f]++
			changed = append(changed, f)
		}
	}
	if s.Changed.Has(pipeline.FieldConcepts) || s.Changed.Has(pipeline.FieldMetadata) || s.Changed.Has(pipeline.FieldGeo) {
		p.patch++
	}
	if s.Changed.Has(pipeline.FieldConcepts) && len(it.Concepts) == 0 {
		// The concepts to remove are read back first.
		p.getInput++
		p.patchRemove++
	} else if s.Changed.Has(pipeline.FieldGeo) && it.Geo == nil {
		p.patchRemove++
	}
	if s.Changed.Has(pipeline.FieldDatasets) {
		for _, id := range setMinus(it.DatasetIDs, s.PriorDatasets) {
			c := p.datasets[id]
			c.Add++
			p.datasets[id] = c
		}
		for _, id := range setMinus(s.PriorDatasets, it.DatasetIDs) {
			c := p.datasets[id]
			c.Remove++
			p.datasets[id] = c
		}
	}
	if s.Changed.Has(pipeline.FieldRegions) {
		p.updRegions += int64(len(it.Regions))
		p.regionItems++
	}
	return changed
}

// result counts what the runner decided itself: unchanged, skipped,
// conflicts and problems.
func (p *planSink) result(r pipeline.Result) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Event {
	case pipeline.EventResumed:
		p.unchanged++
	case pipeline.EventSkipped:
		p.skipped++
	case pipeline.EventFailed:
		if errors.Is(r.Err, pipeline.ErrContentChanged) || r.Stage == "sync" {
			p.conflicts++
			p.keep("conflict", r.Item, []pipeline.Field{pipeline.FieldContent}, "content changed under an input ID an earlier run used: "+
				"a run fails it (--replace-content replaces the input)")
		} else {
			p.problems++
		}
	}
	return nil
}

// keep keeps it as an example of kind, with the groups that change: the
// first PlanExamples by provenance, so that a plan shows the same examples
// whatever order the transform workers finish in.
func (p *planSink) keep(kind string, it *pipeline.Item, changed []pipeline.Field, note string) {
	kept := p.examples[kind]
	at := len(kept)
	if at >= PlanExamples {
		at = 0
		for i := range kept {
			if kept[i].Item > kept[at].Item {
				at = i
			}
		}
		if it.Prov.String() >= kept[at].Item {
			return
		}
	}
	ex := PlanExample{Kind: kind, Item: it.Prov.String(), InputID: it.ID, Note: note}
	if s := it.Sync; s != nil && s.PriorID != "" {
		ex.InputID = s.PriorID
	}
	for _, f := range changed {
		c := PlanChange{Field: f.String(), Old: oldDigest, New: newValue(f, it)}
		if f == pipeline.FieldDatasets && it.Sync != nil {
			c.Old = formatList(it.Sync.PriorDatasets)
		}
		ex.Changes = append(ex.Changes, c)
	}
	if at == len(kept) {
		p.examples[kind] = append(kept, ex)
	} else {
		kept[at] = ex
	}
}

// fill writes the counts, the calls and the examples into plan.
func (p *planSink) fill(plan *Plan) {
	plan.Add, plan.Update, plan.Replace, plan.Verify = p.add, p.update, p.replace, p.verify
	plan.Unchanged, plan.Skipped, plan.Problems, plan.Conflicts = p.unchanged, p.skipped, p.problems, p.conflicts
	for f := range pipeline.NumFields {
		if n := p.fields[f]; n > 0 {
			plan.UpdateFields[f.String()] = n
		}
	}
	c := &plan.Calls
	c.PostInputs = ceilDiv(p.post, p.batch)
	c.PatchInputs = ceilDiv(p.patch, maxIDsPerCall) + ceilDiv(p.patchRemove, maxIDsPerCall)
	c.GetInput = p.getInput
	c.PostAnnotations = ceilDiv(p.newRegions, maxIDsPerCall) + ceilDiv(p.updRegions, maxIDsPerCall)
	c.ListAnnotations = p.regionItems
	c.DeleteAnnotations = p.regionItems
	c.DeleteInputs = ceilDiv(p.replace, maxIDsPerCall)
	if c.PostInputs > 0 {
		c.Verify = 2 * ceilDiv(c.PostInputs, 64)
	}
	if a := plan.Adopt; a != nil {
		a.AsIs, a.Update, a.Conflicts, a.Unread = p.adoptAsIs, p.adoptUpdate, p.adoptConflicts, p.adoptUnread
		for f := range pipeline.NumFields {
			if n := p.adoptFields[f]; n > 0 {
				a.UpdateFields[f.String()] = n
			}
		}
		// A run reads back the held inputs of each upload batch together,
		// and checks the processing of those adopted as they are by ID.
		c.ListInputs = ceilDiv(p.adoptHeld, min(p.batch, maxIDsPerCall))
		c.Verify += ceilDiv(p.adoptAsIs, maxVerifyIDs)
	}
	if len(p.datasets) > 0 {
		c.Datasets = p.datasets
		for _, d := range p.datasets {
			c.PostDatasetInputs += ceilDiv(d.Add, maxIDsPerCall)
			c.DeleteDatasetInputs += ceilDiv(d.Remove, maxIDsPerCall)
		}
	}
	for _, kind := range []string{"add", "adopt", "adopt-update", "adopt-conflict", "update", "replace", "conflict"} {
		kept := p.examples[kind]
		slices.SortFunc(kept, func(a, b PlanExample) int { return strings.Compare(a.Item, b.Item) })
		plan.Examples = append(plan.Examples, kept...)
	}
}

// addDeleteExamples appends the delete examples (after planDeletes).
func (p *planSink) addDeleteExamples(plan *Plan) {
	for _, id := range p.deleteExamples {
		plan.Examples = append(plan.Examples, PlanExample{Kind: "delete", InputID: id, Note: "its item left the sources"})
	}
}

// fillOldValues reads the examples' old values from the target, when it
// can be reached without more settings than the job has, and says where
// they came from. *tgt is the target if the plan opened it already; one it
// opens is left there for the caller to close. unreachable is why the plan
// could not reach it before, if it tried: it does not try again.
func (j *Job) fillOldValues(ctx context.Context, plan *Plan, o *runOptions, tgt **target, unreachable string) string {
	if *tgt != nil {
		plan.UserID, plan.AppID = (*tgt).userID, (*tgt).appID
	}
	need := slices.ContainsFunc(plan.Examples, func(ex PlanExample) bool {
		return ex.InputID != "" && slices.ContainsFunc(ex.Changes, func(c PlanChange) bool { return c.Old == oldDigest })
	})
	if !need {
		return "none needed"
	}
	if *tgt == nil {
		if unreachable != "" {
			return "digest: " + unreachable
		}
		if *tgt, unreachable = j.reachTarget(ctx, o); *tgt == nil {
			return "digest: " + unreachable
		}
		plan.UserID, plan.AppID = (*tgt).userID, (*tgt).appID
	}
	for i := range plan.Examples {
		readOldValues(ctx, (*tgt).client, &plan.Examples[i])
	}
	return "server"
}

// reachTarget opens the job's target for a plan's reads, quietly, when it
// can be reached without more settings than the job has (a PAT for
// Clarifai, the state of the embedded emulator), and checks it. It returns
// the target, for the caller to close, or nil and why not.
func (j *Job) reachTarget(ctx context.Context, o *runOptions) (*target, string) {
	if errs := j.targetProblems(true); len(errs) > 0 {
		return nil, "the target cannot be reached without its settings: " + strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "; ")
	}
	if j.Target == TargetEmbedded {
		if _, err := os.Stat(j.Embedded.StateDir); err != nil {
			return nil, "the embedded emulator has no state in " + j.Embedded.StateDir
		}
	}
	// Quietly: a plan's output is the plan.
	quiet := *o
	quiet.out = io.Discard
	tgt, err := j.openTarget(&quiet)
	if err != nil {
		return nil, err.Error()
	}
	if err := tgt.preflight(ctx); err != nil {
		_ = tgt.close()
		return nil, err.Error()
	}
	return tgt, ""
}

// readOldValues fills ex's old values from the input on the server, read
// with GetInput (and ListAnnotations when its regions change).
func readOldValues(ctx context.Context, c *client.Client, ex *PlanExample) {
	if ex.InputID == "" || len(ex.Changes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.GetInput(ctx, &pb.GetInputRequest{InputId: ex.InputID})
	if err != nil {
		for i := range ex.Changes {
			if ex.Changes[i].Old == oldDigest {
				ex.Changes[i].Old = "changed (digest; the input could not be read: " + err.Error() + ")"
			}
		}
		return
	}
	in := resp.GetInput()
	d := in.GetData()
	for i := range ex.Changes {
		ch := &ex.Changes[i]
		if ch.Old != oldDigest {
			continue
		}
		switch ch.Field {
		case "concepts":
			var cs []pipeline.Concept
			for _, sc := range d.GetConcepts() {
				cs = append(cs, pipeline.Concept{ID: sc.GetId(), Value: sc.GetValue()})
			}
			ch.Old = formatConcepts(cs)
		case "metadata":
			ch.Old = formatMetadata(d.GetMetadata().AsMap())
		case "geo":
			if p := d.GetGeo().GetGeoPoint(); p != nil {
				ch.Old = formatGeo(&pipeline.Geo{Latitude: float64(p.GetLatitude()), Longitude: float64(p.GetLongitude())})
			} else {
				ch.Old = "none"
			}
		case "datasets":
			if ids := in.GetDatasetIds(); len(ids) > 0 {
				ch.Old = formatList(ids)
			}
		case "regions":
			anns, err := c.ListAnnotations(ctx, &pb.ListAnnotationsRequest{InputIds: []string{ex.InputID}, PerPage: 1000})
			if err == nil {
				n := 0
				for _, a := range anns.GetAnnotations() {
					n += len(a.GetData().GetRegions())
				}
				ch.Old = fmt.Sprintf("%d regions", n)
			}
		case "content":
			if url := serverURL(d); url != "" {
				ch.Old = url
			} else if raw := d.GetText().GetRaw(); raw != "" {
				ch.Old = abbreviateText(raw)
			} else {
				ch.Old = "uploaded bytes (changed, by digest)"
			}
		}
	}
}

// serverURL is the URL of the input's content, if it was sent as one.
func serverURL(d *pb.Data) string {
	for _, u := range []string{d.GetImage().GetUrl(), d.GetVideo().GetUrl(), d.GetAudio().GetUrl(), d.GetText().GetUrl()} {
		if u != "" {
			return u
		}
	}
	return ""
}

// newValue renders the item's value of a group.
func newValue(f pipeline.Field, it *pipeline.Item) string {
	switch f {
	case pipeline.FieldContent:
		return describeContent(it)
	case pipeline.FieldConcepts:
		return formatConcepts(it.Concepts)
	case pipeline.FieldMetadata:
		return formatMetadata(it.Metadata)
	case pipeline.FieldGeo:
		return formatGeo(it.Geo)
	case pipeline.FieldDatasets:
		return formatList(it.DatasetIDs)
	case pipeline.FieldRegions:
		return fmt.Sprintf("%d regions", len(it.Regions))
	}
	return ""
}

// describeContent says what an item's content is: its URL, file or text.
func describeContent(it *pipeline.Item) string {
	switch {
	case it.URL != "":
		return it.URL
	case it.Blob != nil && it.Blob.Path != "":
		return fmt.Sprintf("%s (%d bytes)", it.Blob.Path, it.Blob.Size)
	case it.Blob != nil:
		return fmt.Sprintf("%d bytes", it.Blob.Size)
	case it.Text != "":
		return abbreviateText(it.Text)
	}
	return "none"
}

func formatConcepts(cs []pipeline.Concept) string {
	if len(cs) == 0 {
		return "none"
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
		if c.Value == 0 {
			out[i] += ":0"
		}
	}
	slices.Sort(out)
	return "[" + strings.Join(out, ", ") + "]"
}

func formatMetadata(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m) // keys sorted
	if err != nil {
		return fmt.Sprint(m)
	}
	return abbreviateText(string(b))
}

func formatGeo(g *pipeline.Geo) string {
	if g == nil {
		return "none"
	}
	return strconv.FormatFloat(g.Latitude, 'g', 7, 64) + "," + strconv.FormatFloat(g.Longitude, 'g', 7, 64)
}

func formatList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	return "[" + strings.Join(s, ", ") + "]"
}

func abbreviateText(s string) string {
	const n = 60
	if r := []rune(s); len(r) > n {
		return strconv.Quote(string(r[:n]) + "...")
	}
	return strconv.Quote(s)
}

// setMinus returns the elements of a that are not in b, without repeats.
func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
