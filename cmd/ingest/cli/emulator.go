package cli

import (
	"errors"
	"flag"

	"github.com/spf13/cobra"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

func (e *env) emulatorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "emulator [flags]",
		Short: "Serve the Clarifai emulator on 127.0.0.1 (as the clarifai-emulator binary)",
		Long: `Emulator serves the project's Clarifai emulator: a real gRPC server that
behaves like the Clarifai API this tool uses, for tests, benchmarks and
trying the tool without an account. It listens on 127.0.0.1 and prints
"listening on HOST:PORT" first; point the tool at it with
CLARIFAI_API_BASE=http://HOST:PORT. SIGINT stops it, saving its state
with -state. Run "ingest emulator -h" for the flags; with -state DIR -dump
it prints the inputs saved in DIR as JSON lines, for example the ones the
quickstart stored: ingest emulator -state .ingest/emulator -dump`,
		Example: `  ingest emulator -pat my-key -state /tmp/emu -admin 127.0.0.1:8081
  ingest emulator -state .ingest/emulator -dump`,
		// The emulator parses its own flags (Go flag syntax, shared with the
		// clarifai-emulator binary).
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := emulator.Main(cmd.Context(), "ingest emulator", args, e.stdout, e.stderr, e.getenv)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			if err != nil && !errors.Is(err, cmd.Context().Err()) {
				return usageError(err)
			}
			return nil
		},
	}
}
