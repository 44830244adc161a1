package transforms_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// testdataSHA256 holds `sha256sum transforms/testdata/*` as computed when the
// files were copied in.
var testdataSHA256 = map[string]string{
	"img.bmp":  "c06807502582ef22e3e0b521b4e09445d4b1eb4e3a990dfaedeb32a221c9d213",
	"img.gif":  "50d9bdcf2555462d746ab5653df04c61fb42bc70aeac364cb685f310048e36ff",
	"img.jpg":  "7cafc357779b5b97cf855cb0c53daa5bbd9b54902b5ab89f4c13966a0f797173",
	"img.png":  "23e8898798eda38a0068d7848d2bfc4193aa99e0bd96e46ccf795094ac9f2b5a",
	"img.tiff": "d440c3fe97c5d4940ad1ea7daa1781f3e58b4c087eca2b97baee0683f30f3051",
	"img.webp": "ca38484d4a3846adc9438736b42f9ef63acb913209e3e445c2e436d3b82109a2",
	"note.txt": "0f4d92a40ae219c65702cf948302d6af10d5bd1a4cdce2b83848b10277530d9c",
}

// fileBlob returns a Blob for the file at path with its real size.
func fileBlob(t testing.TB, path string) *pipeline.Blob {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.FileBlob(path, fi.Size())
}

// copyFile copies a testdata file to dst, creating its directories.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustMetadata(t testing.TB, cfg transforms.MetadataConfig) pipeline.Transform {
	t.Helper()
	tr, err := transforms.NewMetadata(cfg)
	if err != nil {
		t.Fatalf("NewMetadata: %v", err)
	}
	return tr
}

var allFields = []string{"filename", "rel_path", "source", "size", "sha256", "mime", "width", "height", "split"}

func TestMetadataSHA256MatchesSha256sum(t *testing.T) {
	tr := mustMetadata(t, transforms.MetadataConfig{Fields: []string{"sha256", "size"}})
	for name, want := range testdataSHA256 {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			// Guard the table itself: the constants are sha256sum's output.
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
				t.Fatalf("table entry for %s is stale", name)
			}
			it := &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, path)}
			if err := tr.Apply(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			if got := it.Metadata["sha256"]; got != want {
				t.Errorf("sha256 = %v, want %s", got, want)
			}
			if got := it.Metadata["size"]; got != float64(len(b)) {
				t.Errorf("size = %#v, want float64 %d", got, len(b))
			}
		})
	}
}

