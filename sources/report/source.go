package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// Config is a Source's report file and options: a job file's `report:`
// source. The json keys enter the job's fingerprint, so they must not
// change.
type Config struct {
	// Path is the JSONL failure report. Required.
	Path          string `yaml:"path" json:"path"`
	SourceOptions `yaml:",inline"`
}

// Validate reports a missing Path.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("report: path is required")
	}
	return nil
}

// New returns a Source over c.Path (see NewSource).
func New(c Config) (*Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return NewSource(c.Path, c.SourceOptions), nil
}

// SourceOptions configures a Source. The zero value retries failed records.
type SourceOptions struct {
	// IncludeSkipped retries skipped records too. Default: failed only.
	IncludeSkipped bool `yaml:"include_skipped,omitempty" json:"include_skipped,omitempty"`
	// MaxLineBytes is the longest report line read; a longer one is an item
	// error. It bounds the Source's memory. Default 64 MiB. Not a job file
	// setting.
	MaxLineBytes int `yaml:"-" json:"-"`
}

// Source reads a failure report back as items to retry. It streams the
// file: its memory is one line (at most MaxLineBytes), however long the
// report.
type Source struct {
	path string
	opts SourceOptions
}

var _ pipeline.Source = (*Source)(nil)

// NewSource returns a Source over the report at path. The file is opened by
// Stream.
func NewSource(path string, opts SourceOptions) *Source {
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = 64 << 20
	}
	return &Source{path: path, opts: opts}
}

// Name returns "report <path>".
func (s *Source) Name() string { return "report " + s.path }

var _ pipeline.Fingerprinter = (*Source)(nil)

// Fingerprint identifies the report file and the options that shape its
// items (see pipeline.FileFingerprint): it stats the file and reads
// nothing. Records of local files are not covered: their items carry a
// Blob, so the runner never marks a report with such records complete.
func (s *Source) Fingerprint() (string, error) {
	// The field names are those SourceOptions had before it had tags, so
	// that completion markers recorded then still match.
	cfg, err := json.Marshal(struct {
		IncludeSkipped bool
		MaxLineBytes   int
	}{s.opts.IncludeSkipped, s.opts.MaxLineBytes})
	if err != nil {
		return "", err
	}
	return pipeline.FileFingerprint("report", s.path, cfg)
}

// Stream sends one item per failed record (and skipped record, if
// IncludeSkipped), in report order, and returns nil at the end of the file.
// It returns an error if the report cannot be opened or read, and ctx.Err()
// promptly when ctx is done.
//
// Each item is rebuilt from its record:
//
//   - ID, Key, Kind, URL, Text, Concepts, Metadata, Geo, Regions and
//     DatasetIDs as recorded.
//   - Reprocess is set: where the server holds the input failed (its
//     processing failed), the sink deletes it and sends it again; an input
//     that succeeded or differs from the record is never deleted.
//   - Prov is the original provenance, its Source noting the report line:
//     "manifest.csv [report failures.jsonl line 7]". A note from an earlier
//     retry is replaced, not repeated.
//   - A file is stat'ed afresh: Blob is a FileBlobAt of its current size
//     and modification time. If the file changed since the report (its size
//     or modification time no longer match the file key), the key's file
//     part is updated to the current one, and an ID that the sink derived
//     from the old content (32 lower-case hex characters) is dropped so that
//     it is derived again: the new content must not take the old input's ID.
//
// These become failed items (stage "source"), reported and not sent: a
// record whose file is gone (the message names the path); a record that is
// not retryable (a source could not read it: "fix <provenance> and rerun the
// original job"; or its content was an archive member); and a malformed line
// (the message names the report and the line).
func (s *Source) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open failure report: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, tooLong, err := readLine(br, buf[:0], s.opts.MaxLineBytes)
		buf = line
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s line %d: %w", s.path, n, err)
		}
		var it *pipeline.Item
		if tooLong {
			it = s.lineError(n, fmt.Errorf("the line is longer than %d bytes", s.opts.MaxLineBytes))
		} else if len(bytes.TrimSpace(line)) == 0 {
			continue
		} else if it = s.item(line, n); it == nil {
			continue
		}
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
}

