package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// DefaultMaxTextSize is the default Config.MaxTextSize: 1 MiB.
const DefaultMaxTextSize = 1 << 20

// maxSidecarSize bounds a sidecar file read into memory.
const maxSidecarSize = 16 << 20

// Config configures a directory source. The zero value of every field but
// Path is a sensible default. The yaml keys are those of a job file's
// `dir:` source; the json keys enter the job's fingerprint, so they and the
// order of the fields must not change.
type Config struct {
	// Path is the folder to walk (required). Items' Prov.Source is Path as
	// given and their Prov.Path is Path joined with the relative path.
	Path string `yaml:"path" json:"path"`
	// Include lists doublestar patterns a file's slash-separated path
	// relative to Path must match one of, e.g. "**/*.jpg". Default: all.
	Include []string `yaml:"include,omitempty" json:"include,omitempty"`
	// Exclude lists patterns of files and folders to leave out, e.g.
	// "tmp/**" or "**/.cache". Default: none.
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Kind, if set, is every item's kind (image, video, audio or text);
	// the detector then only checks it. Default KindUnknown: the detector
	// decides from the content.
	Kind pipeline.Kind `yaml:"kind,omitempty" json:"kind,omitempty"`
	// IgnoreCase matches Include and Exclude case-insensitively.
	IgnoreCase bool `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
	// FollowSymlinks walks into linked folders and emits linked files
	// (their size and mtime are the target's; Prov.Path is the link).
	// Default false: links are reported as skipped items.
	FollowSymlinks bool `yaml:"follow_symlinks,omitempty" json:"follow_symlinks,omitempty"`
	// IncludeHidden walks files and folders whose name starts with ".".
	// Default false: they are ignored.
	IncludeHidden bool `yaml:"include_hidden,omitempty" json:"include_hidden,omitempty"`
	// Sidecars reads cat.json or cat.jpg.json beside cat.jpg (see the
	// package documentation). Default (nil) true; false makes .json files
	// plain files (the detector skips them as unsupported).
	Sidecars *bool `yaml:"sidecars,omitempty" json:"sidecars,omitempty"`
	// LabelsFromFolders makes the folder holding a file a positive concept.
	LabelsFromFolders bool `yaml:"labels_from_folders,omitempty" json:"labels_from_folders,omitempty"`
	// SplitFromPath sets metadata "split" from train/val/test folders.
	SplitFromPath bool `yaml:"split_from_path,omitempty" json:"split_from_path,omitempty"`
	// SplitDatasets maps a split (train, validate, test; val, valid and
	// validation are accepted for validate) to a dataset ID added to the
	// items of that split.
	SplitDatasets map[string]string `yaml:"split_datasets,omitempty" json:"split_datasets,omitempty"`
	// PairText joins an image and its same-stem .txt into one multimodal
	// item.
	PairText bool `yaml:"pair_text,omitempty" json:"pair_text,omitempty"`
	// Annotations, if set, joins COCO, YOLO or VOC annotations to the
	// images walked.
	Annotations *annotations.Config `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	// DatasetIDs are added to every item.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
	// MaxTextSize bounds a paired .txt file, in bytes. Default 1 MiB. Not
	// a job file setting.
	MaxTextSize int64 `yaml:"-" json:"-"`
}

// readSidecars reports whether sidecars are read (Sidecars, default true).
func (c Config) readSidecars() bool { return c.Sidecars == nil || *c.Sidecars }

// withDefaults returns the validated c with defaults filled in and split
// names normalized.
func (c Config) withDefaults() Config {
	if c.MaxTextSize <= 0 {
		c.MaxTextSize = DefaultMaxTextSize
	}
	if len(c.SplitDatasets) > 0 {
		m := make(map[string]string, len(c.SplitDatasets))
		for k, v := range c.SplitDatasets {
			m[splitName(k)] = v // Validate has checked the names
		}
		c.SplitDatasets = m
	}
	return c
}

// Validate is Check, then stats the Annotations' path. It returns the
// first problem found.
func (c Config) Validate() error {
	if err := c.Check(); err != nil {
		return err
	}
	if c.Annotations != nil {
		if err := c.Annotations.Validate(); err != nil {
			return fmt.Errorf("dir: %w", err)
		}
	}
	return nil
}

// Check checks c without touching the file system (a job's validation
// does not need its data to be there). It returns the first problem found.
func (c Config) Check() error {
	if c.Path == "" {
		return errors.New("dir: path is required")
	}
	for _, p := range slices.Concat(c.Include, c.Exclude) {
		if !doublestar.ValidatePattern(filepath.ToSlash(p)) {
			return fmt.Errorf("dir: bad pattern %q", p)
		}
	}
	switch c.Kind {
	case pipeline.KindUnknown, pipeline.KindImage, pipeline.KindVideo, pipeline.KindAudio, pipeline.KindText:
	default:
		return fmt.Errorf("dir: kind %s cannot be forced (multimodal items come from PairText)", c.Kind)
	}
	for _, id := range c.DatasetIDs {
		if err := ids.ValidID(id); err != nil {
			return fmt.Errorf("dir: dataset ID: %w", err)
		}
	}
	seen := make(map[string]string, len(c.SplitDatasets))
	for k, v := range c.SplitDatasets {
		split := splitName(k)
		if split == "" {
			return fmt.Errorf("dir: split dataset for %q: want train, validate or test", k)
		}
		if err := ids.ValidID(v); err != nil {
			return fmt.Errorf("dir: split dataset for %s: %w", k, err)
		}
		if old, dup := seen[split]; dup && old != v {
			return fmt.Errorf("dir: split %s has two datasets, %s and %s", split, old, v)
		}
		seen[split] = v
	}
	if c.MaxTextSize < 0 {
		return errors.New("dir: max text size is negative")
	}
	if c.Annotations != nil {
		if err := c.Annotations.Check(); err != nil {
			return fmt.Errorf("dir: %w", err)
		}
	}
	return nil
}

