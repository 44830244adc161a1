package annotations

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

type vocXML struct {
	XMLName  xml.Name `xml:"annotation"`
	Filename string   `xml:"filename"`
	Size     struct {
		Width  string `xml:"width"`
		Height string `xml:"height"`
	} `xml:"size"`
	Objects []vocObject `xml:"object"`
}

type vocObject struct {
	Name   string `xml:"name"`
	BndBox *struct {
		XMin string `xml:"xmin"`
		YMin string `xml:"ymin"`
		XMax string `xml:"xmax"`
		YMax string `xml:"ymax"`
	} `xml:"bndbox"`
}

// ParseVOC reads one Pascal VOC XML annotation: the root element
// <annotation>, its <size> (width, height) and every <object> with a <name>
// and a <bndbox> (xmin, ymin, xmax, ymax).
//
// VOC coordinates are 1-based pixel indices and the box includes its last
// pixel, so a box over a whole W×H image is (1, 1, W, H). ParseVOC returns
// it in 0-based edge coordinates, Box{Left: xmin-1, Top: ymin-1, Right:
// xmax, Bottom: ymax}, with Pixels set; Left and Top are clamped at 0 for
// files written 0-based. Numbers may have a fraction. <difficult>,
// <truncated>, <pose> and <filename> are ignored (the join is by file name,
// see Index.Lookup). Malformed XML, a missing name or bndbox, or a box with
// xmin > xmax or ymin > ymax is an error naming name (and the line, for XML
// syntax errors). Files over 16 MiB are refused.
func ParseVOC(name string, r io.Reader) (*Annotation, error) {
	lr := &io.LimitedReader{R: r, N: readLimit + 1}
	var v vocXML
	if err := xml.NewDecoder(lr).Decode(&v); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%s: larger than %d bytes", name, readLimit)
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s line %d: malformed XML: %s", name, se.Line, se.Msg)
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no <annotation> element", name)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	a := &Annotation{File: name}
	var err error
	if a.Width, err = vocInt(v.Size.Width); err != nil {
		return nil, fmt.Errorf("%s: size/width: %w", name, err)
	}
	if a.Height, err = vocInt(v.Size.Height); err != nil {
		return nil, fmt.Errorf("%s: size/height: %w", name, err)
	}
	for i, o := range v.Objects {
		label := strings.TrimSpace(o.Name)
		where := fmt.Sprintf("%s: object %d", name, i+1)
		if label == "" {
			return nil, fmt.Errorf("%s: no name", where)
		}
		where += " (" + label + ")"
		if o.BndBox == nil {
			return nil, fmt.Errorf("%s: no bndbox", where)
		}
		var c [4]float64
		for j, s := range [4]string{o.BndBox.XMin, o.BndBox.YMin, o.BndBox.XMax, o.BndBox.YMax} {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s: bndbox/%s: %q is not a number", where, [4]string{"xmin", "ymin", "xmax", "ymax"}[j], s)
			}
			c[j] = f
		}
		if c[0] > c[2] || c[1] > c[3] {
			return nil, fmt.Errorf("%s: bndbox (%v, %v, %v, %v) has xmin > xmax or ymin > ymax", where, c[0], c[1], c[2], c[3])
		}
		box := &pipeline.BoundingBox{Left: math.Max(0, c[0]-1), Top: math.Max(0, c[1]-1), Right: c[2], Bottom: c[3]}
		if box.Right <= box.Left || box.Bottom <= box.Top {
			return nil, fmt.Errorf("%s: bndbox (%v, %v, %v, %v) is empty", where, c[0], c[1], c[2], c[3])
		}
		a.Regions = append(a.Regions, pipeline.Region{
			Pixels:   true,
			Concepts: []pipeline.Concept{pipeline.Positive(label)},
			Box:      box,
		})
	}
	a.Concepts = concepts(a.Regions)
	return a, nil
}

// vocInt parses a size field: empty is 0 (unknown); "500" and "500.0" are
// 500.
func vocInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > math.MaxInt32 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%q is not a pixel count", s)
	}
	return int(f), nil
}
