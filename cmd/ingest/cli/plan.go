package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

func (e *env) planCommand() *cobra.Command {
	var jf jobFlags
	var asJSON, allowChange bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Say what a run would change in the app (add, update, replace, delete), changing nothing",
		Long: `Plan reads every source and compares each item with the job's checkpoint, as a
run with the same job file and flags would, and says what that run would do:
the items to add, to update in place (by field: concepts, metadata, geo,
datasets, regions), to replace (--replace-content), the conflicts (content
changed under a given input ID), the inputs to delete (with --delete) and
the items unchanged; with --adopt, the new items whose input the app
already holds (listed and read back as a run does, when the target can be
reached): adopted as they are, adopted and updated, or conflicts; the
calls by kind and about how long they take at the job's rate limit; and a
few examples of each kind, old -> new. The old
values are read from the app when the target can be reached (target
embedded, or a PAT), otherwise a change shows as "changed (digest)".

Plan sends nothing that changes the app and writes neither the checkpoint
nor the failure report. --json writes the plan as one JSON document (see
configs.Plan for its fields). Exit code 0 once the plan is made, whatever
it finds; 2 for a bad configuration; 1 when the sources cannot be read.`,
		Example: `  ingest plan --config job.yaml
  ingest plan --config job.yaml --delete --max-delete 5%
  ingest plan --config job.yaml --adopt --json
  ingest plan --target embedded --dir ./photos --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.plan(cmd, &jf, asJSON, allowChange) },
	}
	jf.register(cmd.Flags())
	jf.registerSync(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the plan as JSON on standard output")
	cmd.Flags().BoolVar(&allowChange, "allow-config-change", false, "compare with a checkpoint written by a job with a different configuration, as run --allow-config-change would")
	return cmd
}

func (e *env) plan(cmd *cobra.Command, jf *jobFlags, asJSON, allowChange bool) error {
	job, log, err := e.loadOffline(cmd, jf)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	opts := e.runOptions(log)
	if allowChange {
		opts = append(opts, configs.WithAllowConfigChange())
	}
	p, err := job.Plan(cmd.Context(), opts...)
	if err != nil {
		return asUsage(err)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	printPlan(e.stdout, p)
	return nil
}

// printPlan prints a plan for people.
func printPlan(w io.Writer, p *configs.Plan) {
	fmt.Fprintf(w, "Plan of job %s (target %s): %d items read\n", p.Job, p.Target, p.Read)
	if p.Checkpoint == "" {
		fmt.Fprintln(w, "  (no checkpoint yet: every item is new)")
	}
	fmt.Fprintf(w, "  to add         %d\n", p.Add)
	if a := p.Adopt; a != nil {
		switch {
		case !a.Planned:
			fmt.Fprintf(w, "  to adopt       not planned: %s (the new items count as to add; a run adopts what it finds)\n", a.Reason)
		default:
			fmt.Fprintf(w, "  to adopt       %d of the app's %d inputs: %d as they are, %d with updates%s, %d conflicts (other content under the ID)\n",
				a.Total(), a.AppInputs, a.AsIs, a.Update, byField(a.UpdateFields), a.Conflicts)
			if a.Unread > 0 {
				fmt.Fprintf(w, "                 %d not read back: %s\n", a.Unread, a.Reason)
			}
		}
	}
	fmt.Fprintf(w, "  to update      %d%s\n", p.Update, byField(p.UpdateFields))
	fmt.Fprintf(w, "  to replace     %d\n", p.Replace)
	fmt.Fprintf(w, "  conflicts      %d\n", p.Conflicts)
	if d := p.Delete; d != nil {
		switch {
		case !d.Counted:
			fmt.Fprintf(w, "  to delete      not counted: %s\n", d.Reason)
		case d.OverCap:
			fmt.Fprintf(w, "  to delete      %d: over the cap of %d, a run would stop and delete nothing (raise it with --max-delete %d)\n",
				d.Inputs, d.Cap, d.Inputs)
		default:
			fmt.Fprintf(w, "  to delete      %d (cap %d)\n", d.Inputs, d.Cap)
		}
	}
	fmt.Fprintf(w, "  unchanged      %d\n", p.Unchanged)
	if p.Verify > 0 {
		fmt.Fprintf(w, "  to verify      %d (sent by an earlier run, processing not yet confirmed)\n", p.Verify)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(w, "  skipped        %d\n", p.Skipped)
	}
	if p.Problems > 0 {
		fmt.Fprintf(w, "  problems       %d (items that fail before anything is sent; see ingest validate)\n", p.Problems)
	}
	if p.CloudSources > 0 {
		fmt.Fprintf(w, "  cloud sources  %d not planned: the server ingests them\n", p.CloudSources)
	}
	c := p.Calls
	fmt.Fprintf(w, "Calls: about %d", c.Total())
	var kinds []string
	for _, k := range []struct {
		name string
		n    int64
	}{
		{"PostInputs", c.PostInputs}, {"PatchInputs", c.PatchInputs}, {"GetInput", c.GetInput},
		{"PostDatasetInputs", c.PostDatasetInputs}, {"DeleteDatasetInputs", c.DeleteDatasetInputs},
		{"PostAnnotations", c.PostAnnotations}, {"ListAnnotations", c.ListAnnotations}, {"DeleteAnnotations", c.DeleteAnnotations},
		{"DeleteInputs", c.DeleteInputs}, {"StreamInputs", c.StreamInputs}, {"ListInputs", c.ListInputs}, {"verification", c.Verify},
	} {
		if k.n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", k.n, k.name))
		}
	}
	if len(kinds) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(kinds, ", "))
	}
	switch d := time.Duration(p.Seconds * float64(time.Second)); {
	case d >= time.Second:
		fmt.Fprintf(w, "; at %g requests/s that is about %s", p.RateLimit, d.Round(time.Second))
	case d > 0:
		fmt.Fprintf(w, "; at %g requests/s that is under a second", p.RateLimit)
	}
	fmt.Fprintln(w, ".")
	for _, id := range slices.Sorted(maps.Keys(c.Datasets)) {
		d := c.Datasets[id]
		fmt.Fprintf(w, "  dataset %s: %d inputs in, %d out\n", id, d.Add, d.Remove)
	}
	if len(p.Examples) == 0 {
		return
	}
	fmt.Fprintln(w, "Examples:")
	// The kinds' column is as wide as the longest shown, at least 8
	// ("conflict"), so that the lines of each example line up.
	width := 8
	for _, ex := range p.Examples {
		width = max(width, len(ex.Kind))
	}
	indent := strings.Repeat(" ", width+3)
	for _, ex := range p.Examples {
		fmt.Fprintf(w, "  %-*s %s\n", width, ex.Kind, exampleHead(ex))
		for _, ch := range ex.Changes {
			fmt.Fprintf(w, "%s%s: %s -> %s\n", indent, ch.Field, ch.Old, ch.New)
		}
		if ex.Note != "" {
			fmt.Fprintf(w, "%s(%s)\n", indent, ex.Note)
		}
	}
	if strings.HasPrefix(p.OldValues, "digest") {
		fmt.Fprintf(w, "Old values were not read from the app (%s).\n", strings.TrimPrefix(p.OldValues, "digest: "))
	}
}

// byField renders the counts of the groups to update: " (concepts 2, geo 1)".
func byField(m map[string]int64) string {
	var parts []string
	for f := range pipeline.NumFields {
		if n := m[f.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// exampleHead names an example's item and input.
func exampleHead(ex configs.PlanExample) string {
	switch {
	case ex.Item != "" && ex.InputID != "":
		return fmt.Sprintf("%s, input %s", ex.Item, ex.InputID)
	case ex.Item != "":
		return ex.Item
	}
	return "input " + ex.InputID
}
