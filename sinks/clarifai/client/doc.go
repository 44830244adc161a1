// Package client is the one seam between this tool and the Clarifai API: a
// gRPC Client with one method per RPC the tool uses, each waiting for the
// shared rate Budget, adding the credentials and the user/app, and retrying
// what Classify calls retryable. Config reads the endpoint and credentials
// as the official SDKs do (FromEnv); the PAT is never logged or printed.
//
// Design notes: DESIGN.md in this folder.
package client
