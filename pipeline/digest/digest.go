package digest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/internal/identity"
)

// Version is the version of the rule Of follows. Digests made under another
// version compare as unknown, not as changed: whoever stores digests stores
// the version beside them (the checkpoint does). Version 1 summed the item
// as the sink sent it (after the transforms); version 2 sums it as its
// source read it, and adds the file's modification time and the salt.
const Version = 2

// Size is the size of pipeline.Digests in bytes, as AppendBinary writes
// them.
const Size = 8 * int(pipeline.NumFields)

// The field groups, under short names.
const (
	fContent  = pipeline.FieldContent
	fConcepts = pipeline.FieldConcepts
	fMetadata = pipeline.FieldMetadata
	fGeo      = pipeline.FieldGeo
	fDatasets = pipeline.FieldDatasets
	fRegions  = pipeline.FieldRegions
)

// Item returns one sum of all the groups: equal for equal Digests.
func Item(d pipeline.Digests) uint64 {
	var b [Size]byte
	return xxhash.Sum64(AppendBinary(b[:0], d))
}

// String shows the sums as "content=<16 hex digits> concepts=...", in
// Field order.
func String(d pipeline.Digests) string {
	var b strings.Builder
	for f, s := range d {
		if f > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%016x", pipeline.Field(f), s)
	}
	return b.String()
}

// AppendBinary appends the sums, each 8 bytes little-endian, in Field
// order (Size bytes).
func AppendBinary(b []byte, d pipeline.Digests) []byte {
	for _, s := range d {
		b = binary.LittleEndian.AppendUint64(b, s)
	}
	return b
}

// FromBinary reads Digests that AppendBinary wrote; b must hold Size bytes.
func FromBinary(b []byte) pipeline.Digests {
	var d pipeline.Digests
	for f := range d {
		d[f] = binary.LittleEndian.Uint64(b[8*f:])
	}
	return d
}

// Of returns the digests of it as its source read it: call it before the
// transforms (the checkpoint's Lookup does), whose output is a function of
// the item, the job's settings (see OfSalted) and the content's bytes,
// which the content group stands for. It does not read the content, does
// not modify it, does not look at it.ID (the input's identity, not its
// content) nor it.Key, and is safe for concurrent use. The rule (see the
// package documentation) is stable across processes and releases of the
// same Version. Of(it) is OfSalted(it, 0).
func Of(it *pipeline.Item) pipeline.Digests { return OfSalted(it, 0) }

// OfSalted is Of with salt mixed into every group but the content: a job
// passes a hash of the settings that shape what its transforms make of an
// item (concept ID mode, annotation settings, ...), so that changing them
// changes the digests of what they shape and a rerun updates those groups;
// the content group, which never depends on settings, stays. A zero salt
// mixes nothing.
func OfSalted(it *pipeline.Item, salt uint64) pipeline.Digests {
	// Every sum is framed in this buffer (on the stack) and hashed at once:
	// XXH64 over a whole slice is several times faster than streamed in
	// small writes. Strings longer than longString go in as their own
	// sum, so the buffer never grows for long texts or values.
	var arr [1024]byte
	b := arr[:0]
	var d pipeline.Digests
	d[fContent] = content(b, it)
	d[fConcepts] = concepts(b, fConcepts, it.Concepts)
	d[fMetadata] = metadata(b, it.Metadata)
	d[fGeo] = geo(b, it.Geo)
	d[fDatasets] = datasets(b, it.DatasetIDs)
	d[fRegions] = regions(b, it.Regions)
	if salt != 0 {
		for f := fConcepts; f < pipeline.NumFields; f++ {
			e := begin(b, f)
			e = append(e, '$')
			e = u64(e, salt)
			d[f] = sum(u64(e, d[f]))
		}
	}
	return d
}

// longString is the length above which a string is framed as its XXH64
// instead of its bytes.
const longString = 64

// The framing helpers append to a buffer that a sum is then taken of
// (XXH64, seed 0). Strings are length-prefixed, so that no two sequences
// of values frame alike. A nested sum (an element of a set) is framed in
// b[len(b):], after its parent's bytes, which it leaves alone.

