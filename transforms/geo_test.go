package transforms_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

func mustGeo(t testing.TB, cfg transforms.GeoConfig) pipeline.Transform {
	t.Helper()
	tr, err := transforms.NewGeo(cfg)
	if err != nil {
		t.Fatalf("NewGeo: %v", err)
	}
	return tr
}

func TestGeoBounds(t *testing.T) {
	tr := mustGeo(t, transforms.GeoConfig{})
	for _, tc := range []struct {
		lat, lon float64
		wantErr  string
	}{
		{lat: 0, lon: 0},
		{lat: 90, lon: 180},
		{lat: -90, lon: -180},
		{lat: 48.8584, lon: 2.2945},
		{lat: 90.0001, lon: 0, wantErr: "lat 90.0001 lon 0"},
		{lat: -91, lon: 10, wantErr: "lat -91 lon 10"},
		{lat: 10, lon: 180.5, wantErr: "lat 10 lon 180.5"},
		{lat: 10, lon: -200, wantErr: "lon -200"},
		{lat: math.NaN(), lon: 0, wantErr: "lat NaN"},
		{lat: 0, lon: math.NaN(), wantErr: "lon NaN"},
		{lat: math.Inf(1), lon: 0, wantErr: "lat +Inf"},
		{lat: 0, lon: math.Inf(-1), wantErr: "lon -Inf"},
	} {
		it := &pipeline.Item{Geo: &pipeline.Geo{Latitude: tc.lat, Longitude: tc.lon}, Prov: pipeline.Provenance{Source: "m.csv", Row: 7}}
		err := tr.Apply(context.Background(), it)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%v,%v: %v", tc.lat, tc.lon, err)
			}
			continue
		}
		var ie *pipeline.ItemError
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ie) || ie.Field != "geo" {
			t.Errorf("%v,%v: err = %v, want an ItemError on geo containing %q", tc.lat, tc.lon, err, tc.wantErr)
		}
	}
	if err := tr.Apply(context.Background(), &pipeline.Item{}); err != nil {
		t.Errorf("no geo: %v", err)
	}
}

func TestGeoFromMetadata(t *testing.T) {
	nested := &transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon"}
	for _, tc := range []struct {
		name     string
		fields   transforms.GeoFields
		geo      *pipeline.Geo
		md       map[string]any
		wantGeo  *pipeline.Geo
		wantMeta map[string]any
		wantErr  string
	}{
		{
			name: "numbers in a nested object", fields: *nested,
			md:      map[string]any{"gps": map[string]any{"lat": 35.68, "lon": 139.69}},
			wantGeo: &pipeline.Geo{Latitude: 35.68, Longitude: 139.69}, wantMeta: map[string]any{"gps": map[string]any{"lat": 35.68, "lon": 139.69}},
		},
		{
			name: "numeric strings and json.Number", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:      map[string]any{"lat": " -33.86 ", "lon": json.Number("151.2")},
			wantGeo: &pipeline.Geo{Latitude: -33.86, Longitude: 151.2}, wantMeta: map[string]any{"lat": " -33.86 ", "lon": json.Number("151.2")},
		},
		{
			name: "ints", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:      map[string]any{"lat": 1, "lon": int64(2)},
			wantGeo: &pipeline.Geo{Latitude: 1, Longitude: 2}, wantMeta: map[string]any{"lat": 1, "lon": int64(2)},
		},
		{
			name: "remove prunes the emptied object", fields: transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon", Remove: true},
			md:      map[string]any{"gps": map[string]any{"lat": 1.0, "lon": 2.0}, "caption": "c"},
			wantGeo: &pipeline.Geo{Latitude: 1, Longitude: 2}, wantMeta: map[string]any{"caption": "c"},
		},
		{
			name: "remove keeps siblings", fields: transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon", Remove: true},
			md:      map[string]any{"gps": map[string]any{"lat": 1.0, "lon": 2.0, "alt": 30.0}},
			wantGeo: &pipeline.Geo{Latitude: 1, Longitude: 2}, wantMeta: map[string]any{"gps": map[string]any{"alt": 30.0}},
		},
		{
			name: "existing Geo wins and metadata is untouched", fields: transforms.GeoFields{Lat: "lat", Lon: "lon", Remove: true},
			geo:     &pipeline.Geo{Latitude: 5, Longitude: 6},
			md:      map[string]any{"lat": 1.0, "lon": 2.0},
			wantGeo: &pipeline.Geo{Latitude: 5, Longitude: 6}, wantMeta: map[string]any{"lat": 1.0, "lon": 2.0},
		},
		{
			name: "both absent: no point", fields: *nested,
			md:       map[string]any{"caption": "c"},
			wantMeta: map[string]any{"caption": "c"},
		},
		{
			name: "null and blank count as absent", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:       map[string]any{"lat": nil, "lon": "  "},
			wantMeta: map[string]any{"lat": nil, "lon": "  "},
		},
		{name: "nil metadata", fields: *nested},
		{
			name: "lat without lon", fields: *nested,
			md:      map[string]any{"gps": map[string]any{"lat": 1.0}},
			wantErr: "metadata.gps.lon: missing, but gps.lat is set (1)",
		},
		{
			name: "lon without lat", fields: *nested,
			md:      map[string]any{"gps": map[string]any{"lon": 1.0, "lat": ""}},
			wantErr: "metadata.gps.lat: missing",
		},
		{
			name: "not a number", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:      map[string]any{"lat": "north", "lon": 2.0},
			wantErr: `metadata.lat: latitude: want a number, got "north"`,
		},
		{
			name: "NaN string", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:      map[string]any{"lat": 1.0, "lon": "NaN"},
			wantErr: `metadata.lon: longitude: want a number, got "NaN"`,
		},
		{
			name: "wrong type", fields: transforms.GeoFields{Lat: "lat", Lon: "lon"},
			md:      map[string]any{"lat": true, "lon": []any{1.0}},
			wantErr: "metadata.lat: latitude: want a number, got bool true",
		},
		{
			name: "lifted point out of range", fields: transforms.GeoFields{Lat: "lat", Lon: "lon", Remove: true},
			md:      map[string]any{"lat": "95", "lon": "10"},
			wantErr: "geo: lat 95 lon 10",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustGeo(t, transforms.GeoConfig{FromMetadata: &tc.fields})
			it := &pipeline.Item{Geo: tc.geo, Metadata: tc.md}
			err := tr.Apply(context.Background(), it)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantGeo, it.Geo); d != "" {
				t.Errorf("geo (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantMeta, it.Metadata); d != "" {
				t.Errorf("metadata (-want +got):\n%s", d)
			}
		})
	}
}

func TestGeoConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg     transforms.GeoConfig
		wantErr string
	}{
		{cfg: transforms.GeoConfig{}},
		{cfg: transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lat: "a", Lon: "b"}}},
		{cfg: transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lon: "b"}}, wantErr: "from_metadata.lat: empty path"},
		{cfg: transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lat: "a", Lon: "b."}}, wantErr: "from_metadata.lon:"},
	} {
		err := tc.cfg.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.wantErr)
		}
		if tr, err := transforms.NewGeo(tc.cfg); err == nil || tr != nil {
			t.Errorf("NewGeo = %v, %v", tr, err)
		}
	}
}
