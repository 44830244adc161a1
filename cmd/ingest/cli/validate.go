package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

func (e *env) validateCommand() *cobra.Command {
	var jf jobFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Read and transform everything, check it against the API limits, and send nothing",
		Long: `Validate (also "ingest run --dry-run") reads every source and runs every
transform, then checks each item as the upload would before sending it: the
documented size limits, one video per request, supported formats, input and
dataset ID characters, region coordinates, geo points, metadata and UTF-8
text. It loads each file's content as the upload would, but sends nothing,
needs no PAT, and writes no checkpoint.

Every problem is printed with the item's provenance (file, manifest row);
the end says how many requests a run would make and about how long it
would take at the configured rate limit. Exit code 0 when there is no
problem, 3 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.validate(cmd, &jf) },
	}
	jf.register(cmd.Flags())
	return cmd
}

func (e *env) validate(cmd *cobra.Command, jf *jobFlags) error {
	job, log, err := e.loadOffline(cmd, jf)
	if err != nil {
		return err
	}
	w := e.stdout
	opts := append(e.runOptions(log),
		configs.WithOnResult(func(r pipeline.Result) error {
			switch r.Event {
			case pipeline.EventFailed:
				fmt.Fprintf(w, "problem  %s\n", describe(r))
			case pipeline.EventSkipped:
				fmt.Fprintf(w, "skipped  %s\n", describe(r))
			}
			return nil
		}))
	rep, err := job.DryRun(cmd.Context(), opts...)
	if err != nil {
		return asUsage(err)
	}
	printConceptIDs(w, rep.ConceptIDs)
	stats, p := rep.Stats, rep.Plan
	rate := job.ShardRate()
	fmt.Fprintf(w, "\nChecked %d items of job %s: %d would be sent (%s), %d skipped, %d problems.\n",
		stats.Read, job.Name, p.Inputs, humanBytes(p.Bytes), stats.Skipped, stats.Failed)
	fmt.Fprintf(w, "A run would make about %d calls: %d PostInputs, %d PostAnnotations (%d regions), %d verification calls",
		p.Calls(), p.PostInputs, p.PostAnnotations, p.Annotations, p.VerifyCalls)
	if d := p.Duration(rate); d > 0 {
		fmt.Fprintf(w, ";\nat %g requests/s that is about %s.\n", rate, d.Round(time.Second))
	} else {
		fmt.Fprintln(w, ".")
	}
	if rep.SkippedCloud > 0 {
		fmt.Fprintf(w, "%d cloud sources were not checked: the server ingests them.\n", rep.SkippedCloud)
	}
	if stats.Failed > 0 {
		return errItemsFailed
	}
	return nil
}

// describe says which item a failed or skipped result is about and why:
// an ItemError names the item itself; other errors get the provenance.
func describe(r pipeline.Result) string {
	err := r.Err
	if err == nil {
		err = r.Item.Err
	}
	var ie *pipeline.ItemError
	if errors.As(err, &ie) {
		return err.Error()
	}
	return fmt.Sprintf("%s: %v", r.Item.Prov, err)
}

// printConceptIDs shows how the labels read became concept IDs: the first
// few, sorted by label, then the counts. They are sorted because the
// transform workers run in parallel, so the order they came in changes from
// run to run.
func printConceptIDs(w io.Writer, s ids.Summary) {
	if s.IDs == 0 {
		return
	}
	if s.Verbatim {
		fmt.Fprintf(w, "\nConcept IDs (concept_ids: verbatim, labels sent unchanged):\n")
	} else {
		fmt.Fprintf(w, "\nConcept IDs (derived from the labels; concept_ids: verbatim sends labels unchanged):\n")
	}
	first := slices.SortedFunc(slices.Values(s.First), func(a, b ids.Mapping) int { return strings.Compare(a.Label, b.Label) })
	for _, m := range first {
		fmt.Fprintf(w, "  %q -> %s\n", m.Label, m.ID)
	}
	more := ""
	if s.Partial {
		more = " (counted up to the first ones; the rest were checked per item)"
	}
	fmt.Fprintf(w, "  %d concept IDs, %d of them differ from their label%s.\n", s.IDs, s.Changed, more)
}
