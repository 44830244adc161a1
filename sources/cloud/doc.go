// Package cloud gives the pipeline source of a `cloud:` entry of a job
// file: NewSource wraps a server-side Ingestion (in practice a
// *cloudjob.Ingestion from sinks/clarifai/cloudjob) as a pipeline.Source
// that sends no item and returns when the server job has ended.
package cloud

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// The server lists, downloads and ingests the files itself, so the items
// never pass through the pipeline and are not in its counts. Sources are
// read in order, so a cloud source holds back the sources after it until
// its job ends; list it last to upload local files first. The ingestion
// itself (the job API, credentials, resume across reruns) lives next to the
// Clarifai client it drives, so that no source imports a sink.
