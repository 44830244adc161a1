package emulator

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Limits the emulator enforces. The Clarifai docs state the byte limits in
// "MB" without saying which MB; the emulator reads them as decimal megabytes,
// the stricter choice, so a client that passes here passes there too.
const (
	// MaxInputsPerRequest is the most inputs one PostInputs call may carry.
	MaxInputsPerRequest = 128
	// MaxVideosPerRequest is the most video inputs one PostInputs call may carry.
	MaxVideosPerRequest = 1
	// MaxRequestBytes bounds a request's encoded size: a request of this size
	// or more is answered RPC_MAX_MESSAGE_SIZE_EXCEEDED.
	MaxRequestBytes = 128_000_000
	// MaxFileBytes bounds the raw bytes of one image, audio or text: that size
	// or more is answered INPUT_OVER_LIMIT.
	MaxFileBytes = 20_000_000
	// MaxVideoBytes bounds the raw bytes of one video (INPUT_OVER_LIMIT).
	MaxVideoBytes = 128_000_000
	// MaxImagePixels is the largest image (width*height) that processes
	// successfully; larger images end INPUT_FAILED.
	MaxImagePixels = 85_000_000
	// DefaultPerPage is the page size of list calls that leave per_page at 0.
	DefaultPerPage = 128
	// MaxPerPage is the largest per_page a list call accepts. Larger values are
	// rejected with FAILURE rather than clamped, so that a client paging "until
	// a short page" cannot silently stop early.
	MaxPerPage = 1000
	// DefaultMaxInputIDLength is the default of Options.MaxInputIDLength.
	DefaultMaxInputIDLength = 48

	// MaxRecvMsgSize is the gRPC receive limit of the emulator: well above
	// MaxRequestBytes, so that oversized requests reach the handler and get a
	// Clarifai status instead of a transport error.
	MaxRecvMsgSize = 512 << 20
)

// Defaults applied by Start for zero Options fields.
const (
	DefaultAddr            = "127.0.0.1:0"
	DefaultProcessingDelay = 100 * time.Millisecond
	DefaultRateLimit       = 15.0
	DefaultSaveInterval    = 2 * time.Second
	DefaultExtractionDelay = 50 * time.Millisecond
)

// Options configures an emulator. The zero value is usable: any non-empty key
// is accepted, apps are created on demand, inputs process in 100ms, each app
// may make 15 requests per second, and no faults are injected.
type Options struct {
	// PATs are the keys accepted in "authorization: Key <PAT>". Empty means
	// any non-empty key is accepted.
	PATs []string
	// ReadOnlyPATs are keys that may call read methods but get
	// CONN_INSUFFICIENT_SCOPES on writes (Post*, Patch*, Delete*, Cancel*).
	// They are accepted even when PATs is set.
	ReadOnlyPATs []string
	// Apps lists "user/app" pairs that exist from the start.
	Apps []string
	// NoAutoCreateApps makes calls on an app not in Apps (or persisted state)
	// fail with CONN_DOES_NOT_EXIST, and dataset_ids naming a dataset that does
	// not exist fail that input. By default both are created on demand.
	NoAutoCreateApps bool
	// ProcessingDelay is how long an input stays unprocessed after PostInputs:
	// INPUT_PENDING for the first half, INPUT_IN_PROGRESS for the second, then
	// INPUT_SUCCESS or INPUT_FAILED. Zero means DefaultProcessingDelay; a
	// negative value means inputs are processed at once.
	ProcessingDelay time.Duration
	// RateLimit is the token-bucket rate in requests per second per app; the
	// bucket holds max(1, ceil(RateLimit)) tokens. Every RPC that names an app
	// takes a token. Zero means DefaultRateLimit; negative disables the limit.
	RateLimit float64
	// MaxInputIDLength is the longest input, annotation or dataset ID
	// accepted. Zero means DefaultMaxInputIDLength.
	MaxInputIDLength int
	// Buckets maps cloud URL prefixes to local folders or files, for
	// PostInputsDataSources (see cloud.go). A key is "s3://BUCKET",
	// "gs://BUCKET", an Azure container URL
	// "https://ACCOUNT.blob.core.windows.net/CONTAINER" or any other
	// http(s) URL; a trailing "/" is ignored. A key mapped to a folder is a
	// bucket whose object keys are the slash-separated paths of the files
	// under it; a key mapped to a file is one object (typically an archive
	// URL). URLs matching no key fail their extraction job with
	// LIST_OBJECTS_FAILED, as a missing bucket does. Empty means none.
	Buckets map[string]string
	// PrivateBuckets lists the keys of Buckets that need credentials, with
	// the credentials they accept. A data source for such a bucket without
	// them, or with others, fails its extraction job with
	// LIST_OBJECTS_FAILED ("access denied listing ..."). The server keeps
	// only a salted hash of each credential.
	PrivateBuckets map[string]BucketCredentials
	// ExtractionDelay paces cloud ingestion: an extraction job stays
	// JOB_QUEUED for one delay, then each object, archive and archive
	// member takes one delay. Zero means DefaultExtractionDelay; a negative
	// value means extraction is instant.
	ExtractionDelay time.Duration
	// AnyConceptID accepts any non-empty concept ID, as an app that already
	// holds IDs outside the rule does. Default false: a concept ID (on an
	// input, a region, an annotation, a patch or an input template) must be
	// 1-MaxConceptIDLength characters of A-Z, a-z, 0-9, _ and -, else the
	// input is refused with INPUT_INVALID_ARGUMENT (the annotation with
	// ANNOTATION_INVALID_ARGUMENT), as for a bad input ID.
	AnyConceptID bool
	// DeleteDelay makes DeleteInputs asynchronous, as Clarifai's is: the
	// inputs stay listed, counted and their ids taken for this long after
	// the call, then go with their annotations. Zero (the default) or
	// negative deletes at once, which the tool's delete-and-send-again of
	// inputs that failed processing relies on, as the official SDK's does.
	DeleteDelay time.Duration
	// Faults injects failures; all are off by default.
	Faults Faults
	// StateDir, when set, is where state is loaded from at Start and saved
	// to, atomically, on Close and every SaveInterval while it changes.
	StateDir string
	// SaveInterval is the period of background saves when StateDir is set.
	// Zero means DefaultSaveInterval; negative saves only on Close.
	SaveInterval time.Duration
	// Now is the clock for processing delays, rate limits and timestamps.
	// Nil means time.Now. It must be safe for concurrent use and should not
	// step back: app counts already settled are not revisited.
	Now func() time.Time
	// Logger receives operational logs. Nil means zap.NewNop().
	Logger *zap.Logger
}

