package ids_test

import (
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"cat-001", true}, {"A_b-9", true}, {strings.Repeat("a", ids.MaxIDLength), true},
		{"", false}, {strings.Repeat("a", ids.MaxIDLength+1), false}, {"cat.jpg", false},
		{"a b", false}, {"ünï", false}, {"a/b", false},
	} {
		if err := ids.ValidID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestDeriveIDIsDeterministicAndScoped(t *testing.T) {
	img := func() *pipeline.Item {
		return &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("png"))}
	}
	a, b := ids.DeriveID(img(), []byte("png")), ids.DeriveID(img(), []byte("png"))
	if a != b || len(a) != 32 || ids.ValidID(a) != nil {
		t.Fatalf("ids %q and %q: want equal, 32 chars, valid", a, b)
	}
	other := img()
	if ids.DeriveID(other, []byte("jpg")) == a {
		t.Error("different content, same id")
	}
	other.DatasetIDs = []string{"train"}
	scoped := ids.DeriveID(other, []byte("png"))
	if scoped == a {
		t.Error("dataset scope ignored")
	}
	other.DatasetIDs = []string{"b", "a"}
	other2 := img()
	other2.DatasetIDs = []string{"a", "b"}
	if ids.DeriveID(other, []byte("png")) != ids.DeriveID(other2, []byte("png")) {
		t.Error("dataset order changes the id")
	}
	u1 := &pipeline.Item{Kind: pipeline.KindImage, URL: "HTTPS://Example.com:443/a/B.jpg#frag"}
	u2 := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.com/a/B.jpg"}
	u3 := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.com/a/b.jpg"}
	if ids.DeriveID(u1, nil) != ids.DeriveID(u2, nil) {
		t.Error("equivalent URLs, different ids")
	}
	if ids.DeriveID(u2, nil) == ids.DeriveID(u3, nil) {
		t.Error("path case ignored")
	}
	t1 := &pipeline.Item{Kind: pipeline.KindText, Text: "hello"}
	t2 := &pipeline.Item{Kind: pipeline.KindText, Text: "hello!"}
	if ids.DeriveID(t1, nil) == ids.DeriveID(t2, nil) {
		t.Error("different text, same id")
	}
	// The kind is part of the identity: the same bytes as audio and as text
	// are different inputs.
	au := &pipeline.Item{Kind: pipeline.KindAudio, Blob: pipeline.BytesBlob([]byte("png"))}
	if ids.DeriveID(au, []byte("png")) == a {
		t.Error("kind ignored")
	}
}

// TestDeriveIDGolden pins the IDs: changing the scheme would make every
// rerun of an existing job send its whole dataset again under new IDs.
func TestDeriveIDGolden(t *testing.T) {
	for _, tc := range []struct {
		it      *pipeline.Item
		content []byte
		want    string
	}{
		{&pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("png"))}, []byte("png"), "fdc70affbc2588d5bf0c11861d261eb4"},
		{&pipeline.Item{Kind: pipeline.KindImage, URL: "HTTPS://Example.com:443/a.jpg#x", DatasetIDs: []string{"b", "a"}}, nil, "802832d0479e7c1cbc6ed0c771ae7828"},
		{&pipeline.Item{Kind: pipeline.KindText, Text: "héllo"}, nil, "2a64d056b5e5082aba1e948531c86782"},
		{&pipeline.Item{Kind: pipeline.KindMultimodal, URL: "https://x/y.png", Text: "caption"}, nil, "2be09f64143e574801bd81500bafaa33"},
		{&pipeline.Item{Kind: pipeline.KindVideo, Blob: pipeline.BytesBlob(nil)}, nil, "432c0c95a0f29c191e0d4c46145e348f"},
	} {
		if got := ids.DeriveID(tc.it, tc.content); got != tc.want {
			t.Errorf("DeriveID(%+v) = %q, want %q", tc.it, got, tc.want)
		}
	}
}

func BenchmarkDeriveIDURL(b *testing.B) {
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://images.example.com/photos/2024/cat-000123.jpg", DatasetIDs: []string{"train"}}
	b.ReportAllocs()
	for b.Loop() {
		ids.DeriveID(it, nil)
	}
}
