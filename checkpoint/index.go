package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// KeyHash identifies an entry in the checkpoint: the first 16 bytes of the
// SHA-256 of the item's stable key (see EntryKey; of its full Key for the
// legacy entries of format 1 and 2 files). 128 bits make a collision among a billion keys less
// likely than 1e-20, and cost a fixed 16 bytes however long the key is.
type KeyHash [16]byte

// String returns the hash in hex.
func (h KeyHash) String() string { return hex.EncodeToString(h[:]) }

// EntryKey returns the KeyHash Record files an item of this key under
// (format 3): HashKey of ids.StableKey(key), which an edit of the item
// does not change.
func EntryKey(key string) KeyHash { return HashKey(ids.StableKey(key)) }

// HashKey returns the KeyHash of a string: of an item's full key, the
// legacy entries' hash; see EntryKey for the others.
func HashKey(key string) KeyHash {
	// Hash the string's bytes in place: converting it would allocate a copy
	// on every Lookup and Record. Sum256 only reads them.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
	return KeyHash(sum[:16])
}

// itemKey returns the key the checkpoint files it under: Item.Key, or, when
// it is empty, the key a source would have given an item with that ID
// (ids.IDKey scoped by its datasets). Items with neither cannot be
// recorded or found.
func itemKey(it *pipeline.Item) (string, bool) {
	switch {
	case it == nil:
		return "", false
	case it.Key != "":
		return it.Key, true
	case it.ID != "":
		return ids.ScopeKey(ids.IDKey(it.ID), it.DatasetIDs), true
	}
	return "", false
}

// State is the recorded state of an entry.
type State uint8

// The states of an entry. The zero value is not a valid state.
const (
	// Accepted: the server accepted the input; its processing was not
	// confirmed yet.
	Accepted State = iota + 1
	// Done: the item is finished.
	Done
	// Failed: the server refused or failed the item with a status code.
	Failed
	// Deleted is the state of a tombstone record (format 3): the entry's
	// input was deleted from the server (RecordDeleted), or the entry moved
	// elsewhere; the entry is gone. It is never in memory: loading a
	// tombstone removes the entry, so Lookup finds nothing.
	Deleted
)

var stateNames = [...]string{"", "accepted", "done", "failed", "deleted"}

