package cli_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// End-to-end tests, one per source kind: the real CLI (`ingest run` with a
// job file) uploads into an in-process emulator over gRPC on 127.0.0.1, and
// the test reads back what the emulator stored: IDs, concepts with their
// explicit values, metadata with its JSON types, geo points as float32,
// dataset IDs, content hashes and region annotations.

// writeCSV writes rows with encoding/csv, which quotes what needs quoting.
func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(fh)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestE2ECSVRichSchema(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir := t.TempDir()
	for _, name := range []string{"img.png", "img.jpg", "note.txt"} {
		copyFile(t, filepath.Join(media, name), filepath.Join(dir, "files", name))
	}
	const (
		caption   = "A short caption, written in the manifest."
		mmText    = "A captioned photo."
		mmURLText = "A dog, by URL."
		catURL    = "https://example.com/pets/cat.jpg"
		dogURL    = "https://example.com/pets/dog.png"
		toneURL   = "https://example.com/sounds/tone.mp3"
	)
	writeCSV(t, filepath.Join(dir, "manifest.csv"), [][]string{
		{"id", "kind", "url", "path", "text", "concepts", "metadata", "lat", "lon", "dataset_ids", "split", "annotations"},
		{"row-1", "image", "", "files/img.png", "", "cat;-dog;bird:0",
			`{"nested": {"n": 1.5, "ok": true, "none": null, "list": [1, "two"]}, "count": 3}`,
			"37.7749", "-122.4194", "ds-a;ds-b", "train",
			`[{"label": "cat", "box": [0.1, 0.2, 0.5, 0.6]}, {"label": "dog", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.4]]}]`},
		{"", "", catURL, "", "", "cat:1, fluffy", "", "", "", "", "validate", ""},
		{"", "text", "", "", caption, "caption", `{"lang": "en"}`, "", "", "", "test", ""},
		{"", "multimodal", "", "files/img.jpg", mmText, "photo;-blurry", "", "-33.8688", "151.2093", "", "", ""},
		{"", "", "", "files/note.txt", "", "", "", "", "", "", "", ""},
		{"", "", toneURL, "", "", "", "", "", "", "ds-a", "", ""},
		{"", "multimodal", dogURL, "", mmURLText, "dog", "", "", "", "", "", ""},
	})
	job := writeJob(t, `
target: clarifai
sources:
  - csv:
      path: `+filepath.Join(dir, "manifest.csv")+`
      dataset_ids: [csv-set]
      split_datasets: {train: tr-set, validate: val-set}
`)
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 7 || s["failed"] != 0 {
		t.Errorf("summary %v, want 7 uploaded", s)
	}

	stored := storedByID(t, f)
	anns := annotationsByInput(f)
	img := filepath.Join(dir, "files", "img.png")
	jpg := filepath.Join(dir, "files", "img.jpg")
	note := filepath.Join(dir, "files", "note.txt")
	for _, tc := range []struct {
		name     string
		id       string
		concepts []concept
		meta     string
		geo      *[2]float64
		datasets []string
		content  [][2]string
		url      string
		regions  []region
	}{
		{
			name: "image by path with everything", id: "row-1",
			concepts: []concept{{id: "cat", value: 1}, {id: "dog", value: 0}, {id: "bird", value: 0}},
			meta:     `{"count":3,"nested":{"list":[1,"two"],"n":1.5,"none":null,"ok":true},"split":"train"}`,
			geo:      &[2]float64{37.7749, -122.4194},
			datasets: []string{"csv-set", "ds-a", "ds-b", "tr-set"},
			content:  [][2]string{{"image", fileSHA(t, img)}},
			regions: []region{
				{label: "cat", box: []float64{0.2, 0.1, 0.6, 0.5}},
				{label: "dog", poly: [][2]float64{{0.1, 0.1}, {0.1, 0.5}, {0.4, 0.3}}},
			},
		},
		{
			name: "image by url", id: idOfURL(pipeline.KindImage, catURL, "csv-set", "val-set"),
			concepts: []concept{{id: "cat", value: 1}, {id: "fluffy", value: 1}},
			meta:     `{"split":"validate"}`, datasets: []string{"csv-set", "val-set"}, url: catURL,
		},
		{
			name: "raw text", id: idOfText(caption, "csv-set"),
			concepts: []concept{{id: "caption", value: 1}},
			meta:     `{"lang":"en","split":"test"}`, datasets: []string{"csv-set"},
			content: [][2]string{{"text", textSHA(caption)}},
		},
		{
			name: "multimodal by path", id: idOfImageText(t, jpg, mmText, "csv-set"),
			concepts: []concept{{id: "photo", value: 1}, {id: "blurry", value: 0}},
			meta:     "null", geo: &[2]float64{-33.8688, 151.2093}, datasets: []string{"csv-set"},
			content: [][2]string{{"image", fileSHA(t, jpg)}, {"text", textSHA(mmText)}},
		},
		{
			name: "text file by path, kind from the extension", id: idOfFile(t, pipeline.KindText, note, "csv-set"),
			meta: "null", datasets: []string{"csv-set"}, content: [][2]string{{"text", fileSHA(t, note)}},
		},
		{
			name: "audio by url, kind from the extension", id: idOfURL(pipeline.KindAudio, toneURL, "csv-set", "ds-a"),
			meta: "null", datasets: []string{"csv-set", "ds-a"}, url: toneURL,
		},
		{
			name: "multimodal by url", id: idOfURLText(dogURL, mmURLText, "csv-set"),
			concepts: []concept{{id: "dog", value: 1}}, meta: "null", datasets: []string{"csv-set"},
			url: dogURL, content: [][2]string{{"text", textSHA(mmURLText)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			si, ok := stored[tc.id]
			if !ok {
				t.Fatalf("input %s not stored; stored: %v", tc.id, keys(stored))
			}
			in := si.Input
			checkProcessed(t, tc.name, in)
			checkConcepts(t, tc.name, in.GetData().GetConcepts(), tc.concepts...)
			if got := metaJSON(t, in); got != tc.meta {
				t.Errorf("metadata %s, want %s", got, tc.meta)
			}
			checkGeo(t, tc.name, in, tc.geo)
			checkDatasets(t, tc.name, in, tc.datasets...)
			checkContent(t, tc.name, si, tc.content...)
			var urls []string
			for _, u := range []string{in.GetData().GetImage().GetUrl(), in.GetData().GetAudio().GetUrl()} {
				if u != "" {
					urls = append(urls, u)
				}
			}
			if tc.url != "" && (len(urls) != 1 || urls[0] != tc.url) || tc.url == "" && len(urls) != 0 {
				t.Errorf("urls %v, want %q", urls, tc.url)
			}
			checkRegions(t, tc.name, anns[tc.id], tc.regions...)
		})
	}
	if len(stored) != 7 {
		t.Errorf("emulator holds %d inputs, want 7: %v", len(stored), keys(stored))
	}
}

// TestE2ECSVSDKFormat reads manifests in the official SDK's format, as the
// SDK documents them, unchanged: every cell double-quoted, single-quoted
// metadata with an apostrophe inside a value and Python literals,
// "longitude,latitude" geopoints, and an empty concepts cell between
// labelled rows (which the SDK would let drop the labels of later rows).
func TestE2ECSVSDKFormat(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	dir := t.TempDir()
	for _, name := range []string{"img.png", "img.gif", "img.jpg"} {
		copyFile(t, filepath.Join(media, name), filepath.Join(dir, "images", name))
	}
	writeFile(t, filepath.Join(dir, "reviews.csv"), `"inputid","input","concepts","metadata","geopoints"
"review-1","The station was clean and the train was on time.","positive,on-time","{'source': 'survey', 'stars': 5, 'verified': True, 'extra': None}","-73.9857,40.7484"
"review-2","I couldn't find the platform.","negative,help","{'author': 'O'Brien', 'nested': {'k': [1, 'x']}}",""
"review-3","No labels on this one.","","",""
"","  Labels after an empty row.","neutral","{""source"": ""json""}",""
`)
	writeFile(t, filepath.Join(dir, "images.csv"), `"inputid","input","concepts","metadata","geopoints"
"pic-1","images/img.png","cat,dog","{'photographer': 'ann'}","2.2945,48.8584"
"","images/img.gif","","",""
"pic-3","images/img.jpg","bird","",""
`)
	job := writeJob(t, `
target: clarifai
sources:
  - csv: {path: `+filepath.Join(dir, "reviews.csv")+`, input_type: text, csv_type: raw}
  - csv: {path: `+filepath.Join(dir, "images.csv")+`, input_type: image, csv_type: file_path}
`)
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 7 || s["failed"] != 0 {
		t.Errorf("summary %v, want 7 uploaded", s)
	}
	stored := storedByID(t, f)
	const raw4 = "  Labels after an empty row." // raw text is sent as written
	gif := filepath.Join(dir, "images", "img.gif")
	for _, tc := range []struct {
		id       string
		concepts []concept
		meta     string
		geo      *[2]float64
		content  [2]string
	}{
		{"review-1", []concept{{id: "positive", value: 1}, {id: "on-time", value: 1}},
			`{"extra":null,"source":"survey","stars":5,"verified":true}`, &[2]float64{40.7484, -73.9857},
			[2]string{"text", textSHA("The station was clean and the train was on time.")}},
		{"review-2", []concept{{id: "negative", value: 1}, {id: "help", value: 1}},
			`{"author":"O'Brien","nested":{"k":[1,"x"]}}`, nil, [2]string{"text", textSHA("I couldn't find the platform.")}},
		{"review-3", nil, "null", nil, [2]string{"text", textSHA("No labels on this one.")}},
		{idOfText(raw4), []concept{{id: "neutral", value: 1}}, `{"source":"json"}`, nil, [2]string{"text", textSHA(raw4)}},
		{"pic-1", []concept{{id: "cat", value: 1}, {id: "dog", value: 1}}, `{"photographer":"ann"}`,
			&[2]float64{48.8584, 2.2945}, [2]string{"image", fileSHA(t, filepath.Join(dir, "images", "img.png"))}},
		{idOfFile(t, pipeline.KindImage, gif), nil, "null", nil, [2]string{"image", fileSHA(t, gif)}},
		{"pic-3", []concept{{id: "bird", value: 1}}, "null", nil, [2]string{"image", fileSHA(t, filepath.Join(dir, "images", "img.jpg"))}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			si, ok := stored[tc.id]
			if !ok {
				t.Fatalf("not stored; stored: %v", keys(stored))
			}
			checkProcessed(t, tc.id, si.Input)
			checkConcepts(t, tc.id, si.Input.GetData().GetConcepts(), tc.concepts...)
			if got := metaJSON(t, si.Input); got != tc.meta {
				t.Errorf("metadata %s, want %s", got, tc.meta)
			}
			checkGeo(t, tc.id, si.Input, tc.geo)
			checkDatasets(t, tc.id, si.Input)
			checkContent(t, tc.id, si, tc.content)
		})
	}
	if len(stored) != 7 {
		t.Errorf("emulator holds %d inputs, want 7: %v", len(stored), keys(stored))
	}
}

