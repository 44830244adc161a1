package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Endpoint is where a Client dials and whether it uses TLS.
type Endpoint struct {
	// Addr is "host:port", ready for grpc.NewClient.
	Addr string
	// TLS is true for an encrypted connection.
	TLS bool
}

// String returns "tls://host:port" or "plaintext://host:port".
func (e Endpoint) String() string {
	if e.TLS {
		return "tls://" + e.Addr
	}
	return "plaintext://" + e.Addr
}

// ParseEndpoint turns a base as the SDKs accept it into an Endpoint:
//
//   - "" means DefaultBase, "https://api.clarifai.com": api.clarifai.com:443
//     with TLS.
//   - "https://host[:port]": TLS; port 443 when absent.
//   - "http://host[:port]": plaintext; port 80 when absent.
//   - a bare "host[:port]": TLS when the port is 443 or absent, or the host
//     is clarifai.com or a subdomain. Otherwise plaintext only when the host
//     is loopback (localhost, 127.0.0.0/8, ::1) — the local emulator — and
//     TLS for any other host. The SDKs probe such a host over HTTPS; we never
//     send a PAT unencrypted off the machine unless "http://" says so.
//
// A path other than "/" and any other scheme are errors. ParseEndpoint
// accepts "http://" to any host; CheckBase (and Config.Validate) refuse it
// to a host that is not loopback unless the caller opted in.
func ParseEndpoint(base string) (Endpoint, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		base = DefaultBase
	}
	scheme, rest := "", base
	if i := strings.Index(base, "://"); i >= 0 {
		scheme, rest = strings.ToLower(base[:i]), base[i+3:]
	}
	if scheme != "" {
		u, err := url.Parse(scheme + "://" + rest)
		if err != nil {
			return Endpoint{}, fmt.Errorf("API base %q: %v", base, err)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return Endpoint{}, fmt.Errorf("API base %q: want scheme://host[:port] without path, query or user", base)
		}
		rest = u.Host
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	} else if strings.Count(rest, ":") == 1 || strings.HasSuffix(rest, ":") {
		return Endpoint{}, fmt.Errorf("API base %q: %v", base, err)
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.ContainsAny(host, "/ ") {
		return Endpoint{}, fmt.Errorf("API base %q: no host", base)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("API base %q: bad port %q", base, port)
		}
	}
	var useTLS bool
	switch scheme {
	case "https":
		useTLS = true
		if port == "" {
			port = "443"
		}
	case "http":
		if port == "" {
			port = "80"
		}
	case "":
		lower := strings.ToLower(host)
		clarifai := lower == "clarifai.com" || strings.HasSuffix(lower, ".clarifai.com")
		useTLS = port == "" || port == "443" || clarifai || !isLoopback(lower)
		if port == "" {
			port = "443"
		}
	default:
		return Endpoint{}, fmt.Errorf("API base %q: unknown scheme %q (want https:// or http://)", base, scheme)
	}
	return Endpoint{Addr: net.JoinHostPort(host, port), TLS: useTLS}, nil
}

// Loopback reports whether the endpoint's host is this machine: "localhost",
// 127.0.0.0/8 or ::1.
func (e Endpoint) Loopback() bool {
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		host = e.Addr
	}
	return isLoopback(strings.ToLower(host))
}

// ErrPlaintext is returned (wrapped) by CheckBase and Config.Validate for a
// plaintext endpoint whose host is not this machine, unless the caller opted
// in: every request carries the personal access token, which would travel
// in clear text.
var ErrPlaintext = errors.New("plaintext (http://) to a host that is not this machine: " +
	"the personal access token would travel in clear text")

// CheckBase is ParseEndpoint plus the plaintext rule: plaintext is allowed
// to loopback hosts (the local emulator) and, only when insecure is true,
// to any other host. The refusal wraps ErrPlaintext. It touches no network.
func CheckBase(base string, insecure bool) (Endpoint, error) {
	ep, err := ParseEndpoint(base)
	if err != nil {
		return ep, err
	}
	if !ep.TLS && !insecure && !ep.Loopback() {
		return ep, fmt.Errorf("API base %q: %w; use https://, or opt in to plaintext if the network to %s is trusted",
			strings.TrimSpace(base), ErrPlaintext, ep.Addr)
	}
	return ep, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transportCredentials returns the gRPC credentials for e: plaintext, TLS
// with the system roots, or TLS with the CA certificates in rootsPath.
func transportCredentials(e Endpoint, rootsPath string) (credentials.TransportCredentials, error) {
	if !e.TLS {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if rootsPath != "" {
		pem, err := os.ReadFile(rootsPath)
		if err != nil {
			return nil, fmt.Errorf("root certificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("root certificates %s: no PEM certificate found", rootsPath)
		}
		cfg.RootCAs = pool
	}
	return credentials.NewTLS(cfg), nil
}
