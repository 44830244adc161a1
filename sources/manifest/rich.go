package manifest

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

// richRow fills it from a row of a rich-schema manifest.
func (s *Source) richRow(l *layout, rec []string, it *pipeline.Item) error {
	cell := func(name string) string { return strings.TrimSpace(l.cell(rec, name)) }

	if id := cell("id"); id != "" {
		if err := ids.ValidID(id); err != nil {
			return idError(it.Prov, "id", err)
		}
		it.ID = id
	}

	// Content: a url or a path (not both), and text.
	urlCell, pathCell, text := cell("url"), cell("path"), cell("text")
	if urlCell != "" && pathCell != "" {
		return pipeline.Errorf(it.Prov, "url", "want a url or a path, not both, got url %s and path %s", quote(urlCell), quote(pathCell))
	}
	hasMedia := urlCell != "" || pathCell != ""
	mediaName := "" // the file name whose extension may tell the kind
	if urlCell != "" {
		it.Prov.Path = urlCell
		u, err := ParseURL(urlCell)
		if err != nil {
			return pipeline.Errorf(it.Prov, "url", "%v", err)
		}
		mediaName = path.Base(u.Path)
	} else if pathCell != "" {
		it.Prov.Path = s.resolve(pathCell)
		mediaName = pathCell
	}

	kind, err := s.richKind(it, cell("kind"), mediaName, hasMedia, text != "")
	if err != nil {
		return err
	}
	it.Kind = kind
	switch kind {
	case pipeline.KindImage, pipeline.KindVideo, pipeline.KindAudio:
		if !hasMedia {
			return pipeline.Errorf(it.Prov, "url", "want a url or a path for kind %v, got neither", kind)
		}
		if text != "" {
			return pipeline.Errorf(it.Prov, "text", "want no text for kind %v (kind multimodal sends an image with a text), got %s", kind, quote(text))
		}
	case pipeline.KindText:
		if hasMedia && text != "" {
			return pipeline.Errorf(it.Prov, "text", "want either a text or a url/path of a text file for a text input, got both")
		}
		if !hasMedia && text == "" {
			return pipeline.Errorf(it.Prov, "text", "want a text, or a url or path of a text file, got empty cells")
		}
	case pipeline.KindMultimodal:
		if !hasMedia {
			return pipeline.Errorf(it.Prov, "url", "want a url or a path of the image of a multimodal input, got neither")
		}
		if text == "" {
			return pipeline.Errorf(it.Prov, "text", "want the text of a multimodal input, got an empty cell")
		}
	}

	var base string
	switch {
	case urlCell != "":
		it.URL = urlCell
		base = ids.URLKey(kind, urlCell)
	case pathCell != "":
		if base, err = s.localFile(it, "path", pathCell); err != nil {
			return err
		}
	}
	if text != "" {
		it.Text = text
		if base == "" {
			base = ids.TextKey(text)
		} else {
			// A multimodal input is its image and its text: the same
			// image with another text is another input.
			base += "|" + ids.TextKey(text)
		}
	}

	if it.Concepts, err = ParseLabels(cell("concepts")); err != nil {
		return pipeline.Errorf(it.Prov, "concepts", "%v", err)
	}
	if it.Metadata, err = ParseMetadata(cell("metadata")); err != nil {
		return pipeline.Errorf(it.Prov, "metadata", "%v", err)
	}
	if err := richGeo(it, cell("lat"), cell("lon")); err != nil {
		return err
	}

	var datasets []string
	if v := cell("dataset_ids"); v != "" {
		for _, id := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if err := ids.ValidID(id); err != nil {
				return pipeline.Errorf(it.Prov, "dataset_ids", "want dataset IDs separated by ',' or ';', got %s: %v", quote(v), err)
			}
			datasets = append(datasets, id)
		}
	}
	if v := cell("split"); v != "" {
		split := strings.ToLower(v)
		if !slices.Contains(splits, split) {
			return pipeline.Errorf(it.Prov, "split", "want train, validate or test, got %s", quote(v))
		}
		if err := setMeta(it, "split", split, "split"); err != nil {
			return err
		}
		if ds := s.cfg.SplitDatasets[split]; ds != "" {
			datasets = append(datasets, ds)
		}
	}

	if v := cell("annotations"); v != "" {
		regions, err := parseAnnotations(v)
		if err != nil {
			return pipeline.Errorf(it.Prov, "annotations", "%v", err)
		}
		if len(regions) > 0 && kind != pipeline.KindImage {
			return pipeline.Errorf(it.Prov, "annotations", "want annotations only on image inputs, got them on kind %v", kind)
		}
		it.Regions = regions
	}

	s.finish(it, base, datasets)
	return nil
}

