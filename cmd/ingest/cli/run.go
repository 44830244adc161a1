package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
)

// runFlags are the flags of `ingest run` beyond the job flags.
type runFlags struct {
	dryRun            bool
	quiet             bool
	progressEvery     time.Duration
	metricsAddr       string
	noCheckpoint      bool
	restart           bool
	allowConfigChange bool
	drainTimeout      time.Duration
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.dryRun, "dry-run", false, "read, transform and check everything against the API limits, and send nothing (as ingest validate)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress display or progress log lines")
	fs.DurationVar(&f.progressEvery, "progress-every", 10*time.Second, "off a terminal, how often a progress line is logged")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9090) during the run")
	fs.BoolVar(&f.restart, "restart", false, "ignore the existing checkpoint and start the job over")
	fs.BoolVar(&f.noCheckpoint, "no-checkpoint", false, "run without a checkpoint: nothing is skipped or recorded (deterministic IDs still prevent duplicates)")
	fs.BoolVar(&f.allowConfigChange, "allow-config-change", false, "resume a checkpoint written by a job with a different configuration")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight batches may take to finish before the run is cut")
}

func (e *env) runCommand() *cobra.Command {
	var jf jobFlags
	var rf runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run an ingestion job: read, transform, upload, verify; resumable",
		Long: `Run reads every source, applies the transforms and uploads the items to the
target with PostInputs. A checkpoint in the job's state directory makes a
rerun of the same command skip what is done. Failed and skipped items are
written to a JSONL failure report that a later run can take back as a source.

With --delete, the inputs this job created whose items left the sources
are deleted after a run that read every source to its end, up to
--max-delete of them. Edited items are updated in place; see "ingest plan"
to see what a run would change first.

Exit codes: 0 all done; 3 finished but some items failed; 4 finished and the
only failures are conflicts (content changed under a given input ID; see
--replace-content); 5 finished, but more inputs left the sources than
--max-delete allows, so none was deleted; 1 fatal error (rerun to resume);
2 bad configuration or input, nothing sent.`,
		Example: `  ingest run --config job.yaml
  ingest run --target embedded --dir ./photos
  CLARIFAI_PAT=... ingest run --dir ./photos --dataset train`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.run(cmd, &jf, &rf) },
	}
	jf.register(cmd.Flags())
	jf.registerSync(cmd.Flags())
	rf.register(cmd.Flags())
	return cmd
}

func (e *env) run(cmd *cobra.Command, jf *jobFlags, rf *runFlags) (err error) {
	if rf.dryRun {
		return e.validate(cmd, jf)
	}
	job, err := e.loadJob(cmd, jf, true)
	if err != nil {
		return err
	}
	log, err := newLogger(job.Log, e.stderr, e.isTerminal())
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	counters := pipeline.NewCounters()
	rpcLatency := newRPCHistogram()
	ctx, stop, release := e.handleSignals(cmd.Context(), rf.drainTimeout)
	defer release()
	watchCtx, stopWatching := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	defer watchers.Wait()
	defer stopWatching()
	opts := append(e.runOptions(log),
		configs.WithCounters(counters), configs.WithStop(stop), configs.WithOutput(e.stderr),
		configs.WithOnCall(func(method, code string, d time.Duration) {
			rpcLatency.WithLabelValues(method, code).Observe(d.Seconds())
		}),
		configs.WithOnStart(func(sources []pipeline.Source) { e.watch(watchCtx, &watchers, sources, counters, log, rf) }),
	)
	if rf.restart {
		opts = append(opts, configs.WithRestart())
	}
	if rf.allowConfigChange {
		opts = append(opts, configs.WithAllowConfigChange())
	}
	if rf.noCheckpoint {
		opts = append(opts, configs.WithoutCheckpoint())
	}
	if rf.metricsAddr != "" {
		addr, wait, err := serveMetrics(watchCtx, rf.metricsAddr, newMetrics(counters, rpcLatency))
		if err != nil {
			return usageError(err)
		}
		watchers.Go(wait)
		log.Info("serving metrics", zap.String("url", "http://"+addr+"/metrics"))
	}
	rep, runErr := job.Run(ctx, opts...)
	stopWatching()
	watchers.Wait()
	if rep == nil {
		return asUsage(runErr)
	}
	// A run stopped by a signal delivered what it had read, but not the
	// rest of the sources: it is not done.
	select {
	case <-stop:
		if runErr == nil {
			runErr = errInterrupted
		}
	default:
	}
	code := itemsExitCode(rep.Stats)
	switch {
	case isDeleteCap(runErr):
		code = ExitDeleteCapped
	case runErr != nil:
		code = ExitFatal
	}
	e.printSummary(job, rep, runErr)
	if werr := writeRunReport(job, rep, runErr, code); werr != nil {
		log.Warn("could not write the run report", zap.Error(werr))
	}
	switch {
	case code == ExitDeleteCapped:
		return &exitError{code, runErr}
	case runErr != nil:
		return runErr
	}
	return itemsError(rep.Stats)
}

