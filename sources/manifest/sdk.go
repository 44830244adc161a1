package manifest

import (
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// sdkRow fills it from a row of an SDK-format manifest.
func (s *Source) sdkRow(l *layout, rec []string, it *pipeline.Item) error {
	cell := func(name string) string { return strings.TrimSpace(l.cell(rec, name)) }
	it.Kind = s.cfg.InputType

	if id := cell("inputid"); id != "" {
		if err := ids.ValidID(id); err != nil {
			return idError(it.Prov, "inputid", err)
		}
		it.ID = id
	}

	var base string
	switch s.cfg.CSVType {
	case CSVRaw:
		// Kept as written, spaces included, as the SDK sends it.
		text := l.cell(rec, "input")
		if strings.TrimSpace(text) == "" {
			return pipeline.Errorf(it.Prov, "input", "want the text of the input, got an empty cell")
		}
		it.Text = text
		base = ids.TextKey(text)
	case CSVURL:
		raw := cell("input")
		it.Prov.Path = raw
		if _, err := ParseURL(raw); err != nil {
			return pipeline.Errorf(it.Prov, "input", "%v", err)
		}
		it.URL = raw
		base = ids.URLKey(it.Kind, raw)
	case CSVFilePath:
		p := cell("input")
		if p == "" {
			return pipeline.Errorf(it.Prov, "input", "want the path of a file, got an empty cell")
		}
		var err error
		if base, err = s.localFile(it, "input", p); err != nil {
			return err
		}
	}

	// Each row's labels come from its own cell only: an empty cell gives
	// no labels and has no effect on later rows.
	concepts, err := parseSDKLabels(cell("concepts"))
	if err != nil {
		return pipeline.Errorf(it.Prov, "concepts", "%v", err)
	}
	it.Concepts = concepts

	if it.Metadata, err = ParseMetadata(cell("metadata")); err != nil {
		return pipeline.Errorf(it.Prov, "metadata", "%v", err)
	}

	if gp := cell("geopoints"); gp != "" {
		geo, ok := parseGeopoints(gp)
		if !ok {
			return pipeline.Errorf(it.Prov, "geopoints", `want "longitude,latitude" with longitude in [-180, 180] and latitude in [-90, 90], got %s`, quote(gp))
		}
		it.Geo = geo
	}

	s.finish(it, base, nil)
	return nil
}

// parseGeopoints parses the SDK's "longitude,latitude" (longitude first).
func parseGeopoints(s string) (*pipeline.Geo, bool) {
	lonS, latS, ok := strings.Cut(s, ",")
	if !ok {
		return nil, false
	}
	lon, okLon := parseCoord(strings.TrimSpace(lonS), 180)
	lat, okLat := parseCoord(strings.TrimSpace(latS), 90)
	if !okLon || !okLat {
		return nil, false
	}
	return &pipeline.Geo{Latitude: lat, Longitude: lon}, true
}

// idError reports a bad input ID in column.
func idError(prov pipeline.Provenance, column string, err error) error {
	return pipeline.Errorf(prov, column, "%v (or leave the cell empty for an ID derived from the content)", err)
}
