// Package clarifai delivers pipeline items to Clarifai over gRPC.
//
// It has four parts, one file each:
//
//   - Client (client.go): the one seam to the network. One method per RPC
//     the tool uses, all going through one generic wrapper that waits for the
//     shared rate budget, adds the credentials and the user/app, classifies
//     the outcome and retries what is retryable.
//   - Classify and ClassifyCode (classify.go): the one place that decides
//     whether a failure is retried, fails one input, or ends the run.
//   - Budget (budget.go): the client-side request rate shared by every call
//     of a run; it halves when the server throttles and recovers slowly.
//   - Sink (sink.go, request.go): the pipeline.Sink that batches items,
//     builds PostInputs requests (loading file bytes only then), and maps
//     per-input statuses back to the items.
//
// Configuration follows the official SDKs: the endpoint, PAT, user and app
// come from CLARIFAI_API_BASE, CLARIFAI_PAT, CLARIFAI_USER_ID and
// CLARIFAI_APP_ID (see Config.FromEnv). The PAT is never logged or printed.
package clarifai
