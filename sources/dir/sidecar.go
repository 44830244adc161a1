package dir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// Sidecar is a JSON file beside a media file that labels it.
//
// # Names and precedence
//
// The sidecar of cat.jpg is cat.jpg.json if it exists, else cat.json (the
// ".json" in any case). cat.json is shared by every file with the stem
// "cat" that has no full-name sidecar (cat.jpg and cat.png); such a shared
// sidecar must not set "id", which would give two inputs one ID. A .json
// file that is the sidecar of no file in its folder is an ordinary file
// (the detector skips it as unsupported); one that is, is never an item.
// Files ending in .json have no sidecar. Sidecars are found by name
// whatever Include and Exclude say. Config.Sidecars (false) turns all this
// off.
//
// # Schema
//
// The file is one JSON object; every field is optional and any other field
// is an error:
//
//	{
//	  "id": "cat-001",
//	  "concepts": ["cat", "-dog", "bird:0", "fish:1", {"id": "x", "name": "X", "value": 0}],
//	  "metadata": {"photographer": "ann", "tags": ["a", "b"]},
//	  "geo": {"lat": 48.8584, "lon": 2.2945},
//	  "regions": [
//	    {"label": "cat", "box": [0.1, 0.2, 0.5, 0.9]},
//	    {"label": "cat", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.4]]},
//	    {"id": "r1", "label": "dog", "box": [12, 30, 200, 180], "pixels": true}
//	  ],
//	  "dataset_ids": ["pets"]
//	}
//
//	  - id: the input ID, 1 to 48 characters of [A-Za-z0-9_-]. Default: a
//	    deterministic ID derived from the content.
//	  - concepts: input-level labels. A string "cat" is positive, "-cat"
//	    negative, "cat:1" / "cat:0" give the value (a number in [0, 1]); an
//	    object gives "id" (required), "name" (default the id) and "value"
//	    (default 1). Concept IDs must not be empty.
//	  - metadata: any JSON object; it is merged over the metadata the source
//	    sets ("split"), key by key.
//	  - geo: "lat" in [-90, 90] and "lon" in [-180, 180], both required.
//	  - regions: "label" (required) and exactly one of "box" [xmin, ymin,
//	    xmax, ymax] with xmin < xmax and ymin < ymax, or "polygon" of at least
//	    three [x, y] points. Coordinates are fractions of the image width (x)
//	    and height (y) in [0, 1], or pixels (>= 0) when "pixels" is true, in
//	    which case the annotations transform normalizes them. "id" is an
//	    optional region ID.
//	  - dataset_ids: datasets to add the input to, besides Config.DatasetIDs.
//
// A sidecar that is not valid JSON, has an unknown field or breaks these
// rules fails its media file's item with an error naming the sidecar and
// the line and column (syntax and type errors) or the field.
type Sidecar struct {
	ID         string           `json:"id"`
	Concepts   []SidecarConcept `json:"concepts"`
	Metadata   map[string]any   `json:"metadata"`
	Geo        *SidecarGeo      `json:"geo"`
	Regions    []SidecarRegion  `json:"regions"`
	DatasetIDs []string         `json:"dataset_ids"`
}

// SidecarConcept is one entry of Sidecar.Concepts: a string ("cat", "-cat",
// "cat:0") or an object {"id", "name", "value"}.
type SidecarConcept struct {
	pipeline.Concept
	// err is a syntax problem of the string form, reported by
	// ParseSidecar with the entry's index.
	err error
}

// UnmarshalJSON reads the string or object form. The object form rejects
// unknown fields.
func (c *SidecarConcept) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Concept, c.err = parseConcept(s)
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("concept %s: want a string (\"cat\", \"-cat\", \"cat:0\") or an object {\"id\": ..., \"value\": ...}", b)
	}
	var o struct {
		ID    *string  `json:"id"`
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("concept %s: %w", b, err)
	}
	if o.ID == nil || strings.TrimSpace(*o.ID) == "" {
		c.err = fmt.Errorf("concept %s: \"id\" is required", b)
		return nil
	}
	id := strings.TrimSpace(*o.ID)
	c.Concept = pipeline.Positive(id)
	if o.Name != "" {
		c.Name = o.Name
	}
	if o.Value != nil {
		if *o.Value < 0 || *o.Value > 1 {
			c.err = fmt.Errorf("concept %q: value %v is outside [0, 1]", id, *o.Value)
			return nil
		}
		c.Value = float32(*o.Value)
	}
	return nil
}

// parseConcept parses "cat", "-cat", "cat:1" or "cat:0".
func parseConcept(s string) (pipeline.Concept, error) {
	raw := s
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = strings.TrimSpace(s[1:])
	}
	value := 1.0
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if neg {
			return pipeline.Concept{}, fmt.Errorf("concept %q: use \"-id\" or \"id:0\", not both", raw)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s[i+1:]), 64)
		if err != nil || v < 0 || v > 1 {
			return pipeline.Concept{}, fmt.Errorf("concept %q: the value after ':' must be a number in [0, 1]", raw)
		}
		s, value = strings.TrimSpace(s[:i]), v
	}
	if s == "" {
		return pipeline.Concept{}, fmt.Errorf("concept %q: empty concept ID", raw)
	}
	c := pipeline.Positive(s)
	if neg {
		c.Value = 0
	} else {
		c.Value = float32(value)
	}
	return c, nil
}

