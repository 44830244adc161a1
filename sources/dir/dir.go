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
// Root is a sensible default.
type Config struct {
	// Root is the folder to walk (required). Items' Prov.Source is Root as
	// given and their Prov.Path is Root joined with the relative path.
	Root string
	// Include lists doublestar patterns a file's slash-separated path
	// relative to Root must match one of, e.g. "**/*.jpg". Default: all.
	Include []string
	// Exclude lists patterns of files and folders to leave out, e.g.
	// "tmp/**" or "**/.cache". Default: none.
	Exclude []string
	// IgnoreCase matches Include and Exclude case-insensitively.
	IgnoreCase bool
	// FollowSymlinks walks into linked folders and emits linked files
	// (their size and mtime are the target's; Prov.Path is the link).
	// Default false: links are reported as skipped items.
	FollowSymlinks bool
	// IncludeHidden walks files and folders whose name starts with ".".
	// Default false: they are ignored.
	IncludeHidden bool
	// Kind, if set, is every item's kind (image, video, audio or text);
	// the detector then only checks it. Default KindUnknown: the detector
	// decides from the content.
	Kind pipeline.Kind
	// DatasetIDs are added to every item.
	DatasetIDs []string
	// IgnoreSidecars turns sidecar files off: .json files are then plain
	// files (the detector skips them as unsupported). Default false:
	// sidecars are read.
	IgnoreSidecars bool
	// LabelsFromFolders makes the folder holding a file a positive concept.
	LabelsFromFolders bool
	// SplitFromPath sets metadata "split" from train/val/test folders.
	SplitFromPath bool
	// SplitDatasets maps a split (train, validate, test; val, valid and
	// validation are accepted for validate) to a dataset ID added to the
	// items of that split.
	SplitDatasets map[string]string
	// PairText joins an image and its same-stem .txt into one multimodal
	// item.
	PairText bool
	// MaxTextSize bounds a paired .txt file, in bytes. Default 1 MiB.
	MaxTextSize int64
	// Annotations, if set, joins COCO, YOLO or VOC annotations to the
	// images walked.
	Annotations *annotations.Config
}

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

// Validate checks c without touching the file system, except Annotations'
// paths (which it stats). It returns the first problem found.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("dir: root is required")
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
		if err := c.Annotations.Validate(); err != nil {
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

// New validates cfg and returns the source. It fails if Root does not exist
// or is not a folder, or if cfg is invalid. It reads no file.
func New(cfg Config, opts ...Option) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, log: zap.NewNop(), fs: osFS{}}
	for _, o := range opts {
		o(s)
	}
	if _, err := s.statRoot(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Root)
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

// Name returns "dir <Root>".
func (s *Source) Name() string { return "dir " + s.cfg.Root }

// statRoot returns the FileInfo of Root, or an error if it is not a
// directory.
func (s *Source) statRoot() (fs.FileInfo, error) {
	fi, err := s.fs.Stat(s.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("dir: root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dir: root %s is not a directory", s.cfg.Root)
	}
	return fi, nil
}

// Stream walks Root and sends one item per file on out (see the package
// doc), then one failed item per unmatched annotation image. It blocks
// until the walk ends and does not close out. It returns nil when the walk
// is complete, ctx.Err() when ctx ends first, and an error that ends the
// run when Root is gone or the annotation set cannot be read (a malformed
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
			return fmt.Errorf("dir %s: %w", s.cfg.Root, err)
		}
		if n, first := w.idx.RLEFallbacks(); n > 0 {
			s.log.Warn("COCO RLE masks are not supported; those annotations are read as their bbox",
				zap.String("file", s.cfg.Annotations.Path), zap.Int("annotations", n), zap.Int64("first_id", first))
		}
	}
	if err := w.walkDir("", []fs.FileInfo{rootInfo}); err != nil {
		return err
	}
	if w.idx == nil {
		return nil
	}
	return w.idx.Unmatched(ctx, func(u annotations.UnmatchedImage) error {
		prov := pipeline.Provenance{Source: s.cfg.Root, Path: u.File}
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
