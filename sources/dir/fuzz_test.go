package dir_test

import (
	"math"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

func FuzzSidecar(f *testing.F) {
	for _, s := range []string{
		`{"id": "a", "concepts": ["cat", "-dog", "x:0", {"id": "y", "value": 0}], "metadata": {"a": [1, {"b": null}]}}`,
		`{"geo": {"lat": 90, "lon": -180}, "dataset_ids": ["d"]}`,
		`{"regions": [{"label": "c", "box": [0, 0, 1, 1]}, {"label": "c", "polygon": [[0, 0], [1, 0], [1, 1]], "pixels": true}]}`,
		`{"concepts": [":", "-", "a:1e400", {"id": null}, {"value": 2}, 7]}`,
		"{\n\"concepts\": [\"a\",]}", `{"unknown": 1}`, `null`, `{} x`, "\xef\xbb\xbf{}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		sc, err := dir.ParseSidecar("s.json", []byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "s.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if sc.ID != "" && ids.ValidID(sc.ID) != nil {
			t.Fatalf("invalid id %q accepted", sc.ID)
		}
		for _, c := range sc.Concepts {
			if c.ID == "" || c.Value < 0 || c.Value > 1 || math.IsNaN(float64(c.Value)) {
				t.Fatalf("bad concept %+v", c)
			}
		}
		if g := sc.Geo; g != nil && (g.Lat == nil || g.Lon == nil || math.Abs(*g.Lat) > 90 || math.Abs(*g.Lon) > 180) {
			t.Fatalf("bad geo %+v", g)
		}
		for _, r := range sc.Regions {
			if (r.Box == nil) == (r.Polygon == nil) || strings.TrimSpace(r.Label) == "" {
				t.Fatalf("bad region %+v", r)
			}
		}
	})
}
