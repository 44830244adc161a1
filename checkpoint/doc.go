// Package checkpoint is the crash-safe, file-based pipeline.Checkpoint: it
// remembers which items the server acknowledged, so that rerunning a killed
// job skips what is done, verifies what was accepted, and sends the rest.
// Open opens (or creates) a job's checkpoint folder; the runner asks it
// Lookup and tells it Record. It is a pipeline.SyncCheckpoint: Lookup
// compares the item as read with what an earlier run recorded (digests of
// pipeline/digest, under the item's stable key) and says whether to add,
// update, replace or skip it; Unseen yields the inputs whose items left the
// sources and RecordDeleted records their deletion. LookupDigests also
// returns the recorded digests. Compact and Reopen maintain it,
// Options.Restart sets the old files aside, and Options.ReadOnly only
// answers.
//
// Design notes: DESIGN.md in this folder.
package checkpoint
