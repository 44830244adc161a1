package configs

import (
	"context"
	"fmt"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// PlanAdopt is what a run with sync.adopt would do with the items new to
// the checkpoint whose input ID (given, or derived from the content) the
// app already holds: it reads those inputs back and compares them with the
// items, sending nothing for those equal. They are not counted in Plan.Add
// (nor in Plan.Update or Plan.Conflicts): the items new to the checkpoint
// are Add + AsIs + Update + Conflicts + Unread.
type PlanAdopt struct {
	// Planned is false when the app's inputs could not be listed (Reason
	// says why, e.g. no PAT): the new items then count as to add, and a
	// run adopts what it finds.
	Planned bool   `json:"planned"`
	Reason  string `json:"reason,omitempty"`
	// AppInputs is the number of inputs the app holds (listed).
	AppInputs int64 `json:"app_inputs"`
	// AsIs are the inputs adopted as they are: nothing is sent for them
	// (but their region annotations, again).
	AsIs int64 `json:"as_is"`
	// Update are the inputs adopted and updated in place (labels,
	// metadata, geo, datasets differ); UpdateFields counts them by group,
	// as Plan.UpdateFields.
	Update       int64            `json:"update"`
	UpdateFields map[string]int64 `json:"update_by_field"`
	// Conflicts are the inputs whose content differs from the item's under
	// the same ID: a run fails them (exit code 4).
	Conflicts int64 `json:"conflicts"`
	// Unread are the inputs the app holds that could not be read back
	// (Reason says why): a run reads them back and decides then.
	Unread int64 `json:"not_read,omitempty"`
}

// Total is the number of items the app holds an input for.
func (a *PlanAdopt) Total() int64 { return a.AsIs + a.Update + a.Conflicts + a.Unread }

// planAdopt plans sync.adopt: the set of the app's input IDs, as a run
// lists it (existingInputs), and the read-back of the inputs to adopt.
type planAdopt struct {
	has  func(id string) bool
	read func(ctx context.Context, ids []string) (map[string]*pb.Input, error)
	// pending are the items to adopt not yet read back (planSink.Run's
	// alone): at most maxIDsPerCall.
	pending []*pipeline.Item
	// why is the first read-back failure.
	why string
}

// adoptIDTransform is the last transform of a plan with sync.adopt: it
// finds the input ID a run would use for each new item without a given
// one, as the sink derives it (ids.DeriveID of its content, read for a
// Blob), and, when the app holds that ID, sets it as the item's ID so that
// the plan sink reads that input back. Other items are left alone (their
// ID is derived at upload). It runs on the transform workers, so the bytes
// are read in parallel, as a run reads them.
func adoptIDTransform(has func(string) bool) pipeline.Transform {
	return pipeline.Func("adopt-id", func(_ context.Context, it *pipeline.Item) error {
		if it.ID != "" || !clarifai.IsNew(it) {
			return nil
		}
		var content []byte
		if it.Blob != nil {
			b, err := readBlob(it)
			if err != nil {
				return fmt.Errorf("load content: %w", err)
			}
			content = b
		}
		if id := ids.DeriveID(it, content); has(id) {
			it.ID = id
		}
		return nil
	})
}

// held reports whether it is a new item whose input ID the app holds.
func (a *planAdopt) held(it *pipeline.Item) bool {
	return it.Err == nil && it.ID != "" && clarifai.IsNew(it) && a.has(it.ID)
}

// flushAdopt reads back the pending inputs to adopt (one ListInputs of
// their IDs) and counts each item by what a run would do with it
// (clarifai.Adoption), sending its result.
func (p *planSink) flushAdopt(ctx context.Context, results chan<- pipeline.Result) error {
	a := p.adopt
	if a == nil || len(a.pending) == 0 {
		return nil
	}
	pending := a.pending
	a.pending = a.pending[:0]
	idList := make([]string, 0, len(pending))
	seen := make(map[string]bool, len(pending))
	for _, it := range pending {
		if !seen[it.ID] {
			seen[it.ID] = true
			idList = append(idList, it.ID)
		}
	}
	p.mu.Lock()
	p.adoptHeld += int64(len(pending))
	p.mu.Unlock()
	held, err := a.read(ctx, idList)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a.why == "" {
			a.why = "reading the inputs to adopt back failed: " + err.Error()
		}
	}
	for _, it := range pending {
		switch in := held[it.ID]; {
		case err != nil:
			p.mu.Lock()
			p.adoptUnread++
			p.mu.Unlock()
		case in == nil:
			p.classify(it) // deleted since it was listed: posted
		default:
			p.classifyAdopt(it, in)
		}
		if err := pipeline.Send(ctx, results, pipeline.Result{Item: it, Event: pipeline.EventDone, Stage: "plan"}); err != nil {
			return err
		}
	}
	return nil
}

// classifyAdopt counts one item whose input the app holds, read back as in.
func (p *planSink) classifyAdopt(it *pipeline.Item, in *pb.Input) {
	changed, diffs := clarifai.Adoption(in, it)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case changed == 0:
		p.adoptAsIs++
		p.newRegions += int64(len(it.Regions)) // posted again
		p.keep("adopt", it, nil, "the app holds it as the item would make it: nothing is sent")
	case changed.Has(pipeline.FieldContent):
		p.adoptConflicts++
		p.keep("adopt-conflict", it, []pipeline.Field{pipeline.FieldContent}, "the app holds another content under this ID ("+
			strings.Join(diffs, "; ")+"): a run fails it (exit code 4)")
	default:
		// As the sink does: an update of the groups that differ, from the
		// datasets the input is in.
		clarifai.AdoptAsUpdate(it, in, changed)
		p.adoptUpdate++
		fields := p.countUpdate(it, &p.adoptFields)
		p.keep("adopt-update", it, fields, "the app holds it: "+strings.Join(diffs, "; "))
	}
}
