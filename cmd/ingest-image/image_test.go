package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImage builds the multi-arch image once and reads it back as a
// registry or a container runtime would: the layout's ref name, one image per
// platform, the entrypoint and user of each, static binaries of the right
// architecture in the layer, and the host's ingest answering `version`.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles two binaries for two platforms")
	}
	out := filepath.Join(t.TempDir(), "image.oci")
	o := options{
		Out:        out,
		Repository: Repository,
		Platforms:  []platform{{"linux", "amd64"}, {"linux", "arm64"}},
		Version:    "v0.0.0-imagetest",
		Commit:     "0123456789abcdef0123456789abcdef01234567",
		Date:       "2026-12-01T00:00:00Z",
		Module:     filepath.Join("..", ".."),
	}
	ref, err := build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ghcr.io/ingestkit/clarifai-ingest:v0.0.0-imagetest"; ref != want {
		t.Errorf("ref = %q, want %q", ref, want)
	}

	top, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != ref {
		t.Fatalf("index.json = %+v, want one index named %s", tm.Manifests, ref)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		p := d.Platform.OS + "/" + d.Platform.Architecture
		platforms = append(platforms, p)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(p, func(t *testing.T) { checkImage(t, img, d.Platform, o.Version) })
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms = %v, want %v", platforms, want)
	}
}

func checkImage(t *testing.T, img v1.Image, p *v1.Platform, version string) {
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != p.OS || cfg.Architecture != p.Architecture {
		t.Errorf("config says %s/%s, index says %s/%s", cfg.OS, cfg.Architecture, p.OS, p.Architecture)
	}
	if want := []string{"/usr/local/bin/ingest"}; !slices.Equal(cfg.Config.Entrypoint, want) {
		t.Errorf("entrypoint = %q, want %q", cfg.Config.Entrypoint, want)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532 (nonroot, numeric for runAsNonRoot)", cfg.Config.User)
	}
	if got := cfg.Config.Labels["org.opencontainers.image.version"]; got != version {
		t.Errorf("version label = %q, want %q", got, version)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want one", len(layers), err)
	}
	files := untar(t, layers[0])
	if !strings.Contains(string(files["etc/passwd"].body), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name the nonroot user:\n%s", files["etc/passwd"].body)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	for _, name := range []string{"ingest", "clarifai-emulator"} {
		f, ok := files["usr/local/bin/"+name]
		if !ok {
			t.Errorf("no /usr/local/bin/%s in the layer", name)
			continue
		}
		if f.mode&0o111 != 0o111 {
			t.Errorf("%s: mode %o, want executable by all", name, f.mode)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, f.body, 0o755); err != nil {
			t.Fatal(err)
		}
		checkStatic(t, path, machine)
		if name == "ingest" && p.OS == runtime.GOOS && p.Architecture == runtime.GOARCH {
			out, err := exec.Command(path, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("ingest version: %v\n%s", err, out)
			}
			want := "ingest " + version + " commit 0123456789abcdef0123456789abcdef01234567 built 2026-12-01T00:00:00Z"
			if !strings.HasPrefix(string(out), want) {
				t.Errorf("ingest version = %q, want it to start with %q", out, want)
			}
		}
	}
}

// checkStatic fails unless path is an ELF executable for machine that needs
// no dynamic loader (it runs on a scratch base).
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %v, want %v", filepath.Base(path), f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s: dynamically linked (has an interpreter); the image has no libc", filepath.Base(path))
		}
	}
}

type tarFile struct {
	mode int64
	body []byte
}

func untar(t *testing.T, l v1.Layer) map[string]tarFile {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]tarFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = tarFile{h.Mode, b}
	}
}

func TestTag(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                 "v1.2.3",
		"v1.2.3-4-gabcdef-dirty": "v1.2.3-4-gabcdef-dirty",
		"(devel)":                "devel",
		"":                       "latest",
	} {
		if got := tag(in); got != want {
			t.Errorf("tag(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRemoveLayoutOnlyRemovesLayouts checks that -o never removes a folder
// that is not an image layout.
func TestRemoveLayoutOnlyRemovesLayouts(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep")
	if err := os.MkdirAll(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := removeLayout(keep); err == nil {
		t.Error("removeLayout removed a folder that is not a layout")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the folder is gone: %v", err)
	}
	old := filepath.Join(dir, "old.oci")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeLayout(old); err != nil {
		t.Fatal(err)
	}
	if err := removeLayout(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing folder: %v", err)
	}
}
