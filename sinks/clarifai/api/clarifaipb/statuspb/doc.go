// Package statuspb is the Go code generated from the Clarifai API's status
// protos: Status and the StatusCode values. Do not edit it by hand; see
// package api for how to regenerate it.
package statuspb
