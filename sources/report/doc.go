// Package report writes the machine-readable failure report of a run, and
// reads it back as a pipeline.Source that retries just the items in it:
// NewWriter writes it (JSON Lines, one Record per failed or skipped item),
// NewSource reads it.
//
// Design notes: DESIGN.md in this folder.
package report
