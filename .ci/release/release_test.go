package release

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goreleaser/goreleaser/v2/pkg/config"
	"go.yaml.in/yaml/v3"
)

const (
	root = "../.."
	// image is the image the release publishes; cmd/ingest-image builds the
	// same name and configs/k8s runs it.
	image = "ghcr.io/ingestkit/clarifai-ingest"
	// versionPkg holds the variables `ingest version` prints.
	versionPkg = "github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

// load reads .goreleaser.yaml as `goreleaser check` does: strictly, so that
// an unknown or misspelt key fails.
func load(t *testing.T) config.Project {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := config.LoadReader(f)
	if err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	return p
}

// TestPinnedVersion checks that the version the config names is the one
// this module checks it with.
func TestPinnedVersion(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/goreleaser/goreleaser/v2 (v\S+)`).FindSubmatch(gomod); m != nil {
		v = string(m[1])
	}
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || !strings.Contains(string(b), "GoReleaser "+v+", pinned") || !strings.Contains(string(b), "goreleaser/v2@"+v+" ") {
		t.Errorf(".goreleaser.yaml does not pin GoReleaser %s, the version in .ci/release/go.mod", v)
	}
}

// TestReleaseConfig checks what the release promises: both binaries for
// linux, darwin and windows on amd64 and arm64, static, with the version
// stamped; archives with checksums; and the multi-arch image that the
// Kubernetes manifests run.
func TestReleaseConfig(t *testing.T) {
	p := load(t)
	if p.Version != 2 || p.ProjectName != "clarifai-ingest" {
		t.Errorf("version %d, project %q", p.Version, p.ProjectName)
	}

	var ids []string
	for _, b := range p.Builds {
		ids = append(ids, b.ID)
		if _, err := os.Stat(filepath.Join(root, b.Main, "main.go")); err != nil {
			t.Errorf("build %s: main %s: %v", b.ID, b.Main, err)
		}
		if b.Binary != b.ID || b.Main != "./cmd/"+b.ID {
			t.Errorf("build %s: binary %q from %q, want %s from ./cmd/%[1]s", b.ID, b.Binary, b.Main, b.ID)
		}
		if !slices.Equal(sorted(b.Goos), []string{"darwin", "linux", "windows"}) || !slices.Equal(sorted(b.Goarch), []string{"amd64", "arm64"}) {
			t.Errorf("build %s: %v x %v, want linux, darwin, windows x amd64, arm64", b.ID, b.Goos, b.Goarch)
		}
		if !slices.Contains(b.Env, "CGO_ENABLED=0") {
			t.Errorf("build %s: env %v lacks CGO_ENABLED=0 (static binaries)", b.ID, b.Env)
		}
		ld := strings.Join(b.Ldflags, " ")
		for _, v := range []string{"buildVersion=v{{ .Version }}", "buildCommit={{ .FullCommit }}", "buildDate={{ .Date }}"} {
			if !strings.Contains(ld, "-X "+versionPkg+"."+v) {
				t.Errorf("build %s: ldflags do not stamp %s.%s", b.ID, versionPkg, v)
			}
		}
	}
	want := []string{"clarifai-emulator", "ingest"}
	if !slices.Equal(sorted(ids), want) {
		t.Errorf("builds %v, want %v", ids, want)
	}

	if len(p.Archives) != 1 || !slices.Equal(sorted(p.Archives[0].IDs), want) {
		t.Errorf("archives %+v, want one with both binaries", p.Archives)
	}
	if p.Checksum.NameTemplate == "" || p.Checksum.Disable {
		t.Errorf("checksum %+v, want a checksums file", p.Checksum)
	}

	if len(p.DockersV2) != 1 {
		t.Fatalf("%d dockers_v2 entries, want one image", len(p.DockersV2))
	}
	d := p.DockersV2[0]
	if !slices.Equal(d.Images, []string{image}) || !slices.Equal(sorted(d.Platforms), []string{"linux/amd64", "linux/arm64"}) || !slices.Equal(sorted(d.IDs), want) {
		t.Errorf("image %v for %v from %v, want %s for linux/amd64 and linux/arm64 from both binaries", d.Images, d.Platforms, d.IDs, image)
	}
	df, err := os.ReadFile(filepath.Join(root, d.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range want {
		if !strings.Contains(string(df), "$TARGETPLATFORM/"+id) {
			t.Errorf("%s does not copy %s from the platform's folder of the build context", d.Dockerfile, id)
		}
	}
}

// TestSameImageEverywhere checks that the Kubernetes manifests run the image
// the release publishes.
func TestSameImageEverywhere(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "configs", "k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct{ Name, NewName string } `yaml:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 || k.Images[0].Name != image || (k.Images[0].NewName != "" && k.Images[0].NewName != image) {
		t.Errorf("configs/k8s/kustomization.yaml images %+v, want %s", k.Images, image)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
