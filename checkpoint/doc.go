// Package checkpoint is the crash-safe, file-based pipeline.Checkpoint: it
// remembers which items the server acknowledged, so that rerunning a killed
// job skips what is done, verifies what was accepted, and sends the rest.
// Open opens (or creates) a job's checkpoint folder; the runner asks it
// Lookup and tells it Record; LookupDigests also returns the digests
// (pipeline/digest) of what a done item was sent as. Compact and Reopen
// maintain it, and Options.Restart sets the old files aside.
//
// Design notes: DESIGN.md in this folder.
package checkpoint
