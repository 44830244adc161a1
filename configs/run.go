package configs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/sources/cloud"
	"github.com/ingestkit/clarifai-ingest/sources/report"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// ConfigError is an error in the job's configuration, found before
// anything was sent: a bad value, a source that cannot be built, an unknown
// custom transform, a checkpoint of another job. The CLI answers it with
// exit code 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Report is what a run did.
type Report struct {
	// Stats are the run's final counts; Elapsed is the run's duration.
	Stats pipeline.Stats
	// Sink counts annotations and verification (zero for a dry run).
	Sink clarifai.SinkStats
	// Plan is what a real run would send (DryRun only).
	Plan clarifai.Plan
	// UserID and AppID are the app the run uploaded to.
	UserID, AppID string
	// Emulator is what the embedded emulator holds for that app at the end
	// of the run (target embedded only).
	Emulator *emulator.AppCounts
	// Cloud are the server-side ingestions of the job's cloud sources, in
	// order (not started when the run ended before them).
	Cloud []*cloudjob.Ingestion
	// SkippedCloud is the number of cloud sources a dry run did not check.
	SkippedCloud int
	// ConceptIDs is how the labels read became concept IDs (DryRun only).
	ConceptIDs ids.Summary
	// Delete is what the deletion of the inputs that left the sources did
	// (sync.delete only; nil otherwise).
	Delete *DeleteReport
	// Adopted is the number of input IDs the app held before the run
	// (sync.adopt only).
	Adopted int
}

// RunOption customizes Run and DryRun.
type RunOption func(*runOptions)

type runOptions struct {
	log          *zap.Logger
	named        []namedFunc
	extra        []pipeline.Transform
	sources      []pipeline.Source
	counters     *pipeline.Counters
	out          io.Writer
	getenv       func(string) string
	stop         <-chan struct{}
	onCall       func(method, code string, latency time.Duration)
	onResult     func(pipeline.Result) error
	onStart      func(sources []pipeline.Source)
	restart      bool
	allowChange  bool
	noCheckpoint bool
	newClient    func(client.Config) (*client.Client, error)
}

type namedFunc struct {
	name string
	f    pipeline.TransformFunc
}

// WithTransform makes f available to the job's transforms list as
// `custom: <name>` for this run, beside the names of transforms.Register.
// It is the registry way: the job file says where the func runs.
func WithTransform(name string, f pipeline.TransformFunc) RunOption {
	return func(o *runOptions) { o.named = append(o.named, namedFunc{name, f}) }
}

// WithTransforms runs ts on every item after the job's own transforms (and
// before the annotations check, which always comes last). It is the Go
// way: no job file names them. pipeline.Func makes a Transform of a func.
func WithTransforms(ts ...pipeline.Transform) RunOption {
	return func(o *runOptions) { o.extra = append(o.extra, ts...) }
}

// WithSource adds src after the job's sources (sharded as they are).
func WithSource(src pipeline.Source) RunOption {
	return func(o *runOptions) { o.sources = append(o.sources, src) }
}

// WithLogger logs the run to log (default: no logging).
func WithLogger(log *zap.Logger) RunOption { return func(o *runOptions) { o.log = log } }

// WithOutput writes the lines that say where the run uploads to w
// (default: nowhere).
func WithOutput(w io.Writer) RunOption { return func(o *runOptions) { o.out = w } }

// WithCounters makes the run count into c, for a progress display or
// metrics that read it while the run goes on.
func WithCounters(c *pipeline.Counters) RunOption { return func(o *runOptions) { o.counters = c } }

// WithGetenv reads cloud credentials from the environment through getenv
// (default os.Getenv).
func WithGetenv(getenv func(string) string) RunOption {
	return func(o *runOptions) { o.getenv = getenv }
}

// WithStop stops reading new items when stop is closed; what was read is
// still delivered and recorded (soft shutdown). Cancelling Run's context
// stops everything at once.
func WithStop(stop <-chan struct{}) RunOption { return func(o *runOptions) { o.stop = stop } }

