// Package report writes the machine-readable failure report of a run, and
// reads it back as a pipeline.Source that retries just the items in it.
//
// # Format
//
// The report is JSON Lines: one Record object per failed (or skipped) item,
// in the order the results arrived. Example (wrapped here):
//
//	{"time":"2026-11-29T10:04:05.123Z","event":"failed","stage":"upload","code":30104,
//	 "message":"manifest.csv row 12 (img/cat.jpg): invalid argument","attempts":3,
//	 "input_id":"0123456789abcdef0123456789abcdef",
//	 "provenance":{"source":"manifest.csv","path":"img/cat.jpg","row":12},
//	 "retryable":true,
//	 "item":{"kind":"image","file":"/data/img/cat.jpg","concepts":[{"id":"cat","name":"cat","value":1}],
//	         "dataset_ids":["train"],"key":"file:/data/img/cat.jpg|5120|1732870000000000000|ds=train"}}
//
// A record with "retryable": false cannot be rebuilt from the report; its
// "note" says why and what to do: the source could not read the record (fix
// the data and rerun the original job), or the content was an archive member
// or in memory (rerun the original job). The report holds what the item
// holds and nothing else: no credentials or configuration.
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