// TestE2EURLList: labels after tabs (negative ones too), comments and blank
// lines skipped, and an invalid URL reported with its line number while the
// rest upload (exit 3).
func TestE2EURLList(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	list := filepath.Join(t.TempDir(), "urls.txt")
	writeFile(t, list, "# pets, one per line\n"+
		"https://example.com/pets/cat.jpg\tcat\t-dog\n"+
		"\n"+
		"   # an indented comment\n"+
		"https://example.com/pets/dog.png\tdog;puppy:1,cat:0\r\n"+
		"ftp://example.com/pets/bad.jpg\tcat\n"+ // line 6: not http(s)
		"https://example.com/clips/run.mp4\trunning\n"+
		"https://example.com/notes/readme.txt\n")
	state := t.TempDir()
	job := writeJob(t, "target: clarifai\nsources: [{urls: {path: "+list+", dataset_ids: [web]}}]\n")
	res := mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--config", job, "--state-dir", state)
	if s := summary(t, res.stdout); s["uploaded"] != 4 || s["failed"] != 1 {
		t.Errorf("summary %v, want 4 uploaded and 1 failed", s)
	}
	recs := readReport(t, filepath.Join(state, "failures.jsonl"))
	if len(recs) != 1 || recs[0].Provenance.Line != 6 || recs[0].Stage != "source" ||
		!strings.Contains(recs[0].Message, "line 6") || !strings.Contains(recs[0].Message, "ftp://example.com/pets/bad.jpg") {
		t.Errorf("failure report = %+v, want the ftp URL at line 6", recs)
	}

	stored := storedByID(t, f)
	for _, tc := range []struct {
		url      string
		kind     pipeline.Kind
		concepts []concept
	}{
		{"https://example.com/pets/cat.jpg", pipeline.KindImage, []concept{{id: "cat", value: 1}, {id: "dog", value: 0}}},
		{"https://example.com/pets/dog.png", pipeline.KindImage, []concept{{id: "dog", value: 1}, {id: "puppy", value: 1}, {id: "cat", value: 0}}},
		{"https://example.com/clips/run.mp4", pipeline.KindVideo, []concept{{id: "running", value: 1}}},
		{"https://example.com/notes/readme.txt", pipeline.KindText, nil},
	} {
		t.Run(tc.url, func(t *testing.T) {
			si, ok := stored[idOfURL(tc.kind, tc.url, "web")]
			if !ok {
				t.Fatalf("not stored as a %v; stored: %v", tc.kind, keys(stored))
			}
			d := si.Input.GetData()
			var url string
			switch tc.kind {
			case pipeline.KindImage:
				url = d.GetImage().GetUrl()
			case pipeline.KindVideo:
				url = d.GetVideo().GetUrl()
			case pipeline.KindText:
				url = d.GetText().GetUrl()
			}
			if url != tc.url {
				t.Errorf("stored %s url %q, want %q", tc.kind, url, tc.url)
			}
			checkProcessed(t, tc.url, si.Input)
			checkConcepts(t, tc.url, d.GetConcepts(), tc.concepts...)
			checkDatasets(t, tc.url, si.Input, "web")
		})
	}
	if len(stored) != 4 {
		t.Errorf("emulator holds %d inputs, want 4: %v", len(stored), keys(stored))
	}
}

