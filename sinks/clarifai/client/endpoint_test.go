package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		base string
		addr string
		tls  bool
		err  string
	}{
		{"", "api.clarifai.com:443", true, ""},
		{"https://api.clarifai.com", "api.clarifai.com:443", true, ""},
		{"https://api.clarifai.com/", "api.clarifai.com:443", true, ""},
		{"HTTPS://api.clarifai.com:8443", "api.clarifai.com:8443", true, ""},
		{"http://localhost:18080", "localhost:18080", false, ""},
		{"http://example.com", "example.com:80", false, ""},
		{"https://example.com", "example.com:443", true, ""},
		{"api.clarifai.com", "api.clarifai.com:443", true, ""},
		{"api-dev.clarifai.com:18080", "api-dev.clarifai.com:18080", true, ""},
		{"example.com:443", "example.com:443", true, ""},
		{"example.com:18080", "example.com:18080", true, ""}, // not loopback: TLS unless http://
		{"127.0.0.1:18080", "127.0.0.1:18080", false, ""},
		{"localhost:9000", "localhost:9000", false, ""},
		{"[::1]:9000", "[::1]:9000", false, ""},
		{"127.0.0.1:443", "127.0.0.1:443", true, ""},
		{"http://[::1]:9000", "[::1]:9000", false, ""},
		{"  https://api.clarifai.com  ", "api.clarifai.com:443", true, ""},
		{"grpc://x:1", "", false, "unknown scheme"},
		{"https://api.clarifai.com/v2", "", false, "without path"},
		{"https://", "", false, "no host"},
		{"example.com:http", "", false, "bad port"},
		{"example.com:0", "", false, "bad port"},
		{"https://u:p@x.com", "", false, "without path, query or user"},
	} {
		got, err := ParseEndpoint(tc.base)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseEndpoint(%q) = %v, %v; want error %q", tc.base, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.Addr != tc.addr || got.TLS != tc.tls {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %s tls=%v", tc.base, got, err, tc.addr, tc.tls)
		}
	}
}

func TestTransportCredentials(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ep    Endpoint
		roots string
		proto string
		err   string
	}{
		{Endpoint{Addr: "x:1"}, "", "insecure", ""},
		{Endpoint{Addr: "x:1", TLS: true}, "", "tls", ""},
		{Endpoint{Addr: "x:1", TLS: true}, bad, "", "no PEM certificate"},
		{Endpoint{Addr: "x:1", TLS: true}, filepath.Join(dir, "missing.pem"), "", "root certificates"},
	} {
		c, err := transportCredentials(tc.ep, tc.roots)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v %q: err %v, want %q", tc.ep, tc.roots, err, tc.err)
			}
			continue
		}
		if err != nil || c.Info().SecurityProtocol != tc.proto {
			t.Errorf("%+v: %v, %v; want %s", tc.ep, c, err, tc.proto)
		}
	}
}

// TestCheckBaseRefusesPlaintextOffLoopback checks the refusal where the
// base is parsed: nothing here dials.
func TestCheckBaseRefusesPlaintextOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		base     string
		insecure bool
		refused  bool
	}{
		{"http://127.0.0.1:18080", false, false},
		{"http://127.9.9.9:18080", false, false},
		{"http://localhost:18080", false, false},
		{"http://LOCALHOST:18080", false, false},
		{"http://[::1]:18080", false, false},
		{"127.0.0.1:18080", false, false},        // scheme-less loopback: plaintext, allowed
		{"example.com:18080", false, false},      // scheme-less elsewhere: TLS
		{"https://192.0.2.1:8080", false, false}, // TLS
		{"http://192.0.2.1:8080", false, true},
		{"http://example.com", false, true},
		{"http://[2001:db8::1]:80", false, true},
		{"http://localhost.example.com:80", false, true},
		{"http://192.0.2.1:8080", true, false},
		{"http://example.com", true, false},
	} {
		ep, err := CheckBase(tc.base, tc.insecure)
		if got := errors.Is(err, ErrPlaintext); got != tc.refused {
			t.Errorf("CheckBase(%q, insecure %v) = %v, %v; refused %v, want %v", tc.base, tc.insecure, ep, err, got, tc.refused)
		}
		if tc.refused && !strings.Contains(err.Error(), "clear text") {
			t.Errorf("CheckBase(%q): %v does not say why", tc.base, err)
		}
	}
	if _, err := CheckBase("grpc://x:1", true); err == nil || errors.Is(err, ErrPlaintext) {
		t.Errorf("bad base: %v, want a parse error", err)
	}
}

func TestConfigValidateRefusesPlaintextOffLoopback(t *testing.T) {
	cfg := Config{Connection: Connection{Base: "http://192.0.2.1:8080", PAT: testPAT, UserID: "me", AppID: "app"}}
	if err := cfg.Validate(); !errors.Is(err, ErrPlaintext) {
		t.Errorf("Validate = %v, want ErrPlaintext", err)
	}
	// New refuses before it makes a connection (it never dials anyway).
	if c, err := New(cfg); !errors.Is(err, ErrPlaintext) || c != nil {
		t.Errorf("New = %v, %v; want ErrPlaintext", c, err)
	}
	cfg.Insecure = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with Insecure = %v", err)
	}
	cfg.Base, cfg.Insecure = "http://127.0.0.1:8080", false
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate of loopback plaintext = %v", err)
	}
}
