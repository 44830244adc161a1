package media_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

// testdata holds real files of every supported format, made with ffmpeg.
func TestDetectRealFiles(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind pipeline.Kind
		mime string
	}{
		{"img.jpg", pipeline.KindImage, "image/jpeg"},
		{"img.png", pipeline.KindImage, "image/png"},
		{"img.gif", pipeline.KindImage, "image/gif"},
		{"img.bmp", pipeline.KindImage, "image/bmp"},
		{"img.tiff", pipeline.KindImage, "image/tiff"},
		{"img.webp", pipeline.KindImage, "image/webp"},
		{"clip.mp4", pipeline.KindVideo, "video/mp4"},
		{"clip.mov", pipeline.KindVideo, "video/quicktime"},
		{"clip.avi", pipeline.KindVideo, "video/x-msvideo"},
		{"clip.wmv", pipeline.KindVideo, "video/x-ms-asf"},
		{"clip.3gp", pipeline.KindVideo, "video/3gpp"},
		{"tone.wav", pipeline.KindAudio, "audio/wav"},
		{"tone.mp3", pipeline.KindAudio, "audio/mpeg"},
		{"tone.flac", pipeline.KindAudio, "audio/flac"},
		{"tone.ogg", pipeline.KindAudio, "audio/ogg"},
		{"note.txt", pipeline.KindText, "text/plain"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := media.DetectFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.kind || got.MIME != tc.mime || got.ByExtension {
				t.Errorf("got %+v, want kind %v mime %s from content", got, tc.kind, tc.mime)
			}
		})
	}
}

func TestDetectExtensionIsOnlyAHint(t *testing.T) {
	png, err := os.ReadFile("testdata/img.png")
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("just some words\n")
	for _, tc := range []struct {
		name    string
		head    []byte
		kind    pipeline.Kind
		byExt   bool
		unknown bool
	}{
		{"PHOTO.PNG", png, pipeline.KindImage, false, false},                // case-insensitive
		{"photo.jpg", png, pipeline.KindImage, false, false},                // content wins: a PNG named .jpg is an image
		{"photo", png, pipeline.KindImage, false, false},                    // no extension needed for media
		{"notes.TXT", text, pipeline.KindText, false, false},                // text needs a text extension
		{"readme.md", text, pipeline.KindText, false, false},                //
		{"notes", text, pipeline.KindUnknown, false, true},                  // text without extension: skipped
		{"fake.jpg", text, pipeline.KindUnknown, false, true},               // text content named .jpg
		{"broken.jpg", []byte{0, 1, 2, 3}, pipeline.KindImage, true, false}, // unrecognized bytes: the server judges
		{"data.bin", []byte{0, 1, 2, 3}, pipeline.KindUnknown, false, true},
		{"notes.txt", []byte{0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0}, pipeline.KindUnknown, false, true}, // binary named .txt
		{"empty.txt", nil, pipeline.KindText, false, false},
	} {
		got, err := media.Detect(tc.name, tc.head)
		if tc.unknown {
			if !errors.Is(err, media.ErrUnknownKind) {
				t.Errorf("%s: err = %v, want ErrUnknownKind", tc.name, err)
			}
			continue
		}
		if err != nil || got.Kind != tc.kind || got.ByExtension != tc.byExt {
			t.Errorf("%s: got %+v, %v; want kind %v byExt %v", tc.name, got, err, tc.kind, tc.byExt)
		}
	}
}

func TestKindFromExt(t *testing.T) {
	for name, want := range map[string]pipeline.Kind{
		"a.JPEG": pipeline.KindImage, "https://x/y/clip.MoV": pipeline.KindVideo, `c:\x\a.wav`: pipeline.KindAudio,
		"a.txt": pipeline.KindText, "a.zip": pipeline.KindUnknown, "noext": pipeline.KindUnknown,
		"x/y.Tif": pipeline.KindImage, "v.3gp": pipeline.KindVideo, "s.flac": pipeline.KindAudio,
		"t.md": pipeline.KindText, "t.tsv": pipeline.KindText, "dir.jpg/file": pipeline.KindUnknown,
		`dir.jpg\file`: pipeline.KindUnknown, "a.php": pipeline.KindUnknown, "": pipeline.KindUnknown,
		".jpg": pipeline.KindImage,
	} {
		if got := media.KindFromExt(name); got != want {
			t.Errorf("KindFromExt(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestImageSizeFromHeader(t *testing.T) {
	for _, file := range []string{"img.jpg", "img.png", "img.gif", "img.bmp", "img.tiff", "img.webp"} {
		w, h, format, err := media.ImageFileSize(filepath.Join("testdata", file))
		if err != nil || w != 32 || h != 24 || format == "" {
			t.Errorf("%s: %dx%d %q %v, want 32x24", file, w, h, format, err)
		}
	}
	if _, _, _, err := media.ImageFileSize("testdata/note.txt"); err == nil {
		t.Error("text file: no error")
	}
}

func TestDetector(t *testing.T) {
	ctx := context.Background()
	file := func(name string, kind pipeline.Kind) *pipeline.Item {
		p := filepath.Join("testdata", name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return &pipeline.Item{Kind: kind, Blob: pipeline.FileBlob(p, st.Size()), Prov: pipeline.Provenance{Path: p}}
	}
	det := media.Detector()

	it := file("clip.mp4", pipeline.KindUnknown)
	if err := det.Apply(ctx, it); err != nil || it.Kind != pipeline.KindVideo || it.MIME != "video/mp4" {
		t.Errorf("mp4: %v %v %q", err, it.Kind, it.MIME)
	}
	it = file("note.txt", pipeline.KindText)
	if err := det.Apply(ctx, it); err != nil || it.MIME != "text/plain" {
		t.Errorf("stated text: %v %q", err, it.MIME)
	}
	it = file("img.png", pipeline.KindMultimodal)
	if err := det.Apply(ctx, it); err != nil || it.Kind != pipeline.KindMultimodal {
		t.Errorf("multimodal image: %v %v", err, it.Kind)
	}
	it = file("tone.wav", pipeline.KindImage)
	if err := det.Apply(ctx, it); err == nil || errors.Is(err, pipeline.ErrSkip) {
		t.Errorf("wav stated as image: err = %v, want a failure", err)
	}
	unknown := &pipeline.Item{Blob: pipeline.BytesBlob([]byte{0, 1, 2}), Prov: pipeline.Provenance{Path: "x.bin"}}
	if err := det.Apply(ctx, unknown); !errors.Is(err, pipeline.ErrSkip) {
		t.Errorf("unknown: err = %v, want a skip", err)
	}
	for _, kind := range []pipeline.Kind{pipeline.KindUnknown, pipeline.KindImage} {
		empty := &pipeline.Item{Kind: kind, Blob: pipeline.BytesBlob(nil), Prov: pipeline.Provenance{Path: "x.jpg"}}
		if err := det.Apply(ctx, empty); !errors.Is(err, media.ErrEmptyFile) || errors.Is(err, pipeline.ErrSkip) {
			t.Errorf("empty file stated %v: err = %v, want a failure with ErrEmptyFile", kind, err)
		}
	}
	url := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg"}
	if err := det.Apply(ctx, url); err != nil || url.MIME != "" {
		t.Errorf("URL items are left alone: %v", err)
	}
}
