package report

import (
	"strconv"
	"strings"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Record is one line of a failure report. Fields with omitempty are left out
// when empty.
type Record struct {
	// Time is when the result was written, in UTC.
	Time time.Time `json:"time"`
	// Event is "failed" or "skipped".
	Event string `json:"event"`
	// Stage is the stage that decided: "source", "transform:<name>",
	// "upload", "annotate", "verify".
	Stage string `json:"stage"`
	// Code is the Clarifai status code the server gave, 0 if none.
	Code int32 `json:"code"`
	// Message is the error.
	Message string `json:"message"`
	// Attempts is how many requests carried the item.
	Attempts int `json:"attempts"`
	// InputID is the item's input ID, if it had one.
	InputID string `json:"input_id,omitempty"`
	// Provenance is where the item came from.
	Provenance pipeline.Provenance `json:"provenance"`
	// Retryable says whether Source can rebuild the item; Note says why not
	// and what to do.
	Retryable bool   `json:"retryable"`
	Note      string `json:"note,omitempty"`
	// Item is the item's content and annotations.
	Item ItemRecord `json:"item"`
}

// ItemRecord is the part of a pipeline.Item a retry needs. A local file is
// kept as its absolute path, never as bytes.
type ItemRecord struct {
	Kind       string             `json:"kind"`
	URL        string             `json:"url,omitempty"`
	File       string             `json:"file,omitempty"`
	Text       string             `json:"text,omitempty"`
	Concepts   []pipeline.Concept `json:"concepts,omitempty"`
	Metadata   map[string]any     `json:"metadata,omitempty"`
	Geo        *pipeline.Geo      `json:"geo,omitempty"`
	Regions    []pipeline.Region  `json:"regions,omitempty"`
	DatasetIDs []string           `json:"dataset_ids,omitempty"`
	Key        string             `json:"key,omitempty"`
}

// Event names in records.
const (
	EventFailed  = "failed"
	EventSkipped = "skipped"
)

// isSourceStage reports whether stage is a source's: such records were
// never read into an item, so the report cannot rebuild them.
func isSourceStage(stage string) bool {
	return stage == "source" || strings.HasPrefix(stage, "source:")
}

// viaPrefix starts the note that Source appends to Provenance.Source of the
// items it rebuilds: "manifest.csv [report failures.jsonl line 7]".
const viaPrefix = " [report "

// originalSource strips the note a Source added, so that the retry of a
// retry names the original source once.
func originalSource(s string) string {
	if i := strings.LastIndex(s, viaPrefix); i >= 0 && strings.HasSuffix(s, "]") {
		return s[:i]
	}
	if strings.HasPrefix(s, viaPrefix[1:]) && strings.HasSuffix(s, "]") {
		return ""
	}
	return s
}

// viaReport returns src with a note naming the report line.
func viaReport(src, report string, line int) string {
	note := viaPrefix[1:] + report + " line " + strconv.Itoa(line) + "]"
	if src == "" {
		return note
	}
	return src + " " + note
}
