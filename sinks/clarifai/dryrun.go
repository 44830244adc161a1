package clarifai

import (
	"context"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
)

// DryRun is a pipeline.Sink that sends nothing. It checks every item the
// way Sink does before a request is sent (kind and content rules, the
// documented size limits, ID and dataset ID characters, geo range, metadata
// conversion, UTF-8 text, region coordinates), loading each item's content
// as the request build would, and it counts the requests a real run would
// make. It is what `ingest validate` (and `run --dry-run`) runs.
//
// An item with a problem gets EventFailed at stage "validate" with an error
// naming it; every other item gets EventDone with the bytes it would send.
// An item that would update its input (pipeline.ActionUpdate) is checked
// without loading its content and counted in Plan.Updates.
// The item's ID is set as the real run would set it. Plan returns the
// counts once Run has returned. DryRun is not safe for concurrent Runs.
type DryRun struct {
	cfg  SinkConfig
	plan Plan
}

// Plan is what a real run of the same items would send.
type Plan struct {
	// Inputs and Bytes are the inputs that would be sent and their content.
	Inputs, Bytes int64
	// Problems is the number of items that would fail before being sent.
	Problems int64
	// PostInputs, PostAnnotations and VerifyCalls estimate the calls:
	// exact for the first two (batch rules applied in order), about two
	// polls per verification group for the last.
	PostInputs, Annotations, PostAnnotations, VerifyCalls int64
	// Updates are the items that would update an input an earlier run
	// left (pipeline.ActionUpdate) instead of posting one; UpdateCalls
	// estimates their calls: one PatchInputs per 128 of them (more when
	// labels are removed, datasets move or regions change).
	Updates, UpdateCalls int64
}

// Calls is the total number of API calls the plan makes.
func (p Plan) Calls() int64 { return p.PostInputs + p.PostAnnotations + p.VerifyCalls + p.UpdateCalls }

// Duration estimates the run's length at rate calls per second (the
// client-side budget every call shares); 0 when rate is not positive.
func (p Plan) Duration(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(p.Calls()) / rate * float64(time.Second))
}

// NewDryRun returns a DryRun sink counting the calls a Sink with cfg would
// make: of cfg, it uses Batch, Verify, MaxAnnotations and
// VerifyGroupBatches, with their defaults.
func NewDryRun(cfg SinkConfig) *DryRun {
	cfg = cfg.withDefaults()
	cfg.MaxAnnotations = max(cfg.MaxAnnotations, 1)
	cfg.VerifyGroupBatches = max(cfg.VerifyGroupBatches, 1)
	// Batches are closed by size only: time plays no part in a dry run.
	cfg.Batch.MaxWait = 24 * time.Hour
	return &DryRun{cfg: cfg}
}

var _ pipeline.Sink = (*DryRun)(nil)

// Run implements pipeline.Sink. It checks items one at a time, in order.
func (d *DryRun) Run(ctx context.Context, in <-chan *pipeline.Item, results chan<- pipeline.Result) error {
	b := sinks.NewBatcher(d.cfg.Batch, nil)
	var annotations int64 // not yet counted in a PostAnnotations call
	for it := range in {
		if a, ok := syncAction(it); ok && a == pipeline.ActionUpdate {
			res := d.checkUpdate(it)
			if res.Event == pipeline.EventFailed {
				d.plan.Problems++
			} else {
				d.plan.Updates++
				d.plan.UpdateCalls = (d.plan.Updates + maxPatchInputs - 1) / maxPatchInputs
			}
			if err := pipeline.Send(ctx, results, res); err != nil {
				return err
			}
			continue
		}
		res, n := d.check(ctx, it)
		if res.Event == pipeline.EventFailed {
			d.plan.Problems++
		} else {
			d.plan.Inputs++
			d.plan.Bytes += res.Bytes
			d.plan.Annotations += n
			annotations += n
			d.plan.PostAnnotations += annotations / int64(d.cfg.MaxAnnotations)
			annotations %= int64(d.cfg.MaxAnnotations)
			if b.Add(it) {
				for b.Full() {
					b.Flush()
					d.plan.PostInputs++
				}
			}
		}
		if err := pipeline.Send(ctx, results, res); err != nil {
			return err
		}
	}
	for b.Len() > 0 {
		b.Flush()
		d.plan.PostInputs++
	}
	if annotations > 0 {
		d.plan.PostAnnotations++
	}
	if d.cfg.verifying() && d.plan.PostInputs > 0 {
		groups := (d.plan.PostInputs + int64(d.cfg.VerifyGroupBatches) - 1) / int64(d.cfg.VerifyGroupBatches)
		d.plan.VerifyCalls = 2 * groups
	}
	return nil
}

// check runs the sink's own checks on it and builds its request entry and
// annotations, which loads its content.
func (d *DryRun) check(ctx context.Context, it *pipeline.Item) (pipeline.Result, int64) {
	fail := func(err error) (pipeline.Result, int64) {
		it.Err, it.Stage = err, "validate"
		return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "validate", Err: err}, 0
	}
	if err := precheck(it); err != nil {
		return fail(err)
	}
	// Content goes into recycled buffers, as for a real upload: only its
	// size is kept.
	bd := &builder{wire: true}
	e, err := bd.build(ctx, it)
	bd.release()
	if err != nil {
		return fail(err)
	}
	anns, err := buildAnnotations(it)
	if err != nil {
		return fail(err)
	}
	return pipeline.Result{Item: it, Event: pipeline.EventDone, Stage: "validate", Bytes: e.bytes}, int64(len(anns))
}

// checkUpdate runs the sink's checks on an item that would update its
// input (pipeline.ActionUpdate): those of precheck, its metadata and its
// regions. Its content is not loaded: an update does not send it.
func (d *DryRun) checkUpdate(it *pipeline.Item) pipeline.Result {
	err := precheck(it)
	if err == nil && it.Metadata != nil {
		if _, merr := toStruct(it.Metadata); merr != nil {
			err = pipeline.Errorf(it.Prov, "metadata", "%v", merr)
		}
	}
	if err == nil {
		err = checkRegions(it)
	}
	if err != nil {
		it.Err, it.Stage = err, "validate"
		return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: "validate", Err: err}
	}
	return pipeline.Result{Item: it, Event: pipeline.EventDone, Stage: "validate"}
}

// Plan returns the counts of the last Run.
func (d *DryRun) Plan() Plan { return d.plan }