// WithOnCall observes every API call: method, result code, latency. It is
// called from many goroutines and must be fast (metrics).
func WithOnCall(f func(method, code string, latency time.Duration)) RunOption {
	return func(o *runOptions) { o.onCall = f }
}

// WithOnResult calls f for every result, from one goroutine, after the
// checkpoint and the failure report recorded it; an error ends the run.
func WithOnResult(f func(pipeline.Result) error) RunOption {
	return func(o *runOptions) { o.onResult = f }
}

// WithOnStart calls f with the run's sources once everything is ready,
// just before the first item is read (a progress display counts them).
func WithOnStart(f func(sources []pipeline.Source)) RunOption {
	return func(o *runOptions) { o.onStart = f }
}

// WithRestart ignores the job's checkpoint and starts the job over (and a
// new attempt of every cloud job).
func WithRestart() RunOption { return func(o *runOptions) { o.restart = true } }

// WithAllowConfigChange resumes a checkpoint written by a job with another
// fingerprint.
func WithAllowConfigChange() RunOption { return func(o *runOptions) { o.allowChange = true } }

// WithoutCheckpoint runs without a checkpoint: nothing is skipped or
// recorded (deterministic IDs still prevent duplicates).
func WithoutCheckpoint() RunOption { return func(o *runOptions) { o.noCheckpoint = true } }

// WithNewClient makes the run's client with f instead of client.New (a
// test that must prove no client is made for some endpoint, custom dialing).
func WithNewClient(f func(client.Config) (*client.Client, error)) RunOption {
	return func(o *runOptions) { o.newClient = f }
}

// newRunOptions collects opts over the defaults: no logging, no output,
// os.Getenv, counters of the run's own.
func newRunOptions(opts []RunOption) *runOptions {
	o := &runOptions{log: zap.NewNop(), out: io.Discard, getenv: os.Getenv}
	for _, opt := range opts {
		opt(o)
	}
	if o.counters == nil {
		o.counters = pipeline.NewCounters()
	}
	return o
}

