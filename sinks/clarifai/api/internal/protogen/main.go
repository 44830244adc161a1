// Command protogen regenerates the Go code of the Clarifai API subset.
//
// It compiles sinks/clarifai/api/proto/**/*.proto with protocompile (no protoc needed), hands
// the descriptors to protoc-gen-go and protoc-gen-go-grpc run through
// `go tool` (their versions are pinned in go.mod), and writes the files they
// return below the module root. With -check it writes nothing and exits 1 if
// any committed file differs from the generated one.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/internal/protogen/gen"
)

func main() {
	root := flag.String("root", ".", "module root (the folder holding go.mod)")
	check := flag.Bool("check", false, "compare with the committed files instead of writing them")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	files, err := gen.Generate(root)
	if err != nil {
		return err
	}
	if check {
		stale, err := gen.Stale(root, files)
		if err != nil {
			return err
		}
		if len(stale) > 0 {
			return fmt.Errorf("generated code is stale, run `go generate ./sinks/clarifai/api`: %v", stale)
		}
		return nil
	}
	return gen.Write(root, files)
}
