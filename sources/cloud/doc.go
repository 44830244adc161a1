// Package cloud gives the pipeline source of a `cloud:` entry of a job
// file: NewSource wraps a server-side Ingestion (in practice a
// *cloudjob.Ingestion from sinks/clarifai/cloudjob) as a pipeline.Source
// that sends no item and returns when the server job has ended.
//
// Design notes: DESIGN.md in this folder.
package cloud
