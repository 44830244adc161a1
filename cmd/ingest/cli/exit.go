package cli

import (
	"errors"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

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
	// ExitConflicts: the run finished and the only items that failed are
	// conflicts: their content changed under a user-given input ID an
	// earlier run used, which Clarifai cannot change in place. Allow
	// replacing those inputs (--replace-content, sync.replace_content) or
	// give the items new IDs. When other items failed too, the code is
	// ExitItemsFailed.
	ExitConflicts = 4
	// ExitDeleteCapped: the run finished, but more of the job's inputs left
	// the sources than sync.max_delete allows, so it deleted none of them
	// (--delete). Rerunning gives the same answer: check the sources, then
	// raise the cap (--max-delete) to delete them. Failed items, if any,
	// are in the failure report as after exit 3.
	ExitDeleteCapped = 5
)

// itemsExitCode is the exit code of a run that finished with s: ExitOK,
// ExitConflicts when every failure is a conflict, else ExitItemsFailed.
func itemsExitCode(s pipeline.Stats) int {
	switch {
	case s.Failed == 0:
		return ExitOK
	case s.Conflicts > 0 && s.Failed <= s.Conflicts:
		return ExitConflicts
	}
	return ExitItemsFailed
}

// itemsError is what run returns for a run that finished with s: nil, or
// the error carrying itemsExitCode (the summary said everything already).
func itemsError(s pipeline.Stats) error {
	switch itemsExitCode(s) {
	case ExitConflicts:
		return errConflicts
	case ExitItemsFailed:
		return errItemsFailed
	}
	return nil
}

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

// errConflicts is errItemsFailed for a run whose only failures are
// conflicts.
var errConflicts = &exitError{ExitConflicts, errors.New("some items conflict with inputs an earlier run made")}

// silent reports whether err needs no line of its own after the summary.
func silent(err error) bool { return err == errItemsFailed || err == errConflicts }
