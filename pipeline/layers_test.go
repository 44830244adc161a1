package pipeline_test

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayers checks that the packages read top-down: sources and sinks both
// stand on pipeline and never import each other, transforms stands on
// pipeline alone, and pipeline imports nothing of the module above it. It
// looks at every package's dependencies (direct and indirect) and at the
// packages its tests import, as `go list` reports them.
func TestLayers(t *testing.T) {
	const mod = "github.com/ingestkit/clarifai-ingest/"
	rules := []struct {
		from, to, why string
	}{
		{"sources", "sinks", "what a source and a sink both need moves down to pipeline"},
		{"sinks", "sources", "what a source and a sink both need moves down to pipeline"},
		{"transforms", "sources", "transforms run on items of every source"},
		{"transforms", "sinks", "transforms run before any sink"},
		{"pipeline", "sources", "pipeline is the layer the others stand on"},
		{"pipeline", "sinks", "pipeline is the layer the others stand on"},
		{"pipeline", "transforms", "pipeline is the layer the others stand on"},
		{"pipeline", "checkpoint", "pipeline is the layer the others stand on"},
		{"pipeline", "configs", "pipeline is the layer the others stand on"},
		{"pipeline", "cmd", "pipeline is the layer the others stand on"},
	}
	under := func(pkg, dir string) bool {
		return pkg == mod+dir || strings.HasPrefix(pkg, mod+dir+"/")
	}

	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-f",
		`{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	cmd.Dir = ".." // the module root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkgs++
		pkg, deps := fields[0], fields[1:]
		slices.Sort(deps)
		deps = slices.Compact(deps) // a test may import a dependency again
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			for _, d := range deps {
				if under(d, r.to) {
					t.Errorf("%s imports %s (directly, indirectly or in its tests); %s must not import %s/...: %s",
						strings.TrimPrefix(pkg, mod), strings.TrimPrefix(d, mod), r.from, r.to, r.why)
				}
			}
		}
	}
	if pkgs < 10 {
		t.Fatalf("go list found %d packages; want the whole module:\n%s", pkgs, out)
	}
}
