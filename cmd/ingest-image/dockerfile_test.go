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
)

// TestDockerfile checks what the Dockerfile promises, since CI has no Docker
// to build it: a Go build stage at go.mod's Go version, static binaries,
// a distroless nonroot run stage, the same entrypoint, user and version
// variables as the image this command builds, and both binaries copied.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	type stage struct {
		from string
		ins  [][2]string // instruction, arguments
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
		if ins == "FROM" {
			stages = append(stages, stage{from: args})
		} else if len(stages) == 0 {
			t.Fatalf("%s before FROM", ins)
		} else {
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, [2]string{ins, args})
		}
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and run", len(stages))
	}
	build, runStage := stages[0], stages[1]

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
			for _, want := range append([]string{"CGO_ENABLED=0", "-trimpath"}, binaries...) {
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

	if !strings.HasPrefix(runStage.from, "gcr.io/distroless/static") || !strings.HasSuffix(runStage.from, ":nonroot") {
		t.Errorf("run stage FROM %q, want a distroless static nonroot base", runStage.from)
	}
	got := map[string]string{}
	for _, in := range runStage.ins {
		got[in[0]] = in[1]
		if in[0] == "COPY" {
			for _, pkg := range binaries {
				if !strings.Contains(in[1], "/out/"+filepath.Base(pkg)+" ") {
					t.Errorf("COPY %s does not take %s from the build stage", in[1], filepath.Base(pkg))
				}
			}
			if !strings.HasPrefix(in[1], "--from=build ") || !strings.HasSuffix(in[1], " "+BinDir+"/") {
				t.Errorf("COPY %s: want --from=build ... %s/", in[1], BinDir)
			}
		}
	}
	if got["USER"] != User {
		t.Errorf("USER %q, want %q", got["USER"], User)
	}
	var entry []string
	if err := json.Unmarshal([]byte(got["ENTRYPOINT"]), &entry); err != nil || !slices.Equal(entry, []string{BinDir + "/ingest"}) {
		t.Errorf("ENTRYPOINT %s, want the exec form [%q]", got["ENTRYPOINT"], BinDir+"/ingest")
	}
	if got["COPY"] == "" {
		t.Error("the run stage copies no binaries")
	}
}
