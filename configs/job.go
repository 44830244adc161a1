package configs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	"github.com/ingestkit/clarifai-ingest/sinks"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// Targets a job can upload to.
const (
	// TargetClarifai is the real API (api.clarifai.com over TLS by default).
	TargetClarifai = "clarifai"
	// TargetEmbedded starts the project's Clarifai emulator in-process on
	// 127.0.0.1 with a state directory, and uploads to it over real gRPC.
	TargetEmbedded = "embedded"
)

// Job is the whole configuration of a run. The zero value plus WithDefaults
// is a valid job except for its sources.
type Job struct {
	// Name names the job in logs and reports and, by default, its state
	// directory. Default: the job file's base name without extension, or
	// "ingest".
	Name string `yaml:"name"`
	// Target is "clarifai" (default) or "embedded".
	Target string `yaml:"target"`
	// Clarifai is the connection to the API (see client.Connection): base
	// (env CLARIFAI_API_BASE, default https://api.clarifai.com), pat
	// (prefer the env CLARIFAI_PAT: a PAT in a file is easy to leak),
	// user_id and app_id (CLARIFAI_USER_ID, CLARIFAI_APP_ID),
	// root_certificates_path (CLARIFAI_ROOT_CERTIFICATES_PATH) and
	// insecure (flag --insecure: allow a plaintext base to a host that is
	// not this machine).
	Clarifai client.Connection `yaml:"clarifai"`
	Embedded Embedded          `yaml:"embedded"`
	// Shard splits the job across processes: "i/n" makes this process
	// handle shard i of n (0-based), chosen by input ID hash; each shard
	// keeps its own checkpoint (state dir <dir>/shard-i-of-n) and takes
	// 1/n of the rate budget. Env INGEST_SHARD; flag --shard.
	Shard string `yaml:"shard"`
	// Sources are read one after the other, in order.
	Sources []Source `yaml:"sources"`
	// Transforms run in order on every item (see package transforms).
	Transforms []transforms.Spec `yaml:"transforms"`
	Upload     Upload            `yaml:"upload"`
	State      State             `yaml:"state"`
	Log        Log               `yaml:"log"`
	// Sync says what a rerun does about items that changed or left the
	// sources since an earlier run: delete, max_delete, replace_content,
	// adopt (see Sync). Not part of the Fingerprint.
	Sync Sync `yaml:"sync"`

	// ConceptIDs says how labels become concept IDs: "derive" (default:
	// "cell phone" is sent as ID "cell-phone" named "cell phone", as
	// Clarifai's own loaders do; explicit IDs are checked) or "verbatim"
	// (labels sent as given, unchecked, as earlier versions of this tool
	// did, for an app that already holds such IDs). See package
	// pipeline/ids. Not part of the Fingerprint: it changes no input ID, so
	// switching it resumes the same checkpoint.
	ConceptIDs string `yaml:"concept_ids,omitempty"`

	// dir is the folder of the job file; relative paths in the file are
	// relative to it.
	dir string
	// defaulted is set by WithDefaults.
	defaulted bool
}

// Embedded configures the in-process emulator of target "embedded".
type Embedded struct {
	// StateDir keeps the emulator's inputs between runs. Default
	// .ingest/emulator (relative to the working directory).
	StateDir string `yaml:"state_dir"`
	// ProcessingDelay is how long an input stays pending. Default
	// emulator.DefaultProcessingDelay (100ms).
	ProcessingDelay units.Duration `yaml:"processing_delay"`
	// RateLimit is the emulator's requests/s per app. Default 0: the
	// documented 15 req/s of the real API is not imposed on local runs
	// (the client still paces itself at upload.rate_limit).
	RateLimit float64 `yaml:"rate_limit"`
	// Buckets serves cloud sources from local folders or archives: bucket
	// URL prefix (s3://name, gs://name, an Azure container URL) -> path,
	// relative to the job file. Try cloud ingestion without a bucket.
	Buckets map[string]string `yaml:"buckets"`
}

// Upload tunes the sink and the client. Each setting belongs to the package
// that uses it, which declares its key, its default and its range (one
// Validate decides, see settingProblems); the job only adds its own.
type Upload struct {
	// Settings are the sink's: batch_size and max_request_bytes (the batch
	// policy: default 128 and 64MiB, at most 128 and sinks.MaxBatchBytes),
	// concurrency (default 4, at most 64), verify (default true: wait for
	// every input to be processed and report the ones that failed) and
	// retry_failed_processing (default false). See clarifai.Settings.
	clarifai.Settings `yaml:",inline"`
	// Tuning is the client's: rate_limit (requests/s shared by every call
	// of the run; default 15, the API's default limit; negative disables
	// it), max_attempts (default 10) and max_elapsed (default 10m) of one
	// call. See client.Tuning.
	client.Tuning `yaml:",inline"`
	// DatasetIDs are added to every input.
	DatasetIDs []string `yaml:"dataset_ids"`
	// Workers is the number of transform workers (pipeline.Job.Workers).
	// Default: number of CPUs.
	Workers int `yaml:"workers"`
}

