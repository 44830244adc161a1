package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/sinks"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
)

// jobFlags are the flags that override the job file; they are shared by
// run, validate, verify and config print.
type jobFlags struct {
	config      string
	name        string
	target      string
	shard       string
	stateDir    string
	dirs        []string
	csvs        []string
	urls        []string
	datasetIDs  []string
	batchSize   int
	concurrency int
	rateLimit   float64
	logLevel    string
	logFormat   string
	insecure    bool

	// The sync flags, on run and plan only (registerSync).
	syncDelete     bool
	maxDelete      string
	replaceContent bool
	adopt          bool
}

// registerConnection registers the flags that say where to connect and
// how to log: the cloud commands take only these.
func (f *jobFlags) registerConnection(fs *pflag.FlagSet) {
	fs.StringVarP(&f.config, "config", "c", "", "YAML job file (the cloud commands read its clarifai and embedded sections)")
	fs.StringVar(&f.target, "target", "", `target: "clarifai" (default) or "embedded" (local emulator)`)
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, fmt.Sprintf("upload.rate_limit: client-side budget in requests/s for every call (default %g; -1 disables)", client.DefaultRateLimit))
	fs.StringVar(&f.logLevel, "log-level", "", "log.level: debug, info (default), warn or error")
	fs.StringVar(&f.logFormat, "log-format", "", "log.format: console or json (default: console on a terminal, json otherwise)")
	fs.BoolVar(&f.insecure, "insecure", false, "clarifai.insecure: allow a plaintext (http://) API base on a host that is not this machine: the PAT travels in clear text")
}

func (f *jobFlags) register(fs *pflag.FlagSet) {
	f.registerConnection(fs)
	fs.StringVar(&f.name, "name", "", "job name (default: the job file's name, or ingest without one)")
	fs.StringVar(&f.stateDir, "state-dir", "", "job state directory (default .ingest/<name>)")
	fs.StringVar(&f.shard, "shard", "", `run shard i of n ("i/n", 0-based): items are split by input ID hash; each shard has its own checkpoint and 1/n of the rate budget`)
	fs.StringArrayVar(&f.dirs, "dir", nil, "add a local directory source (repeatable)")
	fs.StringArrayVar(&f.csvs, "csv", nil, "add a CSV manifest source (repeatable)")
	fs.StringArrayVar(&f.urls, "urls", nil, "add a URL list source (repeatable)")
	fs.StringSliceVar(&f.datasetIDs, "dataset", nil, "add every input to these dataset IDs")
	fs.IntVar(&f.batchSize, "batch-size", 0, fmt.Sprintf("upload.batch_size: inputs per request, at most %d (default %d)", sinks.MaxItemsPerRequest, sinks.DefaultMaxItems))
	fs.IntVar(&f.concurrency, "concurrency", 0, fmt.Sprintf("upload.concurrency: requests in flight, at most %d (default %d)", clarifai.MaxConcurrency, clarifai.DefaultConcurrency))
}

// registerSync registers the flags of the job's sync section, which say
// what a rerun does about items that changed or left the sources: run and
// plan take them.
func (f *jobFlags) registerSync(fs *pflag.FlagSet) {
	fs.BoolVar(&f.syncDelete, "delete", false, "sync.delete: delete the inputs this job created whose items left the sources (after a clean read of every source, up to --max-delete)")
	fs.StringVar(&f.maxDelete, "max-delete", "", fmt.Sprintf(`sync.max_delete: delete at most this many inputs in one run, a count ("10") or a percentage of the inputs the checkpoint holds ("5%%") (default %s)`, configs.DefaultMaxDelete))
	fs.BoolVar(&f.replaceContent, "replace-content", false, "sync.replace_content: an item whose content changed under a given input ID replaces that input (deleted and posted again) instead of failing as a conflict")
	fs.BoolVar(&f.adopt, "adopt", false, "sync.adopt: list the app's inputs first; a new item whose ID the app holds is compared and updated, not posted")
}

// flagKeys names the job file key each flag sets, for error messages.
var flagKeys = map[string]string{
	"batch-size": "upload.batch_size", "concurrency": "upload.concurrency", "rate-limit": "upload.rate_limit",
}