// runOptions are the options every run and dry run of the CLI takes: the
// logger, the custom transforms of cli.WithTransform, the environment.
func (e *env) runOptions(log *zap.Logger) []configs.RunOption {
	opts := []configs.RunOption{configs.WithLogger(log), configs.WithGetenv(e.getenv), configs.WithNewClient(newClient)}
	for _, f := range e.funcs {
		opts = append(opts, configs.WithTransform(f.name, f.f))
	}
	return opts
}

// watch starts the progress display (unless --quiet) once the run's
// sources are built.
func (e *env) watch(ctx context.Context, watchers *sync.WaitGroup, sources []pipeline.Source, counters *pipeline.Counters, log *zap.Logger, rf *runFlags) {
	if rf.quiet {
		return
	}
	p := newProgress(counters, e.stderr, e.isTerminal(), log, rf.progressEvery)
	watchers.Go(func() { p.run(ctx) })
	if e.isTerminal() {
		// A total for the display: the sources streamed once more in the
		// background (names, stats and rows only), but not cloud
		// sources, which would start a server-side job.
		watchers.Go(func() { p.count(ctx, countable(sources)) })
	}
}

// asUsage returns err as a usage error (exit 2) when it is about the
// configuration.
func asUsage(err error) error {
	var ce *configs.ConfigError
	if errors.As(err, &ce) {
		return usageError(err)
	}
	return err
}

// handleSignals implements the two-stage shutdown: the first SIGINT or
// SIGTERM closes stop (no more reading; in-flight items finish and are
// saved), and cancels the returned context after drain; a second signal
// cancels it at once. release stops listening.
func (e *env) handleSignals(parent context.Context, drain time.Duration) (ctx context.Context, stop <-chan struct{}, release func()) {
	ctx, cancel := context.WithCancel(parent)
	stopc := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var timer <-chan time.Time
		for {
			select {
			case s := <-sigs:
				if timer == nil {
					fmt.Fprintf(e.stderr, "\n%v: finishing in-flight batches (up to %v) and saving the checkpoint; signal again to stop at once\n", s, drain)
					close(stopc)
					timer = time.After(drain)
					continue
				}
				fmt.Fprintf(e.stderr, "%v: stopping now\n", s)
				cancel()
				return
			case <-timer:
				fmt.Fprintln(e.stderr, "drain timeout: stopping now")
				cancel()
				return
			case <-done:
				return
			}
		}
	}()
	return ctx, stopc, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// errInterrupted ends a run that a signal stopped after it drained.
var errInterrupted = errors.New("interrupted: the items read so far were delivered and saved; rerun the same command to resume")

// isInterrupted reports whether err is the end of a run cut by a signal.
func isInterrupted(err error) bool {
	return errors.Is(err, errInterrupted) || errors.Is(err, context.Canceled)
}

