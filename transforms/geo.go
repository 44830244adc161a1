package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// GeoConfig configures the geo transform (job-file key "geo"), which checks
// an item's geo point and can lift one out of its metadata. The zero value
// is valid: check Item.Geo only.
//
// An input carries at most one point (Item.Geo). It must have a latitude in
// [-90, 90] and a longitude in [-180, 180], both finite; otherwise the item
// fails with an error naming lat and lon and their values.
type GeoConfig struct {
	// FromMetadata, if set, names metadata fields to take the point from
	// when the item has no Geo yet. An item that already has a Geo (from
	// its source's geo column, say) keeps it and its metadata is left
	// alone. Default: unset.
	FromMetadata *GeoFields `yaml:"from_metadata"`
}

// GeoFields names the metadata fields holding a point.
type GeoFields struct {
	// Lat and Lon are dotted paths ("gps.lat") to the latitude and
	// longitude in degrees, as numbers or numeric strings. Both required.
	// When both fields are absent, null or empty strings, the item gets no
	// point; when only one is, the item fails.
	Lat string `yaml:"lat"`
	Lon string `yaml:"lon"`
	// Remove deletes the two fields from the metadata once the point has
	// been lifted out of them (and any object they leave empty). Default
	// false: they stay, and are sent as metadata too.
	Remove bool `yaml:"remove"`
}

// Validate reports the first bad setting, naming its key.
func (c GeoConfig) Validate() error {
	_, err := c.compile()
	return err
}

func (c GeoConfig) compile() (*geoTransform, error) {
	t := &geoTransform{}
	if c.FromMetadata != nil {
		lat, err := parseMetaPath(c.FromMetadata.Lat)
		if err != nil {
			return nil, fmt.Errorf("from_metadata.lat: %w", err)
		}
		lon, err := parseMetaPath(c.FromMetadata.Lon)
		if err != nil {
			return nil, fmt.Errorf("from_metadata.lon: %w", err)
		}
		t.lat, t.lon, t.lift, t.remove = lat, lon, true, c.FromMetadata.Remove
	}
	return t, nil
}

// NewGeo returns the geo transform (see GeoConfig), named "geo". It returns
// cfg.Validate's error for a bad config. The transform is safe for
// concurrent use and does no I/O. It fails the item with a
// *pipeline.ItemError whose Field is "geo" or "metadata.<path>".
//
// No Option changes it today; opts is accepted so that Build can pass the
// same options to every constructor.
func NewGeo(cfg GeoConfig, opts ...Option) (pipeline.Transform, error) {
	t, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return t, nil
}

type geoTransform struct {
	lift, remove bool
	lat, lon     metaPath
}

var _ pipeline.Transform = (*geoTransform)(nil)

func (t *geoTransform) Name() string { return "geo" }

func (t *geoTransform) Apply(_ context.Context, it *pipeline.Item) error {
	if it.Geo == nil && t.lift {
		if err := t.fromMetadata(it); err != nil {
			return err
		}
	}
	if it.Geo == nil {
		return nil
	}
	lat, lon := it.Geo.Latitude, it.Geo.Longitude
	if !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		// The negated comparisons are false for NaN, so NaN lands here too;
		// ±Inf is out of range.
		return pipeline.Errorf(it.Prov, "geo", "lat %v lon %v: want lat in [-90, 90] and lon in [-180, 180]", lat, lon)
	}
	return nil
}

func (t *geoTransform) fromMetadata(it *pipeline.Item) error {
	latV, latOK := present(t.lat.get(it.Metadata))
	lonV, lonOK := present(t.lon.get(it.Metadata))
	switch {
	case !latOK && !lonOK:
		return nil
	case !latOK:
		return pipeline.Errorf(it.Prov, "metadata."+t.lat.raw, "missing, but %s is set (%v)", t.lon, lonV)
	case !lonOK:
		return pipeline.Errorf(it.Prov, "metadata."+t.lon.raw, "missing, but %s is set (%v)", t.lat, latV)
	}
	lat, err := toFloat(latV)
	if err != nil {
		return pipeline.Errorf(it.Prov, "metadata."+t.lat.raw, "latitude: %w", err)
	}
	lon, err := toFloat(lonV)
	if err != nil {
		return pipeline.Errorf(it.Prov, "metadata."+t.lon.raw, "longitude: %w", err)
	}
	it.Geo = &pipeline.Geo{Latitude: lat, Longitude: lon}
	if t.remove {
		t.lat.remove(it.Metadata)
		t.lon.remove(it.Metadata)
	}
	return nil
}

// present treats null and blank strings (empty CSV cells) as absent.
func present(v any, ok bool) (any, bool) {
	if !ok || v == nil {
		return nil, false
	}
	if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
		return nil, false
	}
	return v, true
}

// toFloat reads a JSON number, a Go number or a numeric string.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case json.Number:
		return parseNumber(string(x))
	case string:
		return parseNumber(x)
	}
	return 0, fmt.Errorf("want a number, got %T %v", v, v)
}

func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}
