// Package cli is the ingest command line, usable from a user's own main so
// that custom transform funcs run with the standard CLI behaviour:
//
//	func main() {
//		os.Exit(cli.Main(cli.WithTransform("strip_emoji", stripEmoji)))
//	}
//
// and a job file that lists `- custom: strip_emoji` under transforms.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// env is what the commands read from the outside world; tests replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stderr is a terminal (progress display).
	isTerminal func() bool
	funcs      []namedFunc
}

type namedFunc struct {
	name string
	f    pipeline.TransformFunc
}

// Option customizes Main and Run.
type Option func(*env)

// WithTransform makes a custom transform func available to job files as
// `- custom: <name>`, beside the names of transforms.Register (see
// configs.WithTransform, which it passes to every run).
func WithTransform(name string, f pipeline.TransformFunc) Option {
	return func(e *env) { e.funcs = append(e.funcs, namedFunc{name, f}) }
}

// WithOutput sends standard output and error to the given writers.
func WithOutput(stdout, stderr io.Writer) Option {
	return func(e *env) { e.stdout, e.stderr = stdout, stderr }
}

// WithGetenv reads environment variables through getenv.
func WithGetenv(getenv func(string) string) Option { return func(e *env) { e.getenv = getenv } }

// Main runs the command line with os.Args and returns the exit code (see
// ExitOK and the other Exit constants). Only a main package should call
// os.Exit with it.
func Main(opts ...Option) int {
	return Run(context.Background(), os.Args[1:], opts...)
}

// Run runs the command line with args and returns the exit code. Cancelling
// ctx stops a run at once (hard stop); SIGINT/SIGTERM are handled by the
// run command itself.
func Run(ctx context.Context, args []string, opts ...Option) int {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: stderrIsTerminal}
	for _, o := range opts {
		o(e)
	}
	// The logger, the progress display and the signal handler all write to
	// stderr from their own goroutines; one lock keeps their lines whole
	// whatever writer the caller gave.
	e.stderr = zapcore.Lock(zapcore.AddSync(e.stderr))
	// Check the custom transforms once, before any command runs.
	reg := transforms.NewRegistry()
	for _, f := range e.funcs {
		if err := reg.Register(f.name, f.f); err != nil {
			fmt.Fprintln(e.stderr, "ingest:", err)
			return ExitUsage
		}
	}
	root := e.rootCommand()
	root.SetFlagErrorFunc(flagError)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil && !silent(err) {
		fmt.Fprintln(e.stderr, "ingest:", err)
	}
	return code
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ingest",
		Short: "Load datasets into a Clarifai app: fast, resumable, nothing lost or sent twice",
		Long: `ingest streams items from local folders, CSV manifests, URL lists and cloud
buckets, transforms them, and uploads them to a Clarifai app with PostInputs,
keeping a checkpoint so that rerunning the same command resumes where the
last run stopped.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(e.runCommand(), e.planCommand(), e.validateCommand(), e.verifyCommand(), e.cloudCommand(), e.emulatorCommand(), e.configCommand(), e.versionCommand())
	return root
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stdout, "ingest", version())
			return nil
		},
	}
}

// newClient makes every client of the CLI; tests replace it with one that
// refuses (and fails the test on) an endpoint that is not loopback.
var newClient = client.New
