package emulator

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// errClosed is the message of the Unavailable error that calls get while the
// server is closing.
var errClosed = errors.New("emulator: server closed")

// closeGrace is how long Close waits for in-flight calls before cutting
// them off.
const closeGrace = 5 * time.Second

// Server is a running Clarifai emulator: a gRPC server for the V2 service on
// a loopback address, with inspection methods for tests. All methods are
// safe for concurrent use.
type Server struct {
	opts  Options
	log   *zap.Logger
	delay int64 // processing delay in nanoseconds

	grpc    *grpc.Server
	lis     *trackingListener
	closing chan struct{} // closed when Close starts
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	pats     map[string]bool // empty: any key
	readOnly map[string]bool

	mu   sync.RWMutex
	apps map[string]*app // by "user/app"

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter // by "user/app"

	calls     map[string]*atomic.Int64            // by method name; read-only after newServer
	responses map[string]protoreflect.MessageType // response type by method name

	faults faultRNG
	dirty  atomic.Bool
	saveMu sync.Mutex

	buckets   []bucket // longest prefix first; credentials only as hashes
	credSalt  []byte
	noAdvance bool // Dump: read the state without running extraction jobs
}

// Start validates opts, loads the state in opts.StateDir if any, listens on
// addr (DefaultAddr when empty) and serves in the background until Close.
// It returns an error for invalid options, unreadable state or a failed
// listen; it does not block.
func Start(addr string, opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	s.lis = newTrackingListener(l)
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
		grpc.MaxSendMsgSize(MaxRecvMsgSize),
		grpc.UnaryInterceptor(s.intercept),
	)
	pb.RegisterV2Server(s.grpc, &service{s: s})

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("serve ended", zap.Error(err))
		}
	}()
	if s.opts.StateDir != "" && s.opts.SaveInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.saveLoop()
		}()
	}
	s.log.Info("emulator listening", zap.String("addr", s.Addr()))
	return s, nil
}

// newServer builds a Server with its state loaded but no listener; Start
// adds the network. Tests use it directly to call handlers in-process.
func newServer(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		delay:     int64(opts.ProcessingDelay),
		closing:   make(chan struct{}),
		pats:      set(opts.PATs),
		readOnly:  set(opts.ReadOnlyPATs),
		apps:      make(map[string]*app),
		limiters:  make(map[string]*rate.Limiter),
		calls:     make(map[string]*atomic.Int64),
		responses: make(map[string]protoreflect.MessageType),
	}
	s.faults.seed(opts.Faults.Seed)
	s.credSalt = newSalt()
	buckets, err := resolveBuckets(opts.Buckets, opts.PrivateBuckets, s.credSalt)
	if err != nil {
		return nil, err
	}
	s.buckets = buckets
	// The plain credentials are not kept: only their hashes, in buckets.
	s.opts.PrivateBuckets = nil

	methods := pb.File_clarifai_api_service_proto.Services().ByName("V2").Methods()
	for i := 0; i < methods.Len(); i++ {
		m := methods.Get(i)
		mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Output().FullName())
		if err != nil {
			return nil, fmt.Errorf("emulator: response type of %s: %w", m.Name(), err)
		}
		s.calls[string(m.Name())] = new(atomic.Int64)
		s.responses[string(m.Name())] = mt
	}

	now := s.nowNano()
	for _, a := range opts.Apps {
		user, id, _ := splitApp(a)
		s.apps[a] = newApp(user, id, now)
	}
	if opts.StateDir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Addr returns the address the server listens on, as host:port.
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// Close stops the server: new calls are refused, in-flight calls get up to
// 5 seconds to finish (latency waits end at once), background goroutines
// end, and with StateDir set the state is saved. It blocks until all that is
// done and returns the save error, if any. It is idempotent: later calls
// return the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.grpc != nil {
			stopped := make(chan struct{})
			go func() {
				s.grpc.GracefulStop()
				close(stopped)
			}()
			t := time.NewTimer(closeGrace)
			select {
			case <-stopped:
			case <-t.C:
				s.grpc.Stop()
				<-stopped
			}
			t.Stop()
		}
		s.wg.Wait()
		if s.opts.StateDir != "" {
			s.closeErr = s.save()
		}
		s.log.Info("emulator closed")
	})
	return s.closeErr
}

// Calls returns how many times each RPC was called, by method name
// ("PostInputs"), counting every call received, including rejected ones.
// Methods never called are absent.
func (s *Server) Calls() map[string]int64 {
	out := make(map[string]int64)
	for name, c := range s.calls {
		if n := c.Load(); n > 0 {
			out[name] = n
		}
	}
	return out
}

// nowNano reads the clock.
func (s *Server) nowNano() int64 { return s.opts.Now().UnixNano() }

// app returns the app "user/id", creating it if create is set.
func (s *Server) app(user, id string, create bool) *app {
	key := user + "/" + id
	s.mu.RLock()
	a := s.apps[key]
	s.mu.RUnlock()
	if a != nil || !create {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a = s.apps[key]; a == nil {
		a = newApp(user, id, s.nowNano())
		s.apps[key] = a
		s.dirty.Store(true)
	}
	return a
}

// sortedApps returns every app ordered by "user/app".
func (s *Server) sortedApps() []*app {
	s.mu.RLock()
	out := make([]*app, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, a)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].user != out[j].user {
			return out[i].user < out[j].user
		}
		return out[i].id < out[j].id
	})
	return out
}

// allow takes a rate-limit token for the app key at now.
func (s *Server) allow(key string, now time.Time) bool {
	if s.opts.RateLimit < 0 {
		return true
	}
	s.limMu.Lock()
	l := s.limiters[key]
	if l == nil {
		burst := max(1, int(math.Ceil(s.opts.RateLimit)))
		l = rate.NewLimiter(rate.Limit(s.opts.RateLimit), burst)
		// A new bucket starts full at the first call's time, not at the
		// limiter's zero time, so that a fake clock behaves like a real one.
		l.AllowN(now, 0)
		s.limiters[key] = l
	}
	s.limMu.Unlock()
	return l.AllowN(now, 1)
}

func set(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, v := range ss {
		m[v] = true
	}
	return m
}
