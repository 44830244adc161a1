// Package api holds the project's wire-compatible subset of the Clarifai gRPC
// API: the .proto sources under proto/ and the Go code generated from them in
// clarifaipb and clarifaipb/statuspb.
//
// The generated code is committed. Regenerate it after editing a .proto file
// with:
//
//	go generate ./sinks/clarifai/api
//
// The generator compiles the .proto files in pure Go (bufbuild/protocompile)
// and runs protoc-gen-go and protoc-gen-go-grpc at the versions pinned by the
// tool directives in go.mod, so no protoc binary is needed. TestGeneratedCodeIsCurrent
// fails when the committed code differs from what the generator produces.
package api

//go:generate go run ./internal/protogen -root ../../..
