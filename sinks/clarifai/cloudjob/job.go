package cloudjob

import (
	"encoding/json"
	"fmt"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// State is where a job or an extraction job is in its life.
type State uint8

// The states. Completed, Failed and Cancelled are final.
const (
	StateUnknown State = iota
	StateQueued
	StateRunning
	StateCompleted
	StateFailed
	StateCancelled
)

var stateNames = [...]string{"unknown", "queued", "running", "completed", "failed", "cancelled"}

// String returns the lower-case name ("running").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Final reports whether s is Completed, Failed or Cancelled.
func (s State) Final() bool { return s >= StateCompleted }

// stateOf maps a job status code to a state. Any code outside the job
// codes, once the job has one, is a failure: LIST_OBJECTS_FAILED,
// ARCHIVE_EXTRACT_FAILED, JOB_UNEXPECTED_ERROR and the like.
func stateOf(code statuspb.StatusCode) State {
	switch code {
	case statuspb.StatusCode_ZERO:
		return StateUnknown
	case statuspb.StatusCode_JOB_QUEUED:
		return StateQueued
	case statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_PAUSED:
		return StateRunning
	case statuspb.StatusCode_JOB_COMPLETED:
		return StateCompleted
	case statuspb.StatusCode_JOB_CANCELLED:
		return StateCancelled
	}
	return StateFailed
}

// ServerStatus is a status as the server answered it: its code (named in
// JSON), description and details.
type ServerStatus struct {
	Code        statuspb.StatusCode `json:"-"`
	Description string              `json:"description,omitempty"`
	Details     string              `json:"details,omitempty"`
}

// MarshalJSON writes {"code": "JOB_RUNNING", "code_number": 64001, ...}.
func (s ServerStatus) MarshalJSON() ([]byte, error) {
	type plain ServerStatus
	return json.Marshal(struct {
		Code   string `json:"code"`
		Number int32  `json:"code_number"`
		plain
	}{s.Code.String(), int32(s.Code), plain(s)})
}

func statusOf(st *statuspb.Status) ServerStatus {
	return ServerStatus{Code: st.GetCode(), Description: st.GetDescription(), Details: st.GetDetails()}
}

// Progress counts what extraction jobs found: inputs created by kind, and
// archives by state.
type Progress struct {
	Images             uint64 `json:"images"`
	Videos             uint64 `json:"videos"`
	Audio              uint64 `json:"audio"`
	Text               uint64 `json:"text"`
	ArchivesPending    uint64 `json:"archives_pending"`
	ArchivesInProgress uint64 `json:"archives_in_progress"`
	ArchivesCompleted  uint64 `json:"archives_completed"`
	ArchivesFailed     uint64 `json:"archives_failed"`
}

// Inputs returns the number of inputs created.
func (p Progress) Inputs() uint64 { return p.Images + p.Videos + p.Audio + p.Text }

func (p *Progress) add(q Progress) {
	p.Images += q.Images
	p.Videos += q.Videos
	p.Audio += q.Audio
	p.Text += q.Text
	p.ArchivesPending += q.ArchivesPending
	p.ArchivesInProgress += q.ArchivesInProgress
	p.ArchivesCompleted += q.ArchivesCompleted
	p.ArchivesFailed += q.ArchivesFailed
}

// Template is what every input of an extraction job gets.
type Template struct {
	Concepts   []string       `json:"concepts,omitempty"`
	DatasetIDs []string       `json:"dataset_ids,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// Extraction is one inputs-extraction job: one URL being ingested.
type Extraction struct {
	ID       string       `json:"id"`
	URL      string       `json:"url"` // redacted (see RedactURL)
	State    State        `json:"state"`
	Status   ServerStatus `json:"status"`
	Progress Progress     `json:"progress"`
	Conflict string       `json:"conflict,omitempty"`
	Template Template     `json:"template"`
	Created  time.Time    `json:"created_at"`
	Modified time.Time    `json:"modified_at"`
}

func extractionOf(e *pb.InputsExtractionJob) Extraction {
	p := e.GetProgress()
	x := Extraction{
		ID: e.GetId(), URL: RedactURL(e.GetUrl()), State: stateOf(e.GetStatus().GetCode()), Status: statusOf(e.GetStatus()),
		Progress: Progress{
			Images: p.GetImageInputsCount(), Videos: p.GetVideoInputsCount(), Audio: p.GetAudioInputsCount(), Text: p.GetTextInputsCount(),
			ArchivesPending: p.GetPendingArchivesCount(), ArchivesInProgress: p.GetInProgressArchivesCount(),
			ArchivesCompleted: p.GetCompletedArchivesCount(), ArchivesFailed: p.GetFailedArchivesCount(),
		},
		Created: e.GetCreatedAt().AsTime(), Modified: e.GetModifiedAt().AsTime(),
	}
	switch e.GetInputIdConflictResolution() {
	case pb.InputIDConflictResolution_SUFFIX:
		x.Conflict = "suffix"
	default:
		x.Conflict = "skip"
	}
	if t := e.GetInputTemplate(); t != nil {
		for _, c := range t.GetData().GetConcepts() {
			x.Template.Concepts = append(x.Template.Concepts, c.GetId())
		}
		x.Template.DatasetIDs = t.GetDatasetIds()
		if md := t.GetData().GetMetadata(); md != nil {
			x.Template.Metadata = md.AsMap()
		}
	}
	return x
}

// Inputs counts the inputs of a job by processing state.
type Inputs struct {
	Pending    uint64 `json:"pending"`
	InProgress uint64 `json:"in_progress"`
	Succeeded  uint64 `json:"succeeded"`
	Failed     uint64 `json:"failed"`
}

// Job is a snapshot of one cloud ingestion: an inputs-add job with its
// extraction jobs (one per URL). Its counts are as of the call that
// returned it.
type Job struct {
	// ID is the inputs-add job ID, or the extraction job ID when the job
	// was looked up by one (ExtractionOnly).
	ID string `json:"id"`
	// ExtractionOnly is set when ID names an extraction job whose
	// inputs-add job is not known; Inputs is then zero.
	ExtractionOnly bool         `json:"extraction_only,omitempty"`
	Status         ServerStatus `json:"status"`
	Inputs         Inputs       `json:"inputs"`
	Extractions    []Extraction `json:"extraction_jobs"`
	Created        time.Time    `json:"created_at"`
	Modified       time.Time    `json:"modified_at"`
}

func jobOf(j *pb.InputsAddJob) Job {
	p := j.GetProgress()
	out := Job{
		ID: j.GetId(), Status: statusOf(j.GetStatus()),
		Inputs:  Inputs{Pending: p.GetPendingCount(), InProgress: p.GetInProgressCount(), Succeeded: p.GetSuccessCount(), Failed: p.GetFailedCount()},
		Created: j.GetCreatedAt().AsTime(), Modified: j.GetModifiedAt().AsTime(),
	}
	for _, e := range j.GetExtractionJobs() {
		out.Extractions = append(out.Extractions, extractionOf(e))
	}
	return out
}

// State is the job's state, decided from its extraction jobs and input
// counts rather than from the inputs-add job's own status alone (Clarifai
// reports that one JOB_COMPLETED as soon as the extraction jobs exist):
//
//   - cancelled if the job or any extraction job was cancelled;
//   - queued while every extraction job is queued, running while any is
//     queued or running;
//   - failed if any extraction job failed;
//   - running while created inputs are still being processed;
//   - completed otherwise (see HasFailures for partial failures).
func (j Job) State() State {
	if len(j.Extractions) == 0 {
		s := stateOf(j.Status.Code)
		if s == StateCompleted && j.Inputs.Pending+j.Inputs.InProgress > 0 {
			return StateRunning
		}
		return s
	}
	queued, active, failed := 0, 0, 0
	for _, e := range j.Extractions {
		switch e.State {
		case StateCancelled:
			return StateCancelled
		case StateQueued:
			queued++
			active++
		case StateRunning, StateUnknown:
			active++
		case StateFailed:
			failed++
		}
	}
	if j.Status.Code == statuspb.StatusCode_JOB_CANCELLED {
		return StateCancelled
	}
	switch {
	case active > 0 && queued == len(j.Extractions):
		return StateQueued
	case active > 0:
		return StateRunning
	case failed > 0:
		return StateFailed
	case j.Inputs.Pending+j.Inputs.InProgress > 0:
		return StateRunning
	}
	return StateCompleted
}

// Done reports whether the job has reached a final state.
func (j Job) Done() bool { return j.State().Final() }

// Progress sums the progress of the extraction jobs.
func (j Job) Progress() Progress {
	var p Progress
	for _, e := range j.Extractions {
		p.add(e.Progress)
	}
	return p
}

// HasFailures reports whether archives could not be extracted or inputs
// failed processing.
func (j Job) HasFailures() bool { return j.Progress().ArchivesFailed > 0 || j.Inputs.Failed > 0 }

// Reason describes why a failed or cancelled job ended, from the first
// extraction job that failed, or the job's own status.
func (j Job) Reason() string {
	for _, e := range j.Extractions {
		if e.State == StateFailed {
			msg := e.Status.Code.String()
			if d := e.Status.Details; d != "" {
				msg += ": " + d
			}
			return fmt.Sprintf("extraction job %s (%s): %s", e.ID, e.URL, msg)
		}
	}
	msg := j.Status.Code.String()
	if d := j.Status.Details; d != "" {
		msg += ": " + d
	}
	return msg
}

// MarshalJSON adds the derived state and progress to the fields.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job
	return json.Marshal(struct {
		plain
		State       State    `json:"state"`
		HasFailures bool     `json:"has_failures"`
		Progress    Progress `json:"progress"`
	}{plain(j), j.State(), j.HasFailures(), j.Progress()})
}

// changeKey is what Wait compares between polls to see progress.
type changeKey struct {
	state  State
	inputs Inputs
	prog   Progress
	states string
}

func (j Job) changeKey() changeKey {
	k := changeKey{state: j.State(), inputs: j.Inputs, prog: j.Progress()}
	for _, e := range j.Extractions {
		k.states += e.State.String() + ","
	}
	return k
}
