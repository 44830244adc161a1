package client

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// InputStatuses makes a call answered with a MultiInputResponse (PostInputs,
// ListInputs) decode, of each input in the response, only its ID and status.
// The sink reads nothing else, while the server echoes every input whole
// (data, labels, metadata, timestamps): decoding all of it was a sixth of
// the CPU of a URL manifest run and most of its allocations.
func InputStatuses() CallOption { return func(s *callSettings) { s.codec = inputStatusCodec{} } }

// inputStatusCodec is the gRPC codec of InputStatuses: the default proto
// codec, except that it decodes a *pb.MultiInputResponse with
// unmarshalInputStatuses, and that PostInputs requests and responses use
// the buffers of codecBuffers.
type inputStatusCodec struct{}

var protoCodec = encoding.GetCodecV2(grpcproto.Name)

// Name is empty: gRPC sends a forced codec's name as the content subtype,
// and an empty one keeps the default content type, "application/grpc", so
// the request on the wire is the same as without the codec.
func (inputStatusCodec) Name() string { return "" }

// Marshal is the default codec's, except that a PostInputsRequest is
// encoded into a buffer of codecBuffers.
func (inputStatusCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*pb.PostInputsRequest)
	if !ok {
		return protoCodec.Marshal(v)
	}
	// As the default codec: Size caches the sizes that MarshalAppend uses.
	size := proto.Size(req)
	buf := codecBuffers.Get(size)
	b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], req)
	if err != nil {
		codecBuffers.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, codecBuffers)}, nil
}

func (inputStatusCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*pb.MultiInputResponse)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	if len(data) == 1 {
		return unmarshalInputStatuses(data[0].ReadOnlyData(), resp)
	}
	buf := codecBuffers.Get(data.Len())
	defer codecBuffers.Put(buf)
	data.CopyTo(*buf)
	return unmarshalInputStatuses(*buf, resp) // copies what it keeps
}

// codecBuffers holds the buffers of inputStatusCodec. gRPC's default pool
// clears a buffer whenever it hands it out, and rounds sizes between 32 KiB
// and 1 MiB up to 1 MiB: requests and responses of 128 manifest rows are
// about 30 KiB, and each one over 32 KiB cost a 1 MiB clear. These buffers are always written in full before
// they are read, so they need no clearing.
var codecBuffers = &BufferPool{}

// BufferPool is a mem.BufferPool of byte slices that are not cleared, for
// buffers that are always written in full before they are read. The zero
// value is ready to use; it is safe for concurrent use.
type BufferPool struct{ p sync.Pool }

// Get returns a buffer of length n, reused when one is free.
func (bp *BufferPool) Get(n int) *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

// Put gives b back for reuse; the caller must not use it afterwards.
func (bp *BufferPool) Put(b *[]byte) { bp.p.Put(b) }

// Field numbers read by unmarshalInputStatuses, from the descriptors.
var (
	respInputsField   = fieldNumber(&pb.MultiInputResponse{}, "inputs")
	inputIDField      = fieldNumber(&pb.Input{}, "id")
	inputStatusField  = fieldNumber(&pb.Input{}, "status")
	errInvalidWire    = errors.New("proto: cannot parse invalid wire-format data")
	errInvalidIDUTF8  = errors.New("proto: input id: string field contains invalid UTF-8")
	unmarshalStatusOp = proto.UnmarshalOptions{Merge: true}
)

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	fd := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if fd == nil {
		panic(fmt.Sprintf("clarifai: %s has no field %s", m.ProtoReflect().Descriptor().FullName(), name))
	}
	return fd.Number()
}

// unmarshalInputStatuses decodes b, a wire-format MultiInputResponse, into
// resp as proto.Unmarshal would, except that each input keeps only its id
// and status: its other fields are skipped without being decoded.
func unmarshalInputStatuses(b []byte, resp *pb.MultiInputResponse) error {
	proto.Reset(resp)
	// First pass: count the inputs, and gather the other fields (status,
	// the job, unknown fields) to decode them the ordinary way.
	var rest []byte
	n := 0
	for p := b; len(p) > 0; {
		num, typ, tl := protowire.ConsumeTag(p)
		if tl < 0 {
			return errInvalidWire
		}
		vl := protowire.ConsumeFieldValue(num, typ, p[tl:])
		if vl < 0 {
			return errInvalidWire
		}
		if num == respInputsField && typ == protowire.BytesType {
			n++
		} else {
			rest = append(rest, p[:tl+vl]...)
		}
		p = p[tl+vl:]
	}
	if len(rest) > 0 {
		if err := proto.Unmarshal(rest, resp); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	// One allocation for all the inputs and one for their statuses.
	ins, sts := make([]pb.Input, n), make([]st.Status, n)
	resp.Inputs = make([]*pb.Input, 0, n)
	for p := b; len(p) > 0; {
		num, typ, tl := protowire.ConsumeTag(p)
		vl := protowire.ConsumeFieldValue(num, typ, p[tl:])
		if num == respInputsField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(p[tl:])
			in := &ins[len(resp.Inputs)]
			if err := unmarshalInputStatus(v, in, &sts[len(resp.Inputs)]); err != nil {
				return err
			}
			resp.Inputs = append(resp.Inputs, in)
		}
		p = p[tl+vl:]
	}
	return nil
}

// unmarshalInputStatus decodes the id and status of one wire-format Input;
// status is where its status goes, if it has one.
func unmarshalInputStatus(b []byte, in *pb.Input, status *st.Status) error {
	for len(b) > 0 {
		num, typ, tl := protowire.ConsumeTag(b)
		if tl < 0 {
			return errInvalidWire
		}
		vl := protowire.ConsumeFieldValue(num, typ, b[tl:])
		if vl < 0 {
			return errInvalidWire
		}
		if typ == protowire.BytesType {
			switch num {
			case inputIDField:
				v, _ := protowire.ConsumeBytes(b[tl:])
				if !utf8.Valid(v) {
					return errInvalidIDUTF8
				}
				in.Id = string(v)
			case inputStatusField:
				v, _ := protowire.ConsumeBytes(b[tl:])
				if in.Status == nil {
					in.Status = status
				}
				if err := unmarshalStatusOp.Unmarshal(v, in.Status); err != nil {
					return err
				}
			}
		}
		b = b[tl+vl:]
	}
	return nil
}