// prepare applies the defaults to j, validates it, and collects opts.
func (j *Job) prepare(sending bool, opts []RunOption) (*runOptions, *transforms.Registry, error) {
	o := newRunOptions(opts)
	j.WithDefaults()
	if err := j.validate(sending, len(o.sources)); err != nil {
		return nil, nil, &ConfigError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	reg := transforms.NewRegistry()
	def := transforms.DefaultRegistry()
	for _, n := range def.Names() {
		f, _ := def.Lookup(n)
		_ = reg.Register(n, f) // names from a registry are valid and distinct
	}
	for _, nf := range o.named {
		if err := reg.Register(nf.name, nf.f); err != nil {
			return nil, nil, &ConfigError{err}
		}
	}
	return o, reg, nil
}

// Run runs the job: it applies the defaults, validates the job, builds its
// sources, transforms, checkpoint and target, and uploads every item. It
// blocks until the run is over and returns what it did; the report is
// non-nil whenever items were read. The error is nil when every item got a
// final result, even if some failed (see Report.Stats.Failed); a
// *ConfigError when the job is not valid (nothing was sent); any other
// error when the run was cut short (rerun to resume).
//
// With the sync section: the checkpoint compares every item with what an
// earlier run sent (sync.replace_content decides about content changed
// under a given ID, DigestSalt covers the transform settings); with
// sync.adopt the app's input IDs are listed first; with sync.delete every
// source is read to its end and, when the run read them all cleanly, the
// inputs whose items left are deleted, up to sync.max_delete (more is a
// *DeleteCapError and nothing is deleted). Report.Delete says what was
// deleted or why nothing was.
//
// The transforms always run in the same order: the media detector first,
// then the job's list (custom names from WithTransform and
// transforms.Register), then WithTransforms, then the annotations check,
// and last the concept-ID rule (transforms.ConceptIDs, mode concept_ids).
func (j *Job) Run(ctx context.Context, opts ...RunOption) (rep *Report, err error) {
	o, reg, err := j.prepare(true, opts)
	if err != nil {
		return nil, err
	}
	log := o.log
	// The target is dialed after the local checks below, but cloud sources
	// are built now: they get the client when they start streaming.
	var tgt *target
	sources, err := j.buildSources(log, o.sources, func(c *CloudSource) (pipeline.Source, error) {
		return j.cloudSource(c, o.getenv, func() cloudjob.API { return tgt.client }, o.restart, log)
	})
	if err != nil {
		return nil, err
	}
	ts, _, err := j.buildTransforms(reg, o.extra, log)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(j.State.Dir, 0o755); err != nil {
		return nil, err
	}
	var cp pipeline.Checkpoint
	var held int64
	var intents *checkpoint.Intents
	if !o.noCheckpoint {
		// oerr, not err: the deferred Close below must set Run's result.
		c, oerr := checkpoint.Open(j.State.Dir, checkpoint.Options{
			Fingerprint: j.Fingerprint(), Restart: o.restart, AllowMismatch: o.allowChange, Logger: log,
			ReplaceContent: j.Sync.ReplaceContent, DigestSalt: j.DigestSalt(),
		})
		if oerr != nil {
			return nil, &ConfigError{oerr}
		}
		defer func() {
			if cerr := c.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("save checkpoint: %w", cerr)
			}
		}()
		cp = c
		if j.Sync.Delete {
			// The base of a percentage cap: what the job held before this
			// run changed anything.
			held = heldInputs(c)
		}
		// The sink records which bytes it sends under given IDs before
		// each request, so that a rerun after a crash can tell its own
		// upload from other content under the same ID.
		if intents, err = checkpoint.OpenIntents(j.State.Dir); err != nil {
			return nil, err
		}
		defer func() {
			if cerr := intents.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("save checkpoint intents: %w", cerr)
			}
		}()
	}
	if err := os.MkdirAll(filepath.Dir(j.State.Failures), 0o755); err != nil {
		return nil, err
	}
	failures, err := report.NewWriter(j.State.Failures)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := failures.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write failure report: %w", cerr)
		}
	}()
	tgt, err = j.openTarget(o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := tgt.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// A dead or mistyped endpoint, or a bad key, ends the run here in
	// seconds instead of failing every item after minutes of retries.
	if err := tgt.preflight(ctx); err != nil {
		return nil, err
	}
	scfg := j.sinkConfig(o.counters, log)
	if intents != nil {
		scfg.Intents = intents
	}
	var adopted int
	if j.Sync.Adopt {
		existing, n, err := existingInputs(ctx, tgt.client, clarifai.ListInputIDs)
		if err != nil {
			return nil, err
		}
		scfg.Existing = existing
		adopted = n
		log.Info("listed the app's inputs to adopt those the sources hold", zap.Int("inputs", n))
	}
	sink, err := clarifai.NewSink(tgt.client, scfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if o.onStart != nil {
		o.onStart(sources)
	}
	start := time.Now()
	pj := pipeline.Job{
		Sources: sources, Transforms: ts, Sink: sink, Checkpoint: cp,
		OnResult: func(r pipeline.Result) error {
			if r.Event == pipeline.EventFailed || r.Event == pipeline.EventSkipped {
				if err := failures.Write(r); err != nil {
					return err
				}
			}
			if o.onResult != nil {
				return o.onResult(r)
			}
			return nil
		},
		Workers: j.Upload.Workers, Counters: o.counters, Logger: log, Stop: o.stop,
	}
	if j.Sync.Delete {
		// A run that deletes what left the sources must see every item,
		// also of the sources an earlier run finished.
		pj.ReadAll = true
	}
	stats, runErr := pipeline.Run(ctx, pj)
	if client.IsOutage(runErr) {
		runErr = fmt.Errorf("the Clarifai API at %s stopped answering: %w", tgt.client.Endpoint(), runErr)
	}
	var del *DeleteReport
	if j.Sync.Delete {
		del, runErr = j.deleteAfterRun(ctx, cp, held, tgt.client, stats, runErr, o)
		s := o.counters.Snapshot()
		stats.Deleted, stats.Requests, stats.Retries, stats.Throttle = s.Deleted, s.Requests, s.Retries, s.Throttle
	}
	stats.Elapsed = time.Since(start)
	rep = &Report{Stats: stats, Sink: sink.Stats(), UserID: tgt.userID, AppID: tgt.appID, Cloud: cloudIngestions(sources),
		Delete: del, Adopted: adopted}
	if tgt.emu != nil {
		c := tgt.emu.Counts()[tgt.userID+"/"+tgt.appID]
		rep.Emulator = &c
	}
	return rep, runErr
}

// deleteAfterRun deletes the inputs whose items left the sources, when the
// run that just ended allows it (see whyNoDelete), and returns what it did
// and the run's error (runErr, or the deletion's).
func (j *Job) deleteAfterRun(ctx context.Context, cp pipeline.Checkpoint, held int64, c *client.Client,
	stats pipeline.Stats, runErr error, o *runOptions) (*DeleteReport, error) {
	if why := whyNoDelete(cp, runErr, stopped(o.stop), stats.ReadAll); why != "" {
		o.log.Warn("sync.delete: nothing deleted", zap.String("reason", why))
		return &DeleteReport{Reason: why, Held: held}, runErr
	}
	limit, err := ParseDeleteCap(j.Sync.MaxDelete)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("sync.max_delete: %w", err)} // Validate refused it already
	}
	del := func(ctx context.Context, inputs []pipeline.Departed, done func([]pipeline.Departed) error) error {
		return clarifai.DeleteInputs(ctx, c, inputs, done)
	}
	return deleteDeparted(ctx, cp.(pipeline.SyncCheckpoint), limit, held, del, o.counters, o.log)
}

