package media_test

import (
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

func TestAnnotatedSize(t *testing.T) {
	md := media.SetAnnotatedSize(nil, 640, 480)
	if w, h, ok := media.TakeAnnotatedSize(md); !ok || w != 640 || h != 480 || len(md) != 0 {
		t.Errorf("got %d %d %v, md %v", w, h, ok, md)
	}
	if md := media.SetAnnotatedSize(nil, 0, 480); md != nil {
		t.Errorf("unknown size recorded: %v", md)
	}
	if _, _, ok := media.TakeAnnotatedSize(map[string]any{"x": 1}); ok {
		t.Error("size found in metadata without one")
	}
}
