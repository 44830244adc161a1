package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// Labels as real datasets spell them (spaces, capitals) reach the app as
// the concept IDs Clarifai's own loaders send, with the label as the name.
// The emulator refuses any other concept ID, as the rule says the server
// does, so these tests would fail on a raw label.

// regionConcepts returns the concepts of every region stored for an input,
// in order, as "id=name".
func regionConcepts(anns []*pb.Annotation) []string {
	var out []string
	for _, a := range anns {
		for _, r := range a.GetData().GetRegions() {
			for _, c := range r.GetData().GetConcepts() {
				out = append(out, c.GetId()+"="+c.GetName())
			}
		}
	}
	return out
}

func inputConcepts(in *pb.Input) []string {
	var out []string
	for _, c := range in.GetData().GetConcepts() {
		out = append(out, c.GetId()+"="+c.GetName())
	}
	return out
}

// TestE2EUltralyticsDataYAML: the layout most YOLO users have, with class
// names in data.yaml as an index -> name map and no classes key.
func TestE2EUltralyticsDataYAML(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	root := t.TempDir()
	ds := filepath.Join(root, "fruit")
	train := filepath.Join(ds, "images", "train", "a.jpg")
	val := filepath.Join(ds, "images", "val", "b.png")
	copyFile(t, filepath.Join(media, "img.jpg"), train)
	copyFile(t, filepath.Join(media, "img.png"), val)
	writeFile(t, filepath.Join(ds, "data.yaml"), "path: ../datasets/fruit\ntrain: images/train\nval: images/val\nnc: 2\nnames:\n  0: Defected Orange\n  1: Good Orange\n")
	writeFile(t, filepath.Join(ds, "labels", "train", "a.txt"), "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.2 0.2\n")
	writeFile(t, filepath.Join(ds, "labels", "val", "b.txt"), "1 0.5 0.5 1 1\n0 0.5 0.5 0 0.3\n") // a zero-area box: skipped
	job := filepath.Join(root, "job.yaml")
	writeFile(t, job, "target: clarifai\nsources: [{dir: {path: fruit, split_from_path: true, annotations: {format: yolo, path: fruit/labels, input_concepts: true}}}]\n")

	res := mustRun(t, cli.ExitOK, f, nil, "validate", "--config", job)
	for _, want := range []string{`"Defected Orange" -> defected-orange`, `"Good Orange" -> good-orange`, "2 concept IDs, 2 of them differ from their label"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, res)
		}
	}
	res = mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 2 || s["failed"] != 0 {
		t.Errorf("summary %v, want 2 uploaded (data.yaml and the label files are not inputs)", s)
	}
	if !strings.Contains(res.stderr, "b.txt line 2: box width 0 and height 0.3: zero-area box: skipped") {
		t.Errorf("no warning for the zero-area box:\n%s", res.stderr)
	}
	stored := storedByID(t, f)
	anns := annotationsByInput(f)
	for path, want := range map[string][]string{
		train: {"defected-orange=Defected Orange", "good-orange=Good Orange"},
		val:   {"good-orange=Good Orange"},
	} {
		id := idOfFile(t, pipeline.KindImage, path)
		si, ok := stored[id]
		if !ok {
			t.Fatalf("%s not stored", path)
		}
		checkProcessed(t, path, si.Input)
		if got := regionConcepts(anns[id]); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: region concepts %q, want %q", path, got, want)
		}
		if got := inputConcepts(si.Input); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: input concepts %q, want %q", path, got, want)
		}
	}
}

// TestE2EBadClassesFile: a classes file that cannot be used is bad
// configuration (exit 2), reported before anything is sent.
func TestE2EBadClassesFile(t *testing.T) {
	for name, tc := range map[string]struct{ files, spec, want string }{
		"nc differs":   {"data.yaml", "{format: yolo, path: ds/labels}", "nc is 3 but names has 2 classes"},
		"no classes":   {"", "{format: yolo, path: ds/labels}", "put data.yaml, classes.txt or obj.names in"},
		"missing file": {"", "{format: yolo, path: ds/labels, classes: ds/nope.yaml}", "nope.yaml does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, emulator.Options{})
			root := t.TempDir()
			copyFile(t, filepath.Join(media, "img.jpg"), filepath.Join(root, "ds", "images", "a.jpg"))
			writeFile(t, filepath.Join(root, "ds", "labels", "a.txt"), "0 0.5 0.5 0.5 0.5\n")
			if tc.files != "" {
				writeFile(t, filepath.Join(root, "ds", tc.files), "nc: 3\nnames: [cat, dog]\n")
			}
			job := filepath.Join(root, "job.yaml")
			writeFile(t, job, "target: clarifai\nsources: [{dir: {path: ds/images, annotations: "+tc.spec+"}}]\n")
			res := mustRun(t, cli.ExitUsage, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, res)
			}
			if n := len(f.srv.Inputs(testUser, testApp)); n != 0 {
				t.Errorf("%d inputs sent", n)
			}
		})
	}
}

