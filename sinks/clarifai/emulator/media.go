package emulator

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image"
	_ "image/gif"  // register GIF for image.DecodeConfig
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"net/url"
	"unicode/utf8"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WEBP

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// MediaKind names the kind of a piece of content: "image", "video", "audio"
// or "text".
type MediaKind string

// The media kinds an input can carry.
const (
	KindImage MediaKind = "image"
	KindVideo MediaKind = "video"
	KindAudio MediaKind = "audio"
	KindText  MediaKind = "text"
)

// maxPartsDepth bounds the nesting of Data.parts the emulator accepts.
const maxPartsDepth = 2

// digest records the content of one piece of media sent as bytes: the bytes
// themselves are not kept.
type digest struct {
	path string // where in Data: "image", "parts[1].text"
	kind MediaKind
	size int64
	sum  [sha256.Size]byte
}

// failReason is why a stored input ends INPUT_FAILED; it is decided when
// the input is accepted, because the bytes are not kept.
type failReason uint8

const (
	failNone failReason = iota
	failImageDecode
	failImagePixels
	failVideoFormat
	failAudioFormat
	failTextEncoding
	failTransient
	numFailReasons
)

// failDetails are the Status.details of each failReason.
var failDetails = [numFailReasons]string{
	failNone:         "",
	failImageDecode:  "image bytes are not a decodable JPEG, PNG, GIF, BMP, TIFF or WEBP file",
	failImagePixels:  fmt.Sprintf("image is larger than %d pixels", MaxImagePixels),
	failVideoFormat:  "video bytes are not an MP4, MOV, 3GP, AVI or WMV file",
	failAudioFormat:  "audio bytes are not a WAV, MP3, FLAC or OGG file",
	failTextEncoding: "text is not valid UTF-8",
	failTransient:    "temporary processing error; retry",
}

// dataCheck accumulates what checkData learns about one input's data.
type dataCheck struct {
	// anyConceptID is Options.AnyConceptID: concept IDs are only checked
	// for being non-empty.
	anyConceptID bool
	digests      []digest
	fail         failReason // the first processing failure found, if any
}

// countVideos returns the number of videos in d, including its parts.
func countVideos(d *pb.Data, depth int) int {
	if d == nil || depth > maxPartsDepth {
		return 0
	}
	n := 0
	if d.GetVideo() != nil {
		n++
	}
	for _, p := range d.GetParts() {
		n += countVideos(p.GetData(), depth+1)
	}
	return n
}

// mediaBytes returns the number of media bytes and raw text in d,
// including its parts.
func mediaBytes(d *pb.Data, depth int) int {
	if d == nil || depth > maxPartsDepth {
		return 0
	}
	n := len(d.GetImage().GetBase64()) + len(d.GetImage().GetDecodedBytes()) + len(d.GetVideo().GetBase64()) +
		len(d.GetAudio().GetBase64()) + len(d.GetText().GetRaw())
	for _, p := range d.GetParts() {
		n += mediaBytes(p.GetData(), depth+1)
	}
	return n
}

