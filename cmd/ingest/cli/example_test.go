package cli_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// A custom transform func runs inside the standard CLI: register it with
// WithTransform and list it in the job file as `custom: <name>`. In your
// own main that is one line:
//
//	os.Exit(cli.Main(cli.WithTransform("remove_unicode", removeUnicode)))
//
// Here the CLI runs `validate`, which reads and transforms everything and
// sends nothing, on a folder with one text file.
func ExampleWithTransform() {
	var seen []string
	removeUnicode := func(_ context.Context, it *pipeline.Item) error {
		it.Text = strings.Map(func(r rune) rune {
			if r > 127 {
				return -1
			}
			return r
		}, it.Text)
		seen = append(seen, it.Text)
		return nil
	}

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "note.txt"), []byte("naïve café\n"), 0o644)
	job := filepath.Join(dir, "job.yaml")
	_ = os.WriteFile(job, []byte(`
target: embedded
sources: [{dir: {path: ., include: ["*.txt"]}}]
transforms:
  - unicode: {mode: clean}     # loads the text file into the item's text
  - custom: remove_unicode
`), 0o644)

	code := cli.Run(context.Background(), []string{"validate", "--config", job},
		cli.WithTransform("remove_unicode", removeUnicode),
		cli.WithOutput(io.Discard, io.Discard))
	fmt.Printf("exit %d, text %q\n", code, seen)
	// Output: exit 0, text ["nave caf\n"]
}
