package dir

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

// Sibling lookups search the sorted names of the current folder: the names
// that start with a given prefix are contiguous there, so each lookup is a
// binary search and a short scan.

// stem returns name without its extension ("cat.tar.gz" → "cat.tar").
func stem(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

// isExt reports whether name's extension is ext (with the dot), in any case.
func isExt(name, ext string) bool { return strings.EqualFold(filepath.Ext(name), ext) }

// isImageName reports whether name's extension is an image's.
func isImageName(name string) bool { return media.KindFromExt(name) == pipeline.KindImage }

// hasName reports whether the sorted names hold name.
func hasName(names []string, name string) bool {
	_, ok := slices.BinarySearch(names, name)
	return ok
}

// stemSiblings calls fn for each name "<stem>.<ext>" in the sorted names
// whose ext has no dot, in order, until fn returns false.
func stemSiblings(names []string, stem string, fn func(name, ext string) bool) {
	prefix := stem + "."
	i, _ := slices.BinarySearch(names, prefix)
	for ; i < len(names) && strings.HasPrefix(names[i], prefix); i++ {
		ext := names[i][len(prefix):]
		if strings.IndexByte(ext, '.') < 0 && !fn(names[i], ext) {
			return
		}
	}
}

// findExt returns the name "<stem>.<ext>" in the sorted names, ext compared
// case-insensitively; the first in byte order if several differ in case.
func findExt(names []string, stem, ext string) (found string, ok bool) {
	stemSiblings(names, stem, func(name, e string) bool {
		if strings.EqualFold(e, ext) {
			found, ok = name, true
		}
		return !ok
	})
	return found, ok
}

// companion reports whether name is the sidecar or the paired text of
// another entry of d: such a file is read with that entry and is not an
// item of its own. Folder names count as entries, which only matters for
// a .json file named like a folder.
func (w *walker) companion(d *folder, name string) bool {
	cfg := &w.s.cfg
	x := stem(name)
	if cfg.readSidecars() && isExt(name, ".json") {
		// x.json is the full-name sidecar of x, or the stem sidecar of x.*.
		if x != "" && !isExt(x, ".json") && hasName(d.names, x) {
			return true
		}
		found := false
		stemSiblings(d.names, x, func(_, ext string) bool {
			found = !strings.EqualFold(ext, "json")
			return !found
		})
		if found {
			return true
		}
	}
	if cfg.PairText && isExt(name, ".txt") {
		found := false
		stemSiblings(d.names, x, func(n, _ string) bool {
			found = isImageName(n)
			return !found
		})
		return found
	}
	return false
}

// sidecarOf returns the sidecar of the file name in d, if any: name.json
// if it exists, else stem.json, in which case byStem is set.
func (w *walker) sidecarOf(d *folder, name string) (sidecar string, byStem bool) {
	if !w.s.cfg.readSidecars() || isExt(name, ".json") {
		return "", false
	}
	if sc, ok := findExt(d.names, name, "json"); ok {
		return sc, false
	}
	st := stem(name)
	if st == name {
		return "", false
	}
	if sc, ok := findExt(d.names, st, "json"); ok {
		return sc, true
	}
	return "", false
}

// stemUsers returns the items of d that take the stem sidecar
// "<st>.json": files named st or st.<ext> (not .json) that are walked,
// are not a paired text, and have no full-name sidecar of their own.
func (w *walker) stemUsers(d *folder, st string) []string {
	var users []string
	take := func(n string) {
		if isExt(n, ".json") || strings.HasPrefix(n, ".") && !w.s.cfg.IncludeHidden ||
			!w.wanted(joinRel(d.rel, n)) || w.companion(d, n) {
			return
		}
		if _, ok := findExt(d.names, n, "json"); ok && n != st {
			return
		}
		users = append(users, n)
	}
	if hasName(d.names, st) {
		take(st)
	}
	stemSiblings(d.names, st, func(n, _ string) bool {
		take(n)
		return true
	})
	return users
}

// pairTextOf returns the paired .txt of the image name in d, if any.
func (w *walker) pairTextOf(d *folder, name string) (string, bool) {
	if !w.s.cfg.PairText || !isImageName(name) {
		return "", false
	}
	return findExt(d.names, stem(name), "txt")
}
