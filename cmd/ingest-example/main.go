// Command ingest-example is the ingest CLI with one custom transform func
// added: "remove_unicode", which drops every non-ASCII character from the
// text of each item before upload. It shows how to run the standard CLI
// behaviour with your own Go funcs in a few lines. Try it on the sample
// text, against the local emulator:
//
//	go run ./cmd/ingest-example run --config configs/examples/custom.yaml
package main

import (
	"context"
	"os"
	"strings"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// removeUnicode drops every non-ASCII character from the item's text. Text
// files are loaded into it.Text by the unicode transform listed before it
// in the job file; for other items it changes nothing.
func removeUnicode(_ context.Context, it *pipeline.Item) error {
	it.Text = strings.Map(func(r rune) rune {
		if r > 127 {
			return -1
		}
		return r
	}, it.Text)
	if it.Kind == pipeline.KindText && strings.TrimSpace(it.Text) == "" && it.Blob == nil && it.URL == "" {
		return pipeline.Skip("no text left after removing unicode")
	}
	return nil
}

func main() {
	os.Exit(cli.Main(cli.WithTransform("remove_unicode", removeUnicode)))
}
