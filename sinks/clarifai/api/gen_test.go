package api_test

import (
	"testing"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/internal/protogen/gen"
)

// TestGeneratedCodeIsCurrent fails when someone edits a .proto file (or bumps
// a generator in go.mod) without running `go generate ./sinks/clarifai/api`.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator plugins")
	}
	files, err := gen.Generate("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Errorf("generator produced %d files, want 5 (one per .proto file plus the gRPC service)", len(files))
	}
	stale, err := gen.Stale("../../..", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stale {
		t.Errorf("%s is stale: run `go generate ./sinks/clarifai/api` and commit the result", name)
	}
}
