package clarifai

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

// fakeServer is an in-process V2 server on 127.0.0.1. An interceptor answers
// every RPC through respond, so one fake serves all methods.
type fakeServer struct {
	addr string

	mu      sync.Mutex
	calls   []recorded
	respond func(method string, n int, req proto.Message) (proto.Message, error)
}

// recorded is one request as the server saw it.
type recorded struct {
	method string
	md     metadata.MD
	req    proto.Message
}

// startFake starts a fake server answering with respond (n counts the calls
// of method, from 1). It stops when the test ends.
func startFake(t testing.TB, respond func(method string, n int, req proto.Message) (proto.Message, error)) *fakeServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: lis.Addr().String(), respond: respond}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.intercept),
		grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
	pb.RegisterV2Server(srv, pb.UnimplementedV2Server{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return f
}

func (f *fakeServer) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, recorded{method: method, md: md, req: req.(proto.Message)})
	n := 0
	for _, c := range f.calls {
		if c.method == method {
			n++
		}
	}
	respond := f.respond
	f.mu.Unlock()
	return respond(method, n, req.(proto.Message))
}

// Calls returns the requests received so far.
func (f *fakeServer) Calls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.calls...)
}

// withStatus returns an empty response of method carrying code.
func withStatus(method string, code st.StatusCode) proto.Message {
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

// codes returns a respond func answering the n-th call with seq[n-1] (the
// last one repeating); an error in seq is returned as a transport error.
func sequence(seq ...any) func(string, int, proto.Message) (proto.Message, error) {
	return func(method string, n int, _ proto.Message) (proto.Message, error) {
		v := seq[min(n, len(seq))-1]
		if err, ok := v.(error); ok {
			return nil, err
		}
		return withStatus(method, v.(st.StatusCode)), nil
	}
}

var errUnavailable = status.Error(codes.Unavailable, "connection reset by peer")
