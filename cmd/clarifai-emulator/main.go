// Command clarifai-emulator serves an emulated Clarifai V2 gRPC API on a
// loopback address, for tests, benchmarks and the quickstart.
//
// Its first line on stdout is exactly "listening on HOST:PORT"; logs go to
// stderr. SIGINT or SIGTERM stops it gracefully, saving state when -state is
// set. With -dump it prints the inputs saved in -state as JSON lines and
// exits.
//
// Usage:
//
//	clarifai-emulator [-addr 127.0.0.1] [-port 0] [-pat KEY]... [-state DIR]
//	                  [-processing-delay 100ms] [-rate-limit 15] [-admin 127.0.0.1:8081]
//	                  [-bucket URL=PATH]... [-bucket-credentials URL=SPEC]...
//	                  [-extraction-delay 50ms] [fault flags] [-dump]
//
// Cloud ingestion (PostInputsDataSources) reads buckets mapped to local
// paths with -bucket, for example
//
//	-bucket s3://photos=./testdata/photos        a bucket: the files under the folder
//	-bucket gs://media=/data/media
//	-bucket https://acct.blob.core.windows.net/container=./blobs
//	-bucket https://example.com/dataset.zip=./dataset.zip   one object (an archive URL)
//
// and makes a bucket private with -bucket-credentials URL=SPEC, where SPEC is
//
//	aws:KEYID:SECRET[:SESSION_TOKEN]   s3_creds id, secret (and token) must match
//	aws:env                            the same, from AWS_ACCESS_KEY_ID,
//	                                   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//	gcp:FILE                           gcp_creds must be this service-account JSON
//	azure:ACCOUNT:KEY                  azure_blob_creds must match
//	azure:env                          the same, from AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY
//
// A data source for a private bucket without those credentials fails its
// extraction job with LIST_OBJECTS_FAILED ("access denied listing ...").
// The emulator keeps only a salted hash of the credentials and never logs
// them; prefer the env forms, which keep secrets out of the process list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "clarifai-emulator:", err)
		os.Exit(1)
	}
}

// run is the binary's command line: emulator.Main with this process's
// environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return emulator.Main(ctx, "clarifai-emulator", args, stdout, stderr, os.Getenv)
}