// State says where a run keeps what outlives it.
type State struct {
	// Dir is the job's state directory (checkpoint). Default
	// .ingest/<name>.
	Dir string `yaml:"dir"`
	// Failures is the JSONL failure report. Default <dir>/failures.jsonl.
	Failures string `yaml:"failures"`
	// Report is the JSON run report. Default <dir>/report.json.
	Report string `yaml:"report"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is console (default on a terminal) or json.
	Format string `yaml:"format"`
}

// Load reads a job file. Unknown keys are errors naming the key and line.
// Relative paths in the file are resolved against the file's folder.
func Load(path string) (*Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	j.dir = filepath.Dir(path)
	if j.Name == "" {
		j.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return j, nil
}

// Parse decodes a job document strictly: unknown keys are errors, and
// every error names the key it is about and what is expected.
func Parse(b []byte) (*Job, error) {
	var j Job
	if err := decodeStrict(b, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Path resolves p against the job file's folder when it is relative.
func (j *Job) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || j.dir == "" {
		return p
	}
	return filepath.Join(j.dir, p)
}

// WithDefaults fills every unset field with its documented default: the
// job's own (name, target, state paths, log level), and for the settings
// of the client, the sink and the emulator the defaults those packages
// declare. Calling it again changes nothing.
func (j *Job) WithDefaults() {
	if j.defaulted {
		return
	}
	j.defaulted = true
	if j.Name == "" {
		j.Name = "ingest"
	}
	if j.Target == "" {
		j.Target = TargetClarifai
	}
	if j.Clarifai.Base == "" {
		j.Clarifai.Base = client.DefaultBase
	}
	if j.Embedded.StateDir == "" {
		j.Embedded.StateDir = filepath.Join(".ingest", "emulator")
	}
	if j.Embedded.ProcessingDelay == 0 {
		j.Embedded.ProcessingDelay = units.Duration(emulator.DefaultProcessingDelay)
	}
	u := &j.Upload
	u.Settings = u.Settings.WithDefaults()
	u.Tuning = u.Tuning.WithDefaults()
	if j.State.Dir == "" {
		j.State.Dir = filepath.Join(".ingest", j.Name)
	}
	if sh, err := pipeline.ParseShard(j.Shard); err == nil && sh.Enabled() {
		j.State.Dir = filepath.Join(j.State.Dir, fmt.Sprintf("shard-%d-of-%d", sh.Index, sh.Count))
	}
	if j.State.Failures == "" {
		j.State.Failures = filepath.Join(j.State.Dir, "failures.jsonl")
	}
	if j.State.Report == "" {
		j.State.Report = filepath.Join(j.State.Dir, "report.json")
	}
	if j.Log.Level == "" {
		j.Log.Level = "info"
	}
	j.Sync = j.Sync.WithDefaults()
}

// Validate checks the job after defaults, environment and flags have been
// applied. Every error names the key it is about.
func (j *Job) Validate() error { return j.validate(true, 0) }

// ValidateOffline is Validate without the checks of what only sending
// needs (the PAT, user and app): for `ingest validate`, which sends nothing.
func (j *Job) ValidateOffline() error { return j.validate(false, 0) }

// ValidateTarget checks only what connecting needs: a known target, the
// settings, and for target clarifai the PAT, user and app. Validate includes it; the
// cloud commands, whose jobs need no sources, call it alone.
func (j *Job) ValidateTarget() error {
	return errors.Join(append(j.targetProblems(true), j.settingProblems()...)...)
}

// targetProblems lists what is wrong with the target settings; without
// sending, only the target's name is checked.
func (j *Job) targetProblems(sending bool) []error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, fmt.Errorf("%s: %s", key, msg)) }
	switch j.Target {
	case TargetClarifai:
		if !sending {
			break
		}
		if j.Clarifai.PAT == "" {
			bad("clarifai.pat", "no personal access token: set CLARIFAI_PAT (or clarifai.pat in the job file), "+
				"or run against the local emulator with --target embedded")
		}
		if j.Clarifai.UserID == "" {
			bad("clarifai.user_id", "required with target clarifai: set CLARIFAI_USER_ID or clarifai.user_id")
		}
		if j.Clarifai.AppID == "" {
			bad("clarifai.app_id", "required with target clarifai: set CLARIFAI_APP_ID or clarifai.app_id")
		}
		// The base's syntax is checked with the other settings
		// (settingProblems); the plaintext rule matters only when sending.
		if _, err := client.CheckBase(j.Clarifai.Base, j.Clarifai.Insecure); errors.Is(err, client.ErrPlaintext) {
			bad("clarifai.base", fmt.Sprintf("%v: pass --insecure or set insecure: true under clarifai: in the job file", err))
		}
	case TargetEmbedded:
	default:
		bad("target", fmt.Sprintf("%q is not a target; use clarifai or embedded", j.Target))
	}
	return errs
}

// validate checks the job; extraSources are the sources given to Run
// beside the job's.
func (j *Job) validate(sending bool, extraSources int) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, j.targetProblems(sending)...)
	if j.Shard != "" {
		if _, err := pipeline.ParseShard(j.Shard); err != nil {
			bad("shard", "%v", err)
		}
	}
	if err := transforms.ValidateConceptIDs(j.ConceptIDs); err != nil {
		bad("concept_ids", "%v", err)
	}
	if len(j.Sources)+extraSources == 0 {
		bad("sources", "at least one source is required")
	}
	for i := range j.Sources {
		if err := j.Sources[i].validate(); err != nil {
			bad(fmt.Sprintf("sources[%d]", i), "%v", err)
		}
	}
	errs = append(errs, j.settingProblems()...)
	if err := j.Sync.Validate(); err != nil {
		errs = append(errs, err)
	}
	if j.Upload.Workers < 0 {
		bad("upload.workers", "%d must not be negative", j.Upload.Workers)
	}
	switch j.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", j.Log.Level)
	}
	switch j.Log.Format {
	case "", "console", "json":
	default:
		bad("log.format", "%q is not one of console, json", j.Log.Format)
	}
	return errors.Join(errs...)
}

// ownerField matches the Go field name that starts an owner's message.
var ownerField = regexp.MustCompile(`^(?:batch |sink |emulator: )?(?:MaxItems|MaxBytes|Concurrency|RateLimit|MaxAttempts|MaxElapsed|rate limit) `)

// settingProblems checks each setting of the clarifai, embedded and upload
// sections with the Validate of the package that owns it (the client, the
// sink and its batch policy, the emulator), one setting at a time so that
// each error names its key. The configs that Run builds from the job
// (clientConfig, sinkConfig, emulatorOptions) carry the same values, so a
// job that validates is a job whose run can be built.
func (j *Job) settingProblems() []error {
	u := j.Upload
	// The connection is checked as the target needs it (targetProblems);
	// placeholders stand in for it here.
	conn := func(c client.Config) client.Config {
		c.PAT, c.UserID, c.AppID = "x", "x", "x"
		return c
	}
	checks := []struct {
		key string
		err error
	}{
		// Its syntax only: the plaintext rule is the target's (targetProblems).
		{"clarifai.base", conn(client.Config{Connection: client.Connection{Base: j.Clarifai.Base, Insecure: true}}).Validate()},
		{"upload.batch_size", sinks.BatchPolicy{MaxItems: u.Batch.MaxItems}.Validate()},
		{"upload.max_request_bytes", sinks.BatchPolicy{MaxBytes: u.Batch.MaxBytes}.Validate()},
		{"upload.concurrency", clarifai.SinkConfig{Settings: clarifai.Settings{Concurrency: u.Concurrency}}.Validate()},
		{"upload.rate_limit", conn(client.Config{Tuning: client.Tuning{RateLimit: u.RateLimit}}).Validate()},
		{"upload.max_attempts", conn(client.Config{Tuning: client.Tuning{MaxAttempts: u.MaxAttempts}}).Validate()},
		{"upload.max_elapsed", conn(client.Config{Tuning: client.Tuning{MaxElapsed: u.MaxElapsed}}).Validate()},
	}
	if j.Target == TargetEmbedded {
		// The embedded section is used, and checked, only with its target.
		checks = append(checks, []struct {
			key string
			err error
		}{
			{"embedded.processing_delay", emulator.Options{ProcessingDelay: time.Duration(j.Embedded.ProcessingDelay)}.Validate()},
			{"embedded.rate_limit", emulator.Options{RateLimit: j.Embedded.RateLimit}.Validate()},
		}...)
	}
	var errs []error
	for _, c := range checks {
		if c.err != nil {
			// The owner names the field in Go ("batch MaxItems 200: want 1
			// to 128"); the job file calls it by its key.
			errs = append(errs, fmt.Errorf("%s: %s", c.key, ownerField.ReplaceAllString(c.err.Error(), "")))
		}
	}
	if j.Target == TargetEmbedded {
		if err := j.emulatorOptions("x").Validate(); err != nil {
			errs = append(errs, fmt.Errorf("embedded: %w", err))
		}
	}
	return errs
}

// Masked returns a copy whose secrets are replaced by "****" (and empty
// secrets stay empty), for printing.
func (j *Job) Masked() *Job {
	c := *j
	c.Clarifai.PAT = client.Secret(mask(string(c.Clarifai.PAT)))
	c.Sources = make([]Source, len(j.Sources))
	for i, s := range j.Sources {
		c.Sources[i] = s.masked()
	}
	return &c
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}

// YAML renders the job (mask it first when printing).
func (j *Job) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Fingerprint identifies what the job uploads and where: its sources,
// transforms, dataset IDs and target app. It ignores tuning (batch size,
// concurrency, rate, retries), paths of state files and every secret, so a
// rerun with other tuning resumes the same checkpoint.
func (j *Job) Fingerprint() string {
	type fp struct {
		Target, Base, UserID, AppID, Shard string
		Sources                            []Source
		Transforms                         []transforms.Spec
		DatasetIDs                         []string
	}
	masked := j.Masked()
	v := fp{j.Target, j.Clarifai.Base, j.Clarifai.UserID, j.Clarifai.AppID, j.Shard, masked.Sources, j.Transforms, j.Upload.DatasetIDs}
	if j.Target == TargetEmbedded {
		v.Base = ""
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
