package urllist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/sources/internal/recordfile"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// DefaultMaxLineBytes is the default of Config.MaxLineBytes.
const DefaultMaxLineBytes = 64 << 10

// stage names the stage that fails bad lines, in results and reports.
const stage = "source"

// Config configures a URL-list Source. The zero value of every field but
// Path is usable. The yaml keys are those of a job file's `urls:` source;
// the json keys enter the job's fingerprint, so they must not change.
type Config struct {
	// Path is the list file. Required. Stream opens it (unless Open is
	// set); messages and provenance name it as given.
	Path string `yaml:"path" json:"path"`
	// Open, if set, is called by Stream instead of os.Open(Path), once per
	// call, for lists that are not local files (and for tests). It should
	// return a new reader from the start each time. Stream closes what it
	// returns.
	Open func() (io.ReadCloser, error) `yaml:"-" json:"-"`
	// Kind, if set, is the kind of every URL (image, video, audio or
	// text); default KindUnknown: the kind comes from each URL's extension.
	Kind pipeline.Kind `yaml:"kind,omitempty" json:"kind,omitempty"`
	// DatasetIDs are added to every item. Each must pass ids.ValidID.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
	// MaxLineBytes is the longest line accepted, in bytes, without its line
	// ending; default DefaultMaxLineBytes (64 KiB). A longer line is a line
	// error; its bytes are skipped, not buffered.
	MaxLineBytes int `yaml:"-" json:"-"`
}

// Validate returns every problem with c, joined, or nil. New calls it.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("urllist: path is required"))
	}
	switch c.Kind {
	case pipeline.KindUnknown, pipeline.KindImage, pipeline.KindVideo, pipeline.KindAudio, pipeline.KindText:
	default:
		errs = append(errs, fmt.Errorf("urllist: kind %v: want image, video, audio or text", c.Kind))
	}
	for _, id := range c.DatasetIDs {
		if err := ids.ValidID(id); err != nil {
			errs = append(errs, fmt.Errorf("urllist: dataset_ids: %w", err))
		}
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("urllist: MaxLineBytes %d is negative", c.MaxLineBytes))
	}
	return errors.Join(errs...)
}

// Source streams the URLs of a list file as items. It implements
// pipeline.Source. It keeps no state between calls of Stream, so Stream may
// be called again (reading the file again) or concurrently.
type Source struct {
	cfg Config
}

var _ pipeline.Source = (*Source)(nil)

// New returns a Source for cfg. It checks cfg but does not open the file:
// Stream does. cfg.DatasetIDs is copied.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	cfg.DatasetIDs = slices.Clone(cfg.DatasetIDs)
	return &Source{cfg: cfg}, nil
}

// Name returns "urllist <path>".
func (s *Source) Name() string { return "urllist " + s.cfg.Path }

var _ pipeline.Fingerprinter = (*Source)(nil)

// Fingerprint identifies the list file and the settings that shape its
// items (see pipeline.FileFingerprint): it stats the file and reads
// nothing. It fails for a list read through Config.Open, which is not a
// local file.
func (s *Source) Fingerprint() (string, error) {
	if s.cfg.Open != nil {
		return "", errors.New("urllist: read through Config.Open, not a local file")
	}
	cfg, err := json.Marshal(struct {
		Kind         pipeline.Kind
		DatasetIDs   []string
		MaxLineBytes int
	}{s.cfg.Kind, s.cfg.DatasetIDs, s.cfg.MaxLineBytes})
	if err != nil {
		return "", err
	}
	return pipeline.FileFingerprint("urllist", s.cfg.Path, cfg)
}

