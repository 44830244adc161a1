// Command ingest-image builds the container image of ingest without a Docker
// daemon or a registry: it cross-compiles static ingest and clarifai-emulator
// binaries (CGO_ENABLED=0) for each platform, puts them on an empty (scratch)
// base with a non-root user, and writes a multi-arch OCI image layout.
//
//	go run ./cmd/ingest-image -o clarifai-ingest.oci
//	go run ./cmd/ingest-image -o out.oci -version v1.2.3 -platforms linux/amd64
//
// The layout is a folder that OCI tools read and push as it is, for example
// `skopeo copy --all oci:clarifai-ingest.oci docker://ghcr.io/ingestkit/clarifai-ingest:v1.2.3`.
// The image runs /usr/local/bin/ingest as user 65532 (nonroot); the emulator
// is /usr/local/bin/clarifai-emulator beside it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingest-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ingest-image", flag.ContinueOnError)
	var o options
	var platforms string
	fs.StringVar(&o.Out, "o", "clarifai-ingest.oci", "the OCI image layout folder to write (an earlier layout there is replaced)")
	fs.StringVar(&o.Repository, "repository", Repository, "the image name, recorded as the layout's ref name with the version as tag")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	fs.StringVar(&o.Version, "version", "", "version stamped into `ingest version` and the tag (default: git describe, or \"dev\")")
	fs.StringVar(&o.Commit, "commit", "", "commit stamped into the binaries (default: git rev-parse HEAD)")
	fs.StringVar(&o.Date, "date", "", "build date, RFC 3339, also the image's creation time (default: the commit's time, or now)")
	fs.StringVar(&o.Module, "C", ".", "the module's root folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range strings.Split(platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("-platforms: %q is not os/arch", p)
		}
		o.Platforms = append(o.Platforms, platform{goos, goarch})
	}
	if o.Version == "" {
		o.Version = git(o.Module, "describe", "--tags", "--always", "--dirty")
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Commit == "" {
		o.Commit = git(o.Module, "rev-parse", "HEAD")
	}
	if o.Date == "" {
		o.Date = git(o.Module, "log", "-1", "--format=%cI")
	}
	if o.Date == "" {
		o.Date = time.Now().UTC().Format(time.RFC3339)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ref, err := build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s) to %s\n", ref, platforms, o.Out)
	return nil
}

// git runs a git command in dir and returns its trimmed output, or "" when
// git is missing or the folder is not a checkout.
func git(dir string, args ...string) string {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
