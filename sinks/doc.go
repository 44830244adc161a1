// Package sinks holds what every sink shares and nothing specific to one
// destination: the batch policy and the Batcher that applies it, and the
// documented per-item size limits that are checked before an item is
// batched.
//
// Destination-specific code (wire formats, clients, retry rules) lives in the
// sub-packages, for example sinks/clarifai.
package sinks