func TestMetadataImageSize(t *testing.T) {
	tr := mustMetadata(t, transforms.MetadataConfig{Fields: []string{"width", "height"}})
	for _, tc := range []struct {
		file          string
		kind          pipeline.Kind
		width, height any
		wantErr       string
	}{
		{file: "img.bmp", kind: pipeline.KindImage, width: 32.0, height: 24.0},
		{file: "img.gif", kind: pipeline.KindImage, width: 32.0, height: 24.0},
		{file: "img.jpg", kind: pipeline.KindImage, width: 32.0, height: 24.0},
		{file: "img.png", kind: pipeline.KindImage, width: 32.0, height: 24.0},
		{file: "img.tiff", kind: pipeline.KindImage, width: 32.0, height: 24.0},
		{file: "img.webp", kind: pipeline.KindMultimodal, width: 32.0, height: 24.0},
		{file: "note.txt", kind: pipeline.KindText}, // not an image: no fields
		{file: "note.txt", kind: pipeline.KindImage, wantErr: "read image header"},
	} {
		t.Run(tc.file+"/"+tc.kind.String(), func(t *testing.T) {
			it := &pipeline.Item{Kind: tc.kind, Blob: fileBlob(t, filepath.Join("testdata", tc.file))}
			err := tr.Apply(context.Background(), it)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if len(it.Metadata) != 0 {
					t.Errorf("a failed item got metadata %v", it.Metadata)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w, h := it.Metadata["width"], it.Metadata["height"]; w != tc.width || h != tc.height {
				t.Errorf("width, height = %#v, %#v; want %#v, %#v", w, h, tc.width, tc.height)
			}
		})
	}
}

func TestMetadataEnrich(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "train2017", "cats", "001.jpg")
	copyFile(t, filepath.Join("testdata", "img.jpg"), img)
	imageItem := func(md map[string]any) *pipeline.Item {
		return &pipeline.Item{
			Kind: pipeline.KindImage, MIME: "image/jpeg", Blob: fileBlob(t, img),
			Prov: pipeline.Provenance{Source: root, Path: img}, Metadata: md,
		}
	}
	const regex = `(?P<class>[^/]+)/(?P<shot>\d+)\.jpg$`
	computed := map[string]any{
		"filename": "001.jpg", "rel_path": "train2017/cats/001.jpg", "source": root, "size": 1260.0,
		"sha256": testdataSHA256["img.jpg"], "mime": "image/jpeg", "width": 32.0, "height": 24.0, "split": "train",
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := make(map[string]any, len(base)+len(kv)/2)
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	prefixed := func(prefix string, base map[string]any) map[string]any {
		m := make(map[string]any, len(base))
		for k, v := range base {
			m[prefix+k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		cfg     transforms.MetadataConfig
		item    *pipeline.Item
		want    map[string]any
		wantErr string
	}{
		{
			name: "all fields, captures and static",
			cfg: transforms.MetadataConfig{Fields: allFields, PathRegex: regex,
				Static: map[string]any{"project": "demo", "n": 3, "nested": map[string]any{"a": []any{1, "x", true, nil}}}},
			item: imageItem(nil),
			want: with(computed, "class", "cats", "shot", "001", "project", "demo", "n", 3.0,
				"nested", map[string]any{"a": []any{1.0, "x", true, nil}}),
		},
		{
			name: "existing keys win by default; split kept",
			cfg:  transforms.MetadataConfig{Fields: allFields, Static: map[string]any{"project": "demo"}},
			item: imageItem(map[string]any{"filename": "mine.jpg", "split": "test", "project": "sidecar", "caption": "c"}),
			want: with(computed, "filename", "mine.jpg", "split", "test", "project", "sidecar", "caption", "c"),
		},
		{
			name: "overwrite replaces, except split",
			cfg:  transforms.MetadataConfig{Fields: allFields, Static: map[string]any{"project": "demo"}, Overwrite: true},
			item: imageItem(map[string]any{"filename": "mine.jpg", "split": "test", "project": "sidecar"}),
			want: with(computed, "split", "test", "project", "demo"),
		},
		{
			name: "static wins over computed and captures",
			cfg:  transforms.MetadataConfig{Fields: []string{"filename"}, PathRegex: regex, Static: map[string]any{"filename": "s", "class": "s"}},
			item: imageItem(nil),
			want: map[string]any{"filename": "s", "class": "s", "shot": "001"},
		},
		{
			name: "capture wins over computed",
			cfg:  transforms.MetadataConfig{Fields: []string{"filename"}, PathRegex: `/(?P<filename>\d+)\.jpg$`},
			item: imageItem(nil),
			want: map[string]any{"filename": "001"},
		},
		{
			name: "prefix on computed and captures, not static",
			cfg:  transforms.MetadataConfig{Fields: allFields, PathRegex: regex, Prefix: "ingest_", Static: map[string]any{"project": "demo"}},
			item: imageItem(map[string]any{"filename": "mine.jpg"}),
			want: with(prefixed("ingest_", with(computed, "class", "cats", "shot", "001")), "project", "demo", "filename", "mine.jpg"),
		},
		{
			name: "namespace nests computed and captures",
			cfg:  transforms.MetadataConfig{Fields: allFields, PathRegex: regex, Namespace: "ingest", Static: map[string]any{"project": "demo"}},
			item: imageItem(map[string]any{"filename": "mine.jpg"}),
			want: map[string]any{"filename": "mine.jpg", "project": "demo", "ingest": with(computed, "class", "cats", "shot", "001")},
		},
		{
			name: "namespace merges into an existing object",
			cfg:  transforms.MetadataConfig{Fields: []string{"filename", "mime"}, Namespace: "ingest"},
			item: imageItem(map[string]any{"ingest": map[string]any{"filename": "keep", "other": 1.0}}),
			want: map[string]any{"ingest": map[string]any{"filename": "keep", "mime": "image/jpeg", "other": 1.0}},
		},
		{
			name:    "namespace over a non-object fails",
			cfg:     transforms.MetadataConfig{Fields: []string{"filename"}, Namespace: "ingest"},
			item:    imageItem(map[string]any{"ingest": "x"}),
			wantErr: "metadata.ingest: exists and is a string",
		},
		{
			name: "namespace over a non-object with overwrite",
			cfg:  transforms.MetadataConfig{Fields: []string{"filename"}, Namespace: "ingest", Overwrite: true},
			item: imageItem(map[string]any{"ingest": "x"}),
			want: map[string]any{"ingest": map[string]any{"filename": "001.jpg"}},
		},
		{
			name:    "no match with fail",
			cfg:     transforms.MetadataConfig{PathRegex: `(?P<class>dogs)/`, OnNoMatch: "fail"},
			item:    imageItem(nil),
			wantErr: "does not match",
		},
		{
			name: "no match ignored by default",
			cfg:  transforms.MetadataConfig{PathRegex: `(?P<class>dogs)/`, Fields: []string{"mime"}},
			item: imageItem(nil),
			want: map[string]any{"mime": "image/jpeg"},
		},
		{
			name: "optional group that did not take part is left out",
			cfg:  transforms.MetadataConfig{PathRegex: `(?P<class>cats)/(?:(?P<sub>x)/)?`},
			item: imageItem(nil),
			want: map[string]any{"class": "cats"},
		},
		{
			name: "URL item gets what makes sense",
			cfg:  transforms.MetadataConfig{Fields: allFields},
			item: &pipeline.Item{Kind: pipeline.KindImage, MIME: "image/png", URL: "https://x.example/a/b/cat.png?sig=1",
				Prov: pipeline.Provenance{Source: "urls.txt", Line: 3, Path: "https://x.example/a/b/cat.png?sig=1"}},
			want: map[string]any{"filename": "cat.png", "source": "urls.txt", "mime": "image/png"},
		},
		{
			name: "raw text item hashes its text",
			cfg:  transforms.MetadataConfig{Fields: allFields},
			item: &pipeline.Item{Kind: pipeline.KindText, Text: "hello", Prov: pipeline.Provenance{Source: "m.csv", Row: 2}},
			want: map[string]any{"source": "m.csv", "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
		},
		{
			name: "manifest source: no rel_path, no split",
			cfg:  transforms.MetadataConfig{Fields: []string{"rel_path", "split", "filename"}},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: fileBlob(t, img),
				Prov: pipeline.Provenance{Source: filepath.Join(root, "m.csv"), Row: 2, Path: img}},
			want: map[string]any{"filename": "001.jpg"},
		},
		{
			name: "archive member filename",
			cfg:  transforms.MetadataConfig{Fields: []string{"filename", "rel_path"}},
			item: &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("x")),
				Prov: pipeline.Provenance{Source: "data.zip", Path: "val/dogs/7.jpg"}},
			want: map[string]any{"filename": "7.jpg"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustMetadata(t, tc.cfg)
			err := tr.Apply(context.Background(), tc.item)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, tc.item.Metadata); d != "" {
				t.Errorf("metadata (-want +got):\n%s", d)
			}
		})
	}
}

