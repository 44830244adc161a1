// Package pipeline is the core of the ingestion tool: the Item model and the
// staged runner that moves items from sources, through transforms, into a
// sink, and reports one final Result per item. Run runs a Job; Source,
// Transform, Sink and Checkpoint are the stages it joins; Sharded splits a
// job across processes.
//
// Design notes: DESIGN.md in this folder.
package pipeline