// checkData validates an input's data, strips its media bytes (recording a
// digest of each) and decides whether processing will fail. It returns a
// non-nil Status when the input must be rejected. It strips bytes even then,
// so that a rejected input is echoed without them.
func checkData(d *pb.Data, prefix string, depth int, c *dataCheck) *statuspb.Status {
	if d == nil {
		return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%sdata is missing", prefix)
	}
	if depth > maxPartsDepth {
		return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%sparts are nested more than %d deep", prefix, maxPartsDepth)
	}
	var first *statuspb.Status
	keep := func(st *statuspb.Status) {
		if first == nil {
			first = st
		}
	}
	media := 0
	if im := d.GetImage(); im != nil {
		media++
		keep(checkMedia(prefix+"image", KindImage, im.GetUrl(), im.GetBase64(), c, func(b []byte) failReason {
			info, fail := sniffImage(b)
			if info != nil {
				im.ImageInfo = info
			}
			return fail
		}))
		im.Base64, im.DecodedBytes = nil, nil
	}
	if v := d.GetVideo(); v != nil {
		media++
		keep(checkMedia(prefix+"video", KindVideo, v.GetUrl(), v.GetBase64(), c, sniffVideo))
		v.Base64 = nil
	}
	if a := d.GetAudio(); a != nil {
		media++
		keep(checkMedia(prefix+"audio", KindAudio, a.GetUrl(), a.GetBase64(), c, sniffAudio))
		a.Base64 = nil
	}
	if t := d.GetText(); t != nil {
		media++
		keep(checkMedia(prefix+"text", KindText, t.GetUrl(), []byte(t.GetRaw()), c, func(b []byte) failReason {
			if !utf8.Valid(b) {
				return failTextEncoding
			}
			t.TextInfo = &pb.TextInfo{CharCount: int32(utf8.RuneCount(b)), Encoding: "UTF-8"}
			return failNone
		}))
		t.Raw = ""
	}
	for i, p := range d.GetParts() {
		media++
		keep(checkData(p.GetData(), fmt.Sprintf("%sparts[%d].", prefix, i), depth+1, c))
	}
	if media == 0 {
		keep(newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%sdata has no image, video, audio, text or parts", prefix))
	}
	if st := checkPatch(d, c.anyConceptID); st != nil {
		st.Details = prefix + st.Details
		keep(st)
	}
	for i, r := range d.GetRegions() {
		if msg := regionProblem(r, c.anyConceptID); msg != "" {
			keep(newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%sregions[%d]: %s", prefix, i, msg))
		}
	}
	return first
}

// checkMedia validates one piece of media given as a URL or as bytes.
func checkMedia(path string, kind MediaKind, rawURL string, b []byte, c *dataCheck, sniff func([]byte) failReason) *statuspb.Status {
	switch {
	case rawURL != "" && len(b) > 0:
		return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%s has both a url and bytes; set one", path)
	case rawURL != "":
		if !validURL(rawURL) {
			return newStatusf(statuspb.StatusCode_INPUT_INVALID_URL, "%s url %q is not a well-formed http or https URL", path, rawURL)
		}
		return nil
	case len(b) == 0:
		return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "%s has neither a url nor bytes", path)
	}
	limit := int64(MaxFileBytes)
	if kind == KindVideo {
		limit = MaxVideoBytes
	}
	if int64(len(b)) >= limit {
		return newStatusf(statuspb.StatusCode_INPUT_OVER_LIMIT, "%s is %d bytes; it must be under %d", path, len(b), limit)
	}
	c.digests = append(c.digests, digest{path: path, kind: kind, size: int64(len(b)), sum: sha256.Sum256(b)})
	if f := sniff(b); f != failNone && c.fail == failNone {
		c.fail = f
	}
	return nil
}

// validURL reports whether s is an absolute http or https URL with a host.
// The emulator cannot fetch URLs, so a well-formed one counts as fetchable.
func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

// sniffImage decodes an image's header with the registered decoders.
func sniffImage(b []byte) (*pb.ImageInfo, failReason) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, failImageDecode
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, failImagePixels
	}
	return &pb.ImageInfo{Width: int32(cfg.Width), Height: int32(cfg.Height), Format: format}, failNone
}

// asfHeaderGUID starts every ASF (WMV/WMA) file.
var asfHeaderGUID = []byte{0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C}

// sniffVideo recognizes a video container by its signature.
func sniffVideo(b []byte) failReason {
	switch {
	case len(b) >= 12 && string(b[4:8]) == "ftyp": // MP4, MOV, 3GP
	case len(b) >= 8 && (string(b[4:8]) == "moov" || string(b[4:8]) == "mdat" || string(b[4:8]) == "wide"): // QuickTime without ftyp
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "AVI ":
	case bytes.HasPrefix(b, asfHeaderGUID):
	default:
		return failVideoFormat
	}
	return failNone
}