// TestE2EDirSidecarsFoldersSplits: a folder with train/val/test splits,
// folder labels and a sidecar (string and object concepts, nested
// metadata, geo, a box and a polygon in pixels, normalized with the real
// image size of 32x24).
func TestE2EDirSidecarsFoldersSplits(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := filepath.Join(t.TempDir(), "pets")
	a := filepath.Join(data, "train", "cat", "a.png")
	b := filepath.Join(data, "train", "dog", "b.jpg")
	c := filepath.Join(data, "val", "cat", "c.gif")
	d := filepath.Join(data, "test", "d.bmp")
	copyFile(t, filepath.Join(media, "img.png"), a)
	copyFile(t, filepath.Join(media, "img.jpg"), b)
	copyFile(t, filepath.Join(media, "img.gif"), c)
	copyFile(t, filepath.Join(media, "img.bmp"), d)
	writeFile(t, a+".json", `{
  "concepts": ["-dog", "bird:0", {"id": "x1", "name": "Spotted", "value": 1}],
  "metadata": {"photographer": "ann", "exif": {"iso": 200, "flash": false, "lens": null, "tags": ["a", 2]}},
  "geo": {"lat": 48.8584, "lon": 2.2945},
  "regions": [
    {"label": "cat", "box": [4, 6, 20, 18], "pixels": true},
    {"label": "cat", "polygon": [[8, 6], [16, 6], [12, 12]], "pixels": true}
  ],
  "dataset_ids": ["extra"]
}`)
	job := writeJob(t, `
target: clarifai
sources:
  - dir:
      path: `+data+`
      labels_from_folders: true
      split_from_path: true
      split_datasets: {train: pets-train, validate: pets-val}
      dataset_ids: [pets]
`)
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 4 || s["failed"] != 0 {
		t.Errorf("summary %v, want 4 uploaded", s)
	}
	stored := storedByID(t, f)
	anns := annotationsByInput(f)
	for _, tc := range []struct {
		name     string
		id       string
		concepts []concept
		meta     string
		geo      *[2]float64
		datasets []string
		regions  []region
	}{
		{
			name: "train/cat/a.png with a sidecar",
			id:   idOfFile(t, pipeline.KindImage, a, "pets", "extra", "pets-train"),
			concepts: []concept{{id: "dog", value: 0}, {id: "bird", value: 0}, {id: "x1", name: "Spotted", value: 1},
				{id: "cat", value: 1}},
			meta:     `{"exif":{"flash":false,"iso":200,"lens":null,"tags":["a",2]},"photographer":"ann","split":"train"}`,
			geo:      &[2]float64{48.8584, 2.2945},
			datasets: []string{"pets", "extra", "pets-train"},
			regions: []region{
				// box [4, 6, 20, 18] px of 32x24: left 4/32, top 6/24, right 20/32, bottom 18/24.
				{label: "cat", box: []float64{0.25, 0.125, 0.75, 0.625}},
				// (x, y) px → (row y/24, col x/32).
				{label: "cat", poly: [][2]float64{{0.25, 0.25}, {0.25, 0.5}, {0.5, 0.375}}},
			},
		},
		{
			name: "train/dog/b.jpg", id: idOfFile(t, pipeline.KindImage, b, "pets", "pets-train"),
			concepts: []concept{{id: "dog", value: 1}}, meta: `{"split":"train"}`, datasets: []string{"pets", "pets-train"},
		},
		{
			name: "val/cat/c.gif", id: idOfFile(t, pipeline.KindImage, c, "pets", "pets-val"),
			concepts: []concept{{id: "cat", value: 1}}, meta: `{"split":"validate"}`, datasets: []string{"pets", "pets-val"},
		},
		{
			// A split folder is no label; test has no split dataset.
			name: "test/d.bmp", id: idOfFile(t, pipeline.KindImage, d, "pets"),
			meta: `{"split":"test"}`, datasets: []string{"pets"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			si, ok := stored[tc.id]
			if !ok {
				t.Fatalf("input %s not stored; stored: %v", tc.id, keys(stored))
			}
			checkProcessed(t, tc.name, si.Input)
			checkConcepts(t, tc.name, si.Input.GetData().GetConcepts(), tc.concepts...)
			if got := metaJSON(t, si.Input); got != tc.meta {
				t.Errorf("metadata %s, want %s", got, tc.meta)
			}
			checkGeo(t, tc.name, si.Input, tc.geo)
			checkDatasets(t, tc.name, si.Input, tc.datasets...)
			checkRegions(t, tc.name, anns[tc.id], tc.regions...)
		})
	}
	if len(stored) != 4 {
		t.Errorf("emulator holds %d inputs, want 4 (the sidecar is no input): %v", len(stored), keys(stored))
	}
}

