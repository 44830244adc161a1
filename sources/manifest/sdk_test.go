package manifest_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

var (
	pos = pipeline.Positive
	neg = pipeline.Negative
)

func labels(cs ...pipeline.Concept) []pipeline.Concept { return cs }

// TestSDKFiles reads manifests written as the SDK documents them (every
// value double-quoted, metadata with single quotes) without changes.
func TestSDKFiles(t *testing.T) {
	for _, tc := range []struct {
		file  string
		kind  pipeline.Kind
		ctype manifest.CSVType
		want  []got
	}{{
		file: "sdk_text_raw.csv", kind: pipeline.KindText, ctype: manifest.CSVRaw,
		want: []got{
			{Row: 2, ID: "review1", Kind: pipeline.KindText, Text: "The food was great and the staff were friendly.",
				Concepts: labels(pos("positive")), Metadata: map[string]any{"source": "yelp", "stars": 5.0},
				Geo: &pipeline.Geo{Latitude: 37.7749, Longitude: -122.4194}},
			{Row: 3, ID: "review2", Kind: pipeline.KindText, Text: "Service was slow.",
				Concepts: labels(pos("negative")), Metadata: map[string]any{"source": "yelp", "stars": 2.0},
				Geo: &pipeline.Geo{Latitude: 48.8566, Longitude: 2.3522}},
			// An empty concepts cell: no labels here, and the next row
			// keeps its own (the SDK loses them).
			{Row: 4, ID: "review3", Kind: pipeline.KindText, Text: "No opinion, really.",
				Metadata: map[string]any{"source": "survey"}},
			{Row: 5, ID: "review4", Kind: pipeline.KindText, Text: "O'Brien's bakery: best bread in town!",
				Concepts: labels(pos("positive"), pos("bakery")), Metadata: map[string]any{"author": "O'Brien"},
				Geo: &pipeline.Geo{Latitude: 53.3498, Longitude: -6.2603}},
		},
	}, {
		file: "sdk_image_url.csv", kind: pipeline.KindImage, ctype: manifest.CSVURL,
		want: []got{
			{Row: 2, ID: "metro1", Kind: pipeline.KindImage, URL: "https://samples.clarifai.com/metro-north.jpg",
				Path: "https://samples.clarifai.com/metro-north.jpg", Concepts: labels(pos("train"), pos("railway")),
				Metadata: map[string]any{"camera": "pixel", "tags": []any{"night"}},
				Geo:      &pipeline.Geo{Latitude: 40.7484, Longitude: -73.9857}},
			{Row: 3, ID: "dog1", Kind: pipeline.KindImage, URL: "https://samples.clarifai.com/dog2.jpeg",
				Path: "https://samples.clarifai.com/dog2.jpeg", Concepts: labels(pos("dog")),
				Metadata: map[string]any{"license": "CC0"}},
		},
	}, {
		file: "sdk_image_file.csv", kind: pipeline.KindImage, ctype: manifest.CSVFilePath,
		want: []got{
			{Row: 2, ID: "cat1", Kind: pipeline.KindImage, File: "testdata/images/cat.jpg", Size: 12,
				Path: "testdata/images/cat.jpg", Concepts: labels(pos("cat")), Metadata: map[string]any{"filename": "cat.jpg"}},
			{Row: 3, ID: "dog1", Kind: pipeline.KindImage, File: "testdata/images/dog.png", Size: 12,
				Path: "testdata/images/dog.png", Concepts: labels(pos("dog")), Metadata: map[string]any{"filename": "dog.png"},
				Geo: &pipeline.Geo{Latitude: 52.52, Longitude: 13.405}},
		},
	}} {
		t.Run(tc.file, func(t *testing.T) {
			items, err := collect(t, manifest.Config{Path: filepath.Join("testdata", tc.file), InputType: tc.kind, CSVType: tc.ctype})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(t, "", items)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, it := range items {
				if it.Key != "id:"+it.ID {
					t.Errorf("row %d: Key = %q, want the ID key", it.Prov.Row, it.Key)
				}
				if it.Prov.Source != filepath.Join("testdata", tc.file) {
					t.Errorf("row %d: Prov.Source = %q", it.Prov.Row, it.Prov.Source)
				}
			}
		})
	}
}

