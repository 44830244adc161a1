package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// On-disk format: see the package documentation.
const (
	fileMagic = "CLFCKPT\n"
	// formatVersion 2 added the digests of done entries; 3 keys entries by
	// the stable key, stores digests (rule 2) with accepted records too,
	// and adds legacy and orphan flags and tombstones (State Deleted).
	// Files of an older format load (their entries as legacy) and are
	// never appended to.
	formatVersion  = 3
	frameHeaderLen = 8
	// maxPayload bounds a record, so that a corrupt length is detected as
	// such instead of making the loader allocate gigabytes. The largest
	// legitimate record is a header with a long fingerprint.
	maxPayload = 64 << 10
	// maxFingerprint is the longest fingerprint a header stores.
	maxFingerprint = 4 << 10
	// minEntryRecord is the size of the smallest entry record (no ID).
	minEntryRecord = frameHeaderLen + 1 + 16 + 3
)

// Record types: the first payload byte.
const (
	recHeader  byte = 'H'
	recEntry   byte = 'E'
	recTrailer byte = 'T'
)

// File kinds, in the header.
const (
	kindSnapshot byte = 'S'
	kindLog      byte = 'L'
)

// How an entry record stores the input ID.
const (
	diskNone   byte = iota
	diskString      // uvarint length, bytes
	diskHex         // 16 bytes: the decoded 32 lower-case hex characters
	diskUUID        // 16 bytes: the decoded lower-case canonical UUID
)

// digestsLen is the size of the digests at the end of an entry record with
// flagDigests: the version of their rule (digest.Version), then the sums.
const digestsLen = 1 + digest.Size

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the first record of every file.
type header struct {
	version uint64
	kind    byte
	// gen is a log's generation; for a snapshot, the generation of the
	// first log that is replayed after it.
	gen     uint64
	created time.Time
	// hint is, for a snapshot, its entry count when it was started: the
	// loader sizes the index with it.
	hint        uint64
	fingerprint string
}

// beginFrame reserves a frame header at the end of dst; endFrame fills it in
// once the payload has been appended after it.
func beginFrame(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0), len(dst)
}

func endFrame(dst []byte, start int) []byte {
	p := dst[start+frameHeaderLen:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(p)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(p, castagnoli))
	return dst
}

// appendFileStart appends the magic and the header record.
func appendFileStart(dst []byte, h header) []byte {
	dst = append(dst, fileMagic...)
	dst, start := beginFrame(dst)
	dst = append(dst, recHeader)
	dst = binary.AppendUvarint(dst, h.version)
	dst = append(dst, h.kind)
	dst = binary.AppendUvarint(dst, h.gen)
	dst = binary.AppendVarint(dst, h.created.UnixNano())
	dst = binary.AppendUvarint(dst, h.hint)
	dst = binary.AppendUvarint(dst, uint64(len(h.fingerprint)))
	dst = append(dst, h.fingerprint...)
	return endFrame(dst, start)
}

func decodeHeader(p []byte) (header, error) {
	var h header
	d := decoder{p: p}
	if d.byte() != recHeader {
		return h, errors.New("first record is not a header")
	}
	h.version = d.uvarint()
	h.kind = d.byte()
	h.gen = d.uvarint()
	h.created = time.Unix(0, d.varint())
	h.hint = d.uvarint()
	fp := d.bytes(maxFingerprint)
	h.fingerprint = string(fp)
	if err := d.end(); err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	if h.kind != kindSnapshot && h.kind != kindLog {
		return h, fmt.Errorf("header: unknown file kind %q", h.kind)
	}
	return h, nil
}

// appendEntry appends the record of e, filed under h in s, whose lock the
// caller holds.
func appendEntry(dst []byte, s *shard, h KeyHash, e *entry) []byte {
	dst, start := beginFrame(dst)
	dst = append(dst, recEntry)
	dst = append(dst, h[:]...)
	dst = append(dst, byte(e.state), e.flags&^flagSeen)
	switch e.idEnc {
	case memNone:
		dst = append(dst, diskNone)
	case memHex:
		dst = append(dst, diskHex)
		dst = append(dst, e.id[:]...)
	case memUUID:
		dst = append(dst, diskUUID)
		dst = append(dst, e.id[:]...)
	case memInline:
		dst = append(dst, diskString)
		dst = binary.AppendUvarint(dst, uint64(e.id[0]))
		dst = s.appendID(dst, e)
	case memArena:
		dst = append(dst, diskString)
		dst = binary.AppendUvarint(dst, uint64(binary.LittleEndian.Uint32(e.id[8:])))
		dst = s.appendID(dst, e)
	}
	if e.flags&flagDigests != 0 {
		dst = append(dst, digest.Version)
		dst = digest.AppendBinary(dst, *s.digestsAt(e.dig))
	}
	return endFrame(dst, start)
}

// appendRecord appends the entry record of an item that is not in the
// index: state, flags, ID and (with flagDigests) digests given, encoded as
// appendEntry encodes the same entry from memory.
func appendRecord(dst []byte, h KeyHash, st State, flags uint8, id string, dig *pipeline.Digests) []byte {
	dst, start := beginFrame(dst)
	dst = append(dst, recEntry)
	dst = append(dst, h[:]...)
	dst = append(dst, byte(st), flags)
	var raw [16]byte
	switch {
	case id == "":
		dst = append(dst, diskNone)
	case len(id) == 32 && decodeLowerHex(raw[:], id):
		dst = append(dst, diskHex)
		dst = append(dst, raw[:]...)
	case decodeUUID(raw[:], id):
		dst = append(dst, diskUUID)
		dst = append(dst, raw[:]...)
	default:
		dst = append(dst, diskString)
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
	}
	if flags&flagDigests != 0 {
		dst = append(dst, digest.Version)
		dst = digest.AppendBinary(dst, *dig)
	}
	return endFrame(dst, start)
}