// DryRun reads and transforms every item as Run would and checks each as
// the upload would, sending nothing: no PAT is needed and no checkpoint is
// written. Cloud sources are not checked (the server ingests them; see
// Report.SkippedCloud). Report.Plan says what a run would send; items with
// problems are failed results (see WithOnResult).
func (j *Job) DryRun(ctx context.Context, opts ...RunOption) (*Report, error) {
	o, reg, err := j.prepare(false, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	sources, err := j.buildSources(o.log, o.sources, func(*CloudSource) (pipeline.Source, error) {
		rep.SkippedCloud++
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	ts, cids, err := j.buildTransforms(reg, o.extra, o.log)
	if err != nil {
		return nil, err
	}
	dry := clarifai.NewDryRun(j.sinkConfig(nil, nil))
	if o.onStart != nil {
		o.onStart(sources)
	}
	rep.Stats, err = pipeline.Run(ctx, pipeline.Job{
		Sources: sources, Transforms: ts, Sink: dry, Workers: j.Upload.Workers, Counters: o.counters,
		// Problems are results (WithOnResult), not log lines.
		Logger: o.log.WithOptions(zap.IncreaseLevel(zap.ErrorLevel)), OnResult: o.onResult, Stop: o.stop,
	})
	rep.Plan = dry.Plan()
	rep.ConceptIDs = cids.Mapping()
	return rep, err
}

// cloudIngestions returns the ingestions behind the cloud sources.
func cloudIngestions(sources []pipeline.Source) []*cloudjob.Ingestion {
	var out []*cloudjob.Ingestion
	for _, s := range sources {
		if ing, ok := CloudIngestion(s); ok {
			out = append(out, ing)
		}
	}
	return out
}

// CloudIngestion returns the server-side ingestion behind a source of a
// job's cloud entry.
func CloudIngestion(s pipeline.Source) (*cloudjob.Ingestion, bool) {
	cs, ok := s.(interface{ Ingestion() cloud.Ingestion })
	if !ok {
		return nil, false
	}
	ing, ok := cs.Ingestion().(*cloudjob.Ingestion)
	return ing, ok
}
