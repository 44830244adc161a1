package clarifai

import (
	"bytes"
	"errors"
	stdimage "image"
	stdpng "image/png"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// grayPNG returns a small PNG of one shade.
func grayPNG(t *testing.T, shade uint8) []byte {
	t.Helper()
	m := stdimage.NewGray(stdimage.Rect(0, 0, 4, 4))
	for i := range m.Pix {
		m.Pix[i] = shade
	}
	var b bytes.Buffer
	if err := stdpng.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSinkVerifyContent: a file under a given ID whose stat changed
// (Sync.VerifyContent) is compared with the bytes the intent log recorded:
// the same bytes are not posted, what else changed is patched; other bytes
// are a conflict, or a replace when that is the action.
func TestSinkVerifyContent(t *testing.T) {
	e := startEmulator(t, emulator.Options{})
	log := &memIntents{sums: map[string]uint64{}}
	item := func(id string, shade uint8, label string) *pipeline.Item {
		return &pipeline.Item{ID: id, Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(grayPNG(t, shade)),
			Concepts: []pipeline.Concept{pipeline.Positive(label)}}
	}
	first := []*pipeline.Item{item("same", 1, "cat"), item("other", 2, "cat"), item("repl", 3, "cat")}
	mustDone(t, e.run(t, SinkConfig{Intents: log}, first...), first...)

	content := fields(pipeline.FieldContent)
	touched := item("same", 1, "lion")
	touched.Sync = &pipeline.Sync{PriorID: "same", Changed: content.With(pipeline.FieldConcepts), VerifyContent: true}
	rewritten := item("other", 20, "cat")
	rewritten.Sync = &pipeline.Sync{PriorID: "other", Changed: content, VerifyContent: true}
	replaced := item("repl", 30, "cat")
	replaced.Sync = &pipeline.Sync{Action: pipeline.ActionReplace, PriorID: "repl", Changed: content, VerifyContent: true}

	posts := e.srv.Calls()["PostInputs"]
	out := e.run(t, SinkConfig{Intents: log}, touched, rewritten, replaced)
	mustDone(t, out, touched, replaced)
	if n := e.srv.Calls()["PostInputs"] - posts; n != 1 {
		t.Errorf("%d PostInputs calls; want 1, for the replaced input only", n)
	}
	if s := touched.Sync; s.Action != pipeline.ActionUpdate || s.Changed != fields(pipeline.FieldConcepts) || s.VerifyContent {
		t.Errorf("touched: sync %+v, want an update of its concepts", s)
	}
	if c := e.srv.InputConcepts(emuUser, emuApp, "same"); len(c) != 1 || c["lion"] != 1 {
		t.Errorf("touched input's concepts %v, want lion", c)
	}
	if r := out[rewritten].final; r.Event != pipeline.EventFailed || r.Stage != pipeline.StageSync || !errors.Is(r.Err, pipeline.ErrContentChanged) {
		t.Errorf("rewritten: %v at %q: %v; want a conflict at stage sync", r.Event, r.Stage, r.Err)
	}
	if replaced.Sync.Action != pipeline.ActionReplace {
		t.Errorf("replaced: sync %+v", replaced.Sync)
	}
	si, ok := e.srv.Input(emuUser, emuApp, "repl")
	if !ok || len(si.Content) != 1 || si.Content[0].Size != int64(len(grayPNG(t, 30))) {
		t.Errorf("replaced input: %v %+v", ok, si.Content)
	}
}
