package client

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
)

// Secret is a credential. It formats as "[redacted]" with every fmt verb
// and marshals as "[redacted]" to JSON and text, so that a Config can be
// printed or logged without leaking it. Convert it with string() only where
// the credential is sent.
type Secret string

const redacted = "[redacted]"

// Format implements fmt.Formatter: every verb prints "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText implements encoding.TextMarshaler (JSON, zap).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML writes a set secret as "****" and an unset one as "", so
// that a printed job shows whether a PAT is set and never what it is.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return "****", nil
}

// Environment variables read by Config.FromEnv, as the official SDKs name
// them.
const (
	EnvBase      = "CLARIFAI_API_BASE"
	EnvPAT       = "CLARIFAI_PAT"
	EnvUserID    = "CLARIFAI_USER_ID"
	EnvAppID     = "CLARIFAI_APP_ID"
	EnvRootCerts = "CLARIFAI_ROOT_CERTIFICATES_PATH"
)

// Defaults of Config.
const (
	DefaultBase        = "https://api.clarifai.com"
	DefaultRateLimit   = 15.0 // requests per second: the documented plan limit
	DefaultMaxAttempts = 10
	DefaultMaxElapsed  = 10 * time.Minute
	DefaultCallTimeout = 5 * time.Minute
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// ErrNoPAT is returned (wrapped) by Config.Validate when no personal access
// token is set. Its message names both remedies, for the CLI to print.
var ErrNoPAT = errors.New("no Clarifai personal access token: set " + EnvPAT +
	" (create one at https://clarifai.com/settings/security), " +
	"or use the embedded/local emulator target instead of the Clarifai API")

// Connection says where and as whom a Client calls: the clarifai section
// of a job file, with its keys.
type Connection struct {
	// Base is the API endpoint, as the SDKs read CLARIFAI_API_BASE. Default
	// "https://api.clarifai.com" (TLS on 443); "http://host:port" means
	// plaintext. See ParseEndpoint for the rules.
	Base string `yaml:"base"`
	// PAT is the personal access token (or app key) sent as
	// "authorization: Key <PAT>", as the SDKs read CLARIFAI_PAT. Required.
	// Never printed or logged (see Secret); prefer the environment to a
	// file, where it is easy to leak.
	PAT Secret `yaml:"pat"`
	// UserID and AppID fill every request's user_app_id (CLARIFAI_USER_ID,
	// CLARIFAI_APP_ID). Required: a PAT is user-scoped.
	UserID string `yaml:"user_id"`
	AppID  string `yaml:"app_id"`
	// RootCertificatesPath, if set, is a PEM file of CA certificates trusted
	// instead of the system roots (a private deployment, a TLS proxy), as
	// the SDKs read CLARIFAI_ROOT_CERTIFICATES_PATH.
	RootCertificatesPath string `yaml:"root_certificates_path"`
	// Insecure allows a plaintext endpoint ("http://") whose host is not
	// loopback. Default false: Validate refuses it (ErrPlaintext), because
	// the PAT would travel in clear text. Loopback hosts never need it.
	Insecure bool `yaml:"insecure"`
}

// Tuning paces and retries every call of a Client: the rate_limit,
// max_attempts and max_elapsed keys of a job file's upload section.
type Tuning struct {
	// RateLimit is the client-side request budget in requests per second,
	// shared by every call of the client. Default 15 (the documented plan
	// limit); a negative value means unlimited; NaN and infinities are
	// errors. The budget halves when the server throttles and recovers
	// gradually (see Budget).
	RateLimit float64 `yaml:"rate_limit"`
	// MaxAttempts caps the requests sent for one call, the first included.
	// Default 10; 1 disables retries.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxElapsed caps the time one call spends retrying (the backoff's max
	// elapsed time, set explicitly): a wait that would end past it is not
	// taken and the last failure is returned. Default 10 minutes.
	MaxElapsed units.Duration `yaml:"max_elapsed"`
}

// Config configures a Client. The zero value of every field but PAT, UserID
// and AppID means its default; FromEnv fills those from the environment.
type Config struct {
	// Connection is Base, PAT, UserID, AppID, RootCertificatesPath and
	// Insecure.
	Connection
	// Tuning is RateLimit, MaxAttempts and MaxElapsed.
	Tuning
	// CallTimeout bounds one attempt. Default 5 minutes, enough for a 128
	// MB request over a slow uplink; an attempt that times out is retried.
	CallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential wait between
	// attempts. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Counters receives Requests, Retries and Throttle counts. Default: a
	// private set.
	Counters *pipeline.Counters
	// Logger receives retry and throttle events at debug and info level.
	// Default no-op.
	Logger *zap.Logger
	// OnCall, if set, is called after every attempt of every call with the
	// method name, the result code (the Clarifai status code name, such as
	// "SUCCESS" or "CONN_THROTTLED", or the gRPC code name of a transport
	// error, such as "Unavailable") and the attempt's latency. It is called
	// from many goroutines at once and must be fast (metrics).
	OnCall func(method, code string, latency time.Duration) `json:"-"`
}

// FromEnv fills Base, PAT, UserID, AppID and RootCertificatesPath from
// CLARIFAI_API_BASE, CLARIFAI_PAT, CLARIFAI_USER_ID, CLARIFAI_APP_ID and
// CLARIFAI_ROOT_CERTIFICATES_PATH. Fields already set are kept, so values
// given explicitly (flags) win over the environment.
func (c *Config) FromEnv() {
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&c.Base, EnvBase)
	fill(&c.UserID, EnvUserID)
	fill(&c.AppID, EnvAppID)
	fill(&c.RootCertificatesPath, EnvRootCerts)
	if c.PAT == "" {
		c.PAT = Secret(os.Getenv(EnvPAT))
	}
}

