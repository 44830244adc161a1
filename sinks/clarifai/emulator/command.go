package emulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Main is the emulator's command line, shared by the clarifai-emulator
// binary and `ingest emulator`: it parses args (see the binary's doc for
// the flags), serves until ctx ends, and shuts down, saving state when
// -state is set. It writes exactly one "listening on HOST:PORT" line to
// stdout and logs to stderr. With -dump it prints the inputs saved in
// -state as JSON lines and returns. name is the command name used in usage
// messages; getenv reads the environment (for aws:env and azure:env
// credentials). It returns flag.ErrHelp for -h.
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts     Options
		pats     listFlag
		roPATs   listFlag
		apps     listFlag
		buckets  listFlag
		bucketCr listFlag
		addr     = fs.String("addr", "127.0.0.1", "IP address to listen on")
		port     = fs.Int("port", 0, "TCP port to listen on; 0 picks a free one")
		admin    = fs.String("admin", "", "loopback host:port to serve the JSON inspection API on (/counts, /inputs, /input, /annotations, /calls, /extractions, /dataset-inputs, /pending-deletes)")
		dump     = fs.Bool("dump", false, "print the inputs saved in -state as JSON lines and exit")
		verbose  = fs.Bool("v", false, "log every call at debug level")
		noCreate = fs.Bool("no-auto-create", false, "refuse apps not given with -app (CONN_DOES_NOT_EXIST) and unknown dataset ids")
	)
	fs.Var(&pats, "pat", "accepted personal access token (repeatable); none means any key is accepted")
	fs.Var(&roPATs, "read-only-pat", "token that may only read (repeatable)")
	fs.Var(&apps, "app", "app that exists from the start, as user/app (repeatable)")
	fs.StringVar(&opts.StateDir, "state", "", "directory to load state from and save it to")
	fs.BoolVar(&opts.AnyConceptID, "any-concept-id", false, "accept any non-empty concept ID (default: 1-32 of A-Z, a-z, 0-9, _ and -)")
	fs.DurationVar(&opts.SaveInterval, "save-interval", DefaultSaveInterval, "period of background saves with -state; 0 saves only on exit")
	fs.DurationVar(&opts.ProcessingDelay, "processing-delay", DefaultProcessingDelay, "time from PostInputs to INPUT_SUCCESS/INPUT_FAILED; 0 means at once")
	fs.DurationVar(&opts.DeleteDelay, "delete-delay", 0, "time from DeleteInputs until the inputs are gone (Clarifai deletes asynchronously); 0 means at once")
	fs.Float64Var(&opts.RateLimit, "rate-limit", DefaultRateLimit, "requests per second per app; 0 disables the limit")
	fs.DurationVar(&opts.Faults.Latency, "latency", 0, "latency added to every call")
	fs.Float64Var(&opts.Faults.ThrottleRate, "throttle-rate", 0, "share of calls answered CONN_THROTTLED")
	fs.Float64Var(&opts.Faults.UnavailableRate, "unavailable-rate", 0, "share of calls failed with gRPC Unavailable")
	fs.Float64Var(&opts.Faults.TransientInputRate, "transient-input-rate", 0, "share of inputs answered TRY_AGAIN and not stored")
	fs.Float64Var(&opts.Faults.ProcessingFailRate, "processing-fail-rate", 0, "share of inputs that end INPUT_FAILED with a transient cause")
	fs.Float64Var(&opts.Faults.DropConnRate, "drop-conn-rate", 0, "share of calls applied and then cut off before the response")
	fs.Int64Var(&opts.Faults.Seed, "seed", 1, "seed of the fault generator")
	fs.Var(&buckets, "bucket", "serve a cloud bucket or object URL from a local folder or file, as URL=PATH (repeatable), e.g. s3://photos=./photos")
	fs.Var(&bucketCr, "bucket-credentials", "make a -bucket private, as URL=aws:KEYID:SECRET[:TOKEN], URL=aws:env, URL=gcp:FILE, URL=azure:ACCOUNT:KEY or URL=azure:env (repeatable)")
	fs.DurationVar(&opts.ExtractionDelay, "extraction-delay", DefaultExtractionDelay, "cloud ingestion: time an extraction job stays queued, and time per file, archive and archive member; 0 means at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dump {
		if opts.StateDir == "" {
			return errors.New("-dump needs -state")
		}
		return Dump(opts.StateDir, stdout)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("-port %d is out of range", *port)
	}
	if *admin != "" {
		if err := checkLoopback(*admin); err != nil {
			return fmt.Errorf("-admin: %w", err)
		}
	}
	opts.PATs, opts.ReadOnlyPATs, opts.Apps, opts.NoAutoCreateApps = pats, roPATs, apps, *noCreate
	var err error
	if opts.Buckets, opts.PrivateBuckets, err = parseBuckets(buckets, bucketCr, getenv); err != nil {
		return err
	}
	// On the command line 0 means "none"; in Options it means "default".
	if opts.ProcessingDelay == 0 {
		opts.ProcessingDelay = -1
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	if opts.SaveInterval == 0 {
		opts.SaveInterval = -1
	}
	if opts.ExtractionDelay == 0 {
		opts.ExtractionDelay = -1
	}

	level := zapcore.InfoLevel
	if *verbose {
		level = zapcore.DebugLevel
	}
	log := zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(stderr)), level))
	defer func() { _ = log.Sync() }()
	opts.Logger = log

	srv, err := Start(net.JoinHostPort(*addr, strconv.Itoa(*port)), opts)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", srv.Addr()); err != nil {
		return errors.Join(err, srv.Close())
	}

	var adminSrv *http.Server
	adminDone := make(chan error, 1)
	if *admin != "" {
		l, err := net.Listen("tcp", *admin)
		if err != nil {
			return errors.Join(fmt.Errorf("-admin: %w", err), srv.Close())
		}
		adminSrv = &http.Server{Handler: srv.InspectHandler(), ReadHeaderTimeout: 10 * time.Second}
		log.Info("inspection API listening", zap.String("addr", l.Addr().String()))
		go func() { adminDone <- adminSrv.Serve(l) }()
	}

	<-ctx.Done()
	log.Info("shutting down")
	var errs []error
	if adminSrv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		errs = append(errs, adminSrv.Shutdown(sctx))
		cancel()
		if err := <-adminDone; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, srv.Close())
	return errors.Join(errs...)
}