// Option is an optional knob of New.
type Option func(*Source)

// WithLogger sets the logger for warnings (default no-op).
func WithLogger(l *zap.Logger) Option {
	return func(s *Source) {
		if l != nil {
			s.log = l
		}
	}
}

// Source is the directory source. It is safe to call Stream more than once
// (each call walks again, with state of its own), even concurrently.
type Source struct {
	cfg              Config
	absRoot          string
	include, exclude []string // as matched: slash-separated, lower-cased with IgnoreCase
	log              *zap.Logger
	fs               fileSystem
}

var _ pipeline.Source = (*Source)(nil)

// New validates cfg and returns the source. It fails if Path does not exist
// or is not a folder, if cfg is invalid, or if a YOLO classes file cannot
// be found or read (annotations.FindClasses): these are configuration
// mistakes, found before anything is sent. It reads no other file.
func New(cfg Config, opts ...Option) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if a := cfg.Annotations; a != nil && a.Format == annotations.FormatYOLO {
		if _, _, err := annotations.FindClasses(*a); err != nil {
			return nil, fmt.Errorf("dir: annotations: %w", err)
		}
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, log: zap.NewNop(), fs: osFS{}}
	for _, o := range opts {
		o(s)
	}
	if _, err := s.statRoot(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	s.absRoot = abs
	norm := func(p string) string {
		p = filepath.ToSlash(p)
		if cfg.IgnoreCase {
			p = strings.ToLower(p)
		}
		return p
	}
	for _, p := range cfg.Include {
		s.include = append(s.include, norm(p))
	}
	for _, p := range cfg.Exclude {
		s.exclude = append(s.exclude, norm(p))
	}
	return s, nil
}

// Name returns "dir <Path>".
func (s *Source) Name() string { return "dir " + s.cfg.Path }

// statRoot returns the FileInfo of Path, or an error if it is not a
// directory.
func (s *Source) statRoot() (fs.FileInfo, error) {
	fi, err := s.fs.Stat(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("dir: root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dir: root %s is not a directory", s.cfg.Path)
	}
	return fi, nil
}

// Stream walks Path and sends one item per file on out (see the package
// doc), then one failed item per unmatched annotation image. It blocks
// until the walk ends and does not close out. It returns nil when the walk
// is complete, ctx.Err() when ctx ends first, and an error that ends the
// run when Path is gone or the annotation set cannot be read (a malformed
// COCO file, a missing YOLO classes file). Problems of one file are failed
// items, not errors.
func (s *Source) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	rootInfo, err := s.statRoot()
	if err != nil {
		return err
	}
	w := &walker{s: s, ctx: ctx, out: out}
	if s.cfg.Annotations != nil {
		if w.idx, err = annotations.Open(ctx, *s.cfg.Annotations); err != nil {
			return err // the runner names the source: "source dir <path>: annotations: ..."
		}
		if n, first := w.idx.RLEFallbacks(); n > 0 {
			s.log.Warn("COCO RLE masks are not supported; those annotations are read as their bbox",
				zap.String("file", s.cfg.Annotations.Path), zap.Int("annotations", n), zap.Int64("first_id", first))
		}
		if r := w.idx.Repeats(); r.Identical+r.Different > 0 {
			s.log.Warn("COCO annotation IDs repeat: copies are skipped, annotations that only share an ID are kept",
				zap.String("file", s.cfg.Annotations.Path), zap.Int("copies_skipped", r.Identical),
				zap.Int("kept", r.Different), zap.Int64s("first_ids", r.FirstIDs))
		}
	}
	if err := w.walkDir("", []fs.FileInfo{rootInfo}); err != nil {
		return err
	}
	if w.idx == nil {
		return nil
	}
	return w.idx.Unmatched(ctx, func(u annotations.UnmatchedImage) error {
		prov := pipeline.Provenance{Source: s.cfg.Path, Path: u.File}
		it := &pipeline.Item{Prov: prov}
		return pipeline.Send(ctx, out, it.Fail("source", &pipeline.ItemError{Prov: prov, Field: "unmatched annotation", Err: u.Err}))
	})
}

// fileSystem is the seam to the OS, so that tests can count what the
// source opens and inject failures.
type fileSystem interface {
	// ReadDirNames returns the names in dir, in any order; with an error,
	// the names it could read.
	ReadDirNames(dir string) ([]string, error)
	Lstat(name string) (fs.FileInfo, error)
	Stat(name string) (fs.FileInfo, error)
	Open(name string) (fs.File, error)
}

type osFS struct{}

func (osFS) ReadDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return names, err
}

func (osFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)  { return os.Stat(name) }
func (osFS) Open(name string) (fs.File, error)      { return os.Open(name) }
