package transforms

import (
	"context"
	"fmt"
	"math"
	"strings"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

// KeyDroppedRegions is the metadata key under which the annotations
// transform, with on_invalid: drop, records the regions it removed: a list
// of objects {"index": n, "id": "...", "label": "...", "reason": "..."},
// index being the region's position as the source gave it.
const KeyDroppedRegions = "ingest_dropped_regions"

// DefaultEpsilon is the default AnnotationsConfig.Epsilon.
const DefaultEpsilon = 1e-6

// AnnotationsConfig configures the annotations transform (job-file key
// "annotations"), which checks an item's concepts and regions, and converts
// pixel regions to Clarifai's normalized coordinates. The zero value is
// valid and gives the defaults.
//
// Input-level concepts stay on the input (they travel with PostInputs); each
// must have an ID and a value of 1 (positive) or 0 (negative), else the item
// fails whatever OnInvalid says.
//
// Regions are only allowed on image and multimodal items. A region with
// Pixels set is converted with the image's size read from its file header
// (media.ImageSize over Blob.Open, no pixel decode), or, for an item without
// a Blob (a URL), with the size the source gave in the SourceSize fields;
// without either the item fails, since the size is unknown. Then each region
// must have:
//
//   - a box, a polygon, or both;
//   - a box with every coordinate in [0, 1] and top_row < bottom_row,
//     left_col < right_col (a coordinate outside [0, 1] by at most Epsilon
//     is clamped to it; more is an error);
//   - a polygon of at least 3 points, each in [0, 1] (clamped within
//     Epsilon) and with a non-zero area;
//   - at least one concept label (Clarifai carries a region's labels in its
//     data.concepts), unless AllowUnlabeled; each concept with an ID and a
//     value of 1 or 0.
type AnnotationsConfig struct {
	// OnInvalid is what happens to an item with invalid regions.
	//
	//   - "fail" (default): the item fails with one error listing every bad
	//     region (index, label, reason, values), wrapping an
	//     *InvalidRegionsError. This is the mode that guarantees every
	//     problem lands in the failure report.
	//   - "drop": the bad regions are removed and the item goes on with the
	//     good ones. Each dropped region is logged at warn level through
	//     the logger given with WithLogger and recorded in the item's
	//     metadata under KeyDroppedRegions (so it reaches Clarifai with the
	//     input); the run's failure report does not list them.
	OnInvalid string `yaml:"on_invalid"`
	// Epsilon is how far outside [0, 1] a normalized coordinate may be and
	// still be clamped into it, to absorb rounding in converters. Default
	// DefaultEpsilon (1e-6); 0 means the default. Raise it (e.g. 0.005)
	// for annotation files whose boxes overshoot the image by a pixel.
	Epsilon float64 `yaml:"epsilon"`
	// AllowUnlabeled accepts regions without a concept label. Default
	// false: such a region is invalid.
	AllowUnlabeled bool `yaml:"allow_unlabeled"`
	// SourceSize names the metadata fields (dotted paths) where the source
	// put the image's size, e.g. COCO's images[].width and height. When
	// both are present (numbers or numeric strings): an item with a Blob
	// fails if its file header disagrees (the annotations were made for
	// another image), and an item without a Blob converts its pixel
	// regions with them. Default: unset, no cross-check.
	SourceSize *SizeFields `yaml:"source_size"`
}

// SizeFields names the metadata fields holding an image's width and height
// in pixels, as dotted paths. Both are required.
type SizeFields struct {
	Width  string `yaml:"width"`
	Height string `yaml:"height"`
}

// Validate reports the first bad setting, naming its key.
func (c AnnotationsConfig) Validate() error {
	_, err := c.compile(buildOptions(nil))
	return err
}

func (c AnnotationsConfig) compile(o options) (*annotationsTransform, error) {
	t := &annotationsTransform{eps: c.Epsilon, allowUnlabeled: c.AllowUnlabeled, log: o.log}
	switch c.OnInvalid {
	case "", "fail":
	case "drop":
		t.drop = true
	default:
		return nil, fmt.Errorf("on_invalid: want fail or drop, got %q", c.OnInvalid)
	}
	switch {
	case math.IsNaN(c.Epsilon) || c.Epsilon < 0 || c.Epsilon >= 0.5:
		return nil, fmt.Errorf("epsilon: want a small non-negative tolerance below 0.5, got %v", c.Epsilon)
	case c.Epsilon == 0:
		t.eps = DefaultEpsilon
	}
	if c.SourceSize != nil {
		w, err := parseMetaPath(c.SourceSize.Width)
		if err != nil {
			return nil, fmt.Errorf("source_size.width: %w", err)
		}
		h, err := parseMetaPath(c.SourceSize.Height)
		if err != nil {
			return nil, fmt.Errorf("source_size.height: %w", err)
		}
		t.srcW, t.srcH, t.srcSize = w, h, true
	}
	return t, nil
}

// NewAnnotations returns the annotations transform (see AnnotationsConfig),
// named "annotations". It returns cfg.Validate's error for a bad config.
// WithLogger sets where drop mode logs. The transform is safe for concurrent
// use; Apply reads an image's header only when the item has pixel regions or
// SourceSize is set. It fails the item with a *pipeline.ItemError whose
// Field is "concepts", "regions" or "metadata.<path>"; for bad regions it
// wraps an *InvalidRegionsError.
func NewAnnotations(cfg AnnotationsConfig, opts ...Option) (pipeline.Transform, error) {
	t, err := cfg.compile(buildOptions(opts))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// RegionProblem says why one region is invalid.
type RegionProblem struct {
	// Index is the region's position in Item.Regions as the source gave
	// them.
	Index int
	// ID is the region's ID, if it has one.
	ID string
	// Label is the region's first concept (name, else ID); empty when the
	// region has none.
	Label string
	// Reason says what is wrong, with the values involved.
	Reason string
}

// String renders the problem as the failure report shows it:
// `region 2 id "r7" "cat": polygon has 2 points, want at least 3`.
func (p RegionProblem) String() string {
	label := "(no label)"
	if p.Label != "" {
		label = fmt.Sprintf("%q", p.Label)
	}
	id := ""
	if p.ID != "" {
		id = fmt.Sprintf(" id %q", p.ID)
	}
	return fmt.Sprintf("region %d%s %s: %s", p.Index, id, label, p.Reason)
}

// InvalidRegionsError lists the invalid regions of one item. The annotations
// transform's error wraps it in fail mode; use errors.As to get it.
type InvalidRegionsError struct {
	Problems []RegionProblem
}

// Error lists every problem: "2 invalid regions: region 1 ...; region 3 ...".
func (e *InvalidRegionsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid region", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

type annotationsTransform struct {
	drop           bool
	eps            float64
	allowUnlabeled bool
	srcSize        bool
	srcW, srcH     metaPath
	log            *zap.Logger
}

var _ pipeline.Transform = (*annotationsTransform)(nil)

func (t *annotationsTransform) Name() string { return "annotations" }

func (t *annotationsTransform) Apply(ctx context.Context, it *pipeline.Item) error {
	for i, c := range it.Concepts {
		if reason := conceptProblem(c); reason != "" {
			return pipeline.Errorf(it.Prov, "concepts", "concept %d: %s", i, reason)
		}
	}
	if len(it.Regions) == 0 {
		takeAnnotatedSize(it)
		return nil
	}
	if it.Kind != pipeline.KindImage && it.Kind != pipeline.KindMultimodal {
		return pipeline.Errorf(it.Prov, "regions", "%d regions on a %s item; regions are only for images", len(it.Regions), it.Kind)
	}
	w, h, err := t.imageSize(ctx, it)
	if err != nil {
		return err
	}

	// Regions are checked into a new slice and the item's slice is replaced
	// only on success, so a failed item keeps the regions its source gave
	// (in pixels, if they were) for the failure report.
	kept := make([]pipeline.Region, 0, len(it.Regions))
	var problems []RegionProblem
	for i, r := range it.Regions {
		nr, reasons := t.normalize(r, w, h)
		if len(reasons) > 0 {
			problems = append(problems, RegionProblem{Index: i, ID: r.ID, Label: regionLabel(r), Reason: strings.Join(reasons, "; ")})
			continue
		}
		kept = append(kept, nr)
	}
	if len(problems) > 0 && !t.drop {
		return pipeline.Errorf(it.Prov, "regions", "%w", &InvalidRegionsError{Problems: problems})
	}
	if len(problems) > 0 {
		notes := make([]any, len(problems))
		for i, p := range problems {
			t.log.Warn("region dropped", zap.Stringer("item", it.Prov), zap.Int("region", p.Index),
				zap.String("id", p.ID), zap.String("label", p.Label), zap.String("reason", p.Reason))
			note := map[string]any{"index": float64(p.Index), "label": p.Label, "reason": p.Reason}
			if p.ID != "" {
				note["id"] = p.ID
			}
			notes[i] = note
		}
		if it.Metadata == nil {
			it.Metadata = make(map[string]any, 1)
		}
		it.Metadata[KeyDroppedRegions] = notes
	}
	it.Regions = kept
	return nil
}

// imageSize returns the image size needed to convert pixel regions, after
// cross-checking the file header against the size the source gave. It
// returns 0, 0 when no region is in pixels and there is nothing to check.
func (t *annotationsTransform) imageSize(ctx context.Context, it *pipeline.Item) (w, h int, err error) {
	pixels := false
	for _, r := range it.Regions {
		pixels = pixels || r.Pixels
	}
	sw, sh, from, haveSrc, err := t.sourceSize(it)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case it.Blob != nil && (pixels || haveSrc):
		w, h, err = blobImageSize(ctx, it.Blob)
		if err != nil {
			return 0, 0, pipeline.Errorf(it.Prov, "regions", "image size for pixel regions: %w", err)
		}
		if haveSrc && (w != sw || h != sh) {
			hint := ""
			if w == sh && h == sw {
				hint = " (swapped: is the image rotated by its EXIF orientation?)"
			}
			return 0, 0, pipeline.Errorf(it.Prov, "regions", "the image is %dx%d (file header) but %s says %dx%d%s",
				w, h, from, sw, sh, hint)
		}
		return w, h, nil
	case haveSrc:
		return sw, sh, nil
	case pixels:
		return 0, 0, pipeline.Errorf(it.Prov, "regions",
			"regions are in pixels but the image size is unknown (no local file; set source_size to metadata fields holding it, or give normalized coordinates)")
	}
	return 0, 0, nil
}

// sourceSize returns the image size the source gave and where it comes
// from: the annotation file (recorded by the directory source), or else the
// configured width and height metadata fields (both must be present).
func (t *annotationsTransform) sourceSize(it *pipeline.Item) (w, h int, from string, ok bool, err error) {
	// The size an annotation file stated (COCO images[], VOC <size>), as the
	// directory source records it; it is internal and never uploaded.
	if w, h, ok := takeAnnotatedSize(it); ok {
		return w, h, "the annotation file", true, nil
	}
	if !t.srcSize {
		return 0, 0, "", false, nil
	}
	wv, okW := t.srcW.get(it.Metadata)
	hv, okH := t.srcH.get(it.Metadata)
	if !okW || !okH || wv == nil || hv == nil {
		return 0, 0, "", false, nil
	}
	for _, f := range []struct {
		p   metaPath
		v   any
		out *int
	}{{t.srcW, wv, &w}, {t.srcH, hv, &h}} {
		x, err := toFloat(f.v)
		if err != nil || x < 1 || x != math.Trunc(x) || x > math.MaxInt32 {
			return 0, 0, "", false, pipeline.Errorf(it.Prov, "metadata."+f.p.raw, "want a positive whole number of pixels, got %v", f.v)
		}
		*f.out = int(x)
	}
	return w, h, fmt.Sprintf("metadata %s, %s", t.srcW.raw, t.srcH.raw), true, nil
}

// normalize converts r to normalized coordinates if it is in pixels, clamps
// coordinates within epsilon of [0, 1], and returns the reasons r is
// invalid. It never modifies the Box or Polygon that r points to: a changed
// box or polygon is a new one.
func (t *annotationsTransform) normalize(r pipeline.Region, w, h int) (pipeline.Region, []string) {
	var reasons []string
	if len(r.Concepts) == 0 && !t.allowUnlabeled {
		reasons = append(reasons, "no concept label")
	}
	for i, c := range r.Concepts {
		if reason := conceptProblem(c); reason != "" {
			reasons = append(reasons, fmt.Sprintf("concept %d: %s", i, reason))
		}
	}
	if r.Box == nil && len(r.Polygon) == 0 {
		return r, append(reasons, "no box or polygon")
	}
	from := func() string {
		if !r.Pixels {
			return ""
		}
		return fmt.Sprintf(" (from pixels on a %dx%d image)", w, h)
	}
	if r.Box != nil {
		b := *r.Box
		if r.Pixels {
			b = pipeline.BoundingBox{Top: b.Top / float64(h), Left: b.Left / float64(w), Bottom: b.Bottom / float64(h), Right: b.Right / float64(w)}
		}
		if reason := t.checkBox(&b); reason != "" {
			reasons = append(reasons, reason+from())
		} else if b != *r.Box {
			nb := new(pipeline.BoundingBox)
			*nb = b
			r.Box = nb
		}
	}
	if len(r.Polygon) > 0 {
		if poly, reason := t.checkPolygon(r.Polygon, r.Pixels, w, h); reason != "" {
			reasons = append(reasons, reason+from())
		} else {
			r.Polygon = poly
		}
	}
	r.Pixels = false
	return r, reasons
}

// checkBox clamps b within epsilon and returns why it is invalid, or "".
func (t *annotationsTransform) checkBox(b *pipeline.BoundingBox) string {
	orig := *b
	values := func() string {
		return fmt.Sprintf("top_row=%g left_col=%g bottom_row=%g right_col=%g", orig.Top, orig.Left, orig.Bottom, orig.Right)
	}
	coords := [4]*float64{&b.Top, &b.Left, &b.Bottom, &b.Right}
	names := [4]string{"top_row", "left_col", "bottom_row", "right_col"}
	for i, c := range coords {
		v, ok := t.clamp(*c)
		if !ok {
			return fmt.Sprintf("box %s=%g outside [0, 1] (%s)", names[i], *c, values())
		}
		*c = v
	}
	switch {
	case b.Top == b.Bottom:
		return fmt.Sprintf("box has zero height (%s)", values())
	case b.Top > b.Bottom:
		return fmt.Sprintf("box top_row > bottom_row (%s)", values())
	case b.Left == b.Right:
		return fmt.Sprintf("box has zero width (%s)", values())
	case b.Left > b.Right:
		return fmt.Sprintf("box left_col > right_col (%s)", values())
	}
	return ""
}

// checkPolygon returns the polygon converted and clamped (the same slice if
// nothing changed, else a new one) and why it is invalid, or "".
func (t *annotationsTransform) checkPolygon(poly []pipeline.Point, pixels bool, w, h int) ([]pipeline.Point, string) {
	if len(poly) < 3 {
		return nil, fmt.Sprintf("polygon has %d points, want at least 3", len(poly))
	}
	out, copied := poly, false
	for i, p := range poly {
		q := p
		if pixels {
			q = pipeline.Point{Row: p.Row / float64(h), Col: p.Col / float64(w)}
		}
		row, okR := t.clamp(q.Row)
		col, okC := t.clamp(q.Col)
		if !okR || !okC {
			return nil, fmt.Sprintf("polygon point %d (row=%g col=%g) outside [0, 1]", i, q.Row, q.Col)
		}
		q = pipeline.Point{Row: row, Col: col}
		if q != p && !copied {
			// Copy on the first change: the source's slice stays as it was.
			out, copied = make([]pipeline.Point, len(poly)), true
			copy(out, poly[:i])
		}
		if copied {
			out[i] = q
		}
	}
	// Shoelace formula: twice the signed area.
	var area2 float64
	for i, p := range out {
		q := out[(i+1)%len(out)]
		area2 += p.Col*q.Row - q.Col*p.Row
	}
	if math.Abs(area2) < 1e-12 {
		return nil, fmt.Sprintf("polygon of %d points has zero area", len(out))
	}
	return out, ""
}

// clamp returns v clamped into [0, 1] if it lies within epsilon of it, and
// false if it is farther out or not a finite number.
func (t *annotationsTransform) clamp(v float64) (float64, bool) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return v, false
	case v < 0 && v >= -t.eps:
		return 0, true
	case v > 1 && v <= 1+t.eps:
		return 1, true
	}
	return v, v >= 0 && v <= 1
}

// conceptProblem says why c cannot be sent, or "".
func conceptProblem(c pipeline.Concept) string {
	switch {
	case c.ID == "":
		return fmt.Sprintf("empty id (name %q)", c.Name)
	case c.Value != 0 && c.Value != 1:
		return fmt.Sprintf("%q has value %g, want 1 (positive) or 0 (negative)", c.ID, c.Value)
	}
	return ""
}

func regionLabel(r pipeline.Region) string {
	if len(r.Concepts) == 0 {
		return ""
	}
	if r.Concepts[0].Name != "" {
		return r.Concepts[0].Name
	}
	return r.Concepts[0].ID
}

// takeAnnotatedSize removes the image size the directory source recorded
// from the item's metadata and returns it. Metadata left empty becomes nil,
// so that the input carries no empty metadata object.
func takeAnnotatedSize(it *pipeline.Item) (w, h int, ok bool) {
	w, h, ok = media.TakeAnnotatedSize(it.Metadata)
	if len(it.Metadata) == 0 {
		it.Metadata = nil
	}
	return w, h, ok
}
