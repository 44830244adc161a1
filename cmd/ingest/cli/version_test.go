package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionStamped checks that what the release build sets with -ldflags -X
// is what `ingest version` prints.
func TestVersionStamped(t *testing.T) {
	old := [3]string{buildVersion, buildCommit, buildDate}
	t.Cleanup(func() { buildVersion, buildCommit, buildDate = old[0], old[1], old[2] })
	buildVersion, buildCommit, buildDate = "v1.2.3", "0123456789abcdef", "2026-12-01T00:00:00Z"

	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	root := e.rootCommand()
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "ingest v1.2.3 commit 0123456789abcdef built 2026-12-01T00:00:00Z go"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("ingest version = %q, want it to start with %q", out.String(), want)
	}
}

// TestVersionFromBuildInfo checks the fallback of an unstamped build: a
// version is always printed, never an empty string.
func TestVersionFromBuildInfo(t *testing.T) {
	old := [3]string{buildVersion, buildCommit, buildDate}
	t.Cleanup(func() { buildVersion, buildCommit, buildDate = old[0], old[1], old[2] })
	buildVersion, buildCommit, buildDate = "", "", ""
	v := version()
	if v.Version == "" || v.Go == "" {
		t.Errorf("version() = %+v, want a version and a Go version from the build info", v)
	}
}