// TestE2EAnnotationFiles joins COCO (boxes, then segmentation polygons),
// YOLO and Pascal VOC files to the images of a folder and checks the
// regions stored, converted from pixels with the image size read from the
// file (32x24).
func TestE2EAnnotationFiles(t *testing.T) {
	// Every format describes the same two images: on img.png a cat at
	// x 4..20, y 6..18 (px), on img.jpg a dog and a cat.
	const coco = `{
  "info": {"description": "e2e"},
  "images": [{"id": 1, "file_name": "img.png", "width": 32, "height": 24},
             {"id": 2, "file_name": "images/img.jpg", "width": 32, "height": 24}],
  "annotations": [
    {"id": 10, "image_id": 1, "category_id": 1, "bbox": [4, 6, 16, 12], "area": 192, "iscrowd": 0,
     "segmentation": [[8, 6, 16, 6, 12, 12]]},
    {"id": 11, "image_id": 2, "category_id": 2, "bbox": [0, 0, 32, 24]},
    {"id": 12, "image_id": 2, "category_id": 1, "bbox": [16, 12, 8, 6]}
  ],
  "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
}`
	for _, tc := range []struct {
		format string
		files  map[string]string // relative to the job's folder
		spec   string
		png    []region
		jpg    []region
		// inputConcepts: region labels are also input concepts.
		inputConcepts bool
	}{
		{
			// Without polygons the segmentation is ignored: boxes.
			format: "coco",
			files:  map[string]string{"annotations/instances.json": coco},
			spec:   "{format: coco, path: annotations/instances.json}",
			png:    []region{{label: "cat", box: []float64{0.25, 0.125, 0.75, 0.625}}},
			jpg:    []region{{label: "dog", box: []float64{0, 0, 1, 1}}, {label: "cat", box: []float64{0.5, 0.5, 0.75, 0.75}}},
		},
		{
			// With polygons the segmentation is the region; annotations
			// without one keep their box.
			format:        "coco polygons",
			files:         map[string]string{"annotations/instances.json": coco},
			spec:          "{format: coco, path: annotations/instances.json, polygons: true, input_concepts: true}",
			png:           []region{{label: "cat", poly: [][2]float64{{0.25, 0.25}, {0.25, 0.5}, {0.5, 0.375}}}},
			jpg:           []region{{label: "dog", box: []float64{0, 0, 1, 1}}, {label: "cat", box: []float64{0.5, 0.5, 0.75, 0.75}}},
			inputConcepts: true,
		},
		{
			format: "yolo",
			files: map[string]string{
				"labels/classes.txt": "cat\ndog\n",
				// class cx cy w h, normalized; a YOLO-seg polygon x1 y1 x2 y2 ...
				"labels/img.txt": "0 0.375 0.5 0.5 0.5\n",
				"labels/images/img.txt": "1 0.5 0.5 1 1\n" +
					"0 0.25 0.25 0.5 0.25 0.375 0.5\n",
			},
			spec: "{format: yolo, path: labels, classes: labels/classes.txt}",
			png:  []region{{label: "cat", box: []float64{0.25, 0.125, 0.75, 0.625}}},
			jpg: []region{{label: "dog", box: []float64{0, 0, 1, 1}},
				{label: "cat", poly: [][2]float64{{0.25, 0.25}, {0.25, 0.5}, {0.5, 0.375}}}},
		},
		{
			format: "voc",
			files: map[string]string{
				// VOC is 1-based and includes the last pixel: x 5..20 is edges 4..20.
				"voc/img.xml": `<annotation><filename>img.png</filename><size><width>32</width><height>24</height><depth>3</depth></size>
  <object><name>cat</name><difficult>0</difficult><bndbox><xmin>5</xmin><ymin>7</ymin><xmax>20</xmax><ymax>18</ymax></bndbox></object>
</annotation>`,
				"voc/images/img.xml": `<annotation><size><width>32</width><height>24</height></size>
  <object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>32</xmax><ymax>24</ymax></bndbox></object>
  <object><name>cat</name><bndbox><xmin>17</xmin><ymin>13</ymin><xmax>24</xmax><ymax>18</ymax></bndbox></object>
</annotation>`,
			},
			spec: "{format: voc, path: voc}",
			png:  []region{{label: "cat", box: []float64{0.25, 0.125, 0.75, 0.625}}},
			jpg:  []region{{label: "dog", box: []float64{0, 0, 1, 1}}, {label: "cat", box: []float64{0.5, 0.5, 0.75, 0.75}}},
		},
	} {
		t.Run(tc.format, func(t *testing.T) {
			f := newFixture(t, emulator.Options{})
			root := t.TempDir()
			png := filepath.Join(root, "data", "img.png")
			jpg := filepath.Join(root, "data", "images", "img.jpg")
			// Not annotated. (YOLO and VOC join by stem: an img.gif here
			// would take img.jpg's labels.)
			gif := filepath.Join(root, "data", "images", "other.gif")
			copyFile(t, filepath.Join(media, "img.png"), png)
			copyFile(t, filepath.Join(media, "img.jpg"), jpg)
			copyFile(t, filepath.Join(media, "img.gif"), gif)
			for name, content := range tc.files {
				writeFile(t, filepath.Join(root, name), content)
			}
			job := filepath.Join(root, "job.yaml")
			writeFile(t, job, "target: clarifai\nsources: [{dir: {path: data, annotations: "+tc.spec+"}}]\n")
			res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
			if s := summary(t, res.stdout); s["uploaded"] != 3 || s["failed"] != 0 {
				t.Errorf("summary %v, want 3 uploaded", s)
			}
			stored := storedByID(t, f)
			anns := annotationsByInput(f)
			for _, img := range []struct {
				path    string
				regions []region
			}{{png, tc.png}, {jpg, tc.jpg}, {gif, nil}} {
				id := idOfFile(t, pipeline.KindImage, img.path)
				si, ok := stored[id]
				if !ok {
					t.Fatalf("%s not stored; stored: %v", img.path, keys(stored))
				}
				checkProcessed(t, img.path, si.Input)
				// Region labels are input concepts only with
				// input_concepts, and the size the file states (an internal metadata key) is not
				// sent. (An annotated image is sent an empty metadata
				// object where it had none: harmless, accepted here.)
				var labels []concept
				for _, r := range img.regions {
					if tc.inputConcepts && !slices.ContainsFunc(labels, func(c concept) bool { return c.id == r.label }) {
						labels = append(labels, concept{id: r.label, value: 1})
					}
				}
				checkConcepts(t, img.path, si.Input.GetData().GetConcepts(), labels...)
				if got := metaJSON(t, si.Input); got != "null" && got != "{}" {
					t.Errorf("%s: metadata %s, want none", img.path, got)
				}
				checkRegions(t, img.path, anns[id], img.regions...)
			}
			if len(stored) != 3 || len(f.srv.Annotations(testUser, testApp)) != len(tc.png)+len(tc.jpg) {
				t.Errorf("emulator holds %d inputs and %d annotations, want 3 and %d", len(stored),
					len(f.srv.Annotations(testUser, testApp)), len(tc.png)+len(tc.jpg))
			}
		})
	}
}