// begin starts the frame of a group (or of one element of a set, tagged
// with its group) under the rule's version.
func begin(b []byte, f pipeline.Field) []byte { return append(b[:0], Version, byte(f)) }

func num(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func str(b []byte, s string) []byte {
	if len(s) > longString {
		b = append(b, 0xff) // no uvarint of a length starts a frame like this one
		b = num(b, uint64(len(s)))
		return binary.LittleEndian.AppendUint64(b, xxhash.Sum64String(s))
	}
	b = num(b, uint64(len(s)))
	return append(b, s...)
}

func u64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// f32 appends v at the wire's precision: the API's coordinates, geo points
// and concept values are float32. -0 is written as 0.
func f32(b []byte, v float64) []byte {
	f := float32(v)
	if f == 0 {
		f = 0
	}
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
}

func f64(b []byte, v float64) []byte {
	if v == 0 {
		v = 0
	}
	return u64(b, math.Float64bits(v))
}

func sum(b []byte) uint64 { return xxhash.Sum64(b) }

// set is an order-insensitive combination of element sums: their count and
// their sum modulo 2^64 (a multiset hash), folded into one sum by finish.
// A set of one element sums as that element: most items have one label and
// one dataset, and each hash saved is a few percent of Of.
type set struct{ n, total uint64 }

func (s *set) add(v uint64) { s.n, s.total = s.n+1, s.total+v }

func (s set) finish(b []byte, f pipeline.Field) uint64 {
	switch s.n {
	case 0:
		return emptySet[f]
	case 1:
		return s.total
	}
	return s.fold(b, f)
}

// emptySet holds the sums of the empty sets, and noGeo that of no geo
// point: the common cases, hashed once.
var emptySet, noGeo = func() ([pipeline.NumFields]uint64, uint64) {
	var e [pipeline.NumFields]uint64
	for f := range pipeline.NumFields {
		e[f] = set{}.fold(nil, f)
	}
	return e, sum(begin(nil, fGeo))
}()

func (s set) fold(b []byte, f pipeline.Field) uint64 {
	b = begin(b, f)
	b = append(b, 'S')
	b = num(b, s.n)
	return sum(u64(b, s.total))
}

func content(b []byte, it *pipeline.Item) uint64 {
	b = begin(b, fContent)
	b = str(b, it.Kind.String())
	switch {
	case it.Blob != nil:
		// What a rerun knows without reading the bytes: a file edited in
		// place keeps its path, and almost always changes its size or
		// its modification time. The URL is not sent with bytes, as in
		// the derived ID.
		b = append(b, 'b')
		b = num(b, uint64(it.Blob.Size))
		b = str(b, it.Blob.Path)
		var mtime int64
		if !it.Blob.ModTime.IsZero() {
			mtime = it.Blob.ModTime.UnixNano()
		}
		b = u64(b, uint64(mtime))
	case it.URL != "":
		b = append(b, 'u')
		b = str(b, identity.NormalizeURL(it.URL))
	}
	if it.Text != "" {
		b = append(b, 't')
		b = str(b, it.Text)
	}
	return sum(b)
}

// concepts is the multiset of (ID, name, value): the server keys an input's
// concepts by ID and keeps no order.
func concepts(b []byte, f pipeline.Field, cs []pipeline.Concept) uint64 {
	var s set
	for i := range cs {
		c := &cs[i]
		e := begin(b, f)
		e = str(e, c.ID)
		e = str(e, c.Name)
		s.add(sum(f32(e, float64(c.Value))))
	}
	return s.finish(b, f)
}

func geo(b []byte, g *pipeline.Geo) uint64 {
	if g == nil {
		return noGeo
	}
	b = begin(b, fGeo)
	b = append(b, 'g')
	b = f32(b, g.Latitude)
	b = f32(b, g.Longitude)
	return sum(b)
}

// datasets is the set of dataset IDs: membership has neither order nor
// repeats.
func datasets(b []byte, ids []string) uint64 {
	var s set
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		s.add(sum(str(begin(b, fDatasets), id)))
	}
	return s.finish(b, fDatasets)
}

