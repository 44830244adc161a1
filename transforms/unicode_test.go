package transforms_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

func mustUnicode(t testing.TB, cfg transforms.UnicodeConfig) pipeline.Transform {
	t.Helper()
	tr, err := transforms.NewUnicode(cfg)
	if err != nil {
		t.Fatalf("NewUnicode(%+v): %v", cfg, err)
	}
	return tr
}

func TestUnicodeStrings(t *testing.T) {
	for _, tc := range []struct {
		name, mode, in, want string
		failInvalid          bool
		wantErr              string
	}{
		{name: "brief example ascii", mode: "ascii", in: "naïve café 東京", want: "nave caf "},
		{name: "brief example clean", mode: "clean", in: "naïve café 東京", want: "naïve café 東京"},
		{name: "plain ascii ascii", mode: "ascii", in: "Hello, world.\n", want: "Hello, world.\n"},
		{name: "plain ascii clean", mode: "clean", in: "Hello, world.\n", want: "Hello, world.\n"},
		// A decomposed é (e + U+0301) composes under NFKC; ascii drops the
		// mark and keeps the e, unlike the precomposed é.
		{name: "combining mark clean", mode: "clean", in: "cafe\u0301", want: "caf\u00e9"},
		{name: "combining mark ascii", mode: "ascii", in: "cafe\u0301", want: "cafe"},
		{name: "stacked marks clean", mode: "clean", in: "a\u0308\u0301x", want: "\u00e4\u0301x"},
		{name: "emoji clean", mode: "clean", in: "hi 👋🏽!", want: "hi 👋🏽!"},
		{name: "emoji ascii", mode: "ascii", in: "hi 👋🏽!", want: "hi !"},
		{name: "zwj sequence clean", mode: "clean", in: "👨\u200d👩\u200d👧", want: "👨👩👧"},
		{name: "zwj sequence ascii", mode: "ascii", in: "a👨\u200d👩b", want: "ab"},
		{name: "hebrew rtl clean", mode: "clean", in: "שלום עולם", want: "שלום עולם"},
		{name: "arabic rtl with marks clean", mode: "clean", in: "\u200fمرحبا بالعالم\u200f", want: "\u200fمرحبا بالعالم\u200f"},
		{name: "mixed rtl ascii", mode: "ascii", in: "abc שלום 123", want: "abc  123"},
		{name: "bom clean", mode: "clean", in: "\ufeffhello", want: "hello"},
		{name: "bom ascii", mode: "ascii", in: "\ufeffhello", want: "hello"},
		{name: "zero width chars", mode: "clean", in: "a\u200bb\u200cc\u200dd\u2060e\ufefff", want: "abcdef"},
		{name: "controls clean", mode: "clean", in: "a\x00b\x07c\td\ne\rf\x7fg\u0085h\u009fi", want: "abc\td\ne\rfghi"},
		{name: "controls ascii keeps ascii controls", mode: "ascii", in: "a\x00b\u0085c", want: "a\x00bc"},
		{name: "nfkc ligature", mode: "clean", in: "ﬁne", want: "fine"},
		{name: "nfkc fullwidth", mode: "clean", in: "ＡＢＣ１２３", want: "ABC123"},
		{name: "nfkc circled", mode: "clean", in: "①②", want: "12"},
		{name: "nfkc halfwidth katakana", mode: "clean", in: "ｶﾀｶﾅ", want: "カタカナ"},
		{name: "cjk and hangul kept", mode: "clean", in: "東京 서울", want: "東京 서울"},
		{name: "invalid byte clean repairs", mode: "clean", in: "a\xffb", want: "a\ufffdb"},
		{name: "invalid run clean one replacement", mode: "clean", in: "a\xff\xfe\xfdb", want: "a\ufffdb"},
		{name: "truncated sequence clean", mode: "clean", in: "x\xe6\x9d", want: "x\ufffd"},
		{name: "invalid byte ascii drops", mode: "ascii", in: "a\xffb\xe6\x9d", want: "ab"},
		{name: "replacement char kept clean", mode: "clean", in: "a\ufffdb", want: "a\ufffdb"},
		{name: "invalid fail clean", mode: "clean", in: "ab\xffc", failInvalid: true, wantErr: "invalid UTF-8 at byte 2 (0xff)"},
		{name: "invalid fail ascii", mode: "ascii", in: "\xc3", failInvalid: true, wantErr: "invalid UTF-8 at byte 0 (0xc3)"},
		{name: "valid with fail policy", mode: "clean", in: "naïve", failInvalid: true, want: "naïve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := transforms.UnicodeConfig{Mode: tc.mode, MetadataFields: []string{"v"}, Empty: "keep"}
			if tc.failInvalid {
				cfg.InvalidUTF8 = "fail"
			}
			tr := mustUnicode(t, cfg)
			// The same string as text and as a metadata value.
			it := &pipeline.Item{Kind: pipeline.KindText, Text: tc.in, Metadata: map[string]any{"v": tc.in}}
			err := tr.Apply(context.Background(), it)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var ie *pipeline.ItemError
				if !errors.As(err, &ie) || ie.Field != "text" {
					t.Errorf("err %v is not an ItemError on field text", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.Text != tc.want {
				t.Errorf("text = %q, want %q", it.Text, tc.want)
			}
			if got := it.Metadata["v"]; got != tc.want {
				t.Errorf("metadata = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnicodeCleanStringDoesNotAllocate(t *testing.T) {
	tr := mustUnicode(t, transforms.UnicodeConfig{})
	it := &pipeline.Item{Kind: pipeline.KindText}
	for _, s := range []string{"plain ascii text\n", "naïve café 東京 👋"} {
		allocs := testing.AllocsPerRun(100, func() {
			it.Text = s
			if err := tr.Apply(context.Background(), it); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per Apply, want 0 for text that needs no change", s, allocs)
		}
	}
}

func TestUnicodeEmptyPolicy(t *testing.T) {
	for _, tc := range []struct {
		empty    string
		in       string
		wantSkip bool
		wantErr  string
		wantText string
	}{
		{empty: "", in: "東京", wantErr: "text is empty after unicode stripping"},
		{empty: "fail", in: "東京 大阪", wantErr: "empty: skip or keep"},
		{empty: "skip", in: "東京", wantSkip: true},
		{empty: "keep", in: "東京 大阪", wantText: " "},
		{empty: "fail", in: "東京a", wantText: "a"},
	} {
		t.Run(tc.empty+"/"+tc.in, func(t *testing.T) {
			tr := mustUnicode(t, transforms.UnicodeConfig{Mode: "ascii", Empty: tc.empty})
			it := &pipeline.Item{Kind: pipeline.KindText, Text: tc.in}
			err := tr.Apply(context.Background(), it)
			switch {
			case tc.wantSkip:
				if !errors.Is(err, pipeline.ErrSkip) {
					t.Fatalf("err = %v, want a skip", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, pipeline.ErrSkip) {
					t.Fatalf("err = %v, want a failure containing %q", err, tc.wantErr)
				}
			default:
				if err != nil || it.Text != tc.wantText {
					t.Fatalf("Apply = %v, text %q; want nil, %q", err, it.Text, tc.wantText)
				}
			}
		})
	}
}

func TestUnicodeTextFromBlob(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) *pipeline.Blob {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return pipeline.FileBlob(p, int64(len(content)))
	}
	for _, tc := range []struct {
		name     string
		item     *pipeline.Item
		cfg      transforms.UnicodeConfig
		wantText string
		wantBlob bool
		wantErr  string
	}{
		{
			name:     "text file loaded, cleaned, blob cleared",
			item:     &pipeline.Item{Kind: pipeline.KindText, Blob: write("a.txt", "\ufeffnaïve\u200b café\r\nline 2\xff\n")},
			wantText: "naïve café\r\nline 2\ufffd\n",
		},
		{
			name:     "text file ascii",
			item:     &pipeline.Item{Kind: pipeline.KindText, Blob: write("b.txt", "Zoë 東京 ok")},
			cfg:      transforms.UnicodeConfig{Mode: "ascii"},
			wantText: "Zo  ok",
		},
		{
			name:    "text file over the cap fails",
			item:    &pipeline.Item{Kind: pipeline.KindText, Blob: write("c.txt", "0123456789")},
			cfg:     transforms.UnicodeConfig{MaxTextBytes: 5},
			wantErr: "over the limit of 5",
		},
		{
			name:    "empty text file fails",
			item:    &pipeline.Item{Kind: pipeline.KindText, Blob: write("d.txt", "")},
			wantErr: "text is empty",
		},
		{
			name:    "invalid utf-8 in file with fail policy",
			item:    &pipeline.Item{Kind: pipeline.KindText, Blob: write("e.txt", "ok\x80")},
			cfg:     transforms.UnicodeConfig{InvalidUTF8: "fail"},
			wantErr: "invalid UTF-8 at byte 2",
		},
		{
			name:     "image blob is never loaded",
			item:     &pipeline.Item{Kind: pipeline.KindImage, Blob: write("f.jpg", "\xff\xd8\xff")},
			wantBlob: true,
		},
		{
			name:     "multimodal text processed, image blob kept",
			item:     &pipeline.Item{Kind: pipeline.KindMultimodal, Text: "caption\u200b ✓", Blob: write("g.png", "\x89PNG")},
			wantText: "caption ✓",
			wantBlob: true,
		},
		{
			name:     "text false leaves the text alone",
			item:     &pipeline.Item{Kind: pipeline.KindText, Text: "a\u200bb"},
			cfg:      transforms.UnicodeConfig{Text: new(false)},
			wantText: "a\u200bb",
		},
		{
			name:     "text false does not load the file",
			item:     &pipeline.Item{Kind: pipeline.KindText, Blob: write("h.txt", "a\u200bb")},
			cfg:      transforms.UnicodeConfig{Text: new(false)},
			wantBlob: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustUnicode(t, tc.cfg)
			err := tr.Apply(context.Background(), tc.item)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.item.Blob == nil {
					t.Error("a failed item lost its Blob")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.item.Text != tc.wantText {
				t.Errorf("text = %q, want %q", tc.item.Text, tc.wantText)
			}
			if (tc.item.Blob != nil) != tc.wantBlob {
				t.Errorf("blob kept = %v, want %v", tc.item.Blob != nil, tc.wantBlob)
			}
		})
	}
}

func TestUnicodeMetadataFields(t *testing.T) {
	md := func() map[string]any {
		return map[string]any{
			"caption": "café\u200b",
			"author":  map[string]any{"name": "Zoë\ufeff", "age": 33.0, "bio": "東京"},
			"tags":    []any{"naïve", 1.0, []any{"東京", "x"}, map[string]any{"k": "é"}},
			"n":       1.5,
			"ok":      true,
			"none":    nil,
			"other":   "ünchanged",
		}
	}
	for _, tc := range []struct {
		name   string
		fields []string
		mode   string
		want   map[string]any
	}{
		{
			name:   "dotted paths, missing and non-string fields",
			mode:   "ascii",
			fields: []string{"caption", "author.name", "tags", "missing", "author.missing", "caption.deeper", "author.age", "ok", "none", "author"},
			want: map[string]any{
				"caption": "caf",
				"author":  map[string]any{"name": "Zo", "age": 33.0, "bio": "東京"},
				"tags":    []any{"nave", 1.0, []any{"", "x"}, map[string]any{"k": "é"}},
				"n":       1.5, "ok": true, "none": nil, "other": "ünchanged",
			},
		},
		{
			name:   "star processes every string recursively",
			mode:   "ascii",
			fields: []string{"*"},
			want: map[string]any{
				"caption": "caf",
				"author":  map[string]any{"name": "Zo", "age": 33.0, "bio": ""},
				"tags":    []any{"nave", 1.0, []any{"", "x"}, map[string]any{"k": ""}},
				"n":       1.5, "ok": true, "none": nil, "other": "nchanged",
			},
		},
		{
			name:   "star clean",
			mode:   "clean",
			fields: []string{"*", "caption"},
			want: map[string]any{
				"caption": "café",
				"author":  map[string]any{"name": "Zoë", "age": 33.0, "bio": "東京"},
				"tags":    []any{"naïve", 1.0, []any{"東京", "x"}, map[string]any{"k": "é"}},
				"n":       1.5, "ok": true, "none": nil, "other": "ünchanged",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustUnicode(t, transforms.UnicodeConfig{Mode: tc.mode, MetadataFields: tc.fields})
			it := &pipeline.Item{Kind: pipeline.KindImage, Metadata: md()}
			if err := tr.Apply(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, it.Metadata); d != "" {
				t.Errorf("metadata (-want +got):\n%s", d)
			}
		})
	}
}

func TestUnicodeMetadataInvalidUTF8(t *testing.T) {
	t.Run("repair keys and values under star", func(t *testing.T) {
		tr := mustUnicode(t, transforms.UnicodeConfig{MetadataFields: []string{"*"}})
		it := &pipeline.Item{Metadata: map[string]any{"k\xff": "v\xfe", "deep": map[string]any{"x": []any{"\xc3"}}}}
		if err := tr.Apply(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"k\ufffd": "v\ufffd", "deep": map[string]any{"x": []any{"\ufffd"}}}
		if d := cmp.Diff(want, it.Metadata); d != "" {
			t.Errorf("metadata (-want +got):\n%s", d)
		}
	})
	t.Run("fail names the field", func(t *testing.T) {
		tr := mustUnicode(t, transforms.UnicodeConfig{MetadataFields: []string{"a.b"}, InvalidUTF8: "fail"})
		it := &pipeline.Item{Metadata: map[string]any{"a": map[string]any{"b": "ok\xff"}}}
		err := tr.Apply(context.Background(), it)
		var ie *pipeline.ItemError
		if !errors.As(err, &ie) || ie.Field != "metadata.a.b" || !strings.Contains(err.Error(), "byte 2") {
			t.Fatalf("err = %v, want an ItemError on metadata.a.b at byte 2", err)
		}
	})
	t.Run("fail names nested list and key positions", func(t *testing.T) {
		for _, tc := range []struct {
			fields    []string
			md        map[string]any
			wantField string
		}{
			{[]string{"tags"}, map[string]any{"tags": []any{"ok", []any{1.0, "\xff"}}}, "metadata.tags[1][1]"},
			{[]string{"*"}, map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "\xff"}}}}, "metadata.a.b[0].c"},
			{[]string{"*"}, map[string]any{"a": map[string]any{"k\xff": 1.0}}, "metadata.a"},
		} {
			tr := mustUnicode(t, transforms.UnicodeConfig{MetadataFields: tc.fields, InvalidUTF8: "fail"})
			err := tr.Apply(context.Background(), &pipeline.Item{Metadata: tc.md})
			var ie *pipeline.ItemError
			if !errors.As(err, &ie) || ie.Field != tc.wantField {
				t.Errorf("err = %v, want field %s", err, tc.wantField)
			}
		}
	})
	t.Run("repaired key that collides fails", func(t *testing.T) {
		tr := mustUnicode(t, transforms.UnicodeConfig{MetadataFields: []string{"*"}})
		err := tr.Apply(context.Background(), &pipeline.Item{Metadata: map[string]any{"k\xff": 1.0, "k\ufffd": 2.0}})
		if err == nil || !strings.Contains(err.Error(), "which is also a key") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("fail under star names the smallest bad key", func(t *testing.T) {
		tr := mustUnicode(t, transforms.UnicodeConfig{MetadataFields: []string{"*"}, InvalidUTF8: "fail"})
		for range 20 { // map order varies; the error must not
			it := &pipeline.Item{Metadata: map[string]any{"z": "\xff", "b": "\xff", "m": "\xff", "a": "ok"}}
			err := tr.Apply(context.Background(), it)
			var ie *pipeline.ItemError
			if !errors.As(err, &ie) || ie.Field != "metadata.b" {
				t.Fatalf("err = %v, want field metadata.b", err)
			}
		}
	})
}

func TestUnicodeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg     transforms.UnicodeConfig
		wantErr string
	}{
		{cfg: transforms.UnicodeConfig{}},
		{cfg: transforms.UnicodeConfig{Mode: "ascii", InvalidUTF8: "fail", Empty: "skip", MetadataFields: []string{"*", "a.b"}}},
		{cfg: transforms.UnicodeConfig{Mode: "latin1"}, wantErr: `mode: want clean or ascii, got "latin1"`},
		{cfg: transforms.UnicodeConfig{InvalidUTF8: "ignore"}, wantErr: "invalid_utf8:"},
		{cfg: transforms.UnicodeConfig{Empty: "drop"}, wantErr: "empty:"},
		{cfg: transforms.UnicodeConfig{MaxTextBytes: -1}, wantErr: "max_text_bytes:"},
		{cfg: transforms.UnicodeConfig{MetadataFields: []string{"ok", "a..b"}}, wantErr: `metadata_fields[1]: path "a..b" has an empty segment`},
		{cfg: transforms.UnicodeConfig{MetadataFields: []string{""}}, wantErr: "metadata_fields[0]: empty path"},
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
		if tr, err2 := transforms.NewUnicode(tc.cfg); err2 == nil || tr != nil {
			t.Errorf("NewUnicode(%+v) = %v, %v; want nil and an error", tc.cfg, tr, err2)
		}
	}
}
