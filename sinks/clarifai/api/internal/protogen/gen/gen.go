// Package gen compiles the API .proto files and runs the Go code generator
// plugins on them. It is shared by the protogen command and the staleness test.
package gen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// ModulePath is the Go module the generated files belong to; the plugins use
// it to turn go_package import paths into paths below the module root.
const ModulePath = "github.com/ingestkit/clarifai-ingest"

// ProtoDir is where the .proto sources live, relative to the module root.
const ProtoDir = "sinks/clarifai/api/proto"

// plugins are run in this order; each is a `go tool` pinned in go.mod.
var plugins = []string{"protoc-gen-go", "protoc-gen-go-grpc"}

// Generate compiles every .proto file under root/ProtoDir and returns the
// generated files keyed by their slash-separated path relative to root.
func Generate(root string) (map[string][]byte, error) {
	protoRoot := filepath.Join(root, ProtoDir)
	var names []string
	err := filepath.WalkDir(protoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".proto") {
			rel, err := filepath.Rel(protoRoot, path)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list proto files: %w", err)
	}
	sort.Strings(names)

	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{protoRoot},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), names...)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}

	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: names,
		Parameter:      proto.String("module=" + ModulePath),
		ProtoFile:      orderedDescriptors(compiled),
	}
	out := make(map[string][]byte)
	for _, plugin := range plugins {
		if err := runPlugin(root, plugin, req, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// orderedDescriptors lists every file the request needs, dependencies first,
// as protoc does.
func orderedDescriptors(files linker.Files) []*descriptorpb.FileDescriptorProto {
	var ordered []*descriptorpb.FileDescriptorProto
	seen := make(map[string]bool)
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			visit(imports.Get(i).FileDescriptor)
		}
		if res, ok := fd.(linker.Result); ok {
			ordered = append(ordered, res.FileDescriptorProto())
		} else {
			ordered = append(ordered, protodesc.ToFileDescriptorProto(fd))
		}
	}
	for _, f := range files {
		visit(f)
	}
	return ordered
}

func runPlugin(root, plugin string, req *pluginpb.CodeGeneratorRequest, out map[string][]byte) error {
	in, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "tool", plugin)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go tool %s: %w: %s", plugin, err, stderr.String())
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return fmt.Errorf("%s: decode response: %w", plugin, err)
	}
	if resp.GetError() != "" {
		return fmt.Errorf("%s: %s", plugin, resp.GetError())
	}
	for _, f := range resp.GetFile() {
		if f.GetInsertionPoint() != "" {
			return fmt.Errorf("%s: insertion points are not supported (%s)", plugin, f.GetName())
		}
		out[f.GetName()] = []byte(f.GetContent())
	}
	return nil
}

// Write writes the generated files below root.
func Write(root string, files map[string][]byte) error {
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Stale returns the generated files whose committed copy below root is
// missing or differs, sorted by name.
func Stale(root string, files map[string][]byte) ([]string, error) {
	var stale []string
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if !bytes.Equal(got, want) {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	return stale, nil
}
