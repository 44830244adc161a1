package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// stage is one FROM of a Dockerfile and its instructions.
type stage struct {
	from string
	ins  [][2]string // instruction (upper case), arguments
}

// parseDockerfile reads a Dockerfile's stages: comments dropped,
// continuation lines joined.
func parseDockerfile(t *testing.T, name string) []stage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	var line string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && line == "") {
			continue
		}
		if c, ok := strings.CutSuffix(l, `\`); ok {
			line += c + " "
			continue
		}
		line += l
		ins, args, _ := strings.Cut(line, " ")
		line = ""
		ins, args = strings.ToUpper(ins), strings.TrimSpace(args)
		switch {
		case ins == "FROM":
			stages = append(stages, stage{from: args})
		case len(stages) == 0 && ins != "ARG":
			t.Fatalf("%s: %s before FROM", name, ins)
		case len(stages) > 0:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, [2]string{ins, args})
		}
	}
	return stages
}

// TestDockerfile checks what the Dockerfile promises, since CI has no Docker
// to build it: a Go build stage at go.mod's Go version, static binaries,
// a distroless nonroot run stage, the same entrypoint, user and version
// variables as the image this command builds, and both binaries copied.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and run", len(stages))
	}
	build := stages[0]
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || build.from != "golang:"+string(goVersion[1])+" AS build" {
		t.Errorf("build stage FROM %q, want golang:<go.mod's go version> AS build", build.from)
	}
	var compiled bool
	for _, in := range build.ins {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			compiled = true
			for _, want := range append([]string{"CGO_ENABLED=0", "-trimpath", "-o /out/ "}, binaries...) {
				if !strings.Contains(in[1], want) {
					t.Errorf("go build step lacks %q: %s", want, in[1])
				}
			}
			for _, v := range []string{"buildVersion", "buildCommit", "buildDate"} {
				if !strings.Contains(in[1], "-X "+versionPkg+"."+v+"=") {
					t.Errorf("go build step does not stamp %s.%s", versionPkg, v)
				}
			}
		}
	}
	if !compiled {
		t.Error("the build stage runs no go build")
	}
	checkRunStage(t, stages[1], "/out/")
	for _, in := range stages[1].ins {
		if in[0] == "COPY" && !strings.HasPrefix(in[1], "--from=build ") {
			t.Errorf("COPY %s: want --from=build", in[1])
		}
	}
}

// TestDockerfileRelease checks the Dockerfile GoReleaser builds the release
// image with, from the binaries it built (.goreleaser.yaml, dockers_v2).
func TestDockerfileRelease(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile.release")
	if len(stages) != 1 {
		t.Fatalf("%d stages, want one", len(stages))
	}
	checkRunStage(t, stages[0], "$TARGETPLATFORM/")
}

// checkRunStage checks a run stage: distroless static nonroot, both
// binaries copied from source (a prefix of each) into BinDir, the user and
// the entrypoint of the daemonless image.
func checkRunStage(t *testing.T, s stage, source string) {
	t.Helper()
	if !strings.HasPrefix(s.from, "gcr.io/distroless/static") || !strings.HasSuffix(s.from, ":nonroot") {
		t.Errorf("run stage FROM %q, want a distroless static nonroot base", s.from)
	}
	got := map[string]string{}
	for _, in := range s.ins {
		got[in[0]] = in[1]
	}
	fields := strings.Fields(got["COPY"])
	if len(fields) == 0 || fields[len(fields)-1] != BinDir+"/" {
		t.Errorf("COPY %s: want the binaries copied into %s/", got["COPY"], BinDir)
	}
	for _, pkg := range binaries {
		if !strings.Contains(" "+got["COPY"]+" ", source+filepath.Base(pkg)+" ") {
			t.Errorf("COPY %s does not take %s from %s", got["COPY"], filepath.Base(pkg), source)
		}
	}
	if got["USER"] != User {
		t.Errorf("USER %q, want %q", got["USER"], User)
	}
	var entry []string
	if err := json.Unmarshal([]byte(got["ENTRYPOINT"]), &entry); err != nil || !slices.Equal(entry, []string{BinDir + "/ingest"}) {
		t.Errorf("ENTRYPOINT %s, want the exec form [%q]", got["ENTRYPOINT"], BinDir+"/ingest")
	}
}

// TestRepositoryIsTheReleased checks that this command names the image the
// way the release config publishes it.
func TestRepositoryIsTheReleased(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rel struct {
		DockersV2 []struct {
			Images    []string `yaml:"images"`
			Platforms []string `yaml:"platforms"`
		} `yaml:"dockers_v2"`
	}
	if err := yaml.Unmarshal(b, &rel); err != nil {
		t.Fatal(err)
	}
	if len(rel.DockersV2) != 1 || !slices.Equal(rel.DockersV2[0].Images, []string{Repository}) {
		t.Errorf(".goreleaser.yaml publishes %+v, this command builds %s", rel.DockersV2, Repository)
	}
}
