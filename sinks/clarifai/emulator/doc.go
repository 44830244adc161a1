// Package emulator is an in-process emulator of the Clarifai V2 gRPC API for
// tests, benchmarks and demos: a real gRPC server on a loopback address that
// answers as Clarifai does (see shared/clarifai-wire.md), plus inspection
// methods and fault injection.
//
// Start returns a running Server; Close stops it. Clients use the generated
// clarifaipb.V2Client with "authorization: Key <PAT>" metadata and a
// user_app_id, exactly as against Clarifai.
//
// # Behaviour
//
// Refusals are answered in the response's status with gRPC code OK, as
// Clarifai does; only injected Unavailable faults, cancelled contexts and
// unimplemented methods are gRPC errors. The status codes used:
//
//	missing or unknown key                      CONN_KEY_INVALID
//	read-only key on Post/Patch/Delete/Cancel   CONN_INSUFFICIENT_SCOPES
//	missing user_app_id                         FAILURE
//	unknown app with NoAutoCreateApps           CONN_DOES_NOT_EXIST
//	rate limit or injected throttling           CONN_THROTTLED ("exceeded limit of N requests per second")
//	PostInputs request >= 128 MB                RPC_MAX_MESSAGE_SIZE_EXCEEDED
//	no inputs, > 128 inputs, > 1 video, bad job id
//	                                            INPUT_INVALID_REQUEST (nothing stored)
//	per input: bad id, no data, url and bytes, bad concept/geo/region/dataset
//	  (a concept id outside 1-32 of A-Za-z0-9_-, unless AnyConceptID)
//	                                            INPUT_INVALID_ARGUMENT
//	per input: duplicate id                     INPUT_INVALID_ARGUMENT, details "Input has a duplicate ID."
//	per input: malformed or non-http(s) url     INPUT_INVALID_URL
//	per input: bytes >= 20 MB (video 128 MB)    INPUT_OVER_LIMIT
//	per input: injected transient failure       TRY_AGAIN (not stored)
//	PostInputs/PostAnnotations/PatchInputs top  SUCCESS, MIXED_STATUS or FAILURE (all items failed)
//	stored input                                INPUT_PENDING, INPUT_IN_PROGRESS, then INPUT_SUCCESS
//	                                            or INPUT_FAILED (details name the reason)
//	GetInput / PatchInputs of a missing input   INPUT_DOES_NOT_EXIST
//	annotation on a missing input               INPUT_DOES_NOT_EXIST
//	bad annotation (geometry, ids, no data)     ANNOTATION_INVALID_ARGUMENT
//	PostDatasets with an existing/repeated id   DATABASE_DUPLICATE_KEY (nothing created)
//	missing dataset or inputs-add job           CONN_DOES_NOT_EXIST
//	per_page > 1000 on any list call            FAILURE
//	DeleteInputs without ids, bad patch action  INPUT_INVALID_REQUEST
//	jobs                                        JOB_RUNNING, JOB_COMPLETED, JOB_CANCELLED
//	PostInputsDataSources: no/invalid data source, url not s3/gs/http(s), bad job id
//	                                            INPUT_INVALID_REQUEST (nothing created)
//	  bad template (concept, dataset id)        INPUT_INVALID_ARGUMENT (nothing created)
//	missing extraction job                      CONN_DOES_NOT_EXIST
//	extraction jobs                             JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_CANCELLED,
//	                                            LIST_OBJECTS_FAILED (unknown bucket; private bucket
//	                                            without the right credentials: "access denied
//	                                            listing URL: ..."), ARCHIVE_EXTRACT_FAILED (the URL
//	                                            is one archive that cannot be read)
//	inputs-add job of data sources              JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED,
//	                                            JOB_FAILED, JOB_CANCELLED
//
// Processing is simulated without goroutines: an input's status is computed
// from its acceptance time, Options.ProcessingDelay and Options.Now, and its
// outcome is decided when it is accepted, by checking its bytes (images are
// decoded with image.DecodeConfig; video, audio by signature; text must be
// UTF-8). URLs are not fetched: a well-formed http(s) URL succeeds.
//
// # Cloud ingestion
//
// PostInputsDataSources reads "buckets" mapped to local folders or files by
// Options.Buckets (s3://, gs://, Azure container and archive URLs), checks
// the credentials of Options.PrivateBuckets, and ingests the files under the
// URL prefix on the emulator's clock (Options.ExtractionDelay per step):
// each file's kind comes from its content and name, zip, tar and tar.gz
// archives are extracted (an archive inside one is not), other files are
// skipped and counted in the job's status details, and every input created
// gets the template's concepts, metadata, geo and dataset IDs and an ID
// derived from its object key. See cloud.go and extraction.go.
//
// # Memory
//
// Media bytes are not kept: each input keeps a SHA-256 and size per piece of
// media, and its Input proto marshaled without bytes (about 320 bytes of heap
// per labeled URL input). Per-request work is O(request) except ListInputs
// or ListAnnotations without ids, which page from the start of the app.
//
// # Persistence
//
// With Options.StateDir the state is loaded at Start and saved atomically on
// Close and periodically; see persist.go for the file format. Dump prints a
// saved state as JSON lines.
package emulator