// sniffAudio recognizes WAV, MP3, FLAC and OGG by their signatures.
func sniffAudio(b []byte) failReason {
	switch {
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WAVE":
	case bytes.HasPrefix(b, []byte("ID3")):
	case isMP3Frame(b):
	case bytes.HasPrefix(b, []byte("fLaC")):
	case bytes.HasPrefix(b, []byte("OggS")):
	default:
		return failAudioFormat
	}
	return failNone
}

// isMP3Frame reports whether b starts with an MPEG audio frame header: 11
// sync bits, a version other than "reserved", a layer other than
// "reserved", and a bitrate index other than "bad".
func isMP3Frame(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return false
	}
	version, layer, bitrate := (b[1]>>3)&3, (b[1]>>1)&3, b[2]>>4
	return version != 1 && layer != 0 && bitrate != 15
}

// regionProblem describes what is wrong with a region's geometry or labels,
// or returns "" when it is valid: coordinates are normalized to [0, 1], a box
// has top < bottom and left < right, a polygon has at least 3 points, and
// each concept ID passes conceptIDProblem.
func regionProblem(r *pb.Region, anyConceptID bool) string {
	ri := r.GetRegionInfo()
	if bb := ri.GetBoundingBox(); bb != nil {
		for _, v := range []float32{bb.TopRow, bb.LeftCol, bb.BottomRow, bb.RightCol} {
			if !in01(v) {
				return fmt.Sprintf("bounding box (top %v, left %v, bottom %v, right %v) is outside [0, 1]", bb.TopRow, bb.LeftCol, bb.BottomRow, bb.RightCol)
			}
		}
		if !(bb.TopRow < bb.BottomRow && bb.LeftCol < bb.RightCol) {
			return fmt.Sprintf("bounding box (top %v, left %v, bottom %v, right %v) needs top < bottom and left < right", bb.TopRow, bb.LeftCol, bb.BottomRow, bb.RightCol)
		}
	}
	if pg := ri.GetPolygon(); pg != nil {
		if len(pg.Points) < 3 {
			return fmt.Sprintf("polygon has %d points; it needs at least 3", len(pg.Points))
		}
		for i, p := range pg.Points {
			if !in01(p.Row) || !in01(p.Col) {
				return fmt.Sprintf("polygon point %d (row %v, col %v) is outside [0, 1]", i, p.Row, p.Col)
			}
		}
	}
	if p := ri.GetPoint(); p != nil && (!in01(p.Row) || !in01(p.Col)) {
		return fmt.Sprintf("point (row %v, col %v) is outside [0, 1]", p.Row, p.Col)
	}
	for i, c := range r.GetData().GetConcepts() {
		if msg := conceptIDProblem(c.GetId(), anyConceptID); msg != "" {
			return fmt.Sprintf("concepts[%d] %s", i, msg)
		}
	}
	return ""
}

// MaxConceptIDLength is the longest concept ID the emulator accepts, the
// limit Clarifai's own dataset loaders note (the API documents none).
const MaxConceptIDLength = 32

// conceptIDProblem describes what is wrong with a concept ID, or returns
// "": it must be 1-MaxConceptIDLength characters of A-Z, a-z, 0-9, _ and
// -, as Clarifai's loaders note; with anyConceptID (Options.AnyConceptID)
// only an empty ID is wrong.
func conceptIDProblem(id string, anyConceptID bool) string {
	switch {
	case id == "":
		return "has no id"
	case !anyConceptID && !validID(id, MaxConceptIDLength):
		return fmt.Sprintf("id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", id, MaxConceptIDLength)
	}
	return ""
}

// in01 reports whether v is in [0, 1]; NaN is not.
func in01(v float32) bool { return v >= 0 && v <= 1 }
