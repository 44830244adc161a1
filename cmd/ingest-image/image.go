package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's facts, which configs/k8s, .goreleaser.yaml and the Dockerfile
// repeat and their tests compare.
const (
	// Repository is the image the release publishes and the Kubernetes Job runs.
	Repository = "ghcr.io/ingestkit/clarifai-ingest"
	// BinDir holds both binaries.
	BinDir = "/usr/local/bin"
	// User is distroless' nonroot user and group; numeric so that
	// Kubernetes' runAsNonRoot can check it.
	User = "65532:65532"
	// versionPkg is the package whose build* variables `ingest version` prints.
	versionPkg = "github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

// binaries are the commands built into the image, by package path.
var binaries = []string{"./cmd/ingest", "./cmd/clarifai-emulator"}

type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// options says what build makes; run fills in the defaults.
type options struct {
	Out        string // OCI layout folder, replaced
	Repository string
	Platforms  []platform
	Version    string
	Commit     string
	Date       string // RFC 3339
	Module     string // the module's root folder
}

// ldflags stamps the version into `ingest version` and strips the symbol
// table (the binaries keep their build info).
func ldflags(version, commit, date string) string {
	return fmt.Sprintf("-s -w -X %[1]s.buildVersion=%[2]s -X %[1]s.buildCommit=%[3]s -X %[1]s.buildDate=%[4]s",
		versionPkg, version, commit, date)
}

// build cross-compiles the binaries for every platform, makes one image for
// each and writes them as one multi-arch index to o.Out. It returns the
// image reference recorded in the layout.
func build(ctx context.Context, o options) (string, error) {
	created, err := time.Parse(time.RFC3339, o.Date)
	if err != nil {
		return "", fmt.Errorf("-date: %w", err)
	}
	work, err := os.MkdirTemp("", "ingest-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(work, p.OS+"-"+p.Arch)
		if err := compile(ctx, o, p, bin); err != nil {
			return "", err
		}
		img, err := image(o, p, bin, created)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}

	ref := o.Repository + ":" + tag(o.Version)
	if err := removeLayout(o.Out); err != nil {
		return "", err
	}
	lp, err := layout.Write(o.Out, empty.Index)
	if err != nil {
		return "", err
	}
	// The index.json names the image (skopeo's oci:DIR:REF looks REF up in
	// this annotation; with one image, oci:DIR finds it without).
	err = lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
	}))
	return ref, err
}

// removeLayout removes dir if it is an OCI image layout, so that a new one
// can be written there, and refuses to remove any other folder.
func removeLayout(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("-o %s: exists and is not an OCI image layout; not replacing it", dir)
	}
	return os.RemoveAll(dir)
}

// tag turns a version into a valid image tag (git describe may say
// v1.2.3-4-gabcdef-dirty, which is one; (devel) is not).
func tag(version string) string {
	t := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, version)
	t = strings.Trim(t, ".-")
	if t == "" {
		return "latest"
	}
	return t[:min(len(t), 128)]
}

// compile builds the static binaries for p into dir with one go build.
func compile(ctx context.Context, o options, p platform, dir string) error {
	args := []string{"build", "-trimpath", "-ldflags", ldflags(o.Version, o.Commit, o.Date), "-o", dir + string(filepath.Separator)}
	cmd := exec.CommandContext(ctx, "go", append(args, binaries...)...)
	cmd.Dir = o.Module
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", p, err)
	}
	return nil
}

// image makes one platform's image: a single layer on an empty base.
func image(o options, p platform, bin string, created time.Time) (v1.Image, error) {
	layerFile := bin + ".tar"
	if err := writeLayer(layerFile, bin, created); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerFile, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Entrypoint = []string{BinDir + "/ingest"}
	cfg.Config.Cmd = []string{"--help"}
	cfg.Config.User = User
	cfg.Config.WorkingDir = "/home/nonroot"
	cfg.Config.Env = []string{"PATH=" + BinDir + ":/usr/bin:/bin", "HOME=/home/nonroot"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "clarifai-ingest",
		"org.opencontainers.image.source":   "https://github.com/ingestkit/clarifai-ingest",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Commit,
		"org.opencontainers.image.created":  o.Date,
	}
	return mutate.ConfigFile(img, cfg)
}

// modeDir marks a folder in writeLayer's table (the bit tar uses for one).
const modeDir = 0o40000

// writeLayer writes the image's only layer as an uncompressed tar: what a
// distroless static base gives a Go binary that needs no libc (passwd and
// group naming the nonroot user, a home, /tmp), and the binaries. CA
// certificates are compiled into ingest (x509roots/fallback).
func writeLayer(path, bin string, mtime time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	bin0 := strings.TrimPrefix(BinDir, "/")
	for _, e := range []struct {
		name string
		mode int64 // modeDir set for a folder
		uid  int
		body string
	}{
		{"etc/", modeDir | 0o755, 0, ""},
		{"etc/passwd", 0o644, 0, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{"etc/group", 0o644, 0, "root:x:0:\nnonroot:x:65532:\n"},
		{"home/", modeDir | 0o755, 0, ""},
		{"home/nonroot/", modeDir | 0o700, 65532, ""},
		{"tmp/", modeDir | 0o1777, 0, ""},
		{"usr/", modeDir | 0o755, 0, ""},
		{"usr/local/", modeDir | 0o755, 0, ""},
		{bin0 + "/", modeDir | 0o755, 0, ""},
	} {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode &^ modeDir, Uid: e.uid, Gid: e.uid, Size: int64(len(e.body)), ModTime: mtime, Format: tar.FormatPAX}
		if e.mode&modeDir != 0 {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return err
		}
	}
	for _, pkg := range binaries {
		name := filepath.Base(pkg)
		b, err := os.Open(filepath.Join(bin, name))
		if err != nil {
			return err
		}
		st, err := b.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: bin0 + "/" + name, Mode: 0o755, Size: st.Size(), ModTime: mtime, Format: tar.FormatPAX})
		}
		if err == nil {
			_, err = io.Copy(tw, b)
		}
		b.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
