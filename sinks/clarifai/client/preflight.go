package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// The preflight's own retry policy: a few quick attempts, whatever the
// Config says, so that a dead or mistyped endpoint is reported in seconds.
const (
	preflightAttempts   = 3
	preflightTimeout    = 10 * time.Second // per attempt: a TLS handshake to a silent host
	preflightMaxElapsed = 30 * time.Second
	preflightMinBackoff = 250 * time.Millisecond
	preflightMaxBackoff = time.Second
)

// Preflight checks, with one cheap authenticated call (ListInputs of one
// input), that the endpoint answers, speaks the transport the base says
// (TLS or plaintext), and accepts the PAT for the user and app. It makes at
// most 3 attempts with waits under a second, whatever Config.MaxAttempts
// says, and each attempt times out after 10 seconds.
//
// It returns nil once the server answered with any status that is not
// fatal (a throttle is an answer too), ctx's error when ctx ends, and
// otherwise a *PreflightError naming the endpoint and the likely fix: for a
// transport failure (nothing listening, a host name that does not resolve,
// TLS against a plaintext server or the reverse, an untrusted certificate,
// a server that is not the Clarifai API) or a fatal status (bad key,
// unknown user or app). It is safe for concurrent use.
func (c *Client) Preflight(ctx context.Context) error {
	pol := &retryPolicy{maxAttempts: preflightAttempts, maxElapsed: preflightMaxElapsed, callTimeout: preflightTimeout,
		minBackoff: preflightMinBackoff, maxBackoff: preflightMaxBackoff}
	_, err := invoke(ctx, c, "ListInputs", &pb.ListInputsRequest{Page: 1, PerPage: 1}, c.api.ListInputs,
		[]CallOption{func(s *callSettings) { s.policy = pol }, InputStatuses()})
	if err == nil || ctx.Err() != nil {
		return err
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return err // ErrClosed, a bug: not about the endpoint
	}
	if ae.Code != st.StatusCode_ZERO && ae.Class != Fatal {
		return nil // the server answered: transport and credentials work
	}
	return &PreflightError{Endpoint: c.ep, UserID: c.cfg.UserID, AppID: c.cfg.AppID, Err: ae, Hint: hint(c.ep, ae)}
}

// PreflightError is the failure of Preflight: the endpoint, the app, the
// call's error, and the likely fix.
type PreflightError struct {
	Endpoint      Endpoint
	UserID, AppID string
	Err           *APIError
	// Hint is the likely fix, for people.
	Hint string
}

// Error says what failed where, and the likely fix.
func (e *PreflightError) Error() string {
	return fmt.Sprintf("the Clarifai API at %s (app %s/%s) cannot be used: %v; %s",
		e.Endpoint, e.UserID, e.AppID, e.Err, e.Hint)
}

// Unwrap returns the call's *APIError.
func (e *PreflightError) Unwrap() error { return e.Err }

// hint guesses the fix for a failed preflight call from its error.
func hint(ep Endpoint, ae *APIError) string {
	if ae.Code != st.StatusCode_ZERO || ae.GRPCCode == codes.Unauthenticated || ae.GRPCCode == codes.PermissionDenied {
		if ae.Code == st.StatusCode_CONN_DOES_NOT_EXIST {
			return "check the user and app IDs (CLARIFAI_USER_ID, CLARIFAI_APP_ID): the app must exist and the PAT's user must have access to it"
		}
		return "check the personal access token (CLARIFAI_PAT): it must be valid, have the needed scopes, and belong to a user with access to the app"
	}
	host, _, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		host = ep.Addr
	}
	msg := strings.ToLower(fmt.Sprint(ae.Err))
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("first record does not look like a tls handshake"):
		return fmt.Sprintf("the server at %s speaks plaintext, not TLS: use http://%s as the API base (or the port of its TLS listener)", ep.Addr, ep.Addr)
	case !ep.TLS && has("http2: frame too large", "server preface", "bogus greeting", "malformed http response", "\\x15\\x03"):
		return fmt.Sprintf("the server at %s seems to speak TLS, not plaintext: use https://%s as the API base", ep.Addr, ep.Addr)
	case has("connection refused"):
		return fmt.Sprintf("nothing listens on %s: check the port (the Clarifai API is https on 443; the emulator prints its address) and that the server runs", ep.Addr)
	case has("no such host", "name resolver", "produced zero addresses", "server misbehaving", "lookup "):
		return fmt.Sprintf("the host name %q does not resolve: check the host in the API base (CLARIFAI_API_BASE)", host)
	case has("x509", "certificate"):
		return "the server's TLS certificate is not trusted for this host: check the host name, or set CLARIFAI_ROOT_CERTIFICATES_PATH to the CA that signed it"
	case has("tls", "handshake"):
		return "the TLS handshake failed: check http:// against https:// and the port in the API base"
	case ae.GRPCCode == codes.Unimplemented || has("content-type", "unexpected http status"):
		return fmt.Sprintf("the server at %s is not the Clarifai gRPC API: check the host and port in the API base", ep.Addr)
	case ae.GRPCCode == codes.DeadlineExceeded || has("deadline", "timeout", "i/o timeout"):
		return fmt.Sprintf("no answer from %s within %v: check the host and port, and any firewall or proxy on the way", ep.Addr, preflightTimeout)
	}
	return "check the API base (CLARIFAI_API_BASE): http:// against https://, the host and the port"
}