// TestE2ETransformChain: metadata enrichment, then unicode ascii on the
// text and a metadata field, then a geo point lifted out of metadata. The
// emulator hashes the raw text it receives: the hash must be that of the
// stripped text.
func TestE2ETransformChain(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := filepath.Join(t.TempDir(), "docs")
	const original = "Café naïve 東京 — ok\n"
	const stripped = "Caf nave   ok\n"
	note := filepath.Join(data, "menu.txt")
	writeFile(t, note, original)
	writeFile(t, note+".json", `{"metadata": {"caption": "Crème brûlée", "gps": {"lat": 51.5007, "lon": "-0.1246"}}}`)
	png := filepath.Join(data, "photo.png")
	copyFile(t, filepath.Join(media, "img.png"), png)
	writeFile(t, png+".json", `{"metadata": {"caption": "plain", "gps": {"lat": -22.9519, "lon": -43.2105}}}`)
	job := writeJob(t, `
target: clarifai
sources: [{dir: {path: `+data+`}}]
transforms:
  - metadata:
      fields: [filename, size, sha256, width, height]
      static: {project: {name: e2e, version: 2, public: false, owner: null}}
  - unicode: {mode: ascii, metadata_fields: [caption]}
  - geo: {from_metadata: {lat: gps.lat, lon: gps.lon, remove: true}}
`)
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 2 || s["failed"] != 0 {
		t.Errorf("summary %v, want 2 uploaded", s)
	}
	var text, image *emulator.StoredInput
	for _, si := range f.srv.Inputs(testUser, testApp) {
		switch si.Input.GetData().GetMetadata().AsMap()["filename"] {
		case "menu.txt":
			text = &si
		case "photo.png":
			image = &si
		}
	}
	if text == nil || image == nil {
		t.Fatalf("stored inputs: %v", f.srv.Inputs(testUser, testApp))
	}
	// The text went out stripped; size and sha256 describe the file as read.
	checkContent(t, "menu.txt", *text, [2]string{"text", textSHA(stripped)})
	if id := text.Input.GetId(); id != idOfText(stripped) {
		t.Errorf("text id %s, want the one derived from the stripped text %s", id, idOfText(stripped))
	}
	project := `"project":{"name":"e2e","owner":null,"public":false,"version":2}`
	want := `{"caption":"Crme brle","filename":"menu.txt",` + project + `,"sha256":"` + textSHA(original) + `","size":` +
		itoa(len(original)) + `}`
	if got := metaJSON(t, text.Input); got != want {
		t.Errorf("text metadata\n got %s\nwant %s", got, want)
	}
	checkGeo(t, "menu.txt", text.Input, &[2]float64{51.5007, -0.1246})

	checkContent(t, "photo.png", *image, [2]string{"image", fileSHA(t, png)})
	fi, err := os.Stat(png)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"caption":"plain","filename":"photo.png","height":24,` + project + `,"sha256":"` + fileSHA(t, png) +
		`","size":` + itoa(int(fi.Size())) + `,"width":32}`
	if got := metaJSON(t, image.Input); got != want {
		t.Errorf("image metadata\n got %s\nwant %s", got, want)
	}
	checkGeo(t, "photo.png", image.Input, &[2]float64{-22.9519, -43.2105})
}
