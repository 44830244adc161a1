// Command ingest loads datasets into a Clarifai app: fast, resumable, and
// without losing or duplicating an input. Run `ingest --help`.
package main

import (
	"os"

	// The Mozilla CA roots, used only where the system has none (the
	// scratch-based container image), so that TLS to the API works there.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

func main() {
	os.Exit(cli.Main())
}
