package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// preflight runs Preflight against base with a client whose ordinary
// policy would retry for minutes, and returns its error and duration.
func preflight(t *testing.T, base string) (error, time.Duration) {
	t.Helper()
	c, err := New(Config{Connection: Connection{Base: base, PAT: testPAT, UserID: "me", AppID: "app"},
		Tuning: Tuning{RateLimit: -1, MaxAttempts: 100, MaxElapsed: units.Duration(time.Hour)}, MinBackoff: time.Second, MaxBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	err = c.Preflight(t.Context())
	return err, time.Since(start)
}

// tlsServer starts a gRPC server with a self-signed certificate on
// 127.0.0.1 and returns its address.
func tlsServer(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	pb.RegisterV2Server(srv, pb.UnimplementedV2Server{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

func TestPreflightFailsFastWithTheFix(t *testing.T) {
	plain := clienttest.Start(t, clienttest.Sequence(st.StatusCode_SUCCESS))
	for _, tc := range []struct {
		name, base string
		want       []string
	}{
		{"closed port", "http://" + clienttest.ClosedAddr(t), []string{"nothing listens", "check the port"}},
		{"https to plaintext", "https://" + plain.Addr, []string{"speaks plaintext", "use http://" + plain.Addr}},
		{"plaintext to TLS", "http://" + tlsServer(t), []string{"TLS, not plaintext", "use https://"}},
		{"untrusted certificate", "https://" + tlsServer(t), []string{"certificate", "CLARIFAI_ROOT_CERTIFICATES_PATH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, took := preflight(t, tc.base)
			var pe *PreflightError
			if !errors.As(err, &pe) {
				t.Fatalf("Preflight = %v, want a *PreflightError", err)
			}
			ep, _ := ParseEndpoint(tc.base)
			for _, w := range append(tc.want, ep.String()) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			t.Logf("%v in %v", err, took)
			// Three quick attempts; the ordinary policy (100 attempts from
			// 1s) would take an hour. Generous bound.
			if pe.Err.Attempts > preflightAttempts || took > 30*time.Second {
				t.Errorf("%d attempts in %v", pe.Err.Attempts, took)
			}
		})
	}
}

func TestPreflightStatuses(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "connection refused")
	for _, tc := range []struct {
		name  string
		seq   []any
		calls int
		want  string // "" for success
	}{
		{"success", []any{st.StatusCode_SUCCESS}, 1, ""},
		{"unavailable then success", []any{unavailable, st.StatusCode_SUCCESS}, 2, ""},
		{"throttled is an answer", []any{st.StatusCode_CONN_THROTTLED}, 3, ""},
		{"bad key", []any{st.StatusCode_CONN_KEY_INVALID}, 1, "CLARIFAI_PAT"},
		{"unauthenticated", []any{status.Error(codes.Unauthenticated, "no")}, 1, "CLARIFAI_PAT"},
		{"unknown app", []any{st.StatusCode_CONN_DOES_NOT_EXIST}, 1, "CLARIFAI_APP_ID"},
		{"unavailable to the end", []any{unavailable}, 3, "nothing listens"},
		{"not the Clarifai API", []any{status.Error(codes.Unimplemented, "unknown service")}, 1, "not the Clarifai gRPC API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := clienttest.Start(t, clienttest.Sequence(tc.seq...))
			err, _ := preflight(t, f.Addr)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Preflight = %v", err)
				}
			} else if pe := (*PreflightError)(nil); !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Preflight = %v, want a *PreflightError saying %q", err, tc.want)
			}
			calls := f.Calls()
			if len(calls) != tc.calls {
				t.Errorf("%d calls, want %d", len(calls), tc.calls)
			}
			for _, c := range calls {
				r, ok := c.Req.(*pb.ListInputsRequest)
				if !ok || r.GetPerPage() != 1 || r.GetUserAppId().GetAppId() != "app" {
					t.Errorf("call %s %v, want ListInputs of one input in app me/app", c.Method, c.Req)
				}
			}
		})
	}
}

func TestPreflightHints(t *testing.T) {
	ep := Endpoint{Addr: "api.example.invalid:443", TLS: true}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New(`connection error: desc = "transport: Error while dialing: dial tcp: lookup api.example.invalid: no such host"`), `"api.example.invalid" does not resolve`},
		{errors.New("name resolver error: produced zero addresses"), "does not resolve"},
		{errors.New("transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"), "CLARIFAI_ROOT_CERTIFICATES_PATH"},
		{errors.New("transport: authentication handshake failed: remote error: tls: handshake failure"), "http:// against https://"},
		{errors.New("something else"), "check the API base"},
	} {
		ae := &APIError{Method: "ListInputs", GRPCCode: codes.Unavailable, Class: Retryable, Err: status.Error(codes.Unavailable, tc.err.Error())}
		if got := hint(ep, ae); !strings.Contains(got, tc.want) {
			t.Errorf("hint(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestIsOutage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&APIError{GRPCCode: codes.Unavailable, Class: Retryable, Err: status.Error(codes.Unavailable, "refused")}, true},
		{&APIError{Code: st.StatusCode_RPC_SERVER_UNAVAILABLE, Class: Retryable}, false},
		{&APIError{GRPCCode: codes.DeadlineExceeded, Class: Retryable}, false},
		{&APIError{Code: st.StatusCode_CONN_KEY_INVALID, Class: Fatal}, false},
		{status.Error(codes.Unavailable, "x"), false}, // not a call's final error
		{nil, false},
	} {
		if got := IsOutage(tc.err); got != tc.want {
			t.Errorf("IsOutage(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
