package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// Go benchmarks of the per-item costs that no package benchmarks yet (the
// batcher, CSV reader, transforms and buildEntry have theirs in their
// packages): the media detector the CLI runs first on every item, and the
// wire encoding of a full PostInputs request, which the ingest process and
// the raw ceiling both pay.

func BenchmarkDetector(b *testing.B) {
	root := b.TempDir()
	img := filepath.Join(root, "cat.jpg")
	if err := os.WriteFile(img, encodeImage(1, imageSideFor(50)), 0o644); err != nil {
		b.Fatal(err)
	}
	txt := filepath.Join(root, "doc.txt")
	if err := os.WriteFile(txt, []byte(textOf(1, 2000)), 0o644); err != nil {
		b.Fatal(err)
	}
	detect := media.Detector()
	for _, path := range []string{img, txt} {
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Ext(path)[1:], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				it := &pipeline.Item{Blob: pipeline.FileBlob(path, fi.Size()), Prov: pipeline.Provenance{Path: path}}
				if err := detect.Apply(context.Background(), it); err != nil || it.Kind == pipeline.KindUnknown {
					b.Fatalf("detect: %v, kind %v", err, it.Kind)
				}
			}
		})
	}
}

// BenchmarkPostInputsMarshal encodes one request of 128 inputs as gRPC
// does: manifest rows (URL, labels, metadata) and 50 KB images.
func BenchmarkPostInputsMarshal(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	if _, err := genManifest(ctx, root, 128); err != nil {
		b.Fatal(err)
	}
	src, err := manifestSource(manifestPath(root))
	if err != nil {
		b.Fatal(err)
	}
	rows, _, err := buildRequests(ctx, src, 128, "app")
	if err != nil {
		b.Fatal(err)
	}
	imgDir := filepath.Join(root, "images")
	if _, err := genImages(ctx, imgDir, 128, 50); err != nil {
		b.Fatal(err)
	}
	images := &pb.PostInputsRequest{}
	for i := range 128 {
		content, err := os.ReadFile(imagePath(imgDir, i))
		if err != nil {
			b.Fatal(err)
		}
		images.Inputs = append(images.Inputs, &pb.Input{Id: newJobID(), Data: &pb.Data{Image: &pb.Image{Base64: content}}})
	}
	for _, bc := range []struct {
		name string
		req  *pb.PostInputsRequest
	}{{"manifest-rows", rows[0]}, {"images-50KB", images}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(proto.Size(bc.req)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := proto.Marshal(bc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
