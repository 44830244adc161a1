// Package emulator is an in-process emulator of the Clarifai V2 gRPC API for
// tests, benchmarks and demos: a real gRPC server on a loopback address that
// answers as Clarifai does, with inspection methods, fault injection,
// simulated processing, cloud ingestion from local folders, and optional
// persistence. Start returns a running Server; Close stops it. Clients
// connect as to Clarifai, with "authorization: Key <PAT>" and a user_app_id.
//
// Design notes (status codes, processing, memory, persistence): DESIGN.md
// in this folder.
package emulator
