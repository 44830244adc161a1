package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/configs"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// verifyChunk is how many IDs one ListInputs call asks for: the API's
// largest page.
const verifyChunk = 1000

// VerifyProblem is one input the checkpoint and the server disagree on.
type VerifyProblem struct {
	InputID string `json:"input_id"`
	// Checkpoint is the state the checkpoint recorded: done, accepted or
	// failed.
	Checkpoint string `json:"checkpoint"`
	// Server is what the server says: missing, failed, pending.
	Server      string `json:"server"`
	Code        int32  `json:"code,omitempty"`
	Description string `json:"description,omitempty"`

	hash checkpoint.KeyHash
}

func (e *env) verifyCommand() *cobra.Command {
	var jf jobFlags
	var repair, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare the checkpoint with the server and report inputs missing or failed there",
		Long: `Verify reads the job's checkpoint and asks the server (GetInputCount, then
ListInputs by ID, 1000 IDs a call) whether every input the checkpoint holds
as delivered is there and processed. It reports the inputs that are missing
(deleted behind the tool's back), failed or still pending.

With --repair, the missing and failed inputs are reopened in the checkpoint:
the next "ingest run" of the same job checks them again and sends the
missing ones again. Exit code 0 when nothing is wrong, 3 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.verify(cmd, &jf, repair, asJSON) },
	}
	jf.register(cmd.Flags())
	cmd.Flags().BoolVar(&repair, "repair", false, "reopen missing and failed inputs so that the next run sends them again")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as JSON lines")
	return cmd
}

func (e *env) verify(cmd *cobra.Command, jf *jobFlags, repair, asJSON bool) (err error) {
	job, err := e.loadJob(cmd, jf, true)
	if err != nil {
		return err
	}
	log, err := newLogger(job.Log, e.stderr, e.isTerminal())
	if err != nil {
		return err
	}
	cp, err := checkpoint.Open(job.State.Dir, checkpoint.Options{Fingerprint: job.Fingerprint(), AllowMismatch: true, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cp.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	conn, err := job.Connect(configs.WithLogger(log), configs.WithOutput(e.stderr), configs.WithNewClient(newClient))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ctx := cmd.Context()
	if err := conn.Preflight(ctx); err != nil {
		return err
	}
	userID, appID := conn.App()

	// Every input the server acknowledged, by ID.
	byID := make(map[string]checkpoint.Entry)
	for en := range cp.Entries {
		if en.Accepted && en.ID != "" {
			byID[en.ID] = en
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	count, err := conn.Client().GetInputCount(ctx, &pb.GetInputCountRequest{})
	if err != nil {
		return fmt.Errorf("GetInputCount: %w", err)
	}
	var problems []VerifyProblem
	var ok, pending int
	for chunk := range slices.Chunk(ids, verifyChunk) {
		resp, err := conn.Client().ListInputs(ctx, &pb.ListInputsRequest{Ids: chunk, PerPage: verifyChunk, Page: 1})
		if err != nil {
			return fmt.Errorf("ListInputs: %w", err)
		}
		found := make(map[string]*pb.Input, len(resp.GetInputs()))
		for _, in := range resp.GetInputs() {
			found[in.GetId()] = in
		}
		for _, id := range chunk {
			en := byID[id]
			in, there := found[id]
			p := VerifyProblem{InputID: id, Checkpoint: stateName(en.State), hash: en.KeyHash}
			switch code := in.GetStatus().GetCode(); {
			case !there:
				p.Server = "missing"
			case code == st.StatusCode_INPUT_SUCCESS:
				ok++
				continue
			case code == st.StatusCode_INPUT_PENDING || code == st.StatusCode_INPUT_IN_PROGRESS:
				pending++
				continue
			default:
				p.Server, p.Code = "failed", int32(code)
				p.Description = in.GetStatus().GetDescription()
				if d := in.GetStatus().GetDetails(); d != "" {
					p.Description += ": " + d
				}
			}
			problems = append(problems, p)
		}
	}

	c := count.GetCounts()
	w := e.stdout
	if asJSON {
		enc := json.NewEncoder(w)
		for _, p := range problems {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
	} else {
		fmt.Fprintf(w, "Checkpoint %s: %d inputs delivered\n", job.State.Dir, len(ids))
		fmt.Fprintf(w, "Server app %s/%s: %d processed, %d to process, %d processing, %d errors\n",
			userID, appID, c.GetProcessed(), c.GetToProcess(), c.GetProcessing(), c.GetErrors())
		fmt.Fprintf(w, "  processed      %d\n  still pending  %d\n  problems       %d\n", ok, pending, len(problems))
		for _, p := range problems {
			line := fmt.Sprintf("  %-8s %s (checkpoint: %s)", p.Server, p.InputID, p.Checkpoint)
			if p.Description != "" {
				line += fmt.Sprintf(": %d %s", p.Code, p.Description)
			}
			fmt.Fprintln(w, line)
		}
	}
	if repair {
		for _, p := range problems {
			if err := cp.Reopen(p.hash); err != nil {
				return err
			}
		}
		if len(problems) > 0 && !asJSON {
			fmt.Fprintf(w, "Reopened %d inputs in the checkpoint: run the same job again to send them again.\n", len(problems))
		}
	}
	if len(problems) > 0 {
		return errItemsFailed
	}
	return nil
}

func stateName(s checkpoint.State) string {
	switch s {
	case checkpoint.Done:
		return "done"
	case checkpoint.Accepted:
		return "accepted"
	case checkpoint.Failed:
		return "failed"
	}
	return "unknown"
}
