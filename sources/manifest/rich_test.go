package manifest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

func TestRichRows(t *testing.T) {
	img := pipeline.KindImage
	for _, tc := range []struct {
		name  string
		cfg   manifest.Config
		csv   string
		files map[string]string
		want  []got
	}{{
		name:  "every column",
		files: map[string]string{"img/cat.jpg": "jpegdata"},
		csv: "id,kind,url,path,text,concepts,metadata,lat,lon,dataset_ids,split,annotations\n" +
			`cat1,image,,img/cat.jpg,,"cat;-dog,bird:0,fox:1","{""who"": ""Ana"", ""n"": 2, ""ok"": true, ""z"": null, ""deep"": {""l"": [1]}}",` +
			`52.52,13.405,"ds1; ds2",Train,"[{""label"": ""cat"", ""box"": [0.1, 0.2, 0.6, 0.9]}, {""label"": ""tail"", ""polygon"": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.1]]}]"` + "\n",
		want: []got{{
			Row: 2, ID: "cat1", Kind: img, File: "img/cat.jpg", Size: 8, Path: "img/cat.jpg",
			Concepts: labels(pos("cat"), neg("dog"), neg("bird"), pos("fox")),
			Metadata: map[string]any{"who": "Ana", "n": 2.0, "ok": true, "z": nil, "deep": map[string]any{"l": []any{1.0}}, "split": "train"},
			Geo:      &pipeline.Geo{Latitude: 52.52, Longitude: 13.405},
			Datasets: []string{"ds1", "ds2"},
			Regions: []pipeline.Region{
				{Concepts: labels(pos("cat")), Box: &pipeline.BoundingBox{Top: 0.2, Left: 0.1, Bottom: 0.9, Right: 0.6}},
				{Concepts: labels(pos("tail")), Polygon: []pipeline.Point{{Row: 0.2, Col: 0.1}, {Row: 0.4, Col: 0.3}, {Row: 0.1, Col: 0.5}}},
			},
		}},
	}, {
		name:  "kind inference",
		files: map[string]string{"a.TXT": "hello", "b.wav": "RIFF"},
		csv: "url,path,text\n" +
			"https://x.test/p/a.JPG?size=2#top,,\n" +
			"https://x.test/a.jpeg,,What is this?\n" +
			"https://x.test/v.mov,,\n" +
			",a.TXT,\n" +
			",b.wav,\n" +
			",,just text\n" +
			"https://x.test/page.php,,\n" +
			",,\n",
		want: []got{
			{Row: 2, Kind: img, URL: "https://x.test/p/a.JPG?size=2#top", Path: "https://x.test/p/a.JPG?size=2#top"},
			{Row: 3, Kind: pipeline.KindMultimodal, URL: "https://x.test/a.jpeg", Text: "What is this?", Path: "https://x.test/a.jpeg"},
			{Row: 4, Kind: pipeline.KindVideo, URL: "https://x.test/v.mov", Path: "https://x.test/v.mov"},
			{Row: 5, Kind: pipeline.KindText, File: "a.TXT", Size: 5, Path: "a.TXT"},
			{Row: 6, Kind: pipeline.KindAudio, File: "b.wav", Size: 4, Path: "b.wav"},
			{Row: 7, Kind: pipeline.KindText, Text: "just text"},
			{Row: 8, Path: "https://x.test/page.php",
				Err: `m.csv row 8 (https://x.test/page.php): kind: want a kind (image, video, audio, text, multimodal), got an empty cell and "page.php", whose extension names no kind`},
			{Row: 9, Err: `m.csv row 9: url: want a url, a path or a text, got empty cells`},
		},
	}, {
		name: "default kind",
		cfg:  manifest.Config{DefaultKind: pipeline.KindImage},
		csv:  "url,kind\nhttps://x.test/page.php,\nhttps://x.test/a.jpg,video\n",
		want: []got{
			{Row: 2, Kind: img, URL: "https://x.test/page.php", Path: "https://x.test/page.php"},
			{Row: 3, Kind: pipeline.KindVideo, URL: "https://x.test/a.jpg", Path: "https://x.test/a.jpg"},
		},
	}, {
		name:  "content errors",
		files: map[string]string{"a.jpg": "x"},
		csv: "kind,url,path,text\n" +
			",https://x.test/a.jpg,a.jpg,\n" +
			"image,https://x.test/a.jpg,,caption\n" +
			"text,https://x.test/a.txt,,words\n" +
			"multimodal,https://x.test/a.jpg,,\n" +
			"multimodal,,,words\n" +
			"video,,,\n" +
			"picture,https://x.test/a.jpg,,\n" +
			",https://x.test/a b.jpg,,\n" +
			",,gone.jpg,\n",
		want: []got{
			{Row: 2, Err: `m.csv row 2: url: want a url or a path, not both, got url "https://x.test/a.jpg" and path "a.jpg"`},
			{Row: 3, Kind: img, Path: "https://x.test/a.jpg", Err: `m.csv row 3 (https://x.test/a.jpg): text: want no text for kind image (kind multimodal sends an image with a text), got "caption"`},
			{Row: 4, Kind: pipeline.KindText, Path: "https://x.test/a.txt", Err: `m.csv row 4 (https://x.test/a.txt): text: want either a text or a url/path of a text file for a text input, got both`},
			{Row: 5, Kind: pipeline.KindMultimodal, Path: "https://x.test/a.jpg", Err: `m.csv row 5 (https://x.test/a.jpg): text: want the text of a multimodal input, got an empty cell`},
			{Row: 6, Kind: pipeline.KindMultimodal, Err: `m.csv row 6: url: want a url or a path of the image of a multimodal input, got neither`},
			{Row: 7, Kind: pipeline.KindVideo, Err: `m.csv row 7: url: want a url or a path for kind video, got neither`},
			{Row: 8, Path: "https://x.test/a.jpg", Err: `m.csv row 8 (https://x.test/a.jpg): kind: want image, video, audio, text or multimodal, got "picture"`},
			{Row: 9, Path: "https://x.test/a b.jpg", Err: `m.csv row 9 (https://x.test/a b.jpg): url: want an http or https URL, got "https://x.test/a b.jpg" with a space at byte 16 (encode it as %20)`},
			{Row: 10, Kind: img, Path: "gone.jpg", Err: `m.csv row 10 (gone.jpg): path: want an existing file, got "gone.jpg", which does not exist (relative paths start at the manifest's folder ".")`},
		},
	}, {
		name: "geo",
		csv:  "url,lat,lon\nhttps://x/a.jpg,91.5,0\nhttps://x/a.jpg,1,-180.5\nhttps://x/a.jpg,,3\nhttps://x/a.jpg,4,\nhttps://x/a.jpg,NaN,1\nhttps://x/a.jpg,-90,180\n",
		want: []got{
			{Row: 2, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Err: `m.csv row 2 (https://x/a.jpg): lat: want a number in [-90, 90], got "91.5"`},
			{Row: 3, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Err: `m.csv row 3 (https://x/a.jpg): lon: want a number in [-180, 180], got "-180.5"`},
			{Row: 4, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Err: `m.csv row 4 (https://x/a.jpg): lat: want a number in [-90, 90] when lon is set, got an empty cell`},
			{Row: 5, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Err: `m.csv row 5 (https://x/a.jpg): lon: want a number in [-180, 180] when lat is set, got an empty cell`},
			{Row: 6, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Err: `m.csv row 6 (https://x/a.jpg): lat: want a number in [-90, 90], got "NaN"`},
			{Row: 7, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Geo: &pipeline.Geo{Latitude: -90, Longitude: 180}},
		},
	}, {
		name: "datasets and splits",
		cfg:  manifest.Config{DatasetIDs: []string{"all"}, SplitDatasets: map[string]string{"train": "tr", "test": "te"}},
		csv:  "text,dataset_ids,split,metadata\na,\"x;all,y\",train,\nb,,VALIDATE,\nc,,test,\"{\"\"split\"\": \"\"test\"\"}\"\nd,,dev,\ne,bad id,,\nf,,test,\"{\"\"split\"\": 1}\"\n",
		want: []got{
			{Row: 2, Kind: pipeline.KindText, Text: "a", Datasets: []string{"all", "x", "y", "tr"}, Metadata: map[string]any{"split": "train"}},
			{Row: 3, Kind: pipeline.KindText, Text: "b", Datasets: []string{"all"}, Metadata: map[string]any{"split": "validate"}},
			{Row: 4, Kind: pipeline.KindText, Text: "c", Datasets: []string{"all", "te"}, Metadata: map[string]any{"split": "test"}},
			{Row: 5, Kind: pipeline.KindText, Text: "d", Err: `m.csv row 5: split: want train, validate or test, got "dev"`},
			{Row: 6, Kind: pipeline.KindText, Text: "e", Err: `m.csv row 6: dataset_ids: want dataset IDs separated by ',' or ';', got "bad id": input ID "bad id" has the character ' ' at 3; use only letters, digits, '-' and '_'`},
			{Row: 7, Kind: pipeline.KindText, Text: "f", Metadata: map[string]any{"split": 1.0}, Err: `m.csv row 7: split: want metadata key "split" set once, got "test" here and a different value from another column`},
		},
	}, {
		name: "annotations",
		csv: "url,annotations\n" +
			"https://x/a.jpg,[]\n" +
			"https://x/a.jpg,\"[{\"\"label\"\": \"\"cat\"\", \"\"box\"\": [0.1, 0.2, 0.3]}]\"\n" +
			"https://x/a.jpg,\"[{\"\"label\"\": \"\"cat\"\", \"\"polygon\"\": [[0.1, 0.2], [0.3, 0.4]]}]\"\n" +
			"https://x/a.jpg,\"[{\"\"label\"\": \"\"cat\"\", \"\"bbox\"\": [0.1, 0.2, 0.3, 0.4]}]\"\n" +
			"https://x/a.jpg,\"[{\"\"box\"\": [0.1, 0.2, 0.3, 0.4]}]\"\n" +
			"https://x/a.jpg,\"[{\"\"label\"\": \"\"cat\"\"}]\"\n" +
			"https://x/a.jpg,\"{\"\"label\"\": \"\"cat\"\"}\"\n" +
			"https://x/a.jpg,[1]\n" +
			"https://x/a.jpg,[{\n" +
			"https://x/v.mp4,\"[{\"\"label\"\": \"\"cat\"\", \"\"box\"\": [0.1, 0.2, 0.3, 0.4]}]\"\n" +
			"https://x/a.jpg,\"[{\"\"label\"\": \"\"cat\"\", \"\"box\"\": [0.1, 0.2, 0.3, 0.4], \"\"polygon\"\": [[0,0],[1,0],[1,1]]}]\"\n",
		want: func() []got {
			u := "https://x/a.jpg"
			base := got{Kind: img, URL: u, Path: u}
			row := func(n int, err string) got { g := base; g.Row = n; g.Err = err; return g }
			v := got{Row: 11, Kind: pipeline.KindVideo, URL: "https://x/v.mp4", Path: "https://x/v.mp4",
				Err: `m.csv row 11 (https://x/v.mp4): annotations: want annotations only on image inputs, got them on kind video`}
			return []got{
				row(2, ""),
				row(3, `m.csv row 3 (https://x/a.jpg): annotations: annotation 1: want "box": [xmin, ymin, xmax, ymax] (4 numbers), got "[0.1, 0.2, 0.3]"`),
				row(4, `m.csv row 4 (https://x/a.jpg): annotations: annotation 1: want "polygon": [[x, y], …] (3 points or more), got "[[0.1, 0.2], [0.3, 0.4]]"`),
				row(5, `m.csv row 5 (https://x/a.jpg): annotations: annotation 1: want only the keys label, box and polygon, got "bbox"`),
				row(6, `m.csv row 6 (https://x/a.jpg): annotations: annotation 1: want "label": a non-empty string, got nothing`),
				row(7, `m.csv row 7 (https://x/a.jpg): annotations: annotation 1: want a "box" or a "polygon", got neither`),
				row(8, `m.csv row 8 (https://x/a.jpg): annotations: want a JSON list of {"label": …, "box": [xmin, ymin, xmax, ymax]} or {"label": …, "polygon": [[x, y], …]}, got "{\"label\": \"cat\"}", which is not a list`),
				row(9, `m.csv row 9 (https://x/a.jpg): annotations: annotation 1: want an object such as {"label": "cat", "box": [0.1, 0.2, 0.5, 0.6]}, got "1"`),
				row(10, `m.csv row 10 (https://x/a.jpg): annotations: want a JSON list of {"label": …, "box": [xmin, ymin, xmax, ymax]} or {"label": …, "polygon": [[x, y], …]}, got "[{": unexpected end of JSON input`),
				v,
				row(12, `m.csv row 12 (https://x/a.jpg): annotations: annotation 1: want a box or a polygon, got both`),
			}
		}(),
	}, {
		name: "trimmed values and metadata columns",
		cfg:  manifest.Config{MetadataColumns: map[string]string{"Source": "src", "batch": "batch_no"}},
		csv:  "url , concepts,SOURCE,batch,metadata\n  https://x/a.jpg  , cat ,  web  ,,\nhttps://x/b.jpg,,web,7,\"{\"\"src\"\": \"\"other\"\"}\"\n",
		want: []got{
			{Row: 2, Kind: img, URL: "https://x/a.jpg", Path: "https://x/a.jpg", Concepts: labels(pos("cat")), Metadata: map[string]any{"src": "web"}},
			{Row: 3, Kind: img, URL: "https://x/b.jpg", Path: "https://x/b.jpg", Metadata: map[string]any{"src": "other"},
				Err: `m.csv row 3 (https://x/b.jpg): source: want metadata key "src" set once, got "web" here and a different value from another column`},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			items, dir, err := streamCSV(t, tc.cfg, tc.csv, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(t, dir, items)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
