package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// The cloud commands drive server-side ingestion from cloud storage
// (PostInputsDataSources) through package sinks/clarifai/cloudjob. They share the
// connection flags of the other commands (--config for its clarifai and
// embedded sections, --target, --rate-limit, logging); credentials come
// from the environment and the AWS shared files, or name files (GCP) and
// non-secret parts (AWS profile and region, Azure account) on the command
// line, never secrets.

// cloudConn registers the job flags the cloud commands use, on the parent
// command, so that every subcommand takes them.
type cloudConn struct{ jf jobFlags }

func (c *cloudConn) register(fs *pflag.FlagSet) { c.jf.registerConnection(fs) }

// cloudSession is an open connection for one cloud command.
type cloudSession struct {
	conn *configs.Connection
	log  *zap.Logger
}

// openCloud loads the connection settings (defaults < job file < env <
// flags), checks them, and opens the target. The caller closes the
// session.
func (e *env) openCloud(cmd *cobra.Command, c *cloudConn) (*cloudSession, error) {
	job, err := e.loadJob(cmd, &c.jf, false)
	if err != nil {
		return nil, err
	}
	if err := job.ValidateTarget(); err != nil {
		return nil, usageError(err)
	}
	log, err := newLogger(job.Log, e.stderr, e.isTerminal())
	if err != nil {
		return nil, err
	}
	conn, err := job.Connect(configs.WithLogger(log), configs.WithOutput(e.stderr), configs.WithNewClient(newClient))
	if err != nil {
		_ = log.Sync()
		return nil, err
	}
	return &cloudSession{conn: conn, log: log}, nil
}

func (s *cloudSession) close() error {
	err := s.conn.Close()
	_ = s.log.Sync()
	return err
}

// withCloud runs f with an open session and closes it, keeping f's error
// first.
func (e *env) withCloud(cmd *cobra.Command, c *cloudConn, f func(*cloudSession) error) (err error) {
	s, err := e.openCloud(cmd, c)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return f(s)
}

func (e *env) cloudCommand() *cobra.Command {
	var conn cloudConn
	cmd := &cobra.Command{
		Use:   "cloud",
		Short: "Have Clarifai ingest a bucket or an archive URL itself (S3, GCS, Azure Blob)",
		Long: `The cloud commands start, follow, list and cancel server-side ingestion:
Clarifai lists the files under a bucket prefix (or downloads an archive URL),
extracts zip, tar and tar.gz archives, and creates one input per image,
video, audio or text file, each with the given concepts, datasets and
metadata. Nothing is uploaded from this machine.

URLs: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX,
https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, or an http(s) archive
URL. A URL is a prefix: s3://b/images/abc takes images/abcImage.png and
everything under images/abc-1/.

Credentials of private buckets are read from the environment and sent only
in the request; they are never printed, logged or written to a file:
  AWS    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
         AWS_REGION (or AWS_DEFAULT_REGION), or a profile of the AWS shared
         files (~/.aws/credentials, ~/.aws/config; AWS_PROFILE or --aws-profile)
  GCP    the service-account key file GOOGLE_APPLICATION_CREDENTIALS or
         --gcp-credentials FILE
  Azure  AZURE_STORAGE_ACCOUNT (or --azure-account) and AZURE_STORAGE_KEY`,
	}
	conn.register(cmd.PersistentFlags())
	cmd.AddCommand(e.cloudStartCommand(&conn), e.cloudStatusCommand(&conn), e.cloudWaitCommand(&conn),
		e.cloudListCommand(&conn), e.cloudCancelCommand(&conn))
	return cmd
}

// startFlags are the flags of `ingest cloud start`.
type startFlags struct {
	concepts, datasets []string
	conceptIDs         string
	metadata           string
	conflict           string
	jobID              string
	awsRegion          string
	awsProfile         string
	gcpCredentials     string
	azureAccount       string
	wait               bool
	poll               time.Duration
	asJSON             bool
}