// String returns "accepted", "done", "failed" or "deleted".
func (s State) String() string {
	if s >= Accepted && s <= Deleted {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Entry flags. All but flagSeen are stored.
const (
	// flagAccepted: the server accepted the input at some point, so it
	// exists on the server under the recorded ID.
	flagAccepted uint8 = 1 << iota
	// flagAnnotated: the item's annotations were accepted.
	flagAnnotated
	// flagDigests: the entry holds the digests of the item (format 2 on;
	// see DESIGN.md).
	flagDigests
	// flagLegacy: the entry was loaded from a format 1 or 2 file, keyed by
	// the hash of the item's full key rather than of its stable key
	// (format 3 on, where compaction keeps the mark). Lookup finds it by
	// the full key when the stable key finds nothing; it is never a
	// deletion candidate (Unseen).
	flagLegacy
	// flagOrphan: the entry is an input an earlier version of an item left
	// on the server when the item's content changed and it got a new
	// derived ID; keyed by HashKey("orphan:"+ID) (format 3 on). Unseen
	// yields it: no item matches it.
	flagOrphan
	// flagAdopted: the sink found the input on the server, not sent by
	// this job, and took it as the item's (pipeline.Sync.Adopted; format 3
	// on). Unseen never yields it: this job may not have created it.
	flagAdopted

	// flagSeen (memory only, never written): a Lookup of this process
	// found the entry (see Unseen).
	flagSeen uint8 = 1 << 7

	// knownFlags are the flags a format 3 record may hold; knownFlagsV2
	// those of format 1 and 2 records.
	knownFlags   = flagAccepted | flagAnnotated | flagDigests | flagLegacy | flagOrphan | flagAdopted
	knownFlagsV2 = flagAccepted | flagAnnotated | flagDigests
)

// How an entry's id field holds the input ID in memory.
const (
	memNone   uint8 = iota
	memInline       // id[0] is the length (<16), id[1:] the bytes
	memHex          // 32 lower-case hex characters, decoded
	memUUID         // a lower-case canonical UUID, its 32 hex digits decoded
	memArena        // id[0:4] chunk, id[4:8] offset, id[8:12] length in the shard arena
)

// entry is the in-memory state of one key: 23 bytes with byte alignment, so
// a map slot costs 39 bytes. The seen mark is a bit of flags, so it costs
// nothing (TestEntrySize).
type entry struct {
	// dig locates the digests of the item when it was recorded done in the
	// shard's digest arena (see shard.digs); valid with flagDigests. They
	// are kept out of the map, whose spare slots would cost their 48 bytes
	// too.
	dig   digRef
	id    [16]byte
	state State
	flags uint8
	idEnc uint8
}

// numShards is the number of index shards. With 64 the resume filter and the
// result loop almost never wait for each other, and the compactor holds one
// shard's read lock for 1/64 of the index at a time.
const numShards = 64

// shard is one part of the index. mu guards everything in it.
type shard struct {
	mu sync.RWMutex
	m  map[KeyHash]entry
	// chunks is the arena of IDs that do not pack into 16 bytes. Chunks are
	// never reallocated, so arena offsets stay valid; an ID that changes
	// leaves its old bytes behind (rare: IDs are deterministic).
	chunks [][]byte
	// digs is the arena of digests: chunks of digChunkMin, then twice the
	// size of the last, up to digChunkMax digests, never reallocated. An
	// entry whose digests change while loading overwrites them in place;
	// one that changes by a Record gets a new place (see putDigests).
	digs [][]pipeline.Digests
}

// digRef is the place of an entry's digests in its shard's arena: chunk
// index (high 12 bits) and offset in the chunk (low 20), little-endian.
type digRef [4]byte

const (
	digChunkMin = 256
	digChunkMax = 16384
)

// setDigests stores d as e's digests, in place if e has some already. The
// caller holds s's write lock.
func (s *shard) setDigests(e *entry, d *pipeline.Digests) {
	if e.flags&flagDigests != 0 {
		*s.digestsAt(e.dig) = *d
		return
	}
	s.appendDigests(e, d)
}

// putDigests stores d as e's digests, a copy of an entry in the index,
// without touching the index: unchanged digests keep their place, changed
// ones get a new one, so that the entry differs from the one in the index
// exactly when its digests changed. The old place is left behind (rare: an
// item done twice in a run after an earlier one). The caller holds s's
// write lock.
func (s *shard) putDigests(e *entry, d *pipeline.Digests) {
	if e.flags&flagDigests != 0 && *s.digestsAt(e.dig) == *d {
		return
	}
	s.appendDigests(e, d)
}

func (s *shard) appendDigests(e *entry, d *pipeline.Digests) {
	n := len(s.digs)
	if n == 0 || len(s.digs[n-1]) == cap(s.digs[n-1]) {
		size := digChunkMin
		if n > 0 {
			size = min(2*cap(s.digs[n-1]), digChunkMax)
		}
		s.digs = append(s.digs, make([]pipeline.Digests, 0, size))
		n++
	}
	last := &s.digs[n-1]
	*last = append(*last, *d)
	binary.LittleEndian.PutUint32(e.dig[:], uint32(n-1)<<20|uint32(len(*last)-1))
	e.flags |= flagDigests
}

// digestsAt returns the digests r locates. The caller holds s's lock.
func (s *shard) digestsAt(r digRef) *pipeline.Digests {
	v := binary.LittleEndian.Uint32(r[:])
	return &s.digs[v>>20][v&(1<<20-1)]
}

// index is the sharded in-memory state.
type index struct {
	shards [numShards]shard
	// counts by state, and annotated, legacy and orphan entries; updated
	// under the shard lock.
	counts    [Failed + 1]atomic.Int64
	annotated atomic.Int64
	legacy    atomic.Int64
	orphans   atomic.Int64
}

func newIndex(hint int) *index {
	x := &index{}
	per := hint/numShards + hint/(numShards*16)
	for i := range x.shards {
		x.shards[i].m = make(map[KeyHash]entry, per)
	}
	return x
}

func (x *index) shard(h KeyHash) *shard { return &x.shards[h[0]%numShards] }

// len returns the number of entries.
func (x *index) len() int64 {
	return x.counts[Accepted].Load() + x.counts[Done].Load() + x.counts[Failed].Load()
}

// put stores e under h in s, whose lock the caller holds, and keeps the
// counts. old and had are what s holds under h now (the caller looked).
func (x *index) put(s *shard, h KeyHash, e, old entry, had bool) {
	if had {
		x.count(old, -1)
	}
	s.m[h] = e
	x.count(e, 1)
}

// remove deletes h, which holds old, from s, whose lock the caller holds.
func (x *index) remove(s *shard, h KeyHash, old entry) {
	delete(s.m, h)
	x.count(old, -1)
}

// drop deletes h from the index, locking its shard, and reports whether
// it was there.
func (x *index) drop(h KeyHash) bool {
	s := x.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.m[h]
	if had {
		x.remove(s, h, old)
	}
	return had
}

func (x *index) count(e entry, n int64) {
	x.counts[e.state].Add(n)
	if e.flags&flagAnnotated != 0 {
		x.annotated.Add(n)
	}
	if e.flags&flagLegacy != 0 {
		x.legacy.Add(n)
	}
	if e.flags&flagOrphan != 0 {
		x.orphans.Add(n)
	}
}

// maxIDLen is the longest input ID the checkpoint stores. Clarifai and
// ids.ValidID allow far less (ids.MaxIDLength).
const maxIDLen = 1024

// byteString is a string or a byte slice: IDs come as strings from items
// and as bytes from files, and neither should be copied to the other.
type byteString interface{ ~string | ~[]byte }

// packID sets e's ID to id, which must be at most maxIDLen bytes. The
// caller holds s's write lock.
func packID[T byteString](s *shard, e *entry, id T) {
	e.id = [16]byte{}
	switch {
	case len(id) == 0:
		e.idEnc = memNone
	case len(id) == 32 && decodeLowerHex(e.id[:], id):
		e.idEnc = memHex
	case decodeUUID(e.id[:], id):
		e.idEnc = memUUID
	case len(id) < 16:
		e.id[0] = byte(len(id))
		copy(e.id[1:], id)
		e.idEnc = memInline
	default:
		storeArena(s, e, id)
	}
}

// storeArena appends id to the arena and points e at it.
func storeArena[T byteString](s *shard, e *entry, id T) {
	n := len(s.chunks)
	if n == 0 || cap(s.chunks[n-1])-len(s.chunks[n-1]) < len(id) {
		// Chunks double from 4 KiB to 1 MiB, so a checkpoint with a few
		// long IDs stays small and a large one allocates rarely.
		size := 4 << 10
		if n > 0 {
			size = min(2*cap(s.chunks[n-1]), 1<<20)
		}
		s.chunks = append(s.chunks, make([]byte, 0, max(size, len(id))))
		n++
	}
	c := s.chunks[n-1]
	binary.LittleEndian.PutUint32(e.id[0:], uint32(n-1))
	binary.LittleEndian.PutUint32(e.id[4:], uint32(len(c)))
	binary.LittleEndian.PutUint32(e.id[8:], uint32(len(id)))
	s.chunks[n-1] = append(c, id...)
	e.idEnc = memArena
}

// appendID appends e's ID to dst. The caller holds s's lock (read or write).
func (s *shard) appendID(dst []byte, e *entry) []byte {
	switch e.idEnc {
	case memInline:
		return append(dst, e.id[1:1+e.id[0]]...)
	case memHex:
		return hex.AppendEncode(dst, e.id[:])
	case memUUID:
		dst = hex.AppendEncode(dst, e.id[0:4])
		dst = append(dst, '-')
		dst = hex.AppendEncode(dst, e.id[4:6])
		dst = append(dst, '-')
		dst = hex.AppendEncode(dst, e.id[6:8])
		dst = append(dst, '-')
		dst = hex.AppendEncode(dst, e.id[8:10])
		dst = append(dst, '-')
		return hex.AppendEncode(dst, e.id[10:16])
	case memArena:
		c := binary.LittleEndian.Uint32(e.id[0:])
		off := binary.LittleEndian.Uint32(e.id[4:])
		n := binary.LittleEndian.Uint32(e.id[8:])
		return append(dst, s.chunks[c][off:off+n]...)
	}
	return dst
}

// idString returns e's ID. The caller holds s's lock.
func (s *shard) idString(e *entry) string {
	var buf [64]byte
	return string(s.appendID(buf[:0], e))
}

// sameID reports whether e already holds id. The caller holds s's lock.
func sameID[T byteString](s *shard, e *entry, id T) bool {
	var buf [64]byte
	return string(s.appendID(buf[:0], e)) == string(id)
}

func decodeLowerHex[T byteString](dst []byte, src T) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, lo := lowerHex[src[2*i]], lowerHex[src[2*i+1]]
		if hi|lo == notHex {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// notHex marks the bytes that are not lower-case hex digits in lowerHex;
// hi|lo == notHex tests both digits at once, since digits are below 0x10.
const notHex = 0xff

// lowerHex maps a byte to its value as a lower-case hex digit, or notHex.
// A table: Record decodes every derived ID, and a table lookup has no
// branch to mispredict.
var lowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = notHex
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// decodeUUID decodes id into dst (16 bytes) if it is a lower-case canonical
// UUID (see isLowerUUID), and reports whether it was.
func decodeUUID[T byteString](dst []byte, id T) bool {
	if !isLowerUUID(id) {
		return false
	}
	decodeLowerHex(dst[0:4], id[0:8])
	decodeLowerHex(dst[4:6], id[9:13])
	decodeLowerHex(dst[6:8], id[14:18])
	decodeLowerHex(dst[8:10], id[19:23])
	decodeLowerHex(dst[10:16], id[24:36])
	return true
}

// isLowerUUID reports whether id is a UUID in canonical lower-case form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, which packs into 16 bytes and
// unpacks to the same text.
func isLowerUUID[T byteString](id T) bool {
	if len(id) != 36 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if lowerHex[c] == notHex {
			return false
		}
	}
	return true
}
