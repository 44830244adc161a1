package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Kind is the media kind of an item. It decides which field of the Clarifai
// Data message carries the item and which upload limits apply.
type Kind uint8

// The kinds of items. KindMultimodal is an image and a text sent together as
// one input with two parts.
const (
	KindUnknown Kind = iota
	KindImage
	KindVideo
	KindAudio
	KindText
	KindMultimodal
)

var kindNames = [...]string{"unknown", "image", "video", "audio", "text", "multimodal"}

// String returns the lower-case name used in configs, manifests and reports.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind parses a kind name, case-insensitively. It returns an error naming
// the accepted values for anything else, including "unknown".
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if k != int(KindUnknown) && strings.EqualFold(strings.TrimSpace(s), name) {
			return Kind(k), nil
		}
	}
	return KindUnknown, fmt.Errorf("unknown kind %q (want image, video, audio, text or multimodal)", s)
}

// MarshalText implements encoding.TextMarshaler for configs and reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Provenance says where an item came from. Every error about an item names
// it, so that a user can find the file or the manifest row to fix.
type Provenance struct {
	// Source is what the source read: a directory, a manifest or list
	// file, or a cloud URL, as the user wrote it.
	Source string `json:"source,omitempty"`
	// Path is the item's file (joined to the directory the user gave), the
	// archive member, or the URL.
	Path string `json:"path,omitempty"`
	// Row is the 1-based CSV record number, counting the header as row 1,
	// as a spreadsheet shows it; 0 when the item is not from a CSV file.
	Row int `json:"row,omitempty"`
	// Line is the 1-based line number in a list file; 0 otherwise.
	Line int `json:"line,omitempty"`
}

// String renders the provenance for messages: "photos/cat.jpg",
// "manifest.csv row 12 (img/cat.jpg)" or "urls.txt line 3 (https://x/y.jpg)".
func (p Provenance) String() string {
	var s string
	switch {
	case p.Row > 0:
		s = fmt.Sprintf("%s row %d", p.Source, p.Row)
	case p.Line > 0:
		s = fmt.Sprintf("%s line %d", p.Source, p.Line)
	case p.Path != "":
		return p.Path
	default:
		return p.Source
	}
	if p.Path != "" {
		s += " (" + p.Path + ")"
	}
	return s
}

// Blob is the lazily loaded content of a local file or archive member. Its
// bytes are read only when the sink builds the request that carries them, so
// an item waiting in a channel costs a few hundred bytes, never its file size.
type Blob struct {
	// Path is the local file the content comes from, if it is a whole file;
	// empty for archive members and in-memory content. Reports use it to
	// let a retry re-read the file.
	Path string
	// Size is the content length in bytes, known without reading it (from
	// stat). The sink budgets request sizes with it.
	Size int64
	// ModTime is the file's modification time when known (zero otherwise); part of the content digest.
	ModTime time.Time
	// Open returns a reader over the content. Each call starts from the
	// beginning. It must be safe to call from any goroutine.
	Open func() (io.ReadCloser, error)
}

// FileBlob returns a Blob reading the file at path, whose size is known.
func FileBlob(path string, size int64) *Blob {
	return &Blob{Path: path, Size: size, Open: func() (io.ReadCloser, error) { return OpenFile(path) }}
}

