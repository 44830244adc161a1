// Package sinks holds what every sink shares and nothing specific to one
// destination: the batch policy and the Batcher that applies it, and the
// documented per-item size limits that are checked before an item is
// batched.
//
// Each destination is a sub-package: sinks/clarifai is the Clarifai sink,
// sinks/clarifai/client its API client, sinks/clarifai/cloudjob the
// server-side ingestion jobs, sinks/clarifai/api the wire code, and
// sinks/clarifai/emulator an in-process Clarifai server.
package sinks
