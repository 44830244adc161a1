package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sources/internal/recordfile"
)

// stage names the stage that fails bad rows, in results and reports.
const stage = "source"

// Source streams the rows of a CSV manifest as items. It implements
// pipeline.Source. It keeps no state between calls of Stream, so Stream may
// be called again (reading the file again) or concurrently.
type Source struct {
	cfg    Config
	dir    string // the manifest's folder: the base of relative paths
	absDir string // dir made absolute once: file keys need absolute paths
}

var _ pipeline.Source = (*Source)(nil)

// New returns a Source for cfg. It checks cfg (see Config.Validate) but
// does not open the manifest: Stream does. cfg's slices and maps are
// copied, so the caller may reuse them.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.DatasetIDs = slices.Clone(cfg.DatasetIDs)
	cfg.SplitDatasets = maps.Clone(cfg.SplitDatasets)
	cfg = cfg.withDefaults() // copies MetadataColumns
	dir := filepath.Dir(cfg.Path)
	absDir, err := filepath.Abs(dir)
	if err != nil {
		absDir = dir // FileKey tries again per file
	}
	return &Source{cfg: cfg, dir: dir, absDir: absDir}, nil
}

// Name returns "manifest <path>".
func (s *Source) Name() string { return "manifest " + s.cfg.Path }

var _ pipeline.Fingerprinter = (*Source)(nil)

// Fingerprint identifies the manifest and the settings that shape its items
// (see pipeline.FileFingerprint): it stats the file and reads nothing. It
// fails for a manifest read through Config.Open, which is not a local file.
// Rows naming local files (file_path, a path column) are not covered: their
// items carry a Blob, so the runner never marks such a manifest complete.
func (s *Source) Fingerprint() (string, error) {
	if s.cfg.Open != nil {
		return "", errors.New("manifest: read through Config.Open, not a local file")
	}
	c := s.cfg
	cfg, err := json.Marshal(struct {
		Format          Format
		InputType       pipeline.Kind
		CSVType         CSVType
		DefaultKind     pipeline.Kind
		DatasetIDs      []string
		SplitDatasets   map[string]string
		MetadataColumns map[string]string
		MaxRecordBytes  int
	}{c.Format, c.InputType, c.CSVType, c.DefaultKind, c.DatasetIDs, c.SplitDatasets, c.MetadataColumns, c.MaxRecordBytes})
	if err != nil {
		return "", err
	}
	return pipeline.FileFingerprint("manifest", c.Path, cfg)
}

// Stream reads the manifest and sends one item per row on out, in file
// order, then returns nil. It does not close out, and holds one record in
// memory at a time, whatever the size of the file.
//
// A row that cannot be used (malformed CSV, wrong number of fields, a bad
// value, a missing file) is sent as an item whose Err is a
// *pipeline.ItemError naming the manifest, the row, the column and what was
// expected, and reading goes on with the next row. Stream returns an error,
// ending the run, only when the manifest cannot be opened or read, its
// header cannot be used (empty file, unnamed, repeated or unknown columns,
// an SDK-format manifest without InputType and CSVType), or a record is
// longer than Config.MaxRecordBytes. When ctx is done it returns ctx.Err()
// promptly.
func (s *Source) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	rc, err := recordfile.Open(s.cfg.Open, s.cfg.Path)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", s.cfg.Path, err)
	}
	defer rc.Close()

	rr := newRecordReader(rc, s.cfg.MaxRecordBytes)
	l, err := s.readHeader(rr)
	if err != nil {
		return err
	}

	var re *rowError
	for {
		// Checked on every row, not only on sends, so that cancelling a
		// run stops the reading even while a consumer keeps receiving.
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, row, err := rr.next()
		if err == io.EOF {
			return nil
		}
		it := &pipeline.Item{Prov: pipeline.Provenance{Source: s.cfg.Path, Row: row}}
		switch {
		case errors.As(err, &re):
			it.Fail(stage, pipeline.Errorf(it.Prov, l.columnName(re.field), "%s", re.msg))
		case err != nil:
			return fmt.Errorf("manifest %s: %w", s.cfg.Path, err)
		default:
			if err := s.build(l, rec, it); err != nil {
				it.Fail(stage, err)
			}
		}
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
}

// ErrBadHeader is wrapped by the error of Stream and CheckHeader when the
// manifest's header cannot be used: an empty file, unnamed, repeated or
// unknown columns, or an SDK-format manifest without InputType and CSVType.
// It is a configuration error: no row was read.
var ErrBadHeader = errors.New("bad manifest header")

// badHeader keeps its error's message and adds ErrBadHeader to its chain.
type badHeader struct{ err error }

func (e badHeader) Error() string   { return e.err.Error() }
func (e badHeader) Unwrap() []error { return []error{e.err, ErrBadHeader} }

