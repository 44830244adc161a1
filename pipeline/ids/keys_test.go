package ids_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// TestKeysGolden pins the keys: checkpoints of earlier runs find their items
// by them, so a change would make a rerun send everything again.
func TestKeysGolden(t *testing.T) {
	abs, err := filepath.Abs("a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{ids.FileKey("a.jpg", 42, time.Unix(1, 5)), "file:" + abs + "|42|1000000005"},
		{ids.IDKey("cat-1"), "id:cat-1"},
		{ids.URLKey(pipeline.KindImage, "HTTPS://Example.com:443/a.jpg#x"), "url:image|https://example.com/a.jpg"},
		{ids.TextKey("héllo"), "text:3c48591d8d098a4538f5e013dfcf406e"},
		{ids.ScopeKey(ids.IDKey("x"), []string{"b", "a"}), "id:x|ds=a,b"},
		{ids.ScopeKey(ids.IDKey("x"), nil), "id:x"},
		{ids.ScopeKey("", []string{"a"}), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
