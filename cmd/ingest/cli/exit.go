package cli

import "errors"

// Exit codes of the ingest command.
const (
	// ExitOK: the run finished and every item was delivered (or skipped on
	// purpose, or done by an earlier run).
	ExitOK = 0
	// ExitFatal: the run could not finish (invalid key, unknown app, a
	// source that cannot be read, interrupted). Rerun the same command to
	// resume once the cause is fixed.
	ExitFatal = 1
	// ExitUsage: bad flags, configuration or input (a manifest whose
	// header cannot be used); nothing was sent.
	ExitUsage = 2
	// ExitItemsFailed: the run finished but some items failed; they are
	// listed in the failure report, which `ingest run` can take back as a
	// source to retry just those.
	ExitItemsFailed = 3
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage or configuration error (ExitUsage).
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{ExitUsage, err}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitFatal
}

// errItemsFailed is returned by run when the run finished with failures;
// the summary already said everything, so Main prints nothing more.
var errItemsFailed = &exitError{ExitItemsFailed, errors.New("some items failed")}