func (e *env) cloudStartCommand(conn *cloudConn) *cobra.Command {
	var f startFlags
	cmd := &cobra.Command{
		Use:   "start URL...",
		Short: "Start ingesting bucket prefixes or archive URLs; print the job IDs",
		Long: `Start asks Clarifai to ingest every URL (PostInputsDataSources), all in one
inputs-add job with one extraction job per URL, and prints their IDs. With
--wait it then follows the job like "ingest cloud wait".

Exit codes: 0 started (with --wait: completed); 3 completed but archives or
inputs failed; 1 failed, cancelled or error; 2 bad flags.`,
		Example: `  ingest cloud start s3://my-bucket/images/ --concept cat --dataset train
  ingest cloud start gs://my-bucket/audio/ --gcp-credentials key.json --wait
  ingest cloud start https://acct.blob.core.windows.net/media/2024/ --conflict suffix
  ingest cloud start https://example.com/dataset.zip --metadata '{"source":"zip"}'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, urls []string) error { return e.cloudStart(cmd, conn, &f, urls) },
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.concepts, "concept", nil, "label set on every input (repeatable); sent as the concept ID derived from it (\"Golden Retriever\" -> golden-retriever) unless --concept-ids verbatim")
	fs.StringVar(&f.conceptIDs, "concept-ids", "", "derive (default: the job file's concept_ids, else derive) or verbatim: how --concept labels become concept IDs")
	fs.StringSliceVar(&f.datasets, "dataset", nil, "dataset ID every input is added to (repeatable)")
	fs.StringVar(&f.metadata, "metadata", "", `JSON object set as every input's metadata, e.g. '{"source":"s3"}'`)
	fs.StringVar(&f.conflict, "conflict", "skip", "when an input ID is taken: skip (leave the existing input) or suffix (add -1, -2...)")
	fs.StringVar(&f.jobID, "job-id", "", "inputs-add job ID to use (default: a random one)")
	fs.StringVar(&f.awsRegion, "aws-region", "", "region of the S3 bucket (default AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
	fs.StringVar(&f.awsProfile, "aws-profile", "", "profile of the AWS shared files (default AWS_PROFILE or default)")
	fs.StringVar(&f.gcpCredentials, "gcp-credentials", "", "GCP service-account key file (default GOOGLE_APPLICATION_CREDENTIALS)")
	fs.StringVar(&f.azureAccount, "azure-account", "", "Azure storage account (default AZURE_STORAGE_ACCOUNT); the key is read from AZURE_STORAGE_KEY")
	fs.BoolVar(&f.wait, "wait", false, "follow the job to its end; the exit code tells the outcome")
	fs.DurationVar(&f.poll, "poll-interval", cloudjob.DefaultMinInterval, "with --wait: first wait between status checks; it grows to 15s while nothing changes")
	fs.BoolVar(&f.asJSON, "json", false, "print the job as JSON")
	return cmd
}

func (e *env) cloudStart(cmd *cobra.Command, conn *cloudConn, f *startFlags, urls []string) error {
	conflict, err := cloudjob.ParseConflict(f.conflict)
	if err != nil {
		return usageError(err)
	}
	if err := transforms.ValidateConceptIDs(f.conceptIDs); err != nil {
		return usageError(fmt.Errorf("--concept-ids: %w", err))
	}
	mode := f.conceptIDs
	if mode == "" {
		// The job file's concept_ids, when --config names one; a job file
		// that cannot be loaded is reported when the target is opened.
		if job, err := e.loadJob(cmd, &conn.jf, false); err == nil {
			mode = job.ConceptIDs
		}
	}
	spec := cloudjob.Spec{URLs: urls, Concepts: f.concepts, DatasetIDs: f.datasets, Conflict: conflict, JobID: f.jobID,
		VerbatimConcepts: mode == transforms.ConceptIDsVerbatim}
	if f.metadata != "" {
		if err := json.Unmarshal([]byte(f.metadata), &spec.Metadata); err != nil || spec.Metadata == nil {
			return usageError(fmt.Errorf("--metadata: want a JSON object, like '{\"key\": \"value\"}'"))
		}
	}
	if err := spec.Validate(); err != nil {
		return usageError(err)
	}
	spec.Credentials, err = cloudjob.CredentialSources{
		AWSRegion: f.awsRegion, AWSProfile: f.awsProfile, GCPServiceAccountFile: f.gcpCredentials,
		AzureAccountName: f.azureAccount, Getenv: e.getenv,
	}.Resolve(urls...)
	if err != nil {
		return usageError(fmt.Errorf("credentials: %w", err))
	}
	return e.withCloud(cmd, conn, func(s *cloudSession) error {
		job, err := cloudjob.Start(cmd.Context(), s.conn.Client(), spec)
		if err != nil {
			return err
		}
		s.log.Info("cloud ingestion started", zap.String("job", job.ID), zap.Int("extraction_jobs", len(job.Extractions)))
		if f.asJSON && !f.wait {
			return writeJSON(e.stdout, job)
		}
		if !f.asJSON {
			w := e.stdout
			fmt.Fprintf(w, "Started cloud ingestion job %s\n", job.ID)
			for _, x := range job.Extractions {
				fmt.Fprintf(w, "  extraction job %s  %s  (%s)\n", x.ID, x.URL, x.State)
			}
			if !f.wait {
				fmt.Fprintf(w, "Follow it with: ingest cloud wait %s\n", job.ID)
				return nil
			}
		}
		return e.cloudFollow(cmd, s, job.ID, f.poll, f.asJSON)
	})
}

func (e *env) cloudStatusCommand(conn *cloudConn) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status JOB",
		Short: "Show a cloud ingestion job: state, inputs by kind, archives, template",
		Long: `Status shows an inputs-add job (the ID "ingest cloud start" prints) or one
extraction job (an ID "ingest cloud list" prints): its state, the inputs
created by kind, the archives pending, in progress, completed and failed,
the inputs processed, and what the server says was skipped.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withCloud(cmd, conn, func(s *cloudSession) error {
				job, err := cloudjob.Status(cmd.Context(), s.conn.Client(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, job)
				}
				printJob(e.stdout, job)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the job as JSON")
	return cmd
}

func (e *env) cloudWaitCommand(conn *cloudConn) *cobra.Command {
	var poll time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "wait JOB",
		Short: "Follow a cloud ingestion job to its end, showing progress",
		Long: `Wait polls the job (within the client's rate budget, backing off while
nothing changes) and shows its progress on stderr until it ends, then prints
its final status on stdout. Interrupting wait does not stop the job.

Exit codes: 0 completed; 3 completed but archives or inputs failed;
1 failed, cancelled or error.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withCloud(cmd, conn, func(s *cloudSession) error {
				return e.cloudFollow(cmd, s, args[0], poll, asJSON)
			})
		},
	}
	cmd.Flags().DurationVar(&poll, "poll-interval", cloudjob.DefaultMinInterval, "first wait between status checks; it grows to 15s while nothing changes")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the final job as JSON")
	return cmd
}