// WithDefaults returns t with every zero field set to its default.
func (t Tuning) WithDefaults() Tuning {
	if t.RateLimit == 0 {
		t.RateLimit = DefaultRateLimit
	}
	if t.MaxAttempts == 0 {
		t.MaxAttempts = DefaultMaxAttempts
	}
	if t.MaxElapsed == 0 {
		t.MaxElapsed = units.Duration(DefaultMaxElapsed)
	}
	return t
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Base == "" {
		c.Base = DefaultBase
	}
	c.Tuning = c.Tuning.WithDefaults()
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Counters == nil {
		c.Counters = pipeline.NewCounters()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate returns nil if c (with defaults) can make a Client, or an error
// listing every problem. A missing PAT wraps ErrNoPAT; a plaintext endpoint
// to a host that is not loopback, without Insecure, wraps ErrPlaintext (see
// CheckBase). It does not read the
// certificate file or touch the network.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.PAT == "" {
		errs = append(errs, ErrNoPAT)
	}
	if c.UserID == "" {
		errs = append(errs, fmt.Errorf("no Clarifai user ID: set %s", EnvUserID))
	}
	if c.AppID == "" {
		errs = append(errs, fmt.Errorf("no Clarifai app ID: set %s", EnvAppID))
	}
	if _, err := CheckBase(c.Base, c.Insecure); err != nil {
		errs = append(errs, err)
	}
	if math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("RateLimit %v: want a finite number (negative disables the budget)", c.RateLimit))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("MaxAttempts %d: want at least 1", c.MaxAttempts))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MaxElapsed", time.Duration(c.MaxElapsed)}, {"CallTimeout", c.CallTimeout}, {"MinBackoff", c.MinBackoff}, {"MaxBackoff", c.MaxBackoff}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", d.name, d.v))
		}
	}
	if c.MinBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %v is more than MaxBackoff %v", c.MinBackoff, c.MaxBackoff))
	}
	return errors.Join(errs...)
}