// regions is the multiset of regions, each its ID, box, polygon (in
// order) and multiset of concepts, at float32 precision.
func regions(b []byte, rs []pipeline.Region) uint64 {
	var s set
	for i := range rs {
		r := &rs[i]
		cs := concepts(b, fRegions, r.Concepts)
		e := begin(b, fRegions)
		e = str(e, r.ID)
		if r.Pixels {
			e = append(e, 'p')
		}
		if x := r.Box; x != nil {
			e = append(e, 'b')
			e = f32(e, x.Top)
			e = f32(e, x.Left)
			e = f32(e, x.Bottom)
			e = f32(e, x.Right)
		}
		if len(r.Polygon) > 0 {
			e = append(e, 'g')
			e = num(e, uint64(len(r.Polygon)))
			for _, p := range r.Polygon {
				e = f32(e, p.Row)
				e = f32(e, p.Col)
			}
		}
		e = append(e, 'c')
		s.add(sum(u64(e, cs)))
	}
	return s.finish(b, fRegions)
}

// metadata is the sum of the object as a google.protobuf.Struct holds it:
// keys without order, every number a float64, nil and empty alike (the sink
// sends no metadata for either, or an empty Struct).
func metadata(b []byte, m map[string]any) uint64 {
	if len(m) == 0 {
		return sum(begin(b, fMetadata))
	}
	var s set
	for k, v := range m {
		e, ok := scalar(str(begin(b, fMetadata), k), v)
		if !ok {
			// Nested objects and arrays: framed recursively, in a
			// buffer of their own (the recursion would move b to the
			// heap for every item).
			return object(make([]byte, 0, 512), m)
		}
		s.add(sum(e))
	}
	return s.finish(b, fMetadata)
}

// object is the multiset of an object's (key, value) pairs.
func object(b []byte, m map[string]any) uint64 {
	var s set
	for k, v := range m {
		e := begin(b, fMetadata)
		e = str(e, k)
		s.add(sum(value(e, v)))
	}
	return s.finish(b, fMetadata)
}

// scalar appends v if it is a scalar: null, string, bool or number.
func scalar(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, 'n'), true
	case string:
		return str(append(b, 's'), v), true
	case bool:
		if v {
			return append(b, 't', 1), true
		}
		return append(b, 't', 0), true
	case float64:
		return f64(append(b, 'f'), v), true
	case float32:
		return f64(append(b, 'f'), float64(v)), true
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f64(append(b, 'f'), f), true
		}
		// The sink refuses it: the item is never done, and this sum
		// never compared.
		return str(append(b, '?'), string(v)), true
	case int:
		return f64(append(b, 'f'), float64(v)), true
	case int64:
		return f64(append(b, 'f'), float64(v)), true
	}
	return b, false
}

// value appends v: a scalar, an array (in order), or an object as its own
// sum, framed after b's bytes.
func value(b []byte, v any) []byte {
	if e, ok := scalar(b, v); ok {
		return e
	}
	switch v := v.(type) {
	case map[string]any:
		return u64(append(b, 'o'), object(b[len(b):], v))
	case []any:
		b = append(b, 'a')
		b = num(b, uint64(len(v)))
		for _, x := range v {
			b = value(b, x)
		}
		return b
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return f64(append(b, 'f'), float64(rv.Int()))
	case rv.CanUint():
		return f64(append(b, 'f'), float64(rv.Uint()))
	case rv.CanFloat():
		return f64(append(b, 'f'), rv.Float())
	case rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String:
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return u64(append(b, 'o'), object(b[len(b):], m))
	case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array:
		b = append(b, 'a')
		b = num(b, uint64(rv.Len()))
		for i := range rv.Len() {
			b = value(b, rv.Index(i).Interface())
		}
		return b
	}
	// The sink refuses it (see scalar). Written as its type.
	return str(append(b, '?'), rv.Type().String())
}
