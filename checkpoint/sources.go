package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Complete-source markers (pipeline.SourceCheckpoint) live in their own
// small file, sources.json, rewritten whole on every change by temp file,
// fsync, rename and fsync of the directory: a crash leaves the old file or
// the new one, never a mix. They are few (one per source of the job), so
// keeping them out of the entry log keeps the log's format and its
// replay as they were.

const (
	sourcesName    = "sources.json"
	sourcesTmp     = sourcesName + durable.TempSuffix
	sourcesVersion = 1
)

// sourcesFile is the JSON form of sources.json.
type sourcesFile struct {
	Version int `json:"version"`
	// Config is the job's configuration fingerprint (Options.Fingerprint)
	// the markers were recorded under; markers of another one are ignored.
	Config  string         `json:"config_fingerprint"`
	Sources []sourceMarker `json:"sources"`
}

type sourceMarker struct {
	Fingerprint string    `json:"fingerprint"`
	Done        int64     `json:"done"`
	Skipped     int64     `json:"skipped"`
	RecordedAt  time.Time `json:"recorded_at"`
}

var _ pipeline.SourceCheckpoint = (*Checkpoint)(nil)

// SourceDone reports whether the source with this fingerprint was recorded
// complete (see pipeline.SourceCheckpoint), and how its items ended. It
// reads memory only, is safe for concurrent use, and works after Close.
func (c *Checkpoint) SourceDone(fingerprint string) (pipeline.SourceCounts, bool) {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	m, ok := c.marks[fingerprint]
	return pipeline.SourceCounts{Done: m.Done, Skipped: m.Skipped}, ok
}

// RecordSourceDone records the source with this fingerprint complete, with
// the counts a rerun reports for it. It first writes out and fsyncs every
// record so far (the marker stands for them: a rerun that finds it will not
// look them up), then rewrites sources.json atomically; it blocks for both
// fsyncs. It returns ErrClosed after Close, the sticky write failure, or
// the error writing the file (the marker is then not kept). With
// Options.ReadOnly it returns nil and writes nothing.
func (c *Checkpoint) RecordSourceDone(fingerprint string, counts pipeline.SourceCounts) error {
	if c.opts.ReadOnly {
		return nil
	}
	if err := c.Sync(); err != nil { // ErrClosed, or the sticky failure first
		return err
	}
	c.markMu.Lock()
	defer c.markMu.Unlock()
	next := maps.Clone(c.marks)
	if next == nil {
		next = make(map[string]sourceMarker)
	}
	next[fingerprint] = sourceMarker{Fingerprint: fingerprint, Done: counts.Done, Skipped: counts.Skipped, RecordedAt: time.Now().UTC()}
	if err := c.writeSources(next); err != nil {
		return err
	}
	c.marks = next
	return nil
}

// clearSources forgets every marker, durably, before it returns: the file
// is removed and the directory fsynced. Reopen and a changed configuration
// use it.
func (c *Checkpoint) clearSources() error {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	if len(c.marks) == 0 && !c.sourcesOnDisk {
		return nil
	}
	err := os.Remove(filepath.Join(c.dir, sourcesName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: forget complete sources: %w", err)
	}
	if err := durable.SyncDir(c.dir); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", c.dir, err)
	}
	c.marks, c.sourcesOnDisk = nil, false
	return nil
}

// writeSources replaces sources.json with marks, atomically
// (durable.WriteFile). The caller holds markMu.
func (c *Checkpoint) writeSources(marks map[string]sourceMarker) error {
	doc := sourcesFile{Version: sourcesVersion, Config: c.opts.Fingerprint}
	for _, fp := range slices.Sorted(maps.Keys(marks)) {
		doc.Sources = append(doc.Sources, marks[fp])
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	err = durable.WriteFile(filepath.Join(c.dir, sourcesName), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.sourcesOnDisk = true
	return nil
}

// readSources loads sources.json at Open. haveEntries says whether the
// checkpoint has any entry file: markers without the entries they stand for
// (logs deleted by hand) are ignored. A missing file is no marker; an
// unreadable one, or one of another configuration, is ignored with a
// warning (the next marker replaces it): the sources are then read again,
// which is always safe.
func (c *Checkpoint) readSources(haveEntries bool) error {
	if !c.opts.ReadOnly {
		_ = os.Remove(filepath.Join(c.dir, sourcesTmp)) // a write that did not finish
	}
	path := filepath.Join(c.dir, sourcesName)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.sourcesOnDisk = true
	var doc sourcesFile
	why := ""
	switch err := json.Unmarshal(b, &doc); {
	case err != nil:
		why = "unreadable: " + err.Error()
	case doc.Version != sourcesVersion:
		why = fmt.Sprintf("format version %d, this version reads %d", doc.Version, sourcesVersion)
	case doc.Config != c.opts.Fingerprint:
		why = "recorded under another configuration"
	case !haveEntries:
		why = "the checkpoint's entry files are gone"
	}
	if why != "" {
		c.log.Warn("ignoring the complete-source markers; those sources are read again",
			zap.String("file", path), zap.String("reason", why))
		return nil
	}
	c.marks = make(map[string]sourceMarker, len(doc.Sources))
	for _, m := range doc.Sources {
		c.marks[m.Fingerprint] = m
	}
	c.report.SourcesDone = len(c.marks)
	return nil
}
