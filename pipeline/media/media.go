package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // registers GIF for DecodeConfig
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/gabriel-vasile/mimetype"
	_ "golang.org/x/image/bmp"  // registers BMP
	_ "golang.org/x/image/tiff" // registers TIFF
	_ "golang.org/x/image/webp" // registers WEBP

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// HeadSize is how many leading bytes Detect looks at.
const HeadSize = 3072

// Type is what Detect found.
type Type struct {
	Kind pipeline.Kind
	// MIME is the detected media type without parameters, e.g. "image/png".
	MIME string
	// ByExtension is true when the content was not recognized and the kind
	// comes from the file name alone; the server will be the judge.
	ByExtension bool
}

// ErrUnknownKind is wrapped by Detect's error for files of no supported kind.
var ErrUnknownKind = errors.New("unsupported file type")

// ErrEmptyFile is the Detector's error for a file of 0 bytes: the item fails.
var ErrEmptyFile = errors.New("empty file")

var kindByMIME = map[string]pipeline.Kind{
	"image/jpeg": pipeline.KindImage, "image/png": pipeline.KindImage, "image/tiff": pipeline.KindImage,
	"image/bmp": pipeline.KindImage, "image/webp": pipeline.KindImage, "image/gif": pipeline.KindImage,
	"video/mp4": pipeline.KindVideo, "video/quicktime": pipeline.KindVideo, "video/x-msvideo": pipeline.KindVideo,
	"video/x-ms-asf": pipeline.KindVideo, "video/x-ms-wmv": pipeline.KindVideo, "video/3gpp": pipeline.KindVideo,
	"video/3gpp2": pipeline.KindVideo,
	"audio/wav":   pipeline.KindAudio, "audio/x-wav": pipeline.KindAudio, "audio/mpeg": pipeline.KindAudio,
	"audio/flac": pipeline.KindAudio, "audio/ogg": pipeline.KindAudio, "application/ogg": pipeline.KindAudio,
	"text/plain": pipeline.KindText, "text/csv": pipeline.KindText, "text/tab-separated-values": pipeline.KindText,
}

// extensions maps a lower-case extension (without the dot) to its kind and
// MIME type.
var extensions = map[string]struct {
	kind pipeline.Kind
	mime string
}{
	"jpg": {pipeline.KindImage, "image/jpeg"}, "jpeg": {pipeline.KindImage, "image/jpeg"},
	"png": {pipeline.KindImage, "image/png"}, "tif": {pipeline.KindImage, "image/tiff"},
	"tiff": {pipeline.KindImage, "image/tiff"}, "bmp": {pipeline.KindImage, "image/bmp"},
	"webp": {pipeline.KindImage, "image/webp"}, "gif": {pipeline.KindImage, "image/gif"},
	"mp4": {pipeline.KindVideo, "video/mp4"}, "m4v": {pipeline.KindVideo, "video/mp4"},
	"mov": {pipeline.KindVideo, "video/quicktime"}, "avi": {pipeline.KindVideo, "video/x-msvideo"},
	"wmv": {pipeline.KindVideo, "video/x-ms-wmv"}, "3gp": {pipeline.KindVideo, "video/3gpp"},
	"3gpp": {pipeline.KindVideo, "video/3gpp"},
	"wav":  {pipeline.KindAudio, "audio/wav"}, "mp3": {pipeline.KindAudio, "audio/mpeg"},
	"flac": {pipeline.KindAudio, "audio/flac"}, "ogg": {pipeline.KindAudio, "audio/ogg"},
	"oga": {pipeline.KindAudio, "audio/ogg"},
	"txt": {pipeline.KindText, "text/plain"}, "text": {pipeline.KindText, "text/plain"},
	"md": {pipeline.KindText, "text/plain"}, "csv": {pipeline.KindText, "text/csv"},
	"tsv": {pipeline.KindText, "text/tab-separated-values"},
}