// TestE2ECOCOOddFile: COCO categories with spaces and capitals, a folder
// label, an annotation ID stored twice (a copy: stored once, with a
// warning naming the file and the ID) and a zero-area box (skipped, with a
// warning).
func TestE2ECOCOOddFile(t *testing.T) {
	const coco = `{
  "images": [{"id": 1, "file_name": "img.jpg", "width": 32, "height": 24}],
  "annotations": [
    {"id": 10, "image_id": 1, "category_id": 77, "bbox": [4, 6, 16, 12]},
    {"id": 10, "image_id": 1, "category_id": 77, "bbox": [4, 6, 16, 12]},
    {"id": 11, "image_id": 1, "category_id": 10, "bbox": [0, 0, 32, 24]},
    {"id": 12, "image_id": 1, "category_id": 10, "bbox": [3, 3, 0, 5]}
  ],
  "categories": [{"id": 77, "name": "cell phone"}, {"id": 10, "name": "Traffic Light"}]
}`
	f := newFixture(t, emulator.Options{})
	root := t.TempDir()
	img := filepath.Join(root, "data", "Golden Retriever", "img.jpg")
	copyFile(t, filepath.Join(media, "img.jpg"), img)
	writeFile(t, filepath.Join(root, "instances.json"), coco)
	job := filepath.Join(root, "job.yaml")
	writeFile(t, job, "target: clarifai\nsources: [{dir: {path: data, labels_from_folders: true, annotations: {format: coco, path: instances.json}}}]\n")
	res := mustRun(t, cli.ExitOK, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	for _, want := range []string{
		`image \"img.jpg\" (id 1): annotation id 10 is repeated with the same content: the copy is skipped`,
		`annotation id 12: bbox [3 3 0 5] has zero area: skipped`,
		"COCO annotation IDs repeat",
	} {
		if !strings.Contains(res.stderr, want) && !strings.Contains(res.stderr, strings.ReplaceAll(want, `\"`, `"`)) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	id := idOfFile(t, pipeline.KindImage, img)
	si, ok := storedByID(t, f)[id]
	if !ok {
		t.Fatal("image not stored")
	}
	if got := strings.Join(inputConcepts(si.Input), ","); got != "golden-retriever=Golden Retriever" {
		t.Errorf("input concepts %s", got)
	}
	if got := strings.Join(regionConcepts(annotationsByInput(f)[id]), ","); got != "cell-phone=cell phone,traffic-light=Traffic Light" {
		t.Errorf("region concepts %s; want the repeated annotation once and no zero-area box", got)
	}
}

// TestE2EConceptIDProblems: two labels that make one ID, an explicit ID
// that breaks the rule and a label too long each fail their item alone,
// before sending, with the row or path and the label; the rest is sent.
func TestE2EConceptIDProblems(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	root := t.TempDir()
	writeCSV(t, filepath.Join(root, "m.csv"), [][]string{
		{"id", "text", "concepts"},
		{"r2", "two", "a b;Cat"},
		{"r3", "three", "a/b"},                            // collides with "a b"
		{"r4", "four", "cat;CAT"},                         // case variants of Cat: one concept
		{"r5", "five", strings.Repeat("long label ", 3)},  // 32 characters once trimmed: the limit
		{"r6", "six", strings.Repeat("longer label ", 3)}, // 38 characters: too long
	})
	writeFile(t, filepath.Join(root, "docs", "n.txt"), "hello")
	writeFile(t, filepath.Join(root, "docs", "n.txt.json"), `{"concepts": [{"id": "bad id", "name": "Bad"}]}`)
	job := filepath.Join(root, "job.yaml")
	// One transform worker: the first of two colliding labels is the
	// first row.
	writeFile(t, job, "target: clarifai\nupload: {workers: 1}\nsources: [{csv: {path: m.csv}}, {dir: {path: docs}}]\n")

	res := mustRun(t, cli.ExitItemsFailed, f, nil, "validate", "--config", job)
	for _, want := range []string{
		`m.csv row 3: concepts: labels "a b" and "a/b" both make the concept ID "a-b"`,
		`m.csv row 6: concepts: label "longer label longer label longer label" makes the concept ID`,
		`n.txt: concepts: concept "Bad": concept ID "bad id" has the character ' '`,
		`"a b" -> a-b`, `"Cat" -> cat`,
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, res)
		}
	}
	res = mustRun(t, cli.ExitItemsFailed, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if s := summary(t, res.stdout); s["uploaded"] != 3 || s["failed"] != 3 {
		t.Errorf("summary %v, want 3 uploaded, 3 failed", s)
	}
	stored := storedByID(t, f)
	for id, want := range map[string]string{
		"r2": "a-b=a b,cat=Cat",
		"r4": "cat=cat",
		"r5": "long-label-long-label-long-label=long label long label long label",
	} {
		if got := strings.Join(inputConcepts(stored[id].Input), ","); got != want {
			t.Errorf("input %s: concepts %s, want %s", id, got, want)
		}
	}
	for _, id := range []string{"r3", "r6"} {
		if _, ok := stored[id]; ok {
			t.Errorf("input %s was sent", id)
		}
	}
}

// TestE2EConceptIDsVerbatim: an app loaded by an older version holds raw
// labels as concept IDs; concept_ids: verbatim keeps sending them so. The
// emulator as the server refuses them per input unless the app takes such
// IDs (-any-concept-id), the answer the tests could not see before.
func TestE2EConceptIDsVerbatim(t *testing.T) {
	for _, anyID := range []bool{false, true} {
		f := newFixture(t, emulator.Options{AnyConceptID: anyID})
		root := t.TempDir()
		writeCSV(t, filepath.Join(root, "m.csv"), [][]string{{"id", "text", "concepts"}, {"v1", "one", "cell phone"}, {"v2", "two", "cat"}})
		job := filepath.Join(root, "job.yaml")
		writeFile(t, job, "target: clarifai\nconcept_ids: verbatim\nsources: [{csv: {path: m.csv}}]\n")
		want, failed := cli.ExitItemsFailed, 1
		if anyID {
			want, failed = cli.ExitOK, 0
		}
		res := mustRun(t, want, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
		if s := summary(t, res.stdout); s["failed"] != failed {
			t.Errorf("any concept ID %v: summary %v, want %d failed", anyID, s, failed)
		}
		if !anyID && !strings.Contains(res.stderr, `concepts[0] id \"cell phone\" must be 1-32 characters`) &&
			!strings.Contains(res.stderr, `concepts[0] id "cell phone" must be 1-32 characters`) {
			t.Errorf("the emulator's refusal is not reported:\n%s", res.stderr)
		}
		if anyID {
			if got := strings.Join(inputConcepts(storedByID(t, f)["v1"].Input), ","); got != "cell phone=cell phone" {
				t.Errorf("verbatim concepts %s", got)
			}
		}
	}
}

// TestE2ECloudStartConceptLabel: --concept takes a label, sent as its
// derived ID with the label as the name; --concept-ids verbatim sends it
// as given (here refused by the emulator, as the template of a bad ID).
func TestE2ECloudStartConceptLabel(t *testing.T) {
	f, _, _ := cloudFixture(t, emulator.Options{ExtractionDelay: time.Millisecond}, false)
	res := run(t, f, nil, "cloud", "start", "s3://public/data/", "--concept", "Golden Retriever", "--wait", "--poll-interval", "5ms")
	if res.code != cli.ExitOK {
		t.Fatalf("start:\n%s", res)
	}
	ins := f.srv.Inputs(testUser, testApp)
	if len(ins) == 0 {
		t.Fatal("no inputs")
	}
	for _, in := range ins {
		if got := strings.Join(inputConcepts(in.Input), ","); got != "golden-retriever=Golden Retriever" {
			t.Fatalf("input %s: concepts %s", in.Input.GetId(), got)
		}
	}
	res = run(t, f, nil, "cloud", "start", "s3://public/data/", "--concept", "Golden Retriever", "--concept-ids", "verbatim")
	if res.code == cli.ExitOK || !strings.Contains(res.stderr, `input_template: concepts[0] id "Golden Retriever" must be 1-32 characters`) {
		t.Fatalf("verbatim start with a bad concept ID:\n%s", res)
	}
	// The job file's concept_ids counts when the flag is not given.
	job := filepath.Join(t.TempDir(), "job.yaml")
	writeFile(t, job, "concept_ids: verbatim\n")
	res = run(t, f, nil, "cloud", "start", "s3://public/data/", "--concept", "Golden Retriever", "--config", job)
	if res.code == cli.ExitOK || !strings.Contains(res.stderr, `input_template: concepts[0] id "Golden Retriever" must be 1-32 characters`) {
		t.Fatalf("start with concept_ids: verbatim in the job file:\n%s", res)
	}
	res = run(t, f, nil, "cloud", "start", "s3://public/data/", "--concept", strings.Repeat("x", 40))
	if res.code != cli.ExitUsage || !strings.Contains(res.stderr, "the limit is 32") {
		t.Fatalf("start with a label too long:\n%s", res)
	}
}

// TestE2ECOCOImageListedTwice: an image ID listed twice makes the file
// unusable: the run stops naming the file, the place and the ID, and sends
// nothing.
func TestE2ECOCOImageListedTwice(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	root := t.TempDir()
	copyFile(t, filepath.Join(media, "img.jpg"), filepath.Join(root, "data", "img.jpg"))
	writeFile(t, filepath.Join(root, "ann.json"), `{"images": [{"id": 1, "file_name": "img.jpg"},
  {"id": 1, "file_name": "other.jpg"}], "annotations": [], "categories": []}`)
	job := filepath.Join(root, "job.yaml")
	writeFile(t, job, "target: clarifai\nsources: [{dir: {path: data, annotations: {format: coco, path: ann.json}}}]\n")
	res := mustRun(t, cli.ExitFatal, f, nil, "run", "--config", job, "--state-dir", t.TempDir())
	if !strings.Contains(res.stderr, "ann.json line 2 column 3: images[1]: image id 1 is listed twice (img.jpg and other.jpg)") {
		t.Errorf("stderr:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 0 {
		t.Errorf("%d inputs sent", n)
	}
}
