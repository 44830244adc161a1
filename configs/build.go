package configs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/sources/cloud"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
	"github.com/ingestkit/clarifai-ingest/sources/report"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// This file turns a job into the library values that run it: the
// sources, the transforms, and the configs of the sink, the client and the
// embedded emulator. Run and Validate both go through it, so that what
// validates is exactly what runs.

// shard returns the job's shard (the zero Shard when not sharded).
func (j *Job) shard() (pipeline.Shard, error) {
	if j.Shard == "" {
		return pipeline.Shard{}, nil
	}
	s, err := pipeline.ParseShard(j.Shard)
	if err != nil {
		return s, &ConfigError{fmt.Errorf("shard: %w", err)}
	}
	return s, nil
}

// ShardRate is the rate budget of this process: each of n shards takes 1/n
// of upload.rate_limit, so that together they stay within it.
func (j *Job) ShardRate() float64 {
	rate := j.Upload.RateLimit
	if sh, err := j.shard(); err == nil && sh.Enabled() && rate > 0 {
		rate /= float64(sh.Count)
	}
	return rate
}

// datasets returns the job's dataset IDs followed by a source's own.
func (j *Job) datasets(own []string) []string {
	return slices.Concat(j.Upload.DatasetIDs, own)
}

// buildSources turns the job's source entries into pipeline sources, each
// streaming only the job's shard, followed by extra (the sources given with
// WithSource), sharded as they are. cloud builds the source of a cloud
// entry (it needs the run's client); it may return nil to leave the entry
// out. Errors name the entry by its index and are ConfigErrors.
func (j *Job) buildSources(log *zap.Logger, extra []pipeline.Source, cloud func(*CloudSource) (pipeline.Source, error)) ([]pipeline.Source, error) {
	shard, err := j.shard()
	if err != nil {
		return nil, err
	}
	var out []pipeline.Source
	for i, spec := range j.Sources {
		var src pipeline.Source
		if spec.Cloud != nil {
			// Server-side ingestion: the whole job runs on the server, so a
			// cloud source is not sharded (shard 0 runs it).
			if shard.Enabled() && shard.Index != 0 {
				continue
			}
			src, err = cloud(spec.Cloud)
			if err == nil {
				if src != nil {
					out = append(out, src)
				}
				continue
			}
		} else {
			src, err = j.buildSource(spec, log)
		}
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("sources[%d] (%s): %w", i, spec.Kind(), err)}
		}
		out = append(out, pipeline.Sharded(src, shard))
	}
	for _, src := range extra {
		out = append(out, pipeline.Sharded(src, shard))
	}
	return out, nil
}

// buildSource builds one local source: the entry's own package config with
// its paths resolved against the job file's folder and the job's dataset
// IDs added.
func (j *Job) buildSource(spec Source, log *zap.Logger) (pipeline.Source, error) {
	switch {
	case spec.Dir != nil:
		cfg := *spec.Dir
		cfg.Path, cfg.DatasetIDs = j.Path(cfg.Path), j.datasets(cfg.DatasetIDs)
		if a := cfg.Annotations; a != nil {
			ac := *a
			ac.Path, ac.Classes = j.Path(ac.Path), j.Path(ac.Classes)
			cfg.Annotations = &ac
		}
		return dir.New(cfg, dir.WithLogger(log))
	case spec.CSV != nil:
		cfg := *spec.CSV
		cfg.Path, cfg.DatasetIDs = j.Path(cfg.Path), j.datasets(cfg.DatasetIDs)
		src, err := manifest.New(cfg)
		if err != nil {
			return nil, err
		}
		// A header that cannot be used (an empty file, unknown columns) is
		// bad input, refused before anything is sent. A manifest that
		// cannot be opened is left to the run, which reports it as before.
		if err := src.CheckHeader(); errors.Is(err, manifest.ErrBadHeader) {
			return nil, err
		}
		return src, nil
	case spec.URLs != nil:
		cfg := *spec.URLs
		cfg.Path, cfg.DatasetIDs = j.Path(cfg.Path), j.datasets(cfg.DatasetIDs)
		return urllist.New(cfg)
	case spec.Report != nil:
		cfg := *spec.Report
		cfg.Path = j.Path(cfg.Path)
		return report.New(cfg)
	}
	return nil, spec.validate()
}