// richKind decides the kind of a rich row: the kind cell, else
// Config.DefaultKind, else inferred from the content.
func (s *Source) richKind(it *pipeline.Item, kindCell, mediaName string, hasMedia, hasText bool) (pipeline.Kind, error) {
	if kindCell != "" {
		k, err := pipeline.ParseKind(kindCell)
		if err != nil {
			return 0, pipeline.Errorf(it.Prov, "kind", "want image, video, audio, text or multimodal, got %s", quote(kindCell))
		}
		return k, nil
	}
	if s.cfg.DefaultKind != pipeline.KindUnknown {
		return s.cfg.DefaultKind, nil
	}
	if !hasMedia {
		if hasText {
			return pipeline.KindText, nil
		}
		return 0, pipeline.Errorf(it.Prov, "url", "want a url, a path or a text, got empty cells")
	}
	k := media.KindFromExt(mediaName)
	if k == pipeline.KindUnknown {
		return 0, pipeline.Errorf(it.Prov, "kind", "want a kind (image, video, audio, text, multimodal), got an empty cell and %s, whose extension names no kind", quote(mediaName))
	}
	if k == pipeline.KindImage && hasText {
		return pipeline.KindMultimodal, nil
	}
	return k, nil
}

// richGeo parses the lat and lon cells into it.Geo. Both or neither must be
// given. The range is checked here, where the column is known.
func richGeo(it *pipeline.Item, latS, lonS string) error {
	if latS == "" && lonS == "" {
		return nil
	}
	lat, ok := parseCoord(latS, 90)
	if !ok {
		if latS == "" {
			return pipeline.Errorf(it.Prov, "lat", "want a number in [-90, 90] when lon is set, got an empty cell")
		}
		return pipeline.Errorf(it.Prov, "lat", "want a number in [-90, 90], got %s", quote(latS))
	}
	lon, ok := parseCoord(lonS, 180)
	if !ok {
		if lonS == "" {
			return pipeline.Errorf(it.Prov, "lon", "want a number in [-180, 180] when lat is set, got an empty cell")
		}
		return pipeline.Errorf(it.Prov, "lon", "want a number in [-180, 180], got %s", quote(lonS))
	}
	it.Geo = &pipeline.Geo{Latitude: lat, Longitude: lon}
	return nil
}

// parseAnnotations parses the annotations cell: a JSON list of objects,
// each {"label": "cat", "box": [xmin, ymin, xmax, ymax]} or
// {"label": "cat", "polygon": [[x, y], ...]} (three points or more). It
// checks the shape only; whether the coordinates are in [0, 1] and the box
// is not inverted is left to a transform.
func parseAnnotations(s string) ([]pipeline.Region, error) {
	const want = `want a JSON list of {"label": …, "box": [xmin, ymin, xmax, ymax]} or {"label": …, "polygon": [[x, y], …]}`
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		if _, isType := err.(*json.UnmarshalTypeError); isType {
			return nil, fmt.Errorf("%s, got %s, which is not a list", want, quote(s))
		}
		return nil, fmt.Errorf("%s, got %s: %v", want, quote(s), err)
	}
	regions := make([]pipeline.Region, 0, len(list))
	for i, raw := range list {
		var a map[string]json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil || a == nil {
			return nil, fmt.Errorf(`annotation %d: want an object such as {"label": "cat", "box": [0.1, 0.2, 0.5, 0.6]}, got %s`, i+1, quote(string(raw)))
		}
		r, err := parseAnnotation(a)
		if err != nil {
			return nil, fmt.Errorf("annotation %d: %v", i+1, err)
		}
		regions = append(regions, r)
	}
	if len(regions) == 0 {
		return nil, nil
	}
	return regions, nil
}

// parseAnnotation parses one annotation object.
func parseAnnotation(a map[string]json.RawMessage) (pipeline.Region, error) {
	var r pipeline.Region
	for k := range a {
		if k != "label" && k != "box" && k != "polygon" {
			return r, fmt.Errorf(`want only the keys label, box and polygon, got %q`, k)
		}
	}
	var label string
	if err := json.Unmarshal(a["label"], &label); err != nil || strings.TrimSpace(label) == "" {
		return r, fmt.Errorf(`want "label": a non-empty string, got %s`, rawOrMissing(a["label"]))
	}
	r.Concepts = []pipeline.Concept{pipeline.Positive(strings.TrimSpace(label))}
	box, poly := present(a["box"]), present(a["polygon"])
	switch {
	case box && poly:
		return r, fmt.Errorf("want a box or a polygon, got both")
	case box:
		var v []float64
		if err := json.Unmarshal(a["box"], &v); err != nil || len(v) != 4 {
			return r, fmt.Errorf(`want "box": [xmin, ymin, xmax, ymax] (4 numbers), got %s`, rawOrMissing(a["box"]))
		}
		r.Box = &pipeline.BoundingBox{Top: v[1], Left: v[0], Bottom: v[3], Right: v[2]}
	case poly:
		var v [][]float64
		err := json.Unmarshal(a["polygon"], &v)
		ok := err == nil && len(v) >= 3
		for _, p := range v {
			ok = ok && len(p) == 2
		}
		if !ok {
			return r, fmt.Errorf(`want "polygon": [[x, y], …] (3 points or more), got %s`, rawOrMissing(a["polygon"]))
		}
		r.Polygon = make([]pipeline.Point, len(v))
		for i, p := range v {
			r.Polygon[i] = pipeline.Point{Row: p[1], Col: p[0]}
		}
	default:
		return r, fmt.Errorf(`want a "box" or a "polygon", got neither`)
	}
	return r, nil
}

// present reports whether a key holds a value other than null.
func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// rawOrMissing quotes raw for a message.
func rawOrMissing(raw json.RawMessage) string {
	if raw == nil {
		return "nothing"
	}
	return quote(string(raw))
}
