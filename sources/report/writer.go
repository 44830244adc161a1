package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// ErrClosed is returned by Writer methods after Close.
var ErrClosed = errors.New("report: writer is closed")

// Writer writes the failure report: one Record per failed or skipped
// result. It is safe for concurrent use; the runner calls it from its one
// result goroutine (Job.OnResult).
//
// Records go through a 64 KiB buffer: a killed run loses at most the last
// buffered records (the rerun meets those items again). Close flushes and
// fsyncs.
type Writer struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	enc     *json.Encoder
	failed  int
	skipped int
	closed  bool
}

// PartialSuffix is appended to the report's path while the run writes it.
const PartialSuffix = ".partial"

// NewWriter starts the report that Close will put at path. Records go to
// path+PartialSuffix until Close renames it over path, so a run may read
// the previous report at path as its source (to retry just those items)
// and replace it with its own at the end. A run killed before Close leaves
// only the .partial file; the previous report is then still in place.
func NewWriter(path string) (*Writer, error) {
	f, err := os.OpenFile(path+PartialSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	w := &Writer{path: path, now: time.Now, f: f, w: bufio.NewWriterSize(f, 64<<10)}
	w.enc = json.NewEncoder(w.w)
	w.enc.SetEscapeHTML(false) // keep URLs readable: & stays &
	return w, nil
}

// Path returns the report's path.
func (w *Writer) Path() string { return w.path }

// Write appends the record of r if it is a final failure or skip, and
// ignores every other event, so it can serve as Job.OnResult directly. It
// returns ErrClosed after Close, or the write error (which ends the run when
// Write is the OnResult: a failure that cannot be reported must not vanish).
// An item whose metadata cannot be encoded as JSON is written without it,
// marked not retryable.
func (w *Writer) Write(r pipeline.Result) error {
	if r.Event != pipeline.EventFailed && r.Event != pipeline.EventSkipped {
		return nil
	}
	rec := newRecord(r, w.now())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	// Encode marshals the whole record before writing any of it, so a
	// value that cannot be encoded leaves no partial line.
	err := w.enc.Encode(rec)
	var ue *json.UnsupportedValueError
	var te *json.UnsupportedTypeError
	if err != nil && (errors.As(err, &ue) || errors.As(err, &te)) && rec.Item.Metadata != nil {
		rec.Item.Metadata = nil
		rec.Retryable = false
		rec.Note = fmt.Sprintf("the metadata could not be written (%v): fix it and rerun the original job", err)
		err = w.enc.Encode(rec)
	}
	if err != nil {
		return fmt.Errorf("report: write %s: %w", w.path, err)
	}
	if r.Event == pipeline.EventFailed {
		w.failed++
	} else {
		w.skipped++
	}
	return nil
}

// Counts returns how many failed and skipped records were written.
func (w *Writer) Counts() (failed, skipped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed, w.skipped
}

// Close flushes the buffer, fsyncs and closes the file, then renames it
// over the report's path. It returns ErrClosed if called again.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	err := w.w.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.path+PartialSuffix, w.path)
	}
	if err != nil {
		return fmt.Errorf("report: close %s: %w", w.path, err)
	}
	return nil
}

// newRecord builds the record of a failed or skipped result.
func newRecord(r pipeline.Result, now time.Time) Record {
	rec := Record{
		Time:     now.UTC(),
		Event:    EventFailed,
		Stage:    r.Stage,
		Code:     r.Code,
		Attempts: r.Attempts,
	}
	if r.Event == pipeline.EventSkipped {
		rec.Event = EventSkipped
	}
	err := r.Err
	it := r.Item
	if it == nil {
		it = &pipeline.Item{}
	}
	if err == nil {
		err = it.Err
	}
	if err != nil {
		rec.Message = err.Error()
	}
	if rec.Stage == "" {
		rec.Stage = it.Stage
	}
	rec.InputID = it.ID
	rec.Provenance = it.Prov
	rec.Item = ItemRecord{
		Kind: it.Kind.String(), URL: it.URL, Text: it.Text,
		Concepts: it.Concepts, Metadata: it.Metadata, Geo: it.Geo, Regions: it.Regions,
		DatasetIDs: it.DatasetIDs, Key: it.Key,
	}
	if it.Blob != nil && it.Blob.Path != "" {
		rec.Item.File = it.Blob.Path
		// Absolute, so that a retry from another folder finds the file,
		// and so that it matches the path in a file key.
		if abs, err := filepath.Abs(it.Blob.Path); err == nil {
			rec.Item.File = abs
		}
	}
	rec.Retryable = true
	switch {
	case r.Item == nil:
		rec.Retryable, rec.Note = false, "the result carried no item"
	case isSourceStage(rec.Stage):
		rec.Retryable = false
		rec.Note = fmt.Sprintf("the source could not read this record: fix %s and rerun the original job", originalProv(it.Prov))
	case it.Blob != nil && it.Blob.Path == "":
		rec.Retryable = false
		rec.Note = fmt.Sprintf("the content of %s came from an archive or from memory, which the report does not hold: rerun the original job to retry it", originalProv(it.Prov))
	case it.Blob == nil && it.URL == "" && it.Text == "":
		rec.Retryable, rec.Note = false, "the item has no content to retry"
	}
	return rec
}

// originalProv is p without the note of a report Source.
func originalProv(p pipeline.Provenance) pipeline.Provenance {
	p.Source = originalSource(p.Source)
	return p
}