// BytesBlob returns a Blob over b, which must not be modified afterwards.
func BytesBlob(b []byte) *Blob {
	return &Blob{Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// ReadAll loads the whole content. It fails if the content is larger than
// limit bytes (when limit > 0) or its length differs from Size, which means
// the file changed after it was listed.
func (b *Blob) ReadAll(ctx context.Context, limit int64) ([]byte, error) {
	return b.ReadInto(ctx, limit, nil)
}

// ReadInto is ReadAll reading into buf[:0] when its capacity holds Size+1
// bytes (the extra byte detects a file that grew), so that a caller can
// recycle content buffers; otherwise it allocates. It returns the content
// and ReadAll's errors.
func (b *Blob) ReadInto(ctx context.Context, limit int64, buf []byte) ([]byte, error) {
	if limit > 0 && b.Size > limit {
		return nil, fmt.Errorf("size %d bytes is over the limit of %d", b.Size, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := b.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if int64(cap(buf)) < b.Size+1 {
		buf = make([]byte, 0, b.Size+1)
	}
	buf, err = readFull(r, buf[:0], b.Size)
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) != b.Size {
		return nil, fmt.Errorf("read %d bytes, want %d: the file changed while the run was going", len(buf), b.Size)
	}
	return buf, nil
}

// readFull reads r into buf, reading at most want+1 bytes so that a file that
// grew is detected without reading all of it.
func readFull(r io.Reader, buf []byte, want int64) ([]byte, error) {
	lr := io.LimitReader(r, want+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Concept is an input-level or region label. Value is 1 for a positive label
// and 0 for a negative one; it is always sent explicitly, because over gRPC a
// missing value reads as 0 (negative).
type Concept struct {
	ID    string  `json:"id"`
	Name  string  `json:"name,omitempty"`
	Value float32 `json:"value"`
}

// Positive returns a positive concept whose ID and name are label. A
// concept whose ID equals its name is a label: the concept-ID transform
// (transforms.ConceptIDs) sends it with the ID derived from it.
func Positive(label string) Concept { return Concept{ID: label, Name: label, Value: 1} }

// Negative returns a negative concept whose ID and name are label.
func Negative(label string) Concept { return Concept{ID: label, Name: label, Value: 0} }

// Geo is a point on Earth in degrees: latitude in [-90, 90], longitude in
// [-180, 180].
type Geo struct {
	Latitude  float64 `json:"lat"`
	Longitude float64 `json:"lon"`
}

// BoundingBox is a box in Clarifai's normalized coordinates: rows are y and
// columns are x, each a fraction of the image height or width in [0, 1], with
// Top < Bottom and Left < Right.
type BoundingBox struct {
	Top    float64 `json:"top_row"`
	Left   float64 `json:"left_col"`
	Bottom float64 `json:"bottom_row"`
	Right  float64 `json:"right_col"`
}

// Point is a polygon vertex in normalized coordinates: Row is y and Col is x,
// both in [0, 1].
type Point struct {
	Row float64 `json:"row"`
	Col float64 `json:"col"`
}

// Region is a localized annotation of an image: a box or a polygon (at least
// three points) with its labels. Regions are sent with PostAnnotations after
// their input has been accepted.
type Region struct {
	ID string `json:"id,omitempty"`
	// Pixels means Box and Polygon are in pixels of the image (Col = x,
	// Row = y) as annotation files such as COCO and Pascal VOC give them;
	// the annotations transform converts them to normalized coordinates
	// with the image size read from the file header.
	Pixels   bool         `json:"pixels,omitempty"`
	Concepts []Concept    `json:"concepts,omitempty"`
	Box      *BoundingBox `json:"box,omitempty"`
	Polygon  []Point      `json:"polygon,omitempty"`
}

// Item is one input to upload, independent of the wire format.
//
// Exactly one of URL, Blob and Text carries the content of an image, video,
// audio or text item. A multimodal item carries its image in URL or Blob and
// its text in Text. An Item is owned by one stage at a time: a stage may
// modify it until it sends it on, and must not touch it afterwards.
type Item struct {
	// ID is the Clarifai input ID. Empty means "assign a deterministic one"
	// from the content when the request is built (pipeline/ids.DeriveID).
	ID string
	// Kind is the media kind. KindUnknown with a Blob means "detect it from
	// the content": the media detector transform (pipeline/media.Detector)
	// does so after the resume filter, so a rerun never reads the bytes of
	// items an earlier run finished.
	Kind Kind
	// MIME is the detected media type, e.g. "image/png", when known.
	MIME string
	// URL is a remote file for the server to fetch.
	URL string
	// Blob is local content, loaded when the item's batch is built. For a
	// text item its bytes become the raw text and must be UTF-8.
	Blob *Blob
	// Text is raw text: the content of a text item or the text part of a
	// multimodal item.
	Text string

	Concepts []Concept
	// Metadata is a JSON object (nested values, numbers, booleans and null
	// preserved); it becomes a google.protobuf.Struct.
	Metadata   map[string]any
	Geo        *Geo
	Regions    []Region
	DatasetIDs []string

	Prov Provenance
	// Key identifies the item's content across runs without loading its
	// bytes: two items with the same Key are the same input. The checkpoint
	// uses it to skip an item an earlier run finished. Sources set it:
	// "file:<abs path>|<size>|<mtime ns>" for local files, "id:<ID>" when
	// the source gives an ID, "url:<kind>|<normalized URL>" for URLs and
	// "text:<sha256 of the text>" for raw text; the dataset IDs are appended
	// as "|ds=<sorted,ids>" when set (pipeline/ids builds them all). Empty
	// means the checkpoint falls back to the ID.
	Key string

	// Err, when set, means the item already failed (or was skipped, if it
	// wraps ErrSkip) in an earlier stage: later stages pass it on untouched
	// and the runner reports it. Sources set it for records they cannot
	// read, so that a bad row is reported and the run goes on.
	Err error
	// Stage names the stage that set Err.
	Stage string

	// Resumed is set by the resume filter for an item that an earlier run
	// already delivered but whose processing was not yet confirmed: the sink
	// must not send the input again; it posts its annotations again (which
	// is idempotent) and verifies it. The transforms still run on it.
	Resumed bool
	// Reprocess is set by a source that retries an item that failed in an
	// earlier run (sources/report), perhaps because its input failed
	// processing on the server. When the server holds that input with a
	// failed status and it matches the item, the sink deletes it and sends
	// the item again with the same ID, as SinkConfig.RetryFailedProcessing
	// does, whatever the cause the first time. An input that succeeded or
	// differs from the item is never deleted.
	Reprocess bool

	// Sync is set by a SyncCheckpoint's Lookup: what an earlier run left on
	// the server for this item and what the sink is to do about it. nil
	// without such a checkpoint.
	Sync *Sync

	// source is set by Run's filter stage: the 1-based index in Job.Sources
	// of the source the item came from, so that the result loop can tell
	// when a source is complete (see Fingerprinter). 0: not read by Run.
	// Unexported, so that no source, transform or sink can set it; it packs
	// into the padding after Resumed and Reprocess.
	source int32
	// mark is set only on the runner's own end-of-source markers, which
	// never leave Run (see sourceMark).
	mark *sourceMark
}

// Fail marks the item failed by stage with err and returns it, so a source
// can write `out <- it.Fail("source", err)`.
func (it *Item) Fail(stage string, err error) *Item {
	it.Err, it.Stage = err, stage
	return it
}
