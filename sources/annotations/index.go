package annotations

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Index joins one set of annotation files to the images of a walk. It is
// not safe for concurrent use: one walk owns it, calling Lookup for each
// image it emits and Unmatched once at the end.
type Index struct {
	cfg     Config
	dir     string // absolute Path (YOLO, VOC) or file (COCO)
	classes string // absolute classes file (YOLO)
	names   []string
	coco    *COCO
	// matched holds a 64-bit hash of the Path-relative name of every YOLO or
	// VOC file that Lookup joined, for Unmatched: 8 bytes (plus map
	// overhead) per annotated image, never file contents. A hash collision
	// (odds about n²/2⁶⁵) could only hide one unmatched file from the report.
	matched map[uint64]struct{}
	seed    maphash.Seed
}

// UnmatchedImage is an annotation image that no walked file matched.
type UnmatchedImage struct {
	// File is the annotation file: the COCO JSON file, or the YOLO label
	// or VOC XML file.
	File string
	// Image is how the annotation names the image: the COCO file_name (or
	// "image_id N" for annotations of an image that images does not list),
	// or the label file's path relative to Config.Path.
	Image string
	// Err says what is wrong.
	Err error
}

// Open validates cfg and prepares the index. For COCO it reads and indexes
// the whole JSON file (see COCO for the memory this takes), returning
// ctx.Err() if ctx ends first; for YOLO it reads the classes file; VOC and
// YOLO per-image files are read later, by Lookup. Any error is fatal for the
// walk: it names the file and, for bad JSON, the line and column.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("annotations: %w", err)
	}
	x := &Index{cfg: cfg, dir: abs, matched: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
	switch cfg.Format {
	case FormatCOCO:
		f, err := os.Open(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
		defer f.Close()
		if x.coco, err = ParseCOCO(ctx, cfg.Path, f, cfg.Polygons); err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
	case FormatYOLO:
		classes, names, err := FindClasses(cfg)
		if err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
		x.names = names
		if x.classes, err = filepath.Abs(classes); err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
	}
	return x, nil
}

// Config returns the configuration the index was opened with.
func (x *Index) Config() Config { return x.cfg }

// RLEFallbacks reports COCO annotations whose RLE mask was read as their
// bbox (see Config.Polygons); 0 for other formats.
func (x *Index) RLEFallbacks() (n int, firstID int64) {
	if x.coco == nil {
		return 0, 0
	}
	return x.coco.RLEFallbacks()
}

// Repeats reports COCO annotations whose ID an earlier one has (see
// ParseCOCO); zero for other formats.
func (x *Index) Repeats() Repeats {
	if x.coco == nil {
		return Repeats{}
	}
	return x.coco.Repeats()
}

// Owns reports whether the file at path (absolute and clean) is one of the
// annotation files, which a walk must not emit as an input: the COCO JSON
// file; the YOLO classes file and every .txt file under the labels
// directory; every .xml file under the VOC directory. Other files in those
// directories (images beside their labels, a labels.cache) are not owned.
func (x *Index) Owns(path string) bool {
	switch x.cfg.Format {
	case FormatCOCO:
		return path == x.dir
	case FormatYOLO:
		return path == x.classes || x.under(path) && strings.EqualFold(filepath.Ext(path), ".txt")
	default:
		return x.under(path) && strings.EqualFold(filepath.Ext(path), ".xml")
	}
}

func (x *Index) under(p string) bool {
	return len(p) > len(x.dir) && strings.HasPrefix(p, x.dir) && os.IsPathSeparator(p[len(x.dir)])
}

// Lookup returns the annotation of the image at rel, a slash-separated path
// relative to the walked root, or nil, nil when there is none. An error
// means the image has annotations that cannot be used; it names the
// annotation file and the place. Only images should be looked up.
//
// COCO joins by file_name (see COCO.Lookup). YOLO and VOC join by file
// name: for an image at "d1/d2/cat.jpg" Lookup tries, in order,
// <Path>/d1/d2/cat.txt, <Path>/d2/cat.txt and <Path>/cat.txt (.xml for
// VOC), and reads the first that exists. So labels may mirror the image
// folders (Root images/, Path labels/: images/train/a.jpg ↔
// labels/train/a.txt, as Ultralytics lays them out), drop leading folders,
// or be flat. A missing label file means no annotation: for YOLO an image
// without objects, for VOC an image nobody annotated.
func (x *Index) Lookup(rel string) (*Annotation, error) {
	if x.coco != nil {
		return x.coco.Lookup(rel)
	}
	ext := ".xml"
	if x.cfg.Format == FormatYOLO {
		ext = ".txt"
	}
	dir, file := path.Split(rel)
	name := stem(file) + ext
	dir = strings.Trim(dir, "/")
	for {
		lrel := name
		if dir != "" {
			lrel = dir + "/" + name
		}
		p := filepath.Join(x.dir, filepath.FromSlash(lrel))
		if a, found, err := x.read(p, lrel); found || err != nil {
			return a, err
		}
		if dir == "" {
			return nil, nil
		}
		// Drop the leading folder and try again.
		if i := strings.IndexByte(dir, '/'); i >= 0 {
			dir = dir[i+1:]
		} else {
			dir = ""
		}
	}
}

// read parses the label file p if it exists, marking it matched.
func (x *Index) read(p, lrel string) (a *Annotation, found bool, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, true, err
		}
		return nil, false, nil // absent, or a folder of the path is a file
	}
	if !fi.Mode().IsRegular() || p == x.classes {
		return nil, false, nil
	}
	x.matched[maphash.String(x.seed, lrel)] = struct{}{}
	f, err := os.Open(p)
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	if x.cfg.Format == FormatYOLO {
		a, err = ParseYOLO(p, f, x.names)
	} else {
		a, err = ParseVOC(p, f)
	}
	return a, true, err
}

