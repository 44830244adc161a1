// Package pipeline is the core of the ingestion tool: the Item model and the
// staged runner that moves items from sources, through transforms, into a
// sink, and reports one final Result per item. Run runs a Job; Source,
// Transform, Sink and Checkpoint are the stages it joins; Sharded splits a
// job across processes.
package pipeline

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// The stages are joined by small bounded channels and run under one errgroup:
//
//	sources ──► resume filter ──► transforms (N workers) ──► sink ──► results
//	   │              │                   │                    │          │
//	   └──────────────┴───────────────────┴────────────────────┘          ▼
//	                     failed / skipped items                  stats, checkpoint,
//	                                                             failure report
//
// Two error paths: an error that must end the run (the sink
// lost its credentials, the checkpoint cannot be written) is returned from a
// stage and cancels the others; a failure of one item is data. Such an item
// travels on with its Err set, bypasses the remaining stages and ends as a
// Result with EventFailed or EventSkipped. Every item read ends in exactly one
// final Result, so read = done + skipped + failed + resumed.
//
// Memory is bounded by design: channels hold at most one batch of items,
// transforms run on a fixed number of workers, and item bytes are loaded
// lazily (Blob) by the sink only when the batch that carries them is built.
//
// Resume works at two levels. Item by item, the filter asks the Checkpoint
// what earlier runs did with each item. Source by source, when the
// Checkpoint implements SourceCheckpoint and a source implements
// Fingerprinter, a source read to its end whose items all ended done,
// already done or skipped is recorded complete, and a rerun does not read it
// at all (see complete.go). The runner tags each item with its source as the
// filter passes it on, and follows each source's items in the result loop.