// cloudFollow waits for the job, showing progress on stderr, prints the
// final status on stdout and returns the error that gives the exit code.
func (e *env) cloudFollow(cmd *cobra.Command, s *cloudSession, id string, poll time.Duration, asJSON bool) error {
	p := &progressLine{w: e.stderr, terminal: e.isTerminal(), start: time.Now()}
	job, err := cloudjob.Wait(cmd.Context(), s.conn.Client(), id, cloudjob.WaitOptions{MinInterval: poll, OnProgress: p.show})
	p.end()
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(e.stdout, job); err != nil {
			return err
		}
	} else {
		printJob(e.stdout, job)
	}
	return cloudOutcome(job)
}

// cloudOutcome maps a final job to the command's result: nil when it
// completed, ExitItemsFailed when it completed with failed archives or
// inputs, and a plain error (ExitFatal) when it failed or was cancelled.
func cloudOutcome(job cloudjob.Job) error {
	switch job.State() {
	case cloudjob.StateCompleted:
		if job.HasFailures() {
			return &exitError{ExitItemsFailed, fmt.Errorf("job %s completed with failures: %d archives could not be extracted, %d inputs failed processing",
				job.ID, job.Progress().ArchivesFailed, job.Inputs.Failed)}
		}
		return nil
	case cloudjob.StateCancelled:
		return fmt.Errorf("job %s was cancelled", job.ID)
	}
	return fmt.Errorf("job %s failed: %s", job.ID, job.Reason())
}