// CheckHeader opens the manifest and checks its header as Stream would,
// without reading a row, so that a caller can reject an unusable manifest
// before anything is sent. Its error wraps ErrBadHeader when the header is
// the problem, and is the open or read error otherwise.
func (s *Source) CheckHeader() error {
	rc, err := recordfile.Open(s.cfg.Open, s.cfg.Path)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", s.cfg.Path, err)
	}
	defer rc.Close()
	_, err = s.readHeader(newRecordReader(rc, s.cfg.MaxRecordBytes))
	return err
}

// readHeader reads the header row and plans the columns.
func (s *Source) readHeader(rr *recordReader) (*layout, error) {
	header, _, err := rr.next()
	var re *rowError
	switch {
	case err == io.EOF:
		return nil, badHeader{fmt.Errorf("manifest %s: want a header row, got an empty file", s.cfg.Path)}
	case errors.As(err, &re):
		return nil, badHeader{fmt.Errorf("manifest %s: header: %s", s.cfg.Path, re.msg)}
	case err != nil:
		return nil, fmt.Errorf("manifest %s: header: %w", s.cfg.Path, err)
	}
	l, err := planHeader(header, s.cfg)
	if err != nil {
		return nil, badHeader{fmt.Errorf("manifest %s: header: %w", s.cfg.Path, err)}
	}
	return l, nil
}

// build fills it from the record rec. It returns a *pipeline.ItemError for
// the first bad value; it may then be partly filled.
func (s *Source) build(l *layout, rec []string, it *pipeline.Item) error {
	if i := firstInvalidUTF8(rec); i >= 0 {
		return pipeline.Errorf(it.Prov, l.columnName(i), "want UTF-8 text, got bytes that are not UTF-8 in %s (save the manifest as UTF-8)", quote(rec[i]))
	}
	var err error
	if l.format == FormatSDK {
		err = s.sdkRow(l, rec, it)
	} else {
		err = s.richRow(l, rec, it)
	}
	if err != nil {
		return err
	}
	for _, mc := range l.meta {
		if v := strings.TrimSpace(rec[mc.index]); v != "" {
			if err := setMeta(it, mc.key, v, mc.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// setMeta sets metadata key to the string v, which column gave. A key that
// another column already set to something else is an error.
func setMeta(it *pipeline.Item, key, v, column string) error {
	if old, ok := it.Metadata[key]; ok {
		if s, isString := old.(string); !isString || s != v {
			return pipeline.Errorf(it.Prov, column, "want metadata key %q set once, got %q here and a different value from another column", key, v)
		}
		return nil
	}
	if it.Metadata == nil {
		it.Metadata = make(map[string]any, 1)
	}
	it.Metadata[key] = v
	return nil
}

// localFile resolves p (relative to the manifest's folder unless absolute),
// checks it is a non-empty regular file, sets it.Blob and it.Prov.Path, and
// returns the file's resume key.
func (s *Source) localFile(it *pipeline.Item, column, p string) (string, error) {
	resolved := s.resolve(p)
	it.Prov.Path = resolved
	fi, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", pipeline.Errorf(it.Prov, column, "want an existing file, got %s, which does not exist%s", quote(p), s.relativeNote(p))
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", pipeline.Errorf(it.Prov, column, "want a readable file, got %s: %v", quote(p), err)
	case fi.IsDir():
		return "", pipeline.Errorf(it.Prov, column, "want a file, got the folder %s", quote(p))
	case !fi.Mode().IsRegular():
		return "", pipeline.Errorf(it.Prov, column, "want a regular file, got %s of mode %v", quote(p), fi.Mode().Type())
	case fi.Size() == 0:
		return "", pipeline.Errorf(it.Prov, column, "want a non-empty file, got the empty file %s", quote(p))
	}
	it.Blob = pipeline.FileBlobAt(resolved, fi.Size(), fi.ModTime())
	keyPath := resolved
	if !filepath.IsAbs(p) {
		// What FileKey's filepath.Abs would give, without asking the OS
		// for the working directory on every row.
		keyPath = filepath.Join(s.absDir, p)
	}
	return ids.FileKey(keyPath, fi.Size(), fi.ModTime()), nil
}

// resolve returns the path of p, a manifest path cell: p itself if it is
// absolute, else p in the manifest's folder.
func (s *Source) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// relativeNote explains, for a relative p, where relative paths start.
func (s *Source) relativeNote(p string) string {
	if filepath.IsAbs(p) {
		return ""
	}
	return fmt.Sprintf(" (relative paths start at the manifest's folder %s)", quote(s.dir))
}

// finish sets the item's dataset IDs and resume key. base is the key of
// its content; a given ID replaces it.
func (s *Source) finish(it *pipeline.Item, base string, rowDatasets []string) {
	ds := slices.Clone(s.cfg.DatasetIDs)
	for _, id := range rowDatasets {
		if !slices.Contains(ds, id) {
			ds = append(ds, id)
		}
	}
	if len(ds) > 0 {
		it.DatasetIDs = ds
	}
	if it.ID != "" {
		base = ids.IDKey(it.ID)
	}
	it.Key = ids.ScopeKey(base, it.DatasetIDs)
}