// item rebuilds the item of report line n, or returns nil if the options
// leave it out.
func (s *Source) item(line []byte, n int) *pipeline.Item {
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return s.lineError(n, fmt.Errorf("malformed record: %v", err))
	}
	switch rec.Event {
	case EventFailed:
	case EventSkipped:
		if !s.opts.IncludeSkipped {
			return nil
		}
	default:
		return s.lineError(n, fmt.Errorf("unknown event %q (want %q or %q)", rec.Event, EventFailed, EventSkipped))
	}
	orig := rec.Provenance
	orig.Source = originalSource(orig.Source)
	prov := orig
	prov.Source = viaReport(orig.Source, s.path, n)
	it := &pipeline.Item{
		ID: rec.InputID, URL: rec.Item.URL, Text: rec.Item.Text,
		Concepts: rec.Item.Concepts, Metadata: rec.Item.Metadata, Geo: rec.Item.Geo,
		Regions: rec.Item.Regions, DatasetIDs: rec.Item.DatasetIDs, Key: rec.Item.Key,
		Prov: prov,
		// The user asks to retry what failed: an input the server holds
		// failed (processing failed) is deleted and sent again.
		Reprocess: true,
	}
	if k := rec.Item.Kind; k != "" && k != pipeline.KindUnknown.String() {
		kind, err := pipeline.ParseKind(k)
		if err != nil {
			return s.lineError(n, fmt.Errorf("item kind: %v", err))
		}
		it.Kind = kind
	}
	switch {
	case isSourceStage(rec.Stage):
		return it.Fail("source", pipeline.Errorf(prov, "",
			"cannot be retried from the report: fix %s and rerun the original job (it failed with: %s)", orig, rec.Message))
	case !rec.Retryable:
		note := rec.Note
		if note == "" {
			note = "the record is marked not retryable"
		}
		return it.Fail("source", pipeline.Errorf(prov, "", "cannot be retried from the report: %s", note))
	}
	if rec.Item.File != "" {
		fi, err := os.Stat(rec.Item.File)
		switch {
		case err != nil:
			return it.Fail("source", pipeline.Errorf(prov, "file", "the file is gone: %v", err))
		case !fi.Mode().IsRegular():
			return it.Fail("source", pipeline.Errorf(prov, "file", "%s is no longer a regular file", rec.Item.File))
		}
		it.Blob = pipeline.FileBlobAt(rec.Item.File, fi.Size(), fi.ModTime())
		if key, changed := refreshFileKey(it.Key, rec.Item.File, fi.Size(), fi.ModTime()); changed {
			it.Key = key
			if looksDerived(it.ID) {
				it.ID = ""
			}
		}
	}
	return it
}

// lineError is the failed item of a report line that cannot be read.
func (s *Source) lineError(n int, err error) *pipeline.Item {
	prov := pipeline.Provenance{Source: s.path, Line: n}
	return (&pipeline.Item{Prov: prov}).Fail("source", &pipeline.ItemError{Prov: prov, Err: err})
}

// refreshFileKey updates a file key ("file:<abs path>|<size>|<mtime ns>",
// perhaps followed by more "|..." parts) to the file's current size and
// modification time. It reports false, and returns key unchanged, if the key
// is of another form or still matches.
func refreshFileKey(key, path string, size int64, modTime time.Time) (string, bool) {
	rest, ok := strings.CutPrefix(key, "file:"+path+"|")
	if !ok {
		return key, false
	}
	sizeStr, rest, ok := strings.Cut(rest, "|")
	if !ok {
		return key, false
	}
	mtimeStr, tail, hasTail := strings.Cut(rest, "|")
	oldSize, err1 := strconv.ParseInt(sizeStr, 10, 64)
	oldMtime, err2 := strconv.ParseInt(mtimeStr, 10, 64)
	if err := errors.Join(err1, err2); err != nil || (oldSize == size && oldMtime == modTime.UnixNano()) {
		return key, false
	}
	fresh := ids.FileKey(path, size, modTime)
	if hasTail {
		fresh += "|" + tail
	}
	return fresh, true
}

// looksDerived reports whether id has the form of an ids.DeriveID.
func looksDerived(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// readLine reads the next line into buf (reused, returned as line) without
// its line ending. A line longer than limit is consumed to its end but not
// kept: tooLong is set and line is empty. It returns io.EOF only when no
// bytes are left.
func readLine(r *bufio.Reader, buf []byte, limit int) (line []byte, tooLong bool, err error) {
	line = buf[:0]
	read := false
	for {
		frag, err := r.ReadSlice('\n')
		read = read || len(frag) > 0
		if !tooLong {
			if len(line)+len(frag) > limit+2 { // +2: the line ending
				tooLong, line = true, line[:0]
			} else {
				line = append(line, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && read {
			err = nil
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !tooLong && len(line) > limit {
			tooLong, line = true, line[:0]
		}
		return line, tooLong, err
	}
}
