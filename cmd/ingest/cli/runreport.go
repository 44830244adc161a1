package cli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
	"github.com/ingestkit/clarifai-ingest/configs"
)

// RunReport is the JSON document written at the end of every run (state
// report path, default .ingest/<job>/report.json). It holds no secret.
type RunReport struct {
	Job        string    `json:"job"`
	Target     string    `json:"target"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"duration_seconds"`
	Read       int64     `json:"items_read"`
	Done       int64     `json:"uploaded"`
	Skipped    int64     `json:"skipped"`
	Failed     int64     `json:"failed"`
	Resumed    int64     `json:"already_done"`
	// Updated, Replaced and Conflicts count the items an earlier run
	// finished that changed since (see pipeline.Counters); Deleted the
	// inputs deleted because their items left the sources.
	Updated   int64 `json:"updated"`
	Replaced  int64 `json:"replaced"`
	Conflicts int64 `json:"conflicts"`
	Deleted   int64 `json:"deleted"`
	// Adopted counts the items whose input the app already held as it is
	// (--adopt, or a given ID read back after a crash): taken as theirs,
	// nothing sent; not in Done.
	Adopted int64 `json:"adopted"`
	// DeleteSkipped says why a run asked to delete (sync.delete) deleted
	// nothing; empty otherwise.
	DeleteSkipped string  `json:"delete_skipped,omitempty"`
	Bytes         int64   `json:"bytes"`
	Requests      int64   `json:"requests"`
	Retries       int64   `json:"retries"`
	Throttled     int64   `json:"throttled"`
	Rate          float64 `json:"inputs_per_second"`
	MBps          float64 `json:"megabytes_per_second"`
	Failures      string  `json:"failure_report"`
	Checkpoint    string  `json:"checkpoint"`
	ExitCode      int     `json:"exit_code"`
	Error         string  `json:"error,omitempty"`
}

// writeRunReport writes the run report atomically (durable.WriteFile).
func writeRunReport(job *configs.Job, rep *configs.Report, runErr error, code int) error {
	s := rep.Stats
	now := time.Now()
	r := RunReport{
		Job: job.Name, Target: job.Target, StartedAt: now.Add(-s.Elapsed), FinishedAt: now,
		Seconds: s.Elapsed.Seconds(), Read: s.Read, Done: s.Done, Skipped: s.Skipped, Failed: s.Failed,
		Resumed: s.Resumed, Bytes: s.Bytes, Requests: s.Requests, Retries: s.Retries, Throttled: s.Throttle,
		Rate: s.Rate(), MBps: s.MBps(), Failures: job.State.Failures, Checkpoint: job.State.Dir, ExitCode: code,
		Updated: s.Updated, Replaced: s.Replaced, Conflicts: s.Conflicts, Deleted: s.Deleted, Adopted: s.Adopted,
	}
	if d := rep.Delete; d != nil && !d.Done {
		r.DeleteSkipped = d.Reason
	}
	if runErr != nil {
		r.Error = runErr.Error()
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(job.State.Report), 0o755); err != nil {
		return err
	}
	return durable.WriteFile(job.State.Report, 0o644, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