// ext returns the lower-case extension of name without the dot.
func ext(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(strings.ReplaceAll(name, `\`, "/")), "."))
}

// KindFromExt returns the kind a file or URL path's extension suggests,
// case-insensitively, or KindUnknown.
func KindFromExt(name string) pipeline.Kind {
	return extensions[ext(name)].kind
}

// Detect identifies a file from its first bytes (up to HeadSize) and its
// name. The content decides the kind of images, video and audio, whatever the
// extension says. Text is only recognized with a text extension (.txt, .md,
// .csv, .tsv, .text), since almost any file's first bytes can be valid text.
// When the content is not recognized but the extension names a media kind,
// that kind is returned with ByExtension set. Anything else is an error
// wrapping ErrUnknownKind that says why.
func Detect(name string, head []byte) (Type, error) {
	mt := mimetype.Detect(head)
	mime := mt.String()
	if i := strings.IndexByte(mime, ';'); i >= 0 {
		mime = mime[:i]
	}
	e := ext(name)
	byExt, extKnown := extensions[e]
	kind := kindByMIME[mime]
	if kind == pipeline.KindUnknown {
		// mimetype reports a parent type for some containers (for example
		// ISO-BMFF variants); ask its ancestry before giving up.
		for p := mt.Parent(); p != nil && kind == pipeline.KindUnknown; p = p.Parent() {
			kind = kindByMIME[p.String()]
		}
	}
	switch {
	case kind == pipeline.KindText:
		if extKnown && byExt.kind == pipeline.KindText {
			return Type{Kind: pipeline.KindText, MIME: byExt.mime}, nil
		}
		if extKnown {
			return Type{}, fmt.Errorf("%w: the content is text but the extension .%s says %s", ErrUnknownKind, e, byExt.kind)
		}
		return Type{}, fmt.Errorf("%w: text content without a text extension (.txt, .md, .csv, .tsv)", ErrUnknownKind)
	case kind != pipeline.KindUnknown:
		return Type{Kind: kind, MIME: mime}, nil
	case extKnown && byExt.kind != pipeline.KindText:
		return Type{Kind: byExt.kind, MIME: byExt.mime, ByExtension: true}, nil
	case extKnown:
		return Type{}, fmt.Errorf("%w: a .%s file whose content is not text (%s)", ErrUnknownKind, e, mime)
	case e == "":
		return Type{}, fmt.Errorf("%w: no extension and content %s", ErrUnknownKind, mime)
	default:
		return Type{}, fmt.Errorf("%w: .%s (%s)", ErrUnknownKind, e, mime)
	}
}

// DetectFile reads the first HeadSize bytes of the file at path and calls
// Detect.
func DetectFile(path string) (Type, error) {
	f, err := pipeline.OpenFile(path)
	if err != nil {
		return Type{}, err
	}
	head, err := readFull(f, make([]byte, HeadSize))
	if err != nil {
		return Type{}, err
	}
	return Detect(path, head)
}

// ImageSize reads an image's width, height and format name ("jpeg", "png",
// "gif", "bmp", "tiff", "webp") from its header, without decoding pixels.
func ImageSize(r io.Reader) (width, height int, format string, err error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return 0, 0, "", fmt.Errorf("read image header: %w", err)
	}
	return cfg.Width, cfg.Height, format, nil
}

// ImageFileSize is ImageSize for the file at path.
func ImageFileSize(path string) (width, height int, format string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, "", err
	}
	defer f.Close()
	return ImageSize(f)
}

// Detector returns the transform that detects the kind of local files. It
// reads the first HeadSize bytes of every item that has a Blob and no MIME
// type yet; an item of unknown kind gets its kind from the content, and one
// whose content is of no supported kind is skipped with the reason. An item
// whose kind was set by its source keeps it (a manifest may say "text" for a
// .csv file), but a mismatch between the stated kind and a recognized media
// content fails the item. Run it first, before other transforms. Safe for
// concurrent use. A file of 0 bytes fails with ErrEmptyFile.
func Detector() pipeline.Transform { return pipeline.Func("detect", detect) }

func detect(ctx context.Context, it *pipeline.Item) error {
	if it.Blob == nil || it.MIME != "" {
		return nil
	}
	buf := heads.Get().(*[HeadSize]byte)
	defer heads.Put(buf)
	head, err := readHead(it.Blob, buf[:])
	if err != nil {
		return fmt.Errorf("read %s: %w", it.Prov, err)
	}
	if len(head) == 0 {
		// A broken file, not one of an unsupported type: it fails.
		return ErrEmptyFile
	}
	name := it.Blob.Path
	if name == "" {
		name = it.Prov.Path
	}
	t, err := Detect(name, head)
	switch {
	case err != nil && it.Kind == pipeline.KindUnknown:
		return pipeline.Skip(err.Error())
	case err != nil:
		return nil // the source stated the kind; the server judges the content
	case it.Kind == pipeline.KindUnknown:
		it.Kind, it.MIME = t.Kind, t.MIME
	case it.Kind == t.Kind || it.Kind == pipeline.KindMultimodal && t.Kind == pipeline.KindImage:
		it.MIME = t.MIME
	case t.ByExtension || t.Kind == pipeline.KindText:
		// Weak evidence: keep the stated kind.
	default:
		return fmt.Errorf("stated kind %s but the content is %s (%s)", it.Kind, t.Kind, t.MIME)
	}
	return nil
}

// heads holds the detector's head buffers: one per item would be 3 KB of
// garbage each.
var heads = sync.Pool{New: func() any { return new([HeadSize]byte) }}

// readHead reads the first len(buf) bytes of b's content into buf.
func readHead(b *pipeline.Blob, buf []byte) ([]byte, error) {
	r, err := b.Open()
	if err != nil {
		return nil, err
	}
	return readFull(r, buf)
}

// readFull reads r into buf until buf is full or r ends, and closes r.
func readFull(r io.ReadCloser, buf []byte) ([]byte, error) {
	defer r.Close()
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}
