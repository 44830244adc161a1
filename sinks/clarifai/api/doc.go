// Package api holds the project's wire-compatible subset of the Clarifai gRPC
// API: the .proto sources under proto/ and the Go code generated from them,
// committed, in clarifaipb and clarifaipb/statuspb. Regenerate it after
// editing a .proto file with `go generate ./sinks/clarifai/api`.
//
// Design notes (how the code is generated and checked): DESIGN.md in this
// folder.
package api

//go:generate go run ./internal/protogen -root ../../..
