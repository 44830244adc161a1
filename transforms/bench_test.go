package transforms_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

func BenchmarkUnicode(b *testing.B) {
	ctx := context.Background()
	mixed := strings.Repeat("naïve café 東京\u200b 👨\u200d👩\u200d👧 שלום \ufeff", 20)
	plain := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20)
	for _, bc := range []struct {
		name string
		mode string
		text string
	}{
		{"clean/mixed", "clean", mixed},
		{"clean/already-clean", "clean", plain},
		{"ascii/mixed", "ascii", mixed},
		{"ascii/already-ascii", "ascii", plain},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := mustUnicode(b, transforms.UnicodeConfig{Mode: bc.mode, MetadataFields: []string{"caption"}})
			it := &pipeline.Item{Kind: pipeline.KindText, Metadata: map[string]any{}}
			b.SetBytes(int64(2 * len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				it.Text = bc.text
				it.Metadata["caption"] = bc.text
				if err := tr.Apply(ctx, it); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMetadata(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	img := filepath.Join(root, "train", "cats", "001.png")
	copyFile(b, filepath.Join("testdata", "img.png"), img)
	blob := fileBlob(b, img)
	for _, bc := range []struct {
		name string
		cfg  transforms.MetadataConfig
	}{
		{"cheap-fields", transforms.MetadataConfig{Fields: []string{"filename", "rel_path", "source", "size", "mime", "split"},
			PathRegex: `(?P<class>[^/]+)/(?P<shot>\d+)\.png$`, Static: map[string]any{"project": "demo"}}},
		{"sha256", transforms.MetadataConfig{Fields: []string{"sha256"}}},
		{"width-height", transforms.MetadataConfig{Fields: []string{"width", "height"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := mustMetadata(b, bc.cfg)
			it := &pipeline.Item{Kind: pipeline.KindImage, MIME: "image/png", Blob: blob, Prov: pipeline.Provenance{Source: root, Path: img}}
			b.ReportAllocs()
			for b.Loop() {
				it.Metadata = nil
				if err := tr.Apply(ctx, it); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAnnotations(b *testing.B) {
	ctx := context.Background()
	poly := []pipeline.Point{{Row: 0, Col: 0}, {Row: 0, Col: 32}, {Row: 24, Col: 32}, {Row: 12, Col: 8}}
	for _, bc := range []struct {
		name    string
		item    *pipeline.Item
		regions []pipeline.Region
	}{
		{
			name:    "normalized/10-regions",
			item:    &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg"},
			regions: repeatRegions(pipeline.Region{Concepts: cat, Box: box(0.1, 0.2, 0.3, 0.4)}, 10),
		},
		{
			name:    "pixels/10-regions",
			item:    &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(b, filepath.Join("testdata", "img.png"))},
			regions: repeatRegions(pipeline.Region{Pixels: true, Concepts: cat, Box: box(6, 8, 18, 24), Polygon: poly}, 10),
		},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := mustAnnotations(b, transforms.AnnotationsConfig{})
			b.ReportAllocs()
			for b.Loop() {
				// The transform never modifies the source's regions in
				// place, so the same slice can be handed in every time.
				bc.item.Regions = bc.regions
				if err := tr.Apply(ctx, bc.item); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func repeatRegions(r pipeline.Region, n int) []pipeline.Region {
	out := make([]pipeline.Region, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func BenchmarkGeo(b *testing.B) {
	ctx := context.Background()
	b.Run("check", func(b *testing.B) {
		tr := mustGeo(b, transforms.GeoConfig{})
		it := &pipeline.Item{Geo: &pipeline.Geo{Latitude: 35.68, Longitude: 139.69}}
		b.ReportAllocs()
		for b.Loop() {
			if err := tr.Apply(ctx, it); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("from-metadata", func(b *testing.B) {
		tr := mustGeo(b, transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon"}})
		it := &pipeline.Item{Metadata: map[string]any{"gps": map[string]any{"lat": "35.68", "lon": 139.69}}}
		b.ReportAllocs()
		for b.Loop() {
			it.Geo = nil
			if err := tr.Apply(ctx, it); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCustom(b *testing.B) {
	reg := transforms.NewRegistry()
	if err := reg.Register("noop", func(context.Context, *pipeline.Item) error { return nil }); err != nil {
		b.Fatal(err)
	}
	ts, err := transforms.Build([]transforms.Spec{{Custom: "noop"}}, reg)
	if err != nil {
		b.Fatal(err)
	}
	it := &pipeline.Item{}
	b.ReportAllocs()
	for b.Loop() {
		if err := ts[0].Apply(context.Background(), it); err != nil {
			b.Fatal(err)
		}
	}
}
