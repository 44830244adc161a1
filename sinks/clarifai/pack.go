package clarifai

import (
	"encoding/binary"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Items waiting for verification are held packed. With verification on,
// tens of thousands of accepted items wait at once for their processing to
// be confirmed (at 50,000 inputs/s, each waits a few hundred milliseconds).
// A manifest row's labels and metadata are about half of its memory (a
// 4-field metadata map alone is ~380 bytes of Go map and boxed values), yet
// they are only read again if the item fails (the failure report) or must be
// sent again. pack keeps them in a few dozen bytes, the metadata in the wire
// form the request was built with; unpack puts them back.

// packed is what pack took out of an item.
type packed struct {
	// concepts holds the labels (packConcepts); "" when none.
	concepts string
	// md holds flat metadata in its wire form (appendFlatMetadata).
	md []byte
	// meta is metadata that is not flat, kept as it is.
	meta map[string]any
}

// pack moves it.Concepts and it.Metadata out of it (when they are not empty)
// and returns them. Labels are encoded; flat metadata (string, float64,
// bool and nil values, as JSON decoders and the manifest source give it) is
// kept in its wire form: wireMD when the request build wrote it (see
// builder), else encoded here; other metadata is kept as it is. The item
// must not be shared with another goroutine.
func pack(it *pipeline.Item, wireMD []byte) packed {
	var p packed
	if len(it.Concepts) > 0 {
		p.concepts = packConcepts(it.Concepts)
		it.Concepts = nil
	}
	if len(it.Metadata) > 0 {
		if wireMD == nil {
			var scratch [512]byte
			if b, ok := appendFlatMetadata(scratch[:0], it.Metadata); ok {
				wireMD = slices.Clone(b)
			}
		}
		if wireMD != nil {
			p.md = wireMD
		} else {
			p.meta = it.Metadata
		}
		it.Metadata = nil
	}
	return p
}

// packConcepts encodes labels: for each, ID, name (empty when it is the ID,
// as for most labels) and value.
func packConcepts(cs []pipeline.Concept) string {
	var buf [256]byte // on the stack: most items fit; string(b) copies
	b := binary.AppendUvarint(buf[:0], uint64(len(cs)))
	for _, c := range cs {
		b = appendString(b, c.ID)
		if c.Name == c.ID {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(c.Name))+1)
			b = append(b, c.Name...)
		}
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c.Value))
	}
	return string(b)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// unpack restores into it what pack took out.
func (p packed) unpack(it *pipeline.Item) {
	if p.concepts != "" {
		d := unpacker{s: p.concepts}
		it.Concepts = make([]pipeline.Concept, d.uvarint())
		for i := range it.Concepts {
			c := &it.Concepts[i]
			c.ID = d.string()
			if n := d.uvarint(); n == 0 {
				c.Name = c.ID
			} else {
				c.Name = d.bytes(int(n - 1))
			}
			c.Value = math.Float32frombits(uint32(d.fixed(4)))
		}
	}
	switch {
	case p.md != nil:
		it.Metadata = decodeFlatMetadata(p.md)
	case p.meta != nil:
		it.Metadata = p.meta
	}
}

// decodeFlatMetadata is the inverse of appendFlatMetadata: the object whose
// wire form is b, which appendFlatMetadata wrote.
func decodeFlatMetadata(b []byte) map[string]any {
	m := make(map[string]any)
	for len(b) > 0 {
		_, _, n := protowire.ConsumeTag(b) // fields
		entry, n2 := protowire.ConsumeBytes(b[n:])
		b = b[n+n2:]
		var k string
		var v any
		for len(entry) > 0 {
			num, _, n := protowire.ConsumeTag(entry)
			val, n2 := protowire.ConsumeBytes(entry[n:])
			entry = entry[n+n2:]
			switch num {
			case mapKeyField:
				k = string(val)
			case mapValueField:
				v = decodeFlatValue(val)
			}
		}
		m[k] = v
	}
	return m
}

// decodeFlatValue decodes a Value that appendFlatMetadata wrote.
func decodeFlatValue(b []byte) any {
	num, _, n := protowire.ConsumeTag(b)
	b = b[n:]
	switch num {
	case stringValueField:
		s, _ := protowire.ConsumeBytes(b)
		return string(s)
	case numberValueField:
		f, _ := protowire.ConsumeFixed64(b)
		return math.Float64frombits(f)
	case boolValueField:
		v, _ := protowire.ConsumeVarint(b)
		return protowire.DecodeBool(v)
	}
	return nil // null_value
}

// unpacker reads what pack wrote; the input is always well formed.
type unpacker struct{ s string }

func (d *unpacker) byte() byte {
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *unpacker) uvarint() uint64 {
	var x uint64
	for shift := 0; ; shift += 7 {
		c := d.byte()
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (d *unpacker) bytes(n int) string {
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

// fixed reads an n-byte little-endian number.
func (d *unpacker) fixed(n int) uint64 {
	var x uint64
	for i := range n {
		x |= uint64(d.s[i]) << (8 * i)
	}
	d.s = d.s[n:]
	return x
}

func (d *unpacker) string() string { return d.bytes(int(d.uvarint())) }
