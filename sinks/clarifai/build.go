package clarifai

import (
	"context"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// builder builds the inputs of one batch (see buildEntry). A nil builder
// builds them for any InputPoster. A wire builder builds them for a
// *Client, which only encodes a request and keeps nothing of it once the
// call returned; it takes two shortcuts that a poster that reads or keeps
// requests must not see:
//
//   - content is read into buffers of contentBuffers, given back by release
//     once the batch's requests are done. A folder of 50 KB images otherwise
//     allocated (and the runtime cleared) a new buffer per file: recycling
//     them saved a sixth of the CPU per image.
//   - flat metadata is written in its wire form (appendFlatMetadata), as an
//     unknown field of the input's Data, instead of as a structpb.Struct:
//     building the Struct, then encoding its map through protobuf-go's
//     reflection, was a sixth of the CPU of a URL manifest run.
type builder struct {
	wire bool
	bufs []*[]byte
}

// contentBuffers holds the content buffers of wire builders.
var contentBuffers = &client.BufferPool{}

// load returns the whole content of b, as b.ReadAll(ctx, limit) does, with
// the same errors. For a wire builder the bytes are valid until release.
func (bd *builder) load(ctx context.Context, b *pipeline.Blob, limit int64) ([]byte, error) {
	if bd == nil || !bd.wire {
		return b.ReadAll(ctx, limit)
	}
	// Room for one byte more than Size, as ReadInto needs to see a file
	// that grew.
	buf := contentBuffers.Get(int(b.Size) + 1)
	data, err := b.ReadInto(ctx, limit, *buf)
	if err != nil {
		contentBuffers.Put(buf)
		return nil, err
	}
	bd.bufs = append(bd.bufs, buf)
	return data, nil
}

// release gives the content buffers back; nothing may use them afterwards.
func (bd *builder) release() {
	if bd == nil {
		return
	}
	for _, b := range bd.bufs {
		contentBuffers.Put(b)
	}
	bd.bufs = nil
}

// metadata sets the metadata of data: for a wire builder, m's wire form if
// it is flat, which it returns (the Struct's fields, without the Data field
// around them); else the Struct of toStruct.
func (bd *builder) metadata(data *pb.Data, m map[string]any) (wire []byte, err error) {
	var md *structpb.Struct
	if bd != nil && bd.wire {
		var scratch [512]byte
		if body, ok := appendFlatMetadata(scratch[:0], m); ok {
			raw := make([]byte, 0, 1+protowire.SizeBytes(len(body)))
			raw = protowire.AppendTag(raw, dataMetadataField, protowire.BytesType)
			raw = protowire.AppendBytes(raw, body)
			data.ProtoReflect().SetUnknown(raw)
			return raw[len(raw)-len(body):], nil
		}
		// Not flat: toStruct's flat path would refuse it too.
		md, err = toStructAt(m, "")
	} else {
		md, err = toStruct(m)
	}
	if err != nil {
		return nil, err
	}
	data.Metadata = md
	return nil, nil
}

// fieldNumber is the number of m's field name.
func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return protowire.Number(m.ProtoReflect().Descriptor().Fields().ByName(name).Number())
}

// Field numbers written by appendFlatMetadata, from the descriptors.
var (
	dataMetadataField = fieldNumber(&pb.Data{}, "metadata")
	structFieldsField = fieldNumber(&structpb.Struct{}, "fields")
	nullValueField    = fieldNumber(&structpb.Value{}, "null_value")
	numberValueField  = fieldNumber(&structpb.Value{}, "number_value")
	stringValueField  = fieldNumber(&structpb.Value{}, "string_value")
	boolValueField    = fieldNumber(&structpb.Value{}, "bool_value")
)

// Map entries are messages with the key as field 1 and the value as 2.
const mapKeyField, mapValueField protowire.Number = 1, 2

// appendFlatMetadata appends to b the wire form of the Struct that toStruct
// makes of m (its fields, in map order, as protobuf-go writes a map), and
// reports true, when m is flat: UTF-8 keys and only string (UTF-8), float64
// (finite), bool and nil values. It reports false for anything else, which
// toStruct then converts or rejects (FuzzAppendFlatMetadata checks both
// agree).
func appendFlatMetadata(b []byte, m map[string]any) ([]byte, bool) {
	for k, v := range m {
		if !utf8.ValidString(k) {
			return b, false
		}
		// The value's size, to write the entry's length first.
		var size int
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) {
				return b, false
			}
			size = protowire.SizeTag(stringValueField) + protowire.SizeBytes(len(v))
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return b, false
			}
			size = protowire.SizeTag(numberValueField) + protowire.SizeFixed64()
		case bool:
			size = protowire.SizeTag(boolValueField) + protowire.SizeVarint(0)
		case nil:
			size = protowire.SizeTag(nullValueField) + protowire.SizeVarint(0)
		default:
			return b, false
		}
		entry := protowire.SizeTag(mapKeyField) + protowire.SizeBytes(len(k)) +
			protowire.SizeTag(mapValueField) + protowire.SizeBytes(size)
		b = protowire.AppendTag(b, structFieldsField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(entry))
		b = protowire.AppendTag(b, mapKeyField, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, mapValueField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		switch v := v.(type) {
		case string:
			b = protowire.AppendTag(b, stringValueField, protowire.BytesType)
			b = protowire.AppendString(b, v)
		case float64:
			b = protowire.AppendTag(b, numberValueField, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		case bool:
			b = protowire.AppendTag(b, boolValueField, protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(v))
		case nil:
			b = protowire.AppendTag(b, nullValueField, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(structpb.NullValue_NULL_VALUE))
		}
	}
	return b, true
}
