package pipeline_test

import (
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"cat-001", true}, {"A_b-9", true}, {strings.Repeat("a", pipeline.MaxIDLength), true},
		{"", false}, {strings.Repeat("a", pipeline.MaxIDLength+1), false}, {"cat.jpg", false},
		{"a b", false}, {"ünï", false}, {"a/b", false},
	} {
		if err := pipeline.ValidID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestDeriveIDIsDeterministicAndScoped(t *testing.T) {
	img := func() *pipeline.Item {
		return &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("png"))}
	}
	a, b := pipeline.DeriveID(img(), []byte("png")), pipeline.DeriveID(img(), []byte("png"))
	if a != b || len(a) != 32 || pipeline.ValidID(a) != nil {
		t.Fatalf("ids %q and %q: want equal, 32 chars, valid", a, b)
	}
	other := img()
	if pipeline.DeriveID(other, []byte("jpg")) == a {
		t.Error("different content, same id")
	}
	other.DatasetIDs = []string{"train"}
	scoped := pipeline.DeriveID(other, []byte("png"))
	if scoped == a {
		t.Error("dataset scope ignored")
	}
	other.DatasetIDs = []string{"b", "a"}
	other2 := img()
	other2.DatasetIDs = []string{"a", "b"}
	if pipeline.DeriveID(other, []byte("png")) != pipeline.DeriveID(other2, []byte("png")) {
		t.Error("dataset order changes the id")
	}
	u1 := &pipeline.Item{Kind: pipeline.KindImage, URL: "HTTPS://Example.com:443/a/B.jpg#frag"}
	u2 := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.com/a/B.jpg"}
	u3 := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.com/a/b.jpg"}
	if pipeline.DeriveID(u1, nil) != pipeline.DeriveID(u2, nil) {
		t.Error("equivalent URLs, different ids")
	}
	if pipeline.DeriveID(u2, nil) == pipeline.DeriveID(u3, nil) {
		t.Error("path case ignored")
	}
	t1 := &pipeline.Item{Kind: pipeline.KindText, Text: "hello"}
	t2 := &pipeline.Item{Kind: pipeline.KindText, Text: "hello!"}
	if pipeline.DeriveID(t1, nil) == pipeline.DeriveID(t2, nil) {
		t.Error("different text, same id")
	}
	// The kind is part of the identity: the same bytes as audio and as text
	// are different inputs.
	au := &pipeline.Item{Kind: pipeline.KindAudio, Blob: pipeline.BytesBlob([]byte("png"))}
	if pipeline.DeriveID(au, []byte("png")) == a {
		t.Error("kind ignored")
	}
}