// printSummary prints the human summary every run ends with.
func (e *env) printSummary(job *configs.Job, rep *configs.Report, runErr error) {
	w := e.stdout
	s, ss := rep.Stats, rep.Sink
	fmt.Fprintf(w, "\nSummary of job %s (target %s)\n", job.Name, job.Target)
	fmt.Fprintf(w, "  items read     %d\n", s.Read)
	fmt.Fprintf(w, "  uploaded       %d\n", s.Done)
	fmt.Fprintf(w, "  skipped        %d\n", s.Skipped)
	fmt.Fprintf(w, "  failed         %d\n", s.Failed)
	if s.Resumed > 0 {
		fmt.Fprintf(w, "  already done   %d (by an earlier run)\n", s.Resumed)
	}
	if s.Adopted > 0 {
		fmt.Fprintf(w, "  adopted        %d (already in the app as they are: taken, not sent)\n", s.Adopted)
	}
	if s.Updated > 0 {
		fmt.Fprintf(w, "  updated        %d (changed in place)\n", s.Updated)
	}
	if s.Replaced > 0 {
		fmt.Fprintf(w, "  replaced       %d (content changed: deleted and posted again; in uploaded)\n", s.Replaced)
	}
	if s.Conflicts > 0 {
		fmt.Fprintf(w, "  conflicts      %d (content changed under a given ID; in failed)\n", s.Conflicts)
	}
	if d := rep.Delete; d != nil {
		switch {
		case d.Done:
			fmt.Fprintf(w, "  deleted        %d (of %d inputs that left the sources; cap %d)\n", s.Deleted, d.Departed, d.Cap)
		case d.Departed > d.Cap:
			fmt.Fprintf(w, "  deleted        0: %d inputs left the sources, over the cap of %d\n", d.Departed, d.Cap)
		default:
			fmt.Fprintf(w, "  deleted        0: %s\n", d.Reason)
		}
	}
	fmt.Fprintf(w, "  bytes          %s\n", humanBytes(s.Bytes))
	fmt.Fprintf(w, "  duration       %s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  rate           %.1f inputs/s\n", s.Rate())
	fmt.Fprintf(w, "  requests       %d (%d retries, %d throttled)\n", s.Requests, s.Retries, s.Throttle)
	if ss.Annotations > 0 {
		fmt.Fprintf(w, "  annotations    %d regions on %d inputs\n", ss.Annotations, ss.AnnotatedItems)
	}
	if ss.VerifyRequests > 0 {
		fmt.Fprintf(w, "  verified       %d inputs processed (%d status calls)\n", ss.Verified, ss.VerifyRequests)
	}
	if s.Failed+s.Skipped > 0 {
		fmt.Fprintf(w, "  failure report %s\n", job.State.Failures)
	}
	fmt.Fprintf(w, "  checkpoint     %s\n", job.State.Dir)
	if c := rep.Emulator; c != nil {
		fmt.Fprintf(w, "  emulator       app %s/%s holds %d inputs (%d processed, %d pending, %d failed)\n",
			rep.UserID, rep.AppID, c.Inputs, c.Success, c.Pending, c.Failed)
	}
	e.printCloudJobs(rep.Cloud)
	switch {
	case client.IsOutage(runErr):
		fmt.Fprintf(w, "  pending        %d (read, not finished: not failed)\n", s.InFlight())
		fmt.Fprintln(w, "The API stopped answering, so the run stopped: the pending items and the rest of the sources were not")
		fmt.Fprintln(w, "marked failed. Rerun the same command once the API answers again to resume them.")
	case runErr != nil && isInterrupted(runErr):
		fmt.Fprintln(w, "Interrupted: rerun the same command to resume.")
	case isDeleteCap(runErr):
		fmt.Fprintln(w, "Nothing was deleted: more inputs left the sources than the cap allows (see below).")
	case runErr != nil:
		fmt.Fprintln(w, "The run stopped early: fix the error below and rerun the same command to resume.")
	case itemsExitCode(s) == ExitConflicts:
		fmt.Fprintf(w, "Some items conflict: their content changed under an input ID an earlier run used (see %s).\n", job.State.Failures)
		fmt.Fprintln(w, "Rerun with --replace-content to delete those inputs and post the items again, or give the items new IDs.")
	case s.Failed > 0:
		fmt.Fprintf(w, "Some items failed: see %s; retry them with a source `report: {path: %s}`.\n", job.State.Failures, job.State.Failures)
	}
}

// isDeleteCap reports whether err is a run's refusal to delete more than
// sync.max_delete allows.
func isDeleteCap(err error) bool {
	var e *configs.DeleteCapError
	return errors.As(err, &e)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// countable returns the sources whose items can be counted by streaming
// them again: all but the cloud sources.
func countable(sources []pipeline.Source) []pipeline.Source {
	var out []pipeline.Source
	for _, s := range sources {
		if _, isCloud := configs.CloudIngestion(s); !isCloud {
			out = append(out, s)
		}
	}
	return out
}

// printCloudJobs adds a line per cloud source to the summary: the server
// created those inputs, so they are not in the item counts.
func (e *env) printCloudJobs(ings []*cloudjob.Ingestion) {
	for _, ing := range ings {
		j, ok := ing.Last()
		if !ok {
			fmt.Fprintf(e.stdout, "  cloud          %s: not started\n", ing.Name())
			continue
		}
		p := j.Progress()
		line := fmt.Sprintf("  cloud          job %s %s: %d inputs created (%d images, %d videos, %d audio, %d text), %d processed, %d failed",
			j.ID, j.State(), p.Inputs(), p.Images, p.Videos, p.Audio, p.Text, j.Inputs.Succeeded, j.Inputs.Failed)
		if p.ArchivesFailed > 0 {
			line += fmt.Sprintf(", %d archives failed", p.ArchivesFailed)
		}
		if r := j.Reason(); r != "" && j.State() != cloudjob.StateCompleted {
			line += ": " + r
		}
		fmt.Fprintln(e.stdout, line)
	}
}