// Faults are injected failures. Each rate is a probability in [0, 1], drawn
// from one generator seeded by Seed, so a sequential client sees the same
// faults on every run.
type Faults struct {
	// Latency is added to every call before anything else happens; the wait
	// ends early when the call's context ends or the server closes.
	Latency time.Duration
	// ThrottleRate is the share of authorized calls answered CONN_THROTTLED,
	// on top of the rate limit. Such calls change nothing.
	ThrottleRate float64
	// UnavailableRate is the share of calls failed with gRPC code Unavailable
	// before anything else is done. Such calls change nothing.
	UnavailableRate float64
	// TransientInputRate is the share of otherwise valid inputs in a
	// PostInputs answered TRY_AGAIN and not stored.
	TransientInputRate float64
	// ProcessingFailRate is the share of stored inputs that end INPUT_FAILED
	// with the details "temporary processing error; retry".
	ProcessingFailRate float64
	// DropConnRate is the share of calls that are applied and whose TCP
	// connection is then closed before the response is written: the client
	// sees Unavailable although the call took effect.
	DropConnRate float64
	// Seed seeds the fault generator.
	Seed int64
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.ProcessingDelay == 0 {
		o.ProcessingDelay = DefaultProcessingDelay
	} else if o.ProcessingDelay < 0 {
		o.ProcessingDelay = 0
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.MaxInputIDLength == 0 {
		o.MaxInputIDLength = DefaultMaxInputIDLength
	}
	if o.SaveInterval == 0 {
		o.SaveInterval = DefaultSaveInterval
	}
	if o.ExtractionDelay == 0 {
		o.ExtractionDelay = DefaultExtractionDelay
	} else if o.ExtractionDelay < 0 {
		o.ExtractionDelay = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Validate reports the first invalid field of o, if any.
func (o Options) Validate() error {
	for _, p := range append(append([]string(nil), o.PATs...), o.ReadOnlyPATs...) {
		if strings.TrimSpace(p) == "" {
			return errors.New("emulator: empty PAT")
		}
	}
	for _, a := range o.Apps {
		if _, _, ok := splitApp(a); !ok {
			return fmt.Errorf("emulator: app %q is not of the form user/app", a)
		}
	}
	if math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0) {
		return fmt.Errorf("emulator: rate limit %v is not a number", o.RateLimit)
	}
	if o.MaxInputIDLength < 0 {
		return fmt.Errorf("emulator: MaxInputIDLength %d is negative", o.MaxInputIDLength)
	}
	if err := validateBuckets(o.Buckets, o.PrivateBuckets); err != nil {
		return err
	}
	f := o.Faults
	if f.Latency < 0 {
		return fmt.Errorf("emulator: latency %v is negative", f.Latency)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"throttle rate", f.ThrottleRate},
		{"unavailable rate", f.UnavailableRate},
		{"transient input rate", f.TransientInputRate},
		{"processing fail rate", f.ProcessingFailRate},
		{"drop connection rate", f.DropConnRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("emulator: %s %v is outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}

// splitApp splits "user/app" into its two non-empty halves.
func splitApp(s string) (user, app string, ok bool) {
	user, app, ok = strings.Cut(s, "/")
	if !ok || user == "" || app == "" || strings.Contains(app, "/") {
		return "", "", false
	}
	return user, app, true
}