// flagError rewrites pflag's parse errors in the words of the job file:
// `--concurrency: upload.concurrency: want an integer, got "four"`. It is
// a usage error (exit 2).
func flagError(_ *cobra.Command, err error) error {
	var ve *pflag.InvalidValueError
	if !errors.As(err, &ve) {
		return usageError(err)
	}
	name, value := ve.GetFlag().Name, ve.GetValue()
	want := "a valid value"
	switch ve.GetFlag().Value.Type() {
	case "int", "int64":
		want = "an integer"
	case "float64":
		want = "a number"
	case "duration":
		want = "a duration like 500ms, 2s or 10m"
	case "bool":
		want = "true or false"
	}
	key := ""
	if k, ok := flagKeys[name]; ok {
		key = k + ": "
	}
	return usageError(fmt.Errorf("--%s: %swant %s, got %q", name, key, want, value))
}

// loadOffline is loadJob for the commands that send nothing (validate,
// plan): the job is checked without the target's credentials, and the
// logger its settings ask for is built. The caller syncs the logger.
func (e *env) loadOffline(cmd *cobra.Command, f *jobFlags) (*configs.Job, *zap.Logger, error) {
	job, err := e.loadJob(cmd, f, false)
	if err != nil {
		return nil, nil, err
	}
	if err := job.ValidateOffline(); err != nil {
		return nil, nil, usageError(fmt.Errorf("invalid configuration:\n%w", err))
	}
	log, err := newLogger(job.Log, e.stderr, e.isTerminal())
	if err != nil {
		return nil, nil, err
	}
	return job, log, nil
}

// loadJob builds the effective job: defaults < job file < environment <
// flags. With validate it checks the result; errors are usage errors.
func (e *env) loadJob(cmd *cobra.Command, f *jobFlags, validate bool) (*configs.Job, error) {
	job := &configs.Job{}
	if f.config != "" {
		var err error
		if job, err = configs.Load(f.config); err != nil {
			return nil, usageError(err)
		}
	}
	if err := job.ApplyEnv(e.getenv); err != nil {
		return nil, usageError(err)
	}
	changed := cmd.Flags().Changed
	set := func(flag string, apply func()) {
		if changed(flag) {
			apply()
		}
	}
	set("name", func() { job.Name = f.name })
	set("target", func() { job.Target = f.target })
	set("shard", func() { job.Shard = f.shard })
	set("state-dir", func() { job.State.Dir = f.stateDir })
	set("batch-size", func() { job.Upload.Batch.MaxItems = f.batchSize })
	set("concurrency", func() { job.Upload.Concurrency = f.concurrency })
	set("rate-limit", func() { job.Upload.RateLimit = f.rateLimit })
	set("log-level", func() { job.Log.Level = f.logLevel })
	set("log-format", func() { job.Log.Format = f.logFormat })
	set("insecure", func() { job.Clarifai.Insecure = f.insecure })
	set("delete", func() { job.Sync.Delete = f.syncDelete })
	set("max-delete", func() { job.Sync.MaxDelete = f.maxDelete })
	set("replace-content", func() { job.Sync.ReplaceContent = f.replaceContent })
	set("adopt", func() { job.Sync.Adopt = f.adopt })
	set("dataset", func() { job.Upload.DatasetIDs = append(job.Upload.DatasetIDs, f.datasetIDs...) })
	// Paths given as flags are relative to the working directory, not to
	// the job file's folder.
	for _, d := range f.dirs {
		job.Sources = append(job.Sources, configs.Source{Dir: &dir.Config{Path: abs(d)}})
	}
	for _, c := range f.csvs {
		job.Sources = append(job.Sources, configs.Source{CSV: &manifest.Config{Path: abs(c)}})
	}
	for _, u := range f.urls {
		job.Sources = append(job.Sources, configs.Source{URLs: &urllist.Config{Path: abs(u)}})
	}
	job.WithDefaults()
	if !validate {
		return job, nil
	}
	if err := job.Validate(); err != nil {
		return nil, usageError(fmt.Errorf("invalid configuration:\n%w", err))
	}
	return job, nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (e *env) configCommand() *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Inspect the effective configuration"}
	var f jobFlags
	print := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (defaults, job file, environment and flags), secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			job, err := e.loadJob(cmd, &f, false)
			if err != nil {
				return err
			}
			b, err := job.Masked().YAML()
			if err != nil {
				return err
			}
			if _, err := e.stdout.Write(b); err != nil {
				return err
			}
			// Print first, then say what is wrong: the output shows why.
			if err := job.Validate(); err != nil {
				return usageError(fmt.Errorf("the configuration is not valid:\n%w", err))
			}
			return nil
		},
	}
	f.register(print.Flags())
	cfg.AddCommand(print)
	return cfg
}