func TestMetadataSplitFromPath(t *testing.T) {
	root := t.TempDir()
	tr := mustMetadata(t, transforms.MetadataConfig{Fields: []string{"split"}})
	for _, tc := range []struct {
		rel  string
		want any
	}{
		{"train/cats/1.jpg", "train"},
		{"Training/1.jpg", "train"},
		{"val2017/1.jpg", "validate"},
		{"data/validation/x/1.jpg", "validate"},
		{"dev/1.jpg", "validate"},
		{"TEST/1.jpg", "test"},
		{"train/test/1.jpg", "test"}, // the nearest directory wins
		{"cats/1.jpg", nil},
		{"train.jpg", nil}, // a file name is not a directory
		{"trainee/1.jpg", nil},
	} {
		it := &pipeline.Item{Prov: pipeline.Provenance{Source: root, Path: filepath.Join(root, filepath.FromSlash(tc.rel))}}
		if err := tr.Apply(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		if got := it.Metadata["split"]; got != tc.want {
			t.Errorf("%s: split = %v, want %v", tc.rel, got, tc.want)
		}
	}
	// Directories above the source root never count.
	outer := filepath.Join(t.TempDir(), "test")
	if err := os.MkdirAll(outer, 0o755); err != nil {
		t.Fatal(err)
	}
	it := &pipeline.Item{Prov: pipeline.Provenance{Source: outer, Path: filepath.Join(outer, "1.jpg")}}
	if err := tr.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if got, ok := it.Metadata["split"]; ok {
		t.Errorf("split from above the root = %v", got)
	}
}

func TestMetadataStaticIsCopiedPerItem(t *testing.T) {
	tr := mustMetadata(t, transforms.MetadataConfig{Static: map[string]any{"o": map[string]any{"l": []any{"a"}}}})
	a, b := &pipeline.Item{}, &pipeline.Item{}
	for _, it := range []*pipeline.Item{a, b} {
		if err := tr.Apply(context.Background(), it); err != nil {
			t.Fatal(err)
		}
	}
	a.Metadata["o"].(map[string]any)["l"].([]any)[0] = "changed"
	if got := b.Metadata["o"].(map[string]any)["l"].([]any)[0]; got != "a" {
		t.Errorf("items share static values: b sees %v", got)
	}
}

func TestMetadataReadErrors(t *testing.T) {
	path := filepath.Join("testdata", "img.png")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := mustMetadata(t, transforms.MetadataConfig{Fields: []string{"sha256"}})

	changed := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.FileBlob(path, fi.Size()+1)}
	if err := tr.Apply(context.Background(), changed); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("size mismatch: err = %v", err)
	}
	missing := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.FileBlob(filepath.Join(t.TempDir(), "gone"), 1)}
	var ie *pipeline.ItemError
	if err := tr.Apply(context.Background(), missing); !errors.As(err, &ie) || ie.Field != "metadata.sha256" {
		t.Errorf("missing file: err = %v, want an ItemError on metadata.sha256", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	it := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.FileBlob(path, fi.Size())}
	if err := tr.Apply(ctx, it); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestMetadataConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     transforms.MetadataConfig
		wantErr string
	}{
		{name: "fields only", cfg: transforms.MetadataConfig{Fields: allFields}},
		{name: "static only", cfg: transforms.MetadataConfig{Static: map[string]any{"a": 1}}},
		{name: "nothing", cfg: transforms.MetadataConfig{}, wantErr: "nothing to add"},
		{name: "unknown field", cfg: transforms.MetadataConfig{Fields: []string{"mime", "md5"}}, wantErr: `fields[1]: unknown field "md5"`},
		{name: "bad regex", cfg: transforms.MetadataConfig{PathRegex: "(?P<a>"}, wantErr: "path_regex:"},
		{name: "no named group", cfg: transforms.MetadataConfig{PathRegex: "([^/]+)/"}, wantErr: "path_regex: \"([^/]+)/\" has no named group"},
		{name: "bad on_no_match", cfg: transforms.MetadataConfig{Fields: []string{"mime"}, OnNoMatch: "skip"}, wantErr: "on_no_match:"},
		{name: "prefix and namespace", cfg: transforms.MetadataConfig{Fields: []string{"mime"}, Prefix: "p_", Namespace: "n"}, wantErr: "prefix and namespace"},
		{name: "static NaN", cfg: transforms.MetadataConfig{Static: map[string]any{"a": []any{1.5, nan()}}}, wantErr: "static.a[1]: NaN"},
		{name: "static non-JSON", cfg: transforms.MetadataConfig{Static: map[string]any{"a": map[string]any{"f": func() {}}}}, wantErr: "static.a.f: func() is not a JSON value"},
		{name: "static empty key", cfg: transforms.MetadataConfig{Static: map[string]any{"": 1}}, wantErr: "static: empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tr, err := transforms.NewMetadata(tc.cfg); err == nil || tr != nil {
				t.Errorf("NewMetadata = %v, %v", tr, err)
			}
		})
	}
}