// checkLoopback accepts host:port only when host is a loopback address or
// "localhost": the inspection API has no auth.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address", host)
}

// parseBuckets turns -bucket URL=PATH and -bucket-credentials URL=SPEC
// values into emulator options. Errors never quote a SPEC: it may hold a
// secret.
func parseBuckets(buckets, creds []string, getenv func(string) string) (map[string]string, map[string]BucketCredentials, error) {
	var out map[string]string
	for _, b := range buckets {
		u, p, ok := strings.Cut(b, "=")
		if !ok || u == "" || p == "" {
			return nil, nil, fmt.Errorf("-bucket %q: want URL=PATH", b)
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[u] = p
	}
	var private map[string]BucketCredentials
	for _, c := range creds {
		u, spec, ok := strings.Cut(c, "=")
		if !ok || u == "" {
			return nil, nil, errors.New("-bucket-credentials: want URL=SPEC (the value is not shown: it may hold a secret)")
		}
		provider, rest, _ := strings.Cut(spec, ":")
		var bc BucketCredentials
		switch {
		case provider == "aws" && rest == "env":
			bc.AWSAccessKeyID, bc.AWSSecretAccessKey, bc.AWSSessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
		case provider == "aws":
			parts := strings.SplitN(rest, ":", 3)
			if len(parts) < 2 {
				return nil, nil, fmt.Errorf("-bucket-credentials for %s: want aws:KEYID:SECRET[:TOKEN]", u)
			}
			bc.AWSAccessKeyID, bc.AWSSecretAccessKey = parts[0], parts[1]
			if len(parts) == 3 {
				bc.AWSSessionToken = parts[2]
			}
		case provider == "gcp":
			b, err := os.ReadFile(rest)
			if err != nil {
				return nil, nil, fmt.Errorf("-bucket-credentials for %s: %w", u, err)
			}
			bc.GCPServiceAccountJSON = b
		case provider == "azure" && rest == "env":
			bc.AzureAccountName, bc.AzureAccountKey = getenv("AZURE_STORAGE_ACCOUNT"), getenv("AZURE_STORAGE_KEY")
		case provider == "azure":
			name, key, ok := strings.Cut(rest, ":")
			if !ok {
				return nil, nil, fmt.Errorf("-bucket-credentials for %s: want azure:ACCOUNT:KEY", u)
			}
			bc.AzureAccountName, bc.AzureAccountKey = name, key
		default:
			return nil, nil, fmt.Errorf("-bucket-credentials for %s: the provider must be aws, gcp or azure", u)
		}
		if private == nil {
			private = make(map[string]BucketCredentials)
		}
		private[u] = bc
	}
	return out, private, nil
}
