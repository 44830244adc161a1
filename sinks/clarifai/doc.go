// Package clarifai delivers pipeline items to Clarifai over gRPC.
//
// It has these parts:
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
//     per-input statuses back to the items. track.go holds the state of one
//     run: the MaxPending bound, each accepted item's outstanding parts, the
//     verification groups and the inputs to send again.
//   - Annotations (annotation.go, annotate.go): one PostAnnotations
//     Annotation per region with a deterministic ID, batched across items
//     by the annotator stage once the input is accepted.
//   - Verification (verify.go): with SinkConfig.Verify, the verifier
//     confirms INPUT_SUCCESS beside the uploads with few calls: one
//     GetInputsAddJob per group of batches, ListInputs of up to 1000 IDs
//     for the rest.
//
// Configuration follows the official SDKs: the endpoint, PAT, user and app
// come from CLARIFAI_API_BASE, CLARIFAI_PAT, CLARIFAI_USER_ID and
// CLARIFAI_APP_ID (see Config.FromEnv). The PAT is never logged or printed.
package clarifai
