package manifest_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// TestCSVDialect checks the CSV layer: BOM, line endings, quoting, row
// numbers, and recovery after malformed records.
func TestCSVDialect(t *testing.T) {
	txt := func(row int, text string, cs ...pipeline.Concept) got {
		return got{Row: row, Kind: pipeline.KindText, Text: text, Concepts: cs}
	}
	bad := func(row int, err string) got { return got{Row: row, Err: err} }
	for _, tc := range []struct {
		name string
		csv  string
		want []got
	}{{
		name: "BOM and CRLF",
		csv:  "\uFEFFtext,concepts\r\nhello,cat\r\nworld,\r\n",
		want: []got{txt(2, "hello", pos("cat")), txt(3, "world")},
	}, {
		name: "no final newline",
		csv:  "text,concepts\nhello,cat",
		want: []got{txt(2, "hello", pos("cat"))},
	}, {
		name: "multi-line quoted text keeps row numbers",
		csv:  "text,concepts\n\"line one\nline two\r\nline three\",a\nnext,b\n\"x\n\ny\",c\nlast,d\n",
		want: []got{txt(2, "line one\nline two\nline three", pos("a")), txt(3, "next", pos("b")), txt(4, "x\n\ny", pos("c")), txt(5, "last", pos("d"))},
	}, {
		name: "blank lines count as rows",
		csv:  "text\n\nfirst\n\n\nsecond\n",
		want: []got{txt(3, "first"), txt(6, "second")},
	}, {
		name: "quoted fields and spaces",
		csv:  "text,concepts\n\"a, \"\"quoted\"\" word\", \"cat,dog\"\n",
		want: []got{txt(2, `a, "quoted" word`, pos("cat"), pos("dog"))},
	}, {
		name: "bare quote is a row error and the next row is read",
		csv:  "text,concepts\nab\"c,x\nok,y\n",
		want: []got{
			bad(2, `m.csv row 2: text: want a field without quotes, or quoted whole with inner quotes doubled (""), got a bare " at line 2, column 3`),
			txt(3, "ok", pos("y")),
		},
	}, {
		name: "text after a closing quote",
		csv:  "text,concepts\nfine,\"ab\"c\nok,y\n",
		want: []got{
			bad(2, `m.csv row 2: concepts: want a quoted field closed by " and then a comma or the end of the line, got a stray " or text after the closing quote at line 2, column 9`),
			txt(3, "ok", pos("y")),
		},
	}, {
		name: "malformed multi-line record",
		csv:  "text,concepts\n\"abc\ndef\"x,1\nok,2\n",
		want: []got{
			bad(2, `m.csv row 2: text: want a quoted field closed by " and then a comma or the end of the line, got a quoted field that runs from line 2 to line 3, column 4 (is a closing quote missing?)`),
			txt(3, "ok", pos("2")),
		},
	}, {
		name: "wrong number of fields",
		csv:  "text,concepts\nalone\nb,c,d\n\"multi\nline\",x,y\nok,x\n",
		want: []got{
			bad(2, `m.csv row 2: want 2 fields as in the header, got 1`),
			bad(3, `m.csv row 3: want 2 fields as in the header, got 3`),
			bad(4, `m.csv row 4: want 2 fields as in the header, got 3`),
			txt(5, "ok", pos("x")),
		},
	}, {
		name: "quote never closed",
		csv:  "text,concepts\nok,x\n\"never closed,y\nmore,z\n",
		want: []got{
			txt(2, "ok", pos("x")),
			bad(3, `m.csv row 3: text: want a quoted field closed by " and then a comma or the end of the line, got a quoted field that runs from line 3 to line 4, column 8 (is a closing quote missing?)`),
		},
	}, {
		name: "not UTF-8",
		csv:  "text,concepts\n\xffabc,x\nok,\xe9t\xe9\n",
		want: []got{
			bad(2, `m.csv row 2: text: want UTF-8 text, got bytes that are not UTF-8 in "\xffabc" (save the manifest as UTF-8)`),
			bad(3, `m.csv row 3: concepts: want UTF-8 text, got bytes that are not UTF-8 in "\xe9t\xe9" (save the manifest as UTF-8)`),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			items, dir, err := streamCSV(t, manifest.Config{}, tc.csv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(t, dir, items)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, it := range items {
				var ie *pipeline.ItemError
				if it.Err != nil && (!errors.As(it.Err, &ie) || ie.Prov.Row != it.Prov.Row) {
					t.Errorf("row %d: Err %T does not carry the row's provenance", it.Prov.Row, it.Err)
				}
			}
		})
	}
}

// TestHeaderErrors checks the errors that end the run before any row.
func TestHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		cfg       manifest.Config
		want      string
	}{
		{name: "empty file", csv: "", want: "m.csv: want a header row, got an empty file"},
		{name: "only a BOM", csv: "\uFEFF", want: "want a header row, got an empty file"},
		{name: "only blank lines", csv: "\n\r\n\n", want: "want a header row, got an empty file"},
		{name: "repeated column", csv: "url,text,URL\n", want: `m.csv: header: column "url" appears twice (columns 1 and 3)`},
		{name: "unnamed column", csv: "url,,text\n", want: "header: column 2 has no name; want a header row naming every column"},
		{name: "unknown column", csv: "url,foo,bar\n",
			want: `header: unknown column(s) "foo", "bar": the rich format accepts id, kind, url, path, text, concepts, metadata, lat, lon, dataset_ids, split, annotations; map other columns to metadata with metadata_columns`},
		{name: "SDK columns without input", csv: "inputid,url\n",
			want: "; inputid and geopoints are SDK-format columns, and an SDK-format manifest needs an input column"},
		{name: "SDK format without types", csv: "inputid,input\n",
			want: "header: the manifest is in the SDK format (it has an input column): want InputType (image, video, audio or text) and CSVType (raw, url or file_path) set"},
		{name: "SDK unknown column", csv: "input,url\n", cfg: manifest.Config{InputType: pipeline.KindText, CSVType: manifest.CSVRaw},
			want: `header: unknown column(s) "url": the sdk format accepts inputid, input, concepts, metadata, geopoints`},
		{name: "forced rich", csv: "input,url\n", cfg: manifest.Config{Format: manifest.FormatRich},
			want: `header: unknown column(s) "input": the rich format accepts`},
		{name: "forced SDK", csv: "inputid,concepts\n", cfg: manifest.Config{Format: manifest.FormatSDK, InputType: pipeline.KindText, CSVType: manifest.CSVRaw},
			want: "header: want an input column in an SDK-format manifest, got the columns inputid, concepts"},
		{name: "no content column", csv: "id,concepts\n", want: "header: want at least one of the columns url, path and text, got the columns id, concepts"},
		{name: "lat without lon", csv: "url,lat\n", want: "header: want both the lat and lon columns or neither, got only lat"},
		{name: "malformed header", csv: "\"url,text\n", want: `header: want a quoted field closed by "`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, dir, err := streamCSV(t, tc.cfg, tc.csv, nil)
			if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), tc.want) {
				t.Fatalf("Stream error = %v, want it to contain %q", err, tc.want)
			}
			if len(items) != 0 {
				t.Errorf("got %d items after a header error", len(items))
			}
			if !errors.Is(err, manifest.ErrBadHeader) {
				t.Errorf("Stream error %v does not wrap ErrBadHeader", err)
			}
			// CheckHeader finds the same, before any row is read.
			cfg := tc.cfg
			cfg.Path = filepath.Join(dir, "m.csv")
			src, nerr := manifest.New(cfg)
			if nerr != nil {
				t.Fatal(nerr)
			}
			if cerr := src.CheckHeader(); cerr == nil || cerr.Error() != err.Error() || !errors.Is(cerr, manifest.ErrBadHeader) {
				t.Errorf("CheckHeader = %v, want %v", cerr, err)
			}
		})
	}

	t.Run("cannot open", func(t *testing.T) {
		cfg := manifest.Config{Path: filepath.Join(t.TempDir(), "nope.csv")}
		_, err := collect(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "no such file") || errors.Is(err, manifest.ErrBadHeader) {
			t.Errorf("Stream error = %v, want the open error", err)
		}
		src, _ := manifest.New(cfg)
		if cerr := src.CheckHeader(); cerr == nil || errors.Is(cerr, manifest.ErrBadHeader) {
			t.Errorf("CheckHeader = %v, want the open error", cerr)
		}
	})

	t.Run("good header", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"m.csv": "url,text\n\"unclosed\n"})
		src, err := manifest.New(manifest.Config{Path: filepath.Join(dir, "m.csv")})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.CheckHeader(); err != nil {
			t.Errorf("CheckHeader = %v for a good header (bad rows are Stream's)", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  manifest.Config
		want string // "" for a valid config
	}{
		{name: "minimal", cfg: manifest.Config{Path: "m.csv"}},
		{name: "full", cfg: manifest.Config{Path: "m.csv", Format: manifest.FormatSDK, InputType: pipeline.KindImage, CSVType: manifest.CSVURL,
			DatasetIDs: []string{"ds"}, SplitDatasets: map[string]string{"train": "tr"}, MetadataColumns: map[string]string{"src": "source"}}},
		{name: "no path", cfg: manifest.Config{}, want: "path is required"},
		{name: "bad format", cfg: manifest.Config{Path: "m", Format: "tsv"}, want: `format "tsv"`},
		{name: "sdk without types", cfg: manifest.Config{Path: "m", Format: manifest.FormatSDK}, want: "the SDK format needs input_type and csv_type"},
		{name: "multimodal input type", cfg: manifest.Config{Path: "m", InputType: pipeline.KindMultimodal}, want: "input_type multimodal"},
		{name: "raw images", cfg: manifest.Config{Path: "m", InputType: pipeline.KindImage, CSVType: manifest.CSVRaw}, want: "csv_type raw holds text"},
		{name: "bad csv type", cfg: manifest.Config{Path: "m", CSVType: "json"}, want: `csv_type "json"`},
		{name: "bad dataset", cfg: manifest.Config{Path: "m", DatasetIDs: []string{"a b"}}, want: "dataset_ids"},
		{name: "bad split", cfg: manifest.Config{Path: "m", SplitDatasets: map[string]string{"dev": "d"}}, want: `split "dev"`},
		{name: "bad split dataset", cfg: manifest.Config{Path: "m", SplitDatasets: map[string]string{"test": ""}}, want: `split_datasets["test"]`},
		{name: "mapped schema column", cfg: manifest.Config{Path: "m", MetadataColumns: map[string]string{"URL": "u"}}, want: `"URL" is a manifest column`},
		{name: "mapped twice", cfg: manifest.Config{Path: "m", MetadataColumns: map[string]string{"a": "x", "A ": "y"}}, want: "is mapped twice"},
		{name: "same key", cfg: manifest.Config{Path: "m", MetadataColumns: map[string]string{"a": "x", "b": "x"}}, want: `both map to key "x"`},
		{name: "empty key", cfg: manifest.Config{Path: "m", MetadataColumns: map[string]string{"a": ""}}, want: "empty metadata key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifest.New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
