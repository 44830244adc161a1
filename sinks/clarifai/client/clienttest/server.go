// Package clienttest gives tests an in-process fake of the Clarifai V2 gRPC
// API on 127.0.0.1 that answers every RPC through one func, and records the
// requests it got.
package clienttest

import (
	"context"
	"net"
	"path"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Server is an in-process V2 server on 127.0.0.1. An interceptor answers
// every RPC through respond, so one fake serves all methods. It is safe for
// concurrent use.
type Server struct {
	// Addr is the server's host:port, a client's Config.Base.
	Addr string

	mu      sync.Mutex
	calls   []Call
	respond func(method string, n int, req proto.Message) (proto.Message, error)
}

// Call is one request as the server saw it.
type Call struct {
	Method string
	MD     metadata.MD
	Req    proto.Message
}

// maxMessageBytes is the server's send and receive limit, as large as the
// client's (a request may be up to 128 MB).
const maxMessageBytes = 1 << 30

// Start starts a fake server answering with respond (n counts the calls of
// method, from 1). It stops when the test ends.
func Start(t testing.TB, respond func(method string, n int, req proto.Message) (proto.Message, error)) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{Addr: lis.Addr().String(), respond: respond}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.intercept),
		grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
	pb.RegisterV2Server(srv, pb.UnimplementedV2Server{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return f
}

func (f *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: method, MD: md, Req: req.(proto.Message)})
	n := 0
	for _, c := range f.calls {
		if c.Method == method {
			n++
		}
	}
	respond := f.respond
	f.mu.Unlock()
	return respond(method, n, req.(proto.Message))
}

// Calls returns the requests received so far.
func (f *Server) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// WithStatus returns an empty response of method carrying code.
func WithStatus(method string, code st.StatusCode) proto.Message {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("clarifai.api.V2")
	if err != nil {
		panic(err)
	}
	out := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method)).Output()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(out.FullName())
	if err != nil {
		panic(err)
	}
	m := mt.New()
	m.Set(out.Fields().ByName("status"), protoreflect.ValueOfMessage((&st.Status{Code: code, Description: code.String()}).ProtoReflect()))
	return m.Interface()
}

// Sequence returns a respond func answering the n-th call with seq[n-1]
// (the last one repeating), each a st.StatusCode or an error; an error is
// returned as a transport error.
func Sequence(seq ...any) func(string, int, proto.Message) (proto.Message, error) {
	return func(method string, n int, _ proto.Message) (proto.Message, error) {
		v := seq[min(n, len(seq))-1]
		if err, ok := v.(error); ok {
			return nil, err
		}
		return WithStatus(method, v.(st.StatusCode)), nil
	}
}

// ErrUnavailable is a transport error a client retries.
var ErrUnavailable = status.Error(codes.Unavailable, "connection reset by peer")

// ClosedAddr returns a 127.0.0.1 address nothing listens on: a dial to it is
// refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}
