// Package release checks the release configuration (.goreleaser.yaml at the
// repository's root) with GoReleaser's own config package, at the version
// the file pins. It is a module of its own so that GoReleaser's dependencies
// stay out of the project's go.mod; .ci/run runs its test:
//
//	cd .ci/release && go test ./...
package release
