package dir

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// walker is the state of one Stream call.
type walker struct {
	s   *Source
	ctx context.Context
	out chan<- *pipeline.Item
	idx *annotations.Index // nil without annotations
}

// folder is the folder being walked: its path relative to Path and its
// sorted entry names, which are all the sibling lookups ever see.
type folder struct {
	rel   string
	names []string
}

// path returns the item path of rel (Path as given, joined).
func (w *walker) path(rel string) string {
	return filepath.Join(w.s.cfg.Path, filepath.FromSlash(rel))
}

// abs returns the absolute path of rel.
func (w *walker) abs(rel string) string {
	return filepath.Join(w.s.absRoot, filepath.FromSlash(rel))
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// send sends it, failing it first with err if err is not nil.
func (w *walker) send(it *pipeline.Item, err error) error {
	if err != nil {
		it.Fail("source", err)
	}
	return pipeline.Send(w.ctx, w.out, it)
}

// report sends an item that only says what happened at rel: a failure, or
// a skip when err wraps pipeline.ErrSkip. Either names the path.
func (w *walker) report(rel string, err error) error {
	prov := pipeline.Provenance{Source: w.s.cfg.Path, Path: w.path(rel)}
	return w.send(&pipeline.Item{Prov: prov}, &pipeline.ItemError{Prov: prov, Err: err})
}

// walkDir walks the folder rel. ancestors are the folders from Path down
// to rel's parent, for the symbolic link loop check; the slice's backing
// array is shared down the recursion, which is safe because each call only
// reads the prefix it was given.
func (w *walker) walkDir(rel string, ancestors []fs.FileInfo) error {
	names, err := w.s.fs.ReadDirNames(w.path(rel))
	if err != nil {
		if err := w.report(rel, fmt.Errorf("read directory: %w", err)); err != nil {
			return err
		}
	}
	// Sorting makes the walk order, and so item order, deterministic.
	slices.Sort(names)
	d := &folder{rel: rel, names: names}
	for _, name := range names {
		// Checked here as well as in Send, so that a folder of excluded
		// files, which sends nothing, also stops promptly.
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if err := w.entry(d, name, ancestors); err != nil {
			return err
		}
	}
	return nil
}

// entry handles one name of folder d.
func (w *walker) entry(d *folder, name string, ancestors []fs.FileInfo) error {
	cfg := &w.s.cfg
	if strings.HasPrefix(name, ".") && !cfg.IncludeHidden {
		return nil
	}
	rel := joinRel(d.rel, name)
	p := w.path(rel)
	fi, err := w.s.fs.Lstat(p)
	if err != nil {
		if w.excluded(rel) {
			return nil
		}
		return w.report(rel, fmt.Errorf("stat: %w", err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !cfg.FollowSymlinks {
			if !w.wanted(rel) {
				return nil
			}
			return w.report(rel, pipeline.Skip("symbolic link not followed (FollowSymlinks is off)"))
		}
		if fi, err = w.s.fs.Stat(p); err != nil {
			if !w.wanted(rel) {
				return nil
			}
			return w.report(rel, fmt.Errorf("broken symbolic link: %w", err))
		}
		if fi.IsDir() {
			for _, a := range ancestors {
				if os.SameFile(a, fi) {
					if w.excluded(rel) {
						return nil
					}
					return w.report(rel, pipeline.Skip("symbolic link loop: it leads to a folder above it"))
				}
			}
		}
	}
	switch {
	case fi.IsDir():
		if w.excluded(rel) {
			return nil
		}
		return w.walkDir(rel, append(ancestors, fi))
	case !w.wanted(rel), w.idx != nil && w.idx.Owns(w.abs(rel)), w.companion(d, name):
		return nil
	case !fi.Mode().IsRegular():
		return w.report(rel, pipeline.Skip(fmt.Sprintf("not a regular file (%s)", fi.Mode().Type())))
	}
	it, err := w.item(d, name, rel, fi)
	return w.send(it, err)
}

// matchRel returns rel as the patterns see it.
func (w *walker) matchRel(rel string) string {
	if w.s.cfg.IgnoreCase {
		return strings.ToLower(rel)
	}
	return rel
}

// excluded reports whether rel matches an Exclude pattern.
func (w *walker) excluded(rel string) bool {
	r := w.matchRel(rel)
	for _, p := range w.s.exclude {
		if doublestar.MatchUnvalidated(p, r) {
			return true
		}
	}
	return false
}

// wanted reports whether the file rel passes Include and Exclude.
func (w *walker) wanted(rel string) bool {
	if w.excluded(rel) {
		return false
	}
	if len(w.s.include) == 0 {
		return true
	}
	r := w.matchRel(rel)
	for _, p := range w.s.include {
		if doublestar.MatchUnvalidated(p, r) {
			return true
		}
	}
	return false
}
