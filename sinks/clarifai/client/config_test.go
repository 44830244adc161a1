package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ingestkit/clarifai-ingest/pipeline/units"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	d := Config{}.withDefaults()
	if d.Base != DefaultBase || d.RateLimit != 15 || d.MaxAttempts != 10 || d.MaxElapsed != units.Duration(10*time.Minute) ||
		d.CallTimeout == 0 || d.Counters == nil || d.Logger == nil {
		t.Errorf("defaults: %+v", d)
	}
	ok := Config{Connection: Connection{PAT: "p", UserID: "u", AppID: "a"}}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; none = valid
	}{
		{"valid", func(*Config) {}, nil},
		{"unlimited rate", func(c *Config) { c.RateLimit = -1 }, nil},
		{"no PAT names both remedies", func(c *Config) { c.PAT = "" }, []string{"CLARIFAI_PAT", "emulator"}},
		{"no user", func(c *Config) { c.UserID = "" }, []string{"CLARIFAI_USER_ID"}},
		{"no app", func(c *Config) { c.AppID = "" }, []string{"CLARIFAI_APP_ID"}},
		{"bad base", func(c *Config) { c.Base = "ftp://x" }, []string{"unknown scheme"}},
		{"attempts", func(c *Config) { c.MaxAttempts = -1 }, []string{"MaxAttempts"}},
		{"backoff order", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }, []string{"MinBackoff"}},
	} {
		c := ok
		tc.mod(&c)
		err := c.Validate()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%s: Validate = %v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", tc.name, err, w)
			}
		}
	}
	if err := (Config{Connection: Connection{UserID: "u", AppID: "a"}}).Validate(); !errors.Is(err, ErrNoPAT) {
		t.Errorf("missing PAT: %v does not wrap ErrNoPAT", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvBase, "http://127.0.0.1:18080")
	t.Setenv(EnvPAT, "env-pat")
	t.Setenv(EnvUserID, "env-user")
	t.Setenv(EnvAppID, "env-app")
	t.Setenv(EnvRootCerts, "/etc/ca.pem")
	c := Config{Connection: Connection{AppID: "flag-app"}}
	c.FromEnv()
	if c.Base != "http://127.0.0.1:18080" || string(c.PAT) != "env-pat" || c.UserID != "env-user" ||
		c.AppID != "flag-app" || c.RootCertificatesPath != "/etc/ca.pem" {
		t.Errorf("FromEnv: %+v (explicit AppID must win)", c)
	}
}

func TestSecretIsRedacted(t *testing.T) {
	const pat = "s3cr3t-PAT-value"
	c := Config{Connection: Connection{PAT: pat, UserID: "u", AppID: "a"}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{string(b)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, c.PAT))
	}
	for _, o := range outs {
		if strings.Contains(o, pat) || strings.Contains(o, fmt.Sprintf("%x", pat)) {
			t.Errorf("PAT leaked: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", c), redacted) {
		t.Errorf("%%+v of Config does not show the redaction marker: %+v", c)
	}
}

// TestConnectionYAML: the connection reads its job-file keys, and a
// written connection shows whether a PAT is set, never the PAT.
func TestConnectionYAML(t *testing.T) {
	var c Connection
	doc := "base: http://127.0.0.1:1\npat: the-pat\nuser_id: u\napp_id: a\nroot_certificates_path: ca.pem\ninsecure: true\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil || c.PAT != "the-pat" || c.UserID != "u" || c.RootCertificatesPath != "ca.pem" || !c.Insecure {
		t.Fatalf("decode = %+v, %v", c, err)
	}
	out, err := yaml.Marshal(c)
	if err != nil || strings.Contains(string(out), "the-pat") || !strings.Contains(string(out), "pat: '****'") {
		t.Errorf("encode = %s, %v", out, err)
	}
	out, _ = yaml.Marshal(Connection{})
	if !strings.Contains(string(out), `pat: ""`) {
		t.Errorf("an unset PAT is written %s", out)
	}
}