// SidecarGeo is Sidecar.Geo.
type SidecarGeo struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

// SidecarRegion is one entry of Sidecar.Regions.
type SidecarRegion struct {
	ID      string      `json:"id"`
	Label   string      `json:"label"`
	Box     []float64   `json:"box"`
	Polygon [][]float64 `json:"polygon"`
	Pixels  bool        `json:"pixels"`
}

// ParseSidecar decodes and validates the sidecar file name holding data.
// Errors name the file, and the line and column for JSON syntax and type
// errors, or the field ("concepts[2]", "regions[0].box").
func ParseSidecar(name string, data []byte) (*Sidecar, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fail("want a JSON object")
	}
	var sc Sidecar
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, jsonError(name, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("%s line %d column %d: data after the JSON object", name, line, col)
	}
	if sc.ID != "" {
		if err := ids.ValidID(sc.ID); err != nil {
			return nil, fail("id: %v", err)
		}
	}
	for i, c := range sc.Concepts {
		if c.err != nil {
			return nil, fail("concepts[%d]: %v", i, c.err)
		}
	}
	if g := sc.Geo; g != nil {
		switch {
		case g.Lat == nil || g.Lon == nil:
			return nil, fail("geo: want both \"lat\" and \"lon\"")
		case *g.Lat < -90 || *g.Lat > 90:
			return nil, fail("geo.lat: %v is outside [-90, 90]", *g.Lat)
		case *g.Lon < -180 || *g.Lon > 180:
			return nil, fail("geo.lon: %v is outside [-180, 180]", *g.Lon)
		}
	}
	for i, r := range sc.Regions {
		if err := r.validate(); err != nil {
			return nil, fail("regions[%d]%v", i, err)
		}
	}
	for i, id := range sc.DatasetIDs {
		if err := ids.ValidID(id); err != nil {
			return nil, fail("dataset_ids[%d]: %v", i, err)
		}
	}
	return &sc, nil
}

// validate checks a region; its error starts with ": " or "." and the
// field, to follow "regions[i]".
func (r SidecarRegion) validate() error {
	if strings.TrimSpace(r.Label) == "" {
		return errors.New(".label: required")
	}
	if (r.Box == nil) == (r.Polygon == nil) {
		return errors.New(": want exactly one of \"box\" and \"polygon\"")
	}
	in := func(v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return false
		}
		return r.Pixels || v <= 1
	}
	rng := "[0, 1]"
	if r.Pixels {
		rng = "pixels >= 0"
	}
	if r.Box != nil {
		if len(r.Box) != 4 {
			return fmt.Errorf(".box: %d numbers; want [xmin, ymin, xmax, ymax]", len(r.Box))
		}
		for _, v := range r.Box {
			if !in(v) {
				return fmt.Errorf(".box: %v is out of range (%s)", v, rng)
			}
		}
		if r.Box[0] >= r.Box[2] || r.Box[1] >= r.Box[3] {
			return fmt.Errorf(".box: %v: want xmin < xmax and ymin < ymax", r.Box)
		}
		return nil
	}
	if len(r.Polygon) < 3 {
		return fmt.Errorf(".polygon: %d points; want at least 3", len(r.Polygon))
	}
	for j, pt := range r.Polygon {
		if len(pt) != 2 {
			return fmt.Errorf(".polygon[%d]: want [x, y]", j)
		}
		if !in(pt[0]) || !in(pt[1]) {
			return fmt.Errorf(".polygon[%d]: %v is out of range (%s)", j, pt, rng)
		}
	}
	return nil
}

// region converts a validated region.
func (r SidecarRegion) region() pipeline.Region {
	reg := pipeline.Region{
		ID:       r.ID,
		Pixels:   r.Pixels,
		Concepts: []pipeline.Concept{pipeline.Positive(strings.TrimSpace(r.Label))},
	}
	if r.Box != nil {
		reg.Box = &pipeline.BoundingBox{Left: r.Box[0], Top: r.Box[1], Right: r.Box[2], Bottom: r.Box[3]}
		return reg
	}
	reg.Polygon = make([]pipeline.Point, len(r.Polygon))
	for i, pt := range r.Polygon {
		reg.Polygon[i] = pipeline.Point{Col: pt[0], Row: pt[1]}
	}
	return reg
}

// jsonError words a decoding error of the file name holding data, with
// the line and column when the error has an offset.
func jsonError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	msg := strings.TrimPrefix(err.Error(), "json: ")
	switch {
	// Both offsets count the bytes read up to and including the culprit:
	// point at its last byte.
	case errors.As(err, &se):
		off = se.Offset - 1
	case errors.As(err, &te):
		off = te.Offset - 1
		msg = fmt.Sprintf("%s: want %s, got %s", te.Field, jsonWant(te.Type), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		off, msg = int64(len(data)), "unexpected end of file"
	}
	if off < 0 {
		return fmt.Errorf("%s: %s", name, msg)
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("%s line %d column %d: %s", name, line, col, msg)
}

// lineCol returns the 1-based line and column of byte offset off in data.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// jsonWant names the JSON a Go type wants, for error messages.
func jsonWant(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonWant(t.Elem())
	}
	return t.String()
}