// Stream reads the list and sends one item per URL line on out, in file
// order, then returns nil. It does not close out and holds one line in
// memory at a time. A bad line is sent as an item with Err set (see the
// package documentation). Stream returns an error only when the file cannot
// be opened or read, or ctx.Err() promptly when ctx is done.
func (s *Source) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	rc, err := recordfile.Open(s.cfg.Open, s.cfg.Path)
	if err != nil {
		return fmt.Errorf("url list %s: %w", s.cfg.Path, err)
	}
	defer rc.Close()
	// Room for the longest accepted line and its "\r\n": a line that does
	// not fit is too long.
	br := bufio.NewReaderSize(rc, s.cfg.MaxLineBytes+2)
	for n := 1; ; n++ {
		// Checked on every line, so that a long run of comments or blank
		// lines does not delay cancellation.
		if err := ctx.Err(); err != nil {
			return err
		}
		line, tooLong, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("url list %s: line %d: %w", s.cfg.Path, n, err)
		}
		prov := pipeline.Provenance{Source: s.cfg.Path, Line: n}
		var it *pipeline.Item
		switch {
		case tooLong:
			it = (&pipeline.Item{Prov: prov}).Fail(stage, pipeline.Errorf(prov, "", "want a line of at most %d bytes, got a longer one", s.cfg.MaxLineBytes))
		case len(line) > s.cfg.MaxLineBytes:
			// It fit in the buffer, which also holds the line ending.
			it = (&pipeline.Item{Prov: prov}).Fail(stage, pipeline.Errorf(prov, "", "want a line of at most %d bytes, got %d", s.cfg.MaxLineBytes, len(line)))
		default:
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			}
			if it = s.parseLine(line, prov); it == nil {
				continue // blank or comment
			}
		}
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
}

// readLine returns the next line without its line ending, valid until the
// next call. A line longer than br's buffer is read through and returned as
// tooLong, without its bytes. err is io.EOF after the last line.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err == io.EOF {
			err = nil // the long line was the last one
		}
		return nil, true, err
	}
	if err == io.EOF {
		if len(line) == 0 {
			return nil, false, io.EOF
		}
		err = nil // a last line without '\n'
	}
	if err != nil {
		return nil, false, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, false, nil
}

// parseLine turns one line into an item, or nil for a blank or comment
// line.
func (s *Source) parseLine(b []byte, prov pipeline.Provenance) *pipeline.Item {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '#' {
		return nil
	}
	it := &pipeline.Item{Prov: prov}
	if !utf8.Valid(b) {
		return it.Fail(stage, pipeline.Errorf(prov, "", "want UTF-8 text, got bytes that are not UTF-8 (save the list as UTF-8)"))
	}
	line := string(b)
	raw, labels, _ := strings.Cut(line, "\t")
	raw = strings.TrimSpace(raw)
	it.Prov.Path = raw
	u, err := manifest.ParseURL(raw)
	if err != nil {
		if strings.ContainsRune(raw, ' ') {
			err = fmt.Errorf("%w; separate labels from the URL with a tab", err)
		}
		return it.Fail(stage, pipeline.Errorf(it.Prov, "url", "%v", err))
	}
	if it.Concepts, err = manifest.ParseLabels(labels); err != nil {
		return it.Fail(stage, pipeline.Errorf(it.Prov, "labels", "%v", err))
	}
	it.URL = raw
	it.Kind = s.cfg.Kind
	if it.Kind == pipeline.KindUnknown {
		if it.Kind = media.KindFromExt(u.Path); it.Kind == pipeline.KindUnknown {
			return it.Fail(stage, pipeline.Errorf(it.Prov, "url", "%w", pipeline.Skip(
				fmt.Sprintf("cannot tell the kind of %s from its extension; set the kind for the list", quoteExt(u.Path)))))
		}
	}
	if len(s.cfg.DatasetIDs) > 0 {
		it.DatasetIDs = slices.Clone(s.cfg.DatasetIDs)
	}
	it.Key = ids.ScopeKey(ids.URLKey(it.Kind, raw), it.DatasetIDs)
	return it
}

// quoteExt names the path's extension for a message.
func quoteExt(p string) string {
	base := p[strings.LastIndexByte(p, '/')+1:]
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		return fmt.Sprintf("the path %q (extension %q)", p, base[i:])
	}
	return fmt.Sprintf("the path %q (no extension)", p)
}
