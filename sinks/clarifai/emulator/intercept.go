package emulator

import (
	"context"
	"math/rand/v2"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// intercept runs before every RPC. The order of the steps matters:
//
//  1. count the call (Calls counts everything received);
//  2. injected latency (before anything, like a slow network);
//  3. injected Unavailable (before anything, so it changes nothing);
//  4. auth, scopes, user_app_id, app existence (answered in the response
//     status with gRPC OK, as Clarifai does);
//  5. rate limit, then injected throttling (neither changes state: the app
//     is created only after them);
//  6. the cloud-ingestion steps and deletions due by now (extraction.go,
//     deletes.go), then the handler;
//  7. injected dropped connection (after the handler: the call took effect
//     but its response is lost).
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	if c := s.calls[method]; c != nil {
		c.Add(1)
	}
	select {
	case <-s.closing:
		return nil, status.Error(codes.Unavailable, errClosed.Error())
	default:
	}
	if d := s.opts.Faults.Latency; d > 0 {
		if err := s.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	if s.faults.hit(s.opts.Faults.UnavailableRate) {
		return nil, status.Error(codes.Unavailable, "emulator: injected fault: service unavailable")
	}
	a, st := s.admit(ctx, method, req)
	if st != nil {
		s.log.Debug("call refused", zap.String("method", method), zap.Stringer("code", st.Code))
		return s.statusResponse(method, st)
	}
	// Carry out the cloud ingestion due by now before the call looks at the
	// app, so that every call sees the same state at the same time.
	if a.nActive.Load() > 0 {
		s.advanceExtractions(a, s.nowNano())
	}
	// Likewise the deletions due by now.
	if a.nDeleting.Load() > 0 {
		s.reapDeletes(a, s.nowNano())
	}
	resp, err := handler(withApp(ctx, a), req)
	if err == nil && s.faults.hit(s.opts.Faults.DropConnRate) {
		s.dropConn(ctx)
		return nil, status.Error(codes.Unavailable, "emulator: injected fault: connection dropped")
	}
	return resp, err
}

// admit authenticates a call and finds its app. It returns a non-nil status
// when the call must be refused.
func (s *Server) admit(ctx context.Context, method string, req any) (*app, *statuspb.Status) {
	key, st := s.authenticate(ctx)
	if st != nil {
		return nil, st
	}
	if isWrite(method) && s.readOnly[key] {
		return nil, newStatusf(statuspb.StatusCode_CONN_INSUFFICIENT_SCOPES, "the key may only read; %s needs write scopes", method)
	}
	ids := userAppID(req)
	if ids.GetUserId() == "" || ids.GetAppId() == "" {
		return nil, newStatus(statuspb.StatusCode_FAILURE, "user_app_id with a non-empty user_id and app_id is required when authenticating with a personal access token")
	}
	create := !s.opts.NoAutoCreateApps
	if !create && s.app(ids.UserId, ids.AppId, false) == nil {
		return nil, newStatusf(statuspb.StatusCode_CONN_DOES_NOT_EXIST, "app %q of user %q does not exist", ids.AppId, ids.UserId)
	}
	now := s.opts.Now()
	if !s.allow(ids.UserId+"/"+ids.AppId, now) {
		return nil, s.throttled()
	}
	if s.faults.hit(s.opts.Faults.ThrottleRate) {
		return nil, s.throttled()
	}
	return s.app(ids.UserId, ids.AppId, create), nil
}

func (s *Server) throttled() *statuspb.Status {
	msg := "exceeded limit of " + strconv.FormatFloat(max(s.opts.RateLimit, 0), 'g', -1, 64) + " requests per second"
	return &statuspb.Status{Code: statuspb.StatusCode_CONN_THROTTLED, Description: msg, Details: msg}
}

// authenticate checks the "authorization: Key <PAT>" metadata and returns
// the key.
func (s *Server) authenticate(ctx context.Context) (string, *statuspb.Status) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return "", newStatus(statuspb.StatusCode_CONN_KEY_INVALID, `missing "authorization: Key <PAT>" metadata`)
	}
	key, ok := strings.CutPrefix(vals[0], "Key ")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", newStatus(statuspb.StatusCode_CONN_KEY_INVALID, `authorization metadata must be "Key <PAT>"`)
	}
	if len(s.pats) > 0 && !s.pats[key] && !s.readOnly[key] {
		return "", newStatus(statuspb.StatusCode_CONN_KEY_INVALID, "the key is not valid")
	}
	return key, nil
}

// isWrite reports whether a method changes state.
func isWrite(method string) bool {
	for _, p := range []string{"Post", "Patch", "Delete", "Cancel", "Put"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// userAppID extracts field 1 of any request.
func userAppID(req any) *pb.UserAppIDSet {
	if r, ok := req.(interface{ GetUserAppId() *pb.UserAppIDSet }); ok {
		return r.GetUserAppId()
	}
	return nil
}

// statusResponse builds the method's response message carrying only st.
func (s *Server) statusResponse(method string, st *statuspb.Status) (any, error) {
	mt := s.responses[method]
	if mt == nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	m := mt.New()
	fd := m.Descriptor().Fields().ByName("status")
	m.Set(fd, protoreflect.ValueOfMessage(st.ProtoReflect()))
	return m.Interface(), nil
}

// sleep waits d, or until ctx ends or the server closes.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.closing:
		return status.Error(codes.Unavailable, errClosed.Error())
	}
}

// dropConn closes the TCP connection the call arrived on, before gRPC writes
// the response.
func (s *Server) dropConn(ctx context.Context) {
	p, ok := peer.FromContext(ctx)
	if !ok || s.lis == nil {
		return
	}
	s.lis.drop(p.Addr.String())
}

type appKey struct{}

func withApp(ctx context.Context, a *app) context.Context { return context.WithValue(ctx, appKey{}, a) }

func appFrom(ctx context.Context) *app { a, _ := ctx.Value(appKey{}).(*app); return a }

// faultRNG is the seeded generator behind every injected fault.
type faultRNG struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (f *faultRNG) seed(seed int64) {
	f.r = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9E3779B97F4A7C15))
}

// hit reports true with probability p. It draws nothing when p is 0 or 1,
// so that faults that are off do not shift the sequence of those that are on.
func (f *faultRNG) hit(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.Float64() < p
}

// trackingListener remembers its open connections by remote address so that
// a call can close its own connection.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]net.Conn
}

func newTrackingListener(l net.Listener) *trackingListener {
	return &trackingListener{Listener: l, conns: make(map[string]net.Conn)}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = tc
	l.mu.Unlock()
	return tc, nil
}

// drop closes the connection from remote, if it is open. With linger 0 the
// close resets the connection, which the client sees at once.
func (l *trackingListener) drop(remote string) {
	l.mu.Lock()
	c := l.conns[remote]
	l.mu.Unlock()
	if c == nil {
		return
	}
	if tcp, ok := c.(*trackedConn).Conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.conns[c.RemoteAddr().String()] == net.Conn(c) {
			delete(c.l.conns, c.RemoteAddr().String())
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
