// Command ingest loads datasets into a Clarifai app: fast, resumable, and
// without losing or duplicating an input. Run `ingest --help`.
package main

import (
	"os"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

func main() {
	os.Exit(cli.Main())
}