// TestSDKRows checks SDK-format rows, good and bad, one table per CSV type.
func TestSDKRows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ctype manifest.CSVType
		kind  pipeline.Kind
		csv   string
		files map[string]string
		want  []got
	}{{
		name: "empty concepts between labelled rows", ctype: manifest.CSVRaw,
		csv: "inputid,input,concepts\na,one,\"x,y\"\nb,two,\nc,three,z\n",
		want: []got{
			{Row: 2, ID: "a", Kind: pipeline.KindText, Text: "one", Concepts: labels(pos("x"), pos("y"))},
			{Row: 3, ID: "b", Kind: pipeline.KindText, Text: "two"},
			{Row: 4, ID: "c", Kind: pipeline.KindText, Text: "three", Concepts: labels(pos("z"))},
		},
	}, {
		name: "sdk labels are taken as written", ctype: manifest.CSVRaw,
		csv:  "input,concepts\nt,\"-dog, a:b ,,cat\"\n",
		want: []got{{Row: 2, Kind: pipeline.KindText, Text: "t", Concepts: labels(pos("-dog"), pos("a:b"), pos("cat"))}},
	}, {
		name: "raw text is kept as written", ctype: manifest.CSVRaw,
		csv:  "input\n\"  padded\ttext  \"\n",
		want: []got{{Row: 2, Kind: pipeline.KindText, Text: "  padded\ttext  "}},
	}, {
		name: "apostrophes in metadata", ctype: manifest.CSVRaw,
		csv: "input,metadata\n" +
			"a,\"{'name': \"\"O'Brien\"\"}\"\n" +
			"b,\"{\"\"name\"\": \"\"O'Brien\"\"}\"\n" +
			"c,\"{'name': 'O'Brien'}\"\n",
		want: []got{
			{Row: 2, Kind: pipeline.KindText, Text: "a", Metadata: map[string]any{"name": "O'Brien"}},
			{Row: 3, Kind: pipeline.KindText, Text: "b", Metadata: map[string]any{"name": "O'Brien"}},
			{Row: 4, Kind: pipeline.KindText, Text: "c", Metadata: map[string]any{"name": "O'Brien"}},
		},
	}, {
		name: "bad values are row errors and the run goes on", ctype: manifest.CSVRaw,
		csv: "inputid,input,metadata,geopoints\n" +
			"a b,t,,\n" +
			"ok1,t,\"{'k': }\",\n" +
			"ok2,t,,\"37.7749,-122.4194\"\n" +
			"ok3,t,,abc\n" +
			"ok4,,,\n" +
			"ok5,t,,\"-122.4194,37.7749\"\n",
		want: []got{
			{Row: 2, Kind: pipeline.KindText, Err: `m.csv row 2: inputid: input ID "a b" has the character ' ' at 1; use only letters, digits, '-' and '_' (or leave the cell empty for an ID derived from the content)`},
			{Row: 3, ID: "ok1", Kind: pipeline.KindText, Text: "t",
				Err: `m.csv row 3: metadata: want a JSON object such as {"k": "v"} or {'k': 'v'}, got "{'k': }": invalid character '}' looking for beginning of value`},
			{Row: 4, ID: "ok2", Kind: pipeline.KindText, Text: "t",
				Err: `m.csv row 4: geopoints: want "longitude,latitude" with longitude in [-180, 180] and latitude in [-90, 90], got "37.7749,-122.4194"`},
			{Row: 5, ID: "ok3", Kind: pipeline.KindText, Text: "t",
				Err: `m.csv row 5: geopoints: want "longitude,latitude" with longitude in [-180, 180] and latitude in [-90, 90], got "abc"`},
			{Row: 6, ID: "ok4", Kind: pipeline.KindText, Err: `m.csv row 6: input: want the text of the input, got an empty cell`},
			{Row: 7, ID: "ok5", Kind: pipeline.KindText, Text: "t", Geo: &pipeline.Geo{Latitude: 37.7749, Longitude: -122.4194}},
		},
	}, {
		name: "urls", ctype: manifest.CSVURL, kind: pipeline.KindVideo,
		csv: "input\nhttps://x.test/a.mp4\nftp://x.test/b.mp4\n\" https://x.test/c \"\n",
		want: []got{
			{Row: 2, Kind: pipeline.KindVideo, URL: "https://x.test/a.mp4", Path: "https://x.test/a.mp4"},
			{Row: 3, Kind: pipeline.KindVideo, Path: "ftp://x.test/b.mp4",
				Err: `m.csv row 3 (ftp://x.test/b.mp4): input: want an http or https URL, got "ftp://x.test/b.mp4" with the scheme "ftp"`},
			{Row: 4, Kind: pipeline.KindVideo, URL: "https://x.test/c", Path: "https://x.test/c"},
		},
	}, {
		name: "file paths", ctype: manifest.CSVFilePath, kind: pipeline.KindAudio,
		files: map[string]string{"a/s.wav": "RIFF1234", "empty.wav": "", "dir/x": "1"},
		csv:   "input\na/s.wav\nmissing.wav\ndir\nempty.wav\n",
		want: []got{
			{Row: 2, Kind: pipeline.KindAudio, File: "a/s.wav", Size: 8, Path: "a/s.wav"},
			{Row: 3, Kind: pipeline.KindAudio, Path: "missing.wav",
				Err: `m.csv row 3 (missing.wav): input: want an existing file, got "missing.wav", which does not exist (relative paths start at the manifest's folder ".")`},
			{Row: 4, Kind: pipeline.KindAudio, Path: "dir", Err: `m.csv row 4 (dir): input: want a file, got the folder "dir"`},
			{Row: 5, Kind: pipeline.KindAudio, Path: "empty.wav", Err: `m.csv row 5 (empty.wav): input: want a non-empty file, got the empty file "empty.wav"`},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kind := tc.kind
			if kind == pipeline.KindUnknown {
				kind = pipeline.KindText
			}
			items, dir, err := streamCSV(t, manifest.Config{InputType: kind, CSVType: tc.ctype}, tc.csv, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(t, dir, items)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