// entryRecord is a decoded entry record. id and dig alias the payload; dig
// is nil unless flags has flagDigests, which decodeEntry clears for digests
// of another digest.Version: they count as unknown.
type entryRecord struct {
	hash  KeyHash
	state State
	flags uint8
	enc   byte
	id    []byte
	dig   []byte
}

// appendTombstone appends the record that removes the entry of h.
func appendTombstone(dst []byte, h KeyHash) []byte {
	return appendRecord(dst, h, Deleted, 0, "", nil)
}

// decodeEntry decodes an entry record of a file of format version.
func decodeEntry(p []byte, version uint64) (entryRecord, error) {
	var r entryRecord
	d := decoder{p: p}
	d.byte() // record type, checked by the caller
	copy(r.hash[:], d.take(16))
	r.state = State(d.byte())
	r.flags = d.byte()
	r.enc = d.byte()
	switch r.enc {
	case diskNone:
	case diskHex, diskUUID:
		r.id = d.take(16)
	case diskString:
		r.id = d.bytes(maxIDLen)
	default:
		d.fail(fmt.Errorf("unknown ID encoding %d", r.enc))
	}
	if r.flags&flagDigests != 0 {
		if v := d.byte(); v == digest.Version {
			r.dig = d.take(digest.Size)
		} else {
			d.take(digest.Size)
			r.flags &^= flagDigests
		}
	}
	if err := d.end(); err != nil {
		return r, fmt.Errorf("entry: %w", err)
	}
	maxState, known := Deleted, knownFlags
	if version < 3 {
		maxState, known = Failed, knownFlagsV2
	}
	if r.state < Accepted || r.state > maxState {
		return r, fmt.Errorf("entry: unknown state %d", r.state)
	}
	if r.flags&^known != 0 {
		return r, fmt.Errorf("entry: unknown flags %#x", r.flags)
	}
	return r, nil
}

func appendTrailer(dst []byte, count uint64) []byte {
	dst, start := beginFrame(dst)
	dst = append(dst, recTrailer)
	dst = binary.AppendUvarint(dst, count)
	return endFrame(dst, start)
}

func decodeTrailer(p []byte) (uint64, error) {
	d := decoder{p: p}
	d.byte()
	n := d.uvarint()
	if err := d.end(); err != nil {
		return 0, fmt.Errorf("trailer: %w", err)
	}
	return n, nil
}

// decoder reads fields from a payload; the first error sticks and later
// reads return zero values.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || len(d.p) < n {
		d.fail(io.ErrUnexpectedEOF)
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail(errors.New("bad varint"))
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail(errors.New("bad varint"))
		return 0
	}
	d.p = d.p[n:]
	return v
}

// bytes reads a uvarint length of at most limit, then that many bytes.
func (d *decoder) bytes(limit int) []byte {
	n := d.uvarint()
	if n > uint64(limit) {
		d.fail(fmt.Errorf("length %d is over the limit of %d", n, limit))
		return nil
	}
	return d.take(int(n))
}

// end returns the first error, or an error if bytes are left over.
func (d *decoder) end() error {
	if d.err == nil && len(d.p) != 0 {
		d.fail(fmt.Errorf("%d unexpected bytes at the end", len(d.p)))
	}
	return d.err
}

// formatError says why the data at Offset is not a valid record: a torn
// write or corruption. It is not an I/O error.
type formatError struct {
	Offset int64
	Reason string
}

func (e *formatError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Reason) }

// frameReader reads frames from a file positioned after the magic.
type frameReader struct {
	r   *bufio.Reader
	off int64 // offset of the next frame in the file
	buf []byte
}

// next returns the payload of the next frame, valid until the next call. It
// returns io.EOF at a clean end of file, a *formatError for a partial or
// corrupt frame (off then stays at that frame), or an I/O error.
func (fr *frameReader) next() ([]byte, error) {
	var hdr [frameHeaderLen]byte
	n, err := io.ReadFull(fr.r, hdr[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, &formatError{fr.off, fmt.Sprintf("partial record: %d of %d header bytes", n, frameHeaderLen)}
	case err != nil:
		return nil, err
	}
	size := binary.LittleEndian.Uint32(hdr[0:])
	if size == 0 || size > maxPayload {
		return nil, &formatError{fr.off, fmt.Sprintf("bad record length %d", size)}
	}
	if cap(fr.buf) < int(size) {
		fr.buf = make([]byte, size, max(int(size), 4<<10))
	}
	p := fr.buf[:size]
	if n, err := io.ReadFull(fr.r, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &formatError{fr.off, fmt.Sprintf("partial record: %d of %d payload bytes", n, size)}
		}
		return nil, err
	}
	if got, want := crc32.Checksum(p, castagnoli), binary.LittleEndian.Uint32(hdr[4:]); got != want {
		return nil, &formatError{fr.off, fmt.Sprintf("checksum mismatch (%08x, want %08x)", got, want)}
	}
	fr.off += frameHeaderLen + int64(size)
	return p, nil
}