// cloudSource builds the source of a cloud entry: a server-side ingestion
// job whose state is kept in the job's state folder, so that a rerun
// follows it instead of starting a second one. api gives the run's client
// once the source streams. Credentials come from the entry, then the
// environment (getenv) and the AWS shared files.
func (j *Job) cloudSource(c *CloudSource, getenv func(string) string, api func() cloudjob.API,
	restart bool, log *zap.Logger) (pipeline.Source, error) {
	conflict, err := cloudjob.ParseConflict(c.Conflict)
	if err != nil {
		return nil, err
	}
	spec := cloudjob.Spec{URLs: []string{c.URL}, Concepts: c.Concepts, DatasetIDs: j.datasets(c.DatasetIDs), Metadata: c.Metadata, Conflict: conflict,
		VerbatimConcepts: j.ConceptIDs == transforms.ConceptIDsVerbatim}
	cr := c.Credentials
	spec.Credentials, err = cloudjob.CredentialSources{
		AWSRegion: cr.AWSRegion, AWSProfile: cr.AWSProfile, AWSAccessKeyID: client.Secret(cr.AWSAccessKeyID),
		AWSSecretAccessKey: client.Secret(cr.AWSSecretAccessKey), AWSSessionToken: client.Secret(cr.AWSSessionToken),
		GCPServiceAccountFile: j.Path(cr.GCPServiceAccountFile),
		AzureAccountName:      cr.AzureAccountName, AzureAccountKey: client.Secret(cr.AzureAccountKey),
		Getenv: getenv,
	}.Resolve(c.URL)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	ing, err := cloudjob.NewIngestion(cloudjob.IngestionConfig{
		Spec: spec, JobName: j.Name, StateDir: j.State.Dir, Client: api, Restart: restart, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return cloud.NewSource(ing), nil
}

// buildTransforms returns the transforms of a run, in the one order that
// works: the media detector first (every later transform and the sink need
// each local file's kind), then the job's transforms, then extra (Go
// transforms given to Run), and the annotations transform last when the
// job does not list it, so that every region is normalized and validated
// before it is sent. Names listed as `custom:` are looked up in reg.
//
// The concept-ID transform comes after all of them, so that every label,
// including those a Go transform adds, gets its concept ID; it is returned
// too, for its label -> ID mapping.
func (j *Job) buildTransforms(reg *transforms.Registry, extra []pipeline.Transform, log *zap.Logger) ([]pipeline.Transform, *transforms.ConceptIDs, error) {
	listed, err := transforms.Build(j.Transforms, reg, transforms.WithLogger(log))
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	last, err := transforms.Build(j.addedAnnotations(), reg, transforms.WithLogger(log))
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	cids, err := transforms.NewConceptIDs(j.ConceptIDs)
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	return slices.Concat([]pipeline.Transform{media.Detector()}, listed, extra, last, []pipeline.Transform{cids}), cids, nil
}

// addedAnnotations is the annotations transform a run adds after the job's
// list when the list has none (with its defaults), else nil. DigestSalt
// covers it as part of the list.
func (j *Job) addedAnnotations() []transforms.Spec {
	if slices.ContainsFunc(j.Transforms, func(s transforms.Spec) bool { return s.Annotations != nil }) {
		return nil
	}
	return []transforms.Spec{{Annotations: &transforms.AnnotationsConfig{}}}
}

// sinkConfig is the sink's config for the job: the upload section's sink
// settings and the run's counters and logger.
func (j *Job) sinkConfig(counters *pipeline.Counters, log *zap.Logger) clarifai.SinkConfig {
	return clarifai.SinkConfig{Settings: j.Upload.Settings, Counters: counters, Logger: log}
}

// clientConfig is the client's config for the job's clarifai target (the
// embedded target replaces the connection; see openTarget): the clarifai
// section and the upload section's tuning, with this shard's rate.
func (j *Job) clientConfig() client.Config {
	cfg := client.Config{Connection: j.Clarifai, Tuning: j.Upload.Tuning}
	cfg.RateLimit = j.ShardRate()
	return cfg
}

// emulatorOptions are the embedded emulator's options for the job; pat is
// the key it accepts.
func (j *Job) emulatorOptions(pat string) emulator.Options {
	rate := j.Embedded.RateLimit
	if rate == 0 {
		rate = -1 // no server-side limit locally; the client still paces itself
	}
	buckets := make(map[string]string, len(j.Embedded.Buckets))
	for url, path := range j.Embedded.Buckets {
		buckets[url] = j.Path(path)
	}
	return emulator.Options{
		Buckets: buckets, PATs: []string{pat}, StateDir: j.Embedded.StateDir,
		ProcessingDelay: time.Duration(j.Embedded.ProcessingDelay), RateLimit: rate,
		// A job that keeps labels verbatim targets an app that already
		// holds such concept IDs: the local app takes them too.
		AnyConceptID: j.ConceptIDs == transforms.ConceptIDsVerbatim,
	}
}

// Embedded target defaults: the app the local emulator stores inputs in
// when the job names none.
const (
	embeddedUser = "local"
	embeddedApp  = "ingest"
)

// target is where a run uploads: a client, and the in-process emulator
// behind it for target "embedded".
type target struct {
	client        *client.Client
	emu           *emulator.Server
	userID, appID string
}

// openTarget dials the job's target. For "embedded" it first starts the
// emulator on 127.0.0.1 with the job's emulator state directory, and says
// so plainly on w.
func (j *Job) openTarget(o *runOptions) (*target, error) {
	log, w := o.log, o.out
	cfg := j.clientConfig()
	cfg.Counters, cfg.Logger, cfg.OnCall = o.counters, log, o.onCall
	t := &target{}
	if j.Target == TargetEmbedded {
		pat := randomPAT()
		opts := j.emulatorOptions(pat)
		// The emulator's own info lines would drown the run's.
		opts.Logger = log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
		emu, err := emulator.Start("127.0.0.1:0", opts)
		if err != nil {
			return nil, fmt.Errorf("start the embedded emulator: %w", err)
		}
		t.emu = emu
		cfg.Base, cfg.PAT, cfg.RootCertificatesPath = "http://"+emu.Addr(), client.Secret(pat), ""
		if cfg.UserID == "" {
			cfg.UserID = embeddedUser
		}
		if cfg.AppID == "" {
			cfg.AppID = embeddedApp
		}
		fmt.Fprintf(w, "Target: embedded Clarifai emulator on %s (local only: nothing is sent to Clarifai)\n", emu.Addr())
		fmt.Fprintf(w, "        app %s/%s, emulator state in %s\n", cfg.UserID, cfg.AppID, j.Embedded.StateDir)
	}
	newClient := client.New
	if o.newClient != nil {
		newClient = o.newClient
	}
	c, err := newClient(cfg)
	if err != nil {
		_ = t.close()
		return nil, err
	}
	t.client, t.userID, t.appID = c, cfg.UserID, cfg.AppID
	if j.Target != TargetEmbedded {
		fmt.Fprintf(w, "Target: Clarifai API at %s, app %s/%s\n", c.Endpoint().Addr, cfg.UserID, cfg.AppID)
	}
	return t, nil
}

// preflight checks the endpoint, the PAT and the app with one quick call
// (client.Preflight) and returns its error. The embedded emulator was just
// started by us on loopback: there is nothing to check.
func (t *target) preflight(ctx context.Context) error {
	if t.emu != nil {
		return nil
	}
	return t.client.Preflight(ctx)
}

// close closes the client, then stops the emulator (persisting its state).
func (t *target) close() error {
	var err error
	if t.client != nil {
		err = t.client.Close()
	}
	if t.emu != nil {
		if e := t.emu.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// randomPAT is the key the embedded emulator accepts for this run only.
func randomPAT() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "local-" + hex.EncodeToString(b)
}

// Connection is an open connection to a job's target: its client and, for
// target embedded, the emulator behind it.
type Connection struct{ t *target }

// Connect opens the job's target (starting the embedded emulator for target
// embedded) for commands that call the API themselves: verify, cloud. It
// uses WithLogger, WithOutput, WithCounters and WithOnCall of opts. The
// job must have its defaults (WithDefaults); Connect does not validate it
// beyond what the client checks (see ValidateTarget). Close the connection.
func (j *Job) Connect(opts ...RunOption) (*Connection, error) {
	t, err := j.openTarget(newRunOptions(opts))
	if err != nil {
		return nil, err
	}
	return &Connection{t}, nil
}

// Preflight checks the endpoint, the PAT and the app with one quick call
// (see client.Client.Preflight); it does nothing for target embedded.
func (c *Connection) Preflight(ctx context.Context) error { return c.t.preflight(ctx) }

// Client returns the connection's client; it is safe for concurrent use.
func (c *Connection) Client() *client.Client { return c.t.client }

// App returns the user and app IDs the connection works on.
func (c *Connection) App() (userID, appID string) { return c.t.userID, c.t.appID }

// Close closes the client and stops the embedded emulator, saving its
// state.
func (c *Connection) Close() error { return c.t.close() }
