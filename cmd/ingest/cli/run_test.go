package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// everyKind builds a folder with a file of every supported format, a
// sidecar, and an image+text pair, and returns its path.
func everyKind(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	for _, f := range []string{"img.png", "img.jpg", "img.gif", "img.webp", "img.bmp", "img.tiff",
		"clip.mp4", "clip.mov", "tone.wav", "tone.mp3", "tone.flac", "tone.ogg", "note.txt"} {
		copyFile(t, filepath.Join(media, f), filepath.Join(dir, f))
	}
	copyFile(t, filepath.Join(media, "img.jpg"), filepath.Join(dir, "pairs", "caption.jpg"))
	writeFile(t, filepath.Join(dir, "pairs", "caption.txt"), "A test pattern, captioned.\n")
	writeFile(t, filepath.Join(dir, "img.png.json"), `{
  "concepts": ["cat", "-dog"],
  "metadata": {"origin": "sidecar", "nested": {"n": 1.5, "ok": true, "none": null, "list": [1, "two"]}},
  "geo": {"lat": 37.7749, "lon": -122.4194},
  "regions": [{"label": "cat", "box": [0.1, 0.2, 0.5, 0.6]}]
}`)
	return dir
}

func sha(t *testing.T, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b))
}

// TestRunEveryKindIntoEmulator is the walking skeleton end to end: a folder
// with every kind, through `ingest run`, into the emulator over real gRPC;
// then what the emulator stored is checked field by field.
func TestRunEveryKindIntoEmulator(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := everyKind(t)
	job := filepath.Join(t.TempDir(), "job.yaml")
	writeFile(t, job, `
target: clarifai
sources:
  - dir: {path: `+data+`, pair_text: true}
transforms:
  - metadata: {fields: [filename, sha256, mime, width, height]}
upload:
  dataset_ids: [e2e-set]
`)
	state := t.TempDir()
	res := run(t, f, nil, "run", "--config", job, "--state-dir", state)
	if res.code != cli.ExitOK {
		t.Fatalf("run failed:\n%s", res)
	}
	for _, want := range []string{"items read     14", "uploaded       14", "failed         0"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, res.stdout)
		}
	}

	stored := map[string]emulator.StoredInput{}
	for _, si := range f.srv.Inputs(testUser, testApp) {
		name, _ := si.Input.GetData().GetMetadata().GetFields()["filename"].AsInterface().(string)
		stored[name] = si
	}
	if len(stored) != 14 {
		t.Fatalf("emulator holds %d inputs, want 14: %v", len(stored), keys(stored))
	}
	for _, tc := range []struct {
		file string
		kind emulator.MediaKind
		mime string
	}{
		{"img.png", emulator.KindImage, "image/png"}, {"img.jpg", emulator.KindImage, "image/jpeg"},
		{"img.gif", emulator.KindImage, "image/gif"}, {"img.webp", emulator.KindImage, "image/webp"},
		{"img.bmp", emulator.KindImage, "image/bmp"}, {"img.tiff", emulator.KindImage, "image/tiff"},
		{"clip.mp4", emulator.KindVideo, "video/mp4"}, {"clip.mov", emulator.KindVideo, "video/quicktime"},
		{"tone.wav", emulator.KindAudio, "audio/wav"}, {"tone.mp3", emulator.KindAudio, "audio/mpeg"},
		{"tone.flac", emulator.KindAudio, "audio/flac"}, {"tone.ogg", emulator.KindAudio, "audio/ogg"},
		{"note.txt", emulator.KindText, "text/plain"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			si, ok := stored[tc.file]
			if !ok {
				t.Fatal("not stored")
			}
			in := si.Input
			path := filepath.Join(data, tc.file)
			sum, size := sha(t, path)
			if len(si.Content) != 1 || si.Content[0].Kind != tc.kind || si.Content[0].SHA256 != sum || si.Content[0].Size != size {
				t.Errorf("content = %+v, want one %s of %d bytes with sha256 %s", si.Content, tc.kind, size, sum)
			}
			md := in.GetData().GetMetadata().AsMap()
			if md["sha256"] != sum || md["mime"] != tc.mime {
				t.Errorf("metadata sha256/mime = %v/%v", md["sha256"], md["mime"])
			}
			if tc.kind == emulator.KindImage && (md["width"] != 32.0 || md["height"] != 24.0) {
				t.Errorf("image size in metadata = %vx%v, want 32x24", md["width"], md["height"])
			}
			if got := in.GetDatasetIds(); len(got) != 1 || got[0] != "e2e-set" {
				t.Errorf("dataset ids = %v", got)
			}
			if code := in.GetStatus().GetCode(); code != st.StatusCode_INPUT_SUCCESS {
				t.Errorf("status = %v, want INPUT_SUCCESS", code)
			}
			// The ID is the documented deterministic one.
			b, _ := os.ReadFile(path)
			kind, _ := pipeline.ParseKind(string(tc.kind))
			want := ids.DeriveID(&pipeline.Item{Kind: kind, Blob: pipeline.BytesBlob(b), DatasetIDs: []string{"e2e-set"}}, b)
			if in.GetId() != want {
				t.Errorf("id = %q, want the content-derived %q", in.GetId(), want)
			}
		})
	}

	// The sidecar's labels (explicit values), metadata (nested, typed),
	// and geo point (longitude first, float32).
	png := stored["img.png"].Input.GetData()
	concepts := map[string]float32{}
	for _, c := range png.GetConcepts() {
		concepts[c.GetId()] = c.GetValue()
		if c.GetName() != c.GetId() {
			t.Errorf("concept %q has name %q", c.GetId(), c.GetName())
		}
	}
	if len(concepts) != 2 || concepts["cat"] != 1 || concepts["dog"] != 0 {
		t.Errorf("concepts = %v, want cat=1 dog=0", concepts)
	}
	md, _ := json.Marshal(png.GetMetadata().AsMap()["nested"])
	if string(md) != `{"list":[1,"two"],"n":1.5,"none":null,"ok":true}` {
		t.Errorf("nested metadata = %s", md)
	}
	if g := png.GetGeo().GetGeoPoint(); g.GetLatitude() != float32(37.7749) || g.GetLongitude() != float32(-122.4194) {
		t.Errorf("geo = %v", g)
	}

	// The image+text pair is one multimodal input carrying both.
	var pair *pb.Input
	var pairContent []emulator.Content
	for _, si := range f.srv.Inputs(testUser, testApp) {
		if si.Input.GetData().GetMetadata().AsMap()["filename"] == "caption.jpg" {
			pair, pairContent = si.Input, si.Content
		}
	}
	if pair == nil || len(pairContent) != 2 {
		t.Fatalf("multimodal input: %v %+v", pair, pairContent)
	}
	textSum := sha256.Sum256([]byte("A test pattern, captioned.\n"))
	if pairContent[1].Kind != emulator.KindText || pairContent[1].SHA256 != hex.EncodeToString(textSum[:]) {
		t.Errorf("multimodal text part = %+v", pairContent[1])
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
