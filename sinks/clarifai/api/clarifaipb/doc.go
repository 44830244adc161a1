// Package clarifaipb is the Go code generated from the Clarifai API subset in
// sinks/clarifai/api/proto: the messages and the V2 gRPC client and server.
// Do not edit it by hand; see package api for how to regenerate it.
package clarifaipb
