package annotations

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Format names an annotation file format.
type Format string

// The supported formats.
const (
	// FormatCOCO is one COCO JSON file (images, annotations, categories)
	// for the whole dataset.
	FormatCOCO Format = "coco"
	// FormatYOLO is one label file <stem>.txt per image in a labels
	// directory, plus a classes file.
	FormatYOLO Format = "yolo"
	// FormatVOC is one Pascal VOC XML file <stem>.xml per image in a
	// directory.
	FormatVOC Format = "voc"
)

// Config says which annotation files to join to a walk's images.
type Config struct {
	// Format is "coco", "yolo" or "voc" (required).
	Format Format `yaml:"format" json:"format"`
	// Path is the COCO JSON file, the YOLO labels directory or the VOC XML
	// directory (required).
	Path string `yaml:"path" json:"path"`
	// Classes is the YOLO classes file: an Ultralytics data.yaml (names as
	// a list or an index -> name map, see ReadDataYAML), or a file of one
	// class name per line, the line number (from 0) being the class index
	// (classes.txt, obj.names). Default: found by FindClasses in Path or
	// its parent. Only for YOLO.
	Classes string `yaml:"classes,omitempty" json:"classes,omitempty"`
	// Polygons, for COCO, makes each segmentation polygon a polygon region
	// instead of taking the annotation's bbox. An annotation whose
	// segmentation is RLE (crowd masks) falls back to its bbox; Open
	// counts these (see Index.RLEFallbacks). Default false: boxes.
	Polygons bool `yaml:"polygons,omitempty" json:"polygons,omitempty"`
	// InputConcepts, when set, adds every distinct region label of an
	// image to the item as a positive input-level concept too, which is
	// what classifiers train on. Default false: regions only.
	InputConcepts bool `yaml:"input_concepts,omitempty" json:"input_concepts,omitempty"`
	// IgnoreUnmatched turns off the report of annotation images that no
	// walked file matched (see Index.Unmatched). Set it when Include or
	// Exclude patterns upload a subset of an annotated dataset on purpose.
	IgnoreUnmatched bool `yaml:"ignore_unmatched,omitempty" json:"ignore_unmatched,omitempty"`
}

// Check checks the settings without touching the file system: a known
// format, a path, and options that fit the format.
func (c Config) Check() error {
	switch c.Format {
	case FormatCOCO, FormatYOLO, FormatVOC:
	case "":
		return errors.New("annotations: format is required (coco, yolo or voc)")
	default:
		return fmt.Errorf("annotations: unknown format %q (want coco, yolo or voc)", c.Format)
	}
	if c.Path == "" {
		return fmt.Errorf("annotations: %s needs a path", c.Format)
	}
	if c.Classes != "" && c.Format != FormatYOLO {
		return fmt.Errorf("annotations: a classes file is only used with yolo, not %s", c.Format)
	}
	if c.Polygons && c.Format != FormatCOCO {
		return fmt.Errorf("annotations: polygons is a coco option; %s files say per line or object", c.Format)
	}
	return nil
}

// Validate is Check, then checks that Path exists with the right type. It
// does not read it.
func (c Config) Validate() error {
	if err := c.Check(); err != nil {
		return err
	}
	fi, err := os.Stat(c.Path)
	if err != nil {
		return fmt.Errorf("annotations: %w", err)
	}
	if c.Format == FormatCOCO && fi.IsDir() {
		return fmt.Errorf("annotations: coco path %s is a directory; want the JSON file", c.Path)
	}
	if c.Format != FormatCOCO && !fi.IsDir() {
		return fmt.Errorf("annotations: %s path %s is not a directory", c.Format, c.Path)
	}
	return nil
}

// Annotation is what an annotation file says about one image.
type Annotation struct {
	// File is the annotation file it was read from.
	File string
	// Regions are in pixels (COCO, VOC: Pixels set) or normalized (YOLO).
	Regions []pipeline.Region
	// Concepts are the distinct region labels, positive, in the order they
	// first appear.
	Concepts []pipeline.Concept
	// Width and Height are the image size the file states (COCO, VOC), 0
	// when it gives none. The annotations transform cross-checks them with
	// the image header.
	Width, Height int
	// Warnings name the annotations of this image that were skipped or are
	// doubtful (a zero-area box, a repeated COCO annotation ID), with the
	// file and the IDs or line; the source logs them.
	Warnings []string
}

// Fingerprint returns a short hash of what a says, for resume keys: an
// edited annotation changes it, so that the item is delivered again.
func (a *Annotation) Fingerprint() string {
	b, err := json.Marshal(struct {
		R    []pipeline.Region
		C    []pipeline.Concept
		W, H int
	}{a.Regions, a.Concepts, a.Width, a.Height})
	if err != nil { // cannot happen: parsers only produce finite numbers
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// concepts returns the distinct labels of regions as positive concepts.
func concepts(regions []pipeline.Region) []pipeline.Concept {
	var out []pipeline.Concept
	seen := make(map[string]struct{})
	for _, r := range regions {
		for _, c := range r.Concepts {
			if _, dup := seen[c.ID]; !dup {
				seen[c.ID] = struct{}{}
				out = append(out, pipeline.Positive(c.ID))
			}
		}
	}
	return out
}

// stem returns name without its extension.
func stem(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

// readLimit bounds the size of one per-image annotation file (YOLO label,
// VOC XML) read into memory.
const readLimit = 16 << 20
