package cli

import (
	"runtime/debug"
	"strings"
)

// Set by the release build and the image builder with
//
//	-ldflags "-X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildVersion=v1.2.3
//	          -X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildCommit=<sha>
//	          -X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildDate=<RFC 3339>"
//
// An empty one is taken from the binary's build info instead (go install
// stamps the module version, go build in a git checkout the commit and its
// time). .goreleaser.yaml and cmd/ingest-image name these variables; their
// tests fail if they are renamed.
var buildVersion, buildCommit, buildDate string

// versionInfo is what `ingest version` prints.
type versionInfo struct {
	Version, Commit, Date, Go string
}

// String is one line: "v1.2.3 commit 0123456789ab built 2026-12-01T00:00:00Z go1.26.8".
func (v versionInfo) String() string {
	parts := []string{v.Version}
	if v.Commit != "" {
		parts = append(parts, "commit "+v.Commit)
	}
	if v.Date != "" {
		parts = append(parts, "built "+v.Date)
	}
	if v.Go != "" {
		parts = append(parts, v.Go)
	}
	return strings.Join(parts, " ")
}

// version is the stamped version, filled in from the build info where the
// build stamped nothing.
func version() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, Date: buildDate}
	if info, ok := debug.ReadBuildInfo(); ok {
		v.Go = info.GoVersion
		if v.Version == "" {
			v.Version = info.Main.Version
		}
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			}
		}
		if v.Commit == "" && revision != "" {
			v.Commit = revision[:min(len(revision), 12)]
			if modified == "true" {
				v.Commit += "-dirty"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}