func (e *env) cloudListCommand(conn *cloudConn) *cobra.Command {
	var page, perPage int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the app's cloud extraction jobs, a page at a time",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if page < 1 || perPage < 1 || perPage > cloudjob.MaxPerPage {
				return usageError(fmt.Errorf("--page must be at least 1 and --per-page 1..%d", cloudjob.MaxPerPage))
			}
			return e.withCloud(cmd, conn, func(s *cloudSession) error {
				list, err := cloudjob.List(cmd.Context(), s.conn.Client(), page, perPage)
				if err != nil {
					return err
				}
				if asJSON {
					if list == nil {
						list = []cloudjob.Extraction{}
					}
					return writeJSON(e.stdout, struct {
						Page           int                   `json:"page"`
						PerPage        int                   `json:"per_page"`
						ExtractionJobs []cloudjob.Extraction `json:"extraction_jobs"`
					}{page, perPage, list})
				}
				printList(e.stdout, list)
				if len(list) == perPage {
					fmt.Fprintf(e.stdout, "More: ingest cloud list --page %d --per-page %d\n", page+1, perPage)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&page, "page", 1, "page to show, from 1")
	cmd.Flags().IntVar(&perPage, "per-page", 20, fmt.Sprintf("jobs per page, at most %d", cloudjob.MaxPerPage))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the page as JSON")
	return cmd
}

func (e *env) cloudCancelCommand(conn *cloudConn) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB...",
		Short: "Cancel cloud ingestion jobs (inputs already created stay)",
		Long: `Cancel stops inputs-add jobs (with their extraction jobs) or single
extraction jobs: no further input is created; inputs already created stay.
Cancelling a job that has ended changes nothing.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return e.withCloud(cmd, conn, func(s *cloudSession) error {
				jobs, err := cloudjob.Cancel(cmd.Context(), s.conn.Client(), ids...)
				for _, j := range jobs {
					p := j.Progress()
					fmt.Fprintf(e.stdout, "%s: %s (%d inputs created: %d images, %d videos, %d audio, %d text)\n",
						j.ID, j.State(), p.Inputs(), p.Images, p.Videos, p.Audio, p.Text)
				}
				return err
			})
		},
	}
}

// usageArgs makes an argument check's error a usage error (ExitUsage).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return usageError(check(cmd, args)) }
}

// printJob writes a job's status as an aligned block: the inputs-add job,
// then each extraction job (only that one for an extraction job ID).
func printJob(w io.Writer, j cloudjob.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if !j.ExtractionOnly {
		fmt.Fprintf(tw, "Job\t%s\n", j.ID)
		fmt.Fprintf(tw, "State\t%s\n", j.State())
		fmt.Fprintf(tw, "Status\t%s\n", statusText(j.Status))
		fmt.Fprintf(tw, "Inputs\t%d processed, %d pending, %d in progress, %d failed\n", j.Inputs.Succeeded, j.Inputs.Pending, j.Inputs.InProgress, j.Inputs.Failed)
		if j.Created.Unix() > 0 {
			fmt.Fprintf(tw, "Created\t%s\n", j.Created.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(tw)
	}
	for i, x := range j.Extractions {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		p := x.Progress
		fmt.Fprintf(tw, "Extraction job\t%s\n", x.ID)
		fmt.Fprintf(tw, "  URL\t%s\n", x.URL)
		fmt.Fprintf(tw, "  State\t%s (%s)\n", x.State, statusText(x.Status))
		fmt.Fprintf(tw, "  Inputs\t%d images, %d videos, %d audio, %d text\n", p.Images, p.Videos, p.Audio, p.Text)
		fmt.Fprintf(tw, "  Archives\t%d pending, %d in progress, %d completed, %d failed\n", p.ArchivesPending, p.ArchivesInProgress, p.ArchivesCompleted, p.ArchivesFailed)
		fmt.Fprintf(tw, "  Conflict\t%s\n", x.Conflict)
		if t := templateText(x.Template); t != "" {
			fmt.Fprintf(tw, "  Template\t%s\n", t)
		}
		if x.Created.Unix() > 0 {
			fmt.Fprintf(tw, "  Created\t%s\n", x.Created.UTC().Format(time.RFC3339))
		}
		if x.Status.Details != "" {
			fmt.Fprintf(tw, "  Details\t%s\n", x.Status.Details)
		}
	}
	_ = tw.Flush()
}

// statusText renders a server status as "CODE: description".
func statusText(s cloudjob.ServerStatus) string {
	out := s.Code.String()
	if s.Description != "" {
		out += ": " + s.Description
	}
	return out
}

func templateText(t cloudjob.Template) string {
	var parts []string
	if len(t.Concepts) > 0 {
		parts = append(parts, "concepts "+strings.Join(t.Concepts, ", "))
	}
	if len(t.DatasetIDs) > 0 {
		parts = append(parts, "datasets "+strings.Join(t.DatasetIDs, ", "))
	}
	if len(t.Metadata) > 0 {
		b, _ := json.Marshal(t.Metadata) // sorted keys
		parts = append(parts, "metadata "+string(b))
	}
	return strings.Join(parts, "; ")
}

// printList writes extraction jobs as a table.
func printList(w io.Writer, list []cloudjob.Extraction) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No extraction jobs on this page.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXTRACTION JOB\tSTATE\tIMAGES\tVIDEOS\tAUDIO\tTEXT\tARCHIVES DONE/FAILED/LEFT\tCREATED\tURL")
	for _, x := range list {
		p := x.Progress
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d/%d/%d\t%s\t%s\n", x.ID, x.State, p.Images, p.Videos, p.Audio, p.Text,
			p.ArchivesCompleted, p.ArchivesFailed, p.ArchivesPending+p.ArchivesInProgress, x.Created.UTC().Format(time.RFC3339), x.URL)
	}
	_ = tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// progressLine shows a job's progress on stderr: rewritten in place on a
// terminal, one line per change otherwise.
type progressLine struct {
	w        io.Writer
	terminal bool
	start    time.Time
	last     string
	shown    bool
}

func (p *progressLine) show(j cloudjob.Job) {
	pr := j.Progress()
	line := fmt.Sprintf("%s: %d images, %d videos, %d audio, %d text; archives %d completed, %d failed, %d in progress, %d pending",
		j.State(), pr.Images, pr.Videos, pr.Audio, pr.Text, pr.ArchivesCompleted, pr.ArchivesFailed, pr.ArchivesInProgress, pr.ArchivesPending)
	if !j.ExtractionOnly {
		line += fmt.Sprintf("; inputs %d processed, %d waiting, %d failed", j.Inputs.Succeeded, j.Inputs.Pending+j.Inputs.InProgress, j.Inputs.Failed)
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s (%s)", line, time.Since(p.start).Round(time.Second))
		p.shown = true
		return
	}
	if line != p.last {
		fmt.Fprintln(p.w, line)
		p.last = line
	}
}

func (p *progressLine) end() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}