// Unmatched calls fn for every annotation image that no Lookup matched, in
// a deterministic order, unless Config.IgnoreUnmatched is set. For COCO
// these are the images that have at least one annotation (in file order),
// and image_ids that annotations name but images does not list; for YOLO
// and VOC, the label (.txt) or XML files under Path, walked in lexical
// order, hidden ones skipped. It returns fn's first error, or ctx.Err().
func (x *Index) Unmatched(ctx context.Context, fn func(UnmatchedImage) error) error {
	if x.cfg.IgnoreUnmatched {
		return nil
	}
	if x.coco != nil {
		return x.coco.unmatched(ctx, fn)
	}
	ext := ".xml"
	if x.cfg.Format == FormatYOLO {
		ext = ".txt"
	}
	return x.walk(ctx, x.dir, "", ext, fn)
}

// walk reports the unmatched files of one directory, then its
// subdirectories. It holds one directory's entries at a time per level.
func (x *Index) walk(ctx context.Context, dir, rel, ext string, fn func(UnmatchedImage) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil && len(ents) == 0 {
		return fn(UnmatchedImage{File: dir, Err: fmt.Errorf("cannot list the annotation folder to find unmatched files: %w", err)})
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		p := filepath.Join(dir, name)
		switch {
		case e.IsDir():
			if err := x.walk(ctx, p, r, ext, fn); err != nil {
				return err
			}
		case !e.Type().IsRegular() || !strings.EqualFold(filepath.Ext(name), ext) || p == x.classes:
		default:
			if _, ok := x.matched[maphash.String(x.seed, r)]; ok {
				continue
			}
			d := path.Dir(r)
			if d == "." {
				d = ""
			}
			if err := fn(UnmatchedImage{File: p, Image: r, Err: fmt.Errorf(
				"no walked image matches this annotation: looked for an image named %s.* in a folder whose path ends in %q",
				stem(name), d)}); err != nil {
				return err
			}
		}
	}
	return nil
}
