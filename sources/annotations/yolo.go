package annotations

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// maxYOLOLine bounds one line of a YOLO label or classes file; a polygon of
// 30000 vertices fits.
const maxYOLOLine = 1 << 20

// yoloSlack is how far outside [0, 1] a YOLO coordinate may be, for
// rounding by the tool that wrote it; such values are clamped.
const yoloSlack = 1e-6

// ReadClasses reads a YOLO classes file: one class name per line, the line
// number counted from 0 being the class index. Surrounding spaces and
// trailing empty lines are ignored; an empty line among the names, a name
// that is not UTF-8, or a file with no names is an error naming the file.
func ReadClasses(name string, r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, readLimit))
	sc.Buffer(make([]byte, 0, 4096), maxYOLOLine)
	var names []string
	empty := 0 // empty lines seen since the last name
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			empty++
			continue
		}
		if empty > 0 {
			return nil, fmt.Errorf("%s line %d: empty class name (class %d)", name, n-1, len(names))
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%s line %d: class name is not valid UTF-8", name, n)
		}
		names = append(names, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no class names", name)
	}
	return names, nil
}

// ParseYOLOLine parses one line of a YOLO label file: "class cx cy w h" (a
// box) or "class x1 y1 x2 y2 x3 y3 ..." (a YOLO-seg polygon of at least
// three vertices). The class is an index into classes; coordinates are
// fractions of the image width (x) and height (y) in [0, 1]. A box becomes
// Box{Left: cx-w/2, Top: cy-h/2, Right: cx+w/2, Bottom: cy+h/2}, clamped to
// [0, 1]; Pixels is unset. The error says what is wrong, without a place.
func ParseYOLOLine(line string, classes []string) (pipeline.Region, error) {
	f := strings.Fields(line)
	if len(f) != 5 && (len(f) < 7 || len(f)%2 == 0) {
		return pipeline.Region{}, fmt.Errorf("%d fields; want \"class cx cy w h\" or \"class x1 y1 x2 y2 x3 y3 ...\"", len(f))
	}
	k, err := strconv.Atoi(f[0])
	if err != nil {
		return pipeline.Region{}, fmt.Errorf("class %q is not an integer", f[0])
	}
	if k < 0 || k >= len(classes) {
		return pipeline.Region{}, fmt.Errorf("class %d is out of range: the classes file has %d names (0 to %d)", k, len(classes), len(classes)-1)
	}
	nums := make([]float64, len(f)-1)
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return pipeline.Region{}, fmt.Errorf("field %d: %q is not a number", i+2, s)
		}
		if v < -yoloSlack || v > 1+yoloSlack {
			return pipeline.Region{}, fmt.Errorf("field %d: %s is outside [0, 1]; YOLO coordinates are normalized", i+2, s)
		}
		nums[i] = v
	}
	reg := pipeline.Region{Concepts: []pipeline.Concept{pipeline.Positive(classes[k])}}
	if len(nums) == 4 {
		cx, cy, w, h := nums[0], nums[1], nums[2], nums[3]
		if w < 0 || h < 0 {
			return pipeline.Region{}, fmt.Errorf("box width %v and height %v must be positive", w, h)
		}
		if w == 0 || h == 0 {
			return pipeline.Region{}, fmt.Errorf("box width %v and height %v: %w", w, h, ErrZeroArea)
		}
		reg.Box = &pipeline.BoundingBox{
			Left: clamp01(cx - w/2), Top: clamp01(cy - h/2),
			Right: clamp01(cx + w/2), Bottom: clamp01(cy + h/2),
		}
		if reg.Box.Left >= reg.Box.Right || reg.Box.Top >= reg.Box.Bottom {
			return pipeline.Region{}, errors.New("box lies outside the image")
		}
		return reg, nil
	}
	reg.Polygon = make([]pipeline.Point, len(nums)/2)
	for i := range reg.Polygon {
		reg.Polygon[i] = pipeline.Point{Col: clamp01(nums[2*i]), Row: clamp01(nums[2*i+1])}
	}
	return reg, nil
}

// ParseYOLO reads a YOLO label file (see ParseYOLOLine), skipping empty
// lines and, with a warning, zero-area boxes. An empty file is an image without objects. The first bad line, a
// line over 1 MiB or a file over 16 MiB is an error naming name and the
// 1-based line number.
func ParseYOLO(name string, r io.Reader, classes []string) (*Annotation, error) {
	lr := &io.LimitedReader{R: r, N: readLimit + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxYOLOLine)
	a := &Annotation{File: name}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		reg, err := ParseYOLOLine(line, classes)
		if errors.Is(err, ErrZeroArea) {
			a.Warnings = append(a.Warnings, fmt.Sprintf("%s line %d: %v: skipped", name, n, err))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		a.Regions = append(a.Regions, reg)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s line %d: longer than %d bytes", name, n+1, maxYOLOLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, readLimit)
	}
	a.Concepts = concepts(a.Regions)
	return a, nil
}

// ErrZeroArea is the error of a box of zero width or height. ParseYOLO
// skips such a line with a warning (Annotation.Warnings) rather than fail
// the image: converters leave them behind, and they hold nothing to learn.
var ErrZeroArea = errors.New("zero-area box")

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }
