package emulator

import (
	"fmt"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Status descriptions follow the wording of Clarifai's status-code table
// where it has one.
var descriptions = map[statuspb.StatusCode]string{
	statuspb.StatusCode_SUCCESS:                       "Ok",
	statuspb.StatusCode_MIXED_STATUS:                  "Mixed Success",
	statuspb.StatusCode_FAILURE:                       "Failure",
	statuspb.StatusCode_TRY_AGAIN:                     "Try the request again",
	statuspb.StatusCode_CONN_THROTTLED:                "Making too many requests",
	statuspb.StatusCode_CONN_INSUFFICIENT_SCOPES:      "API key has insufficient scopes",
	statuspb.StatusCode_CONN_KEY_INVALID:              "Invalid API key or Invalid API key/application pair",
	statuspb.StatusCode_CONN_DOES_NOT_EXIST:           "Resource does not exist",
	statuspb.StatusCode_ANNOTATION_SUCCESS:            "Annotation success",
	statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT:   "Invalid annotation argument",
	statuspb.StatusCode_INPUT_SUCCESS:                 "Input processed",
	statuspb.StatusCode_INPUT_PENDING:                 "Input pending processing",
	statuspb.StatusCode_INPUT_FAILED:                  "Input processing failed",
	statuspb.StatusCode_INPUT_IN_PROGRESS:             "Input processing in progress",
	statuspb.StatusCode_INPUT_DOES_NOT_EXIST:          "Input does not exist",
	statuspb.StatusCode_INPUT_INVALID_ARGUMENT:        "Invalid input argument",
	statuspb.StatusCode_INPUT_OVER_LIMIT:              "Input is larger than the allowed limit",
	statuspb.StatusCode_INPUT_INVALID_URL:             "Invalid input URL",
	statuspb.StatusCode_INPUT_INVALID_REQUEST:         "Invalid input request",
	statuspb.StatusCode_DATABASE_DUPLICATE_KEY:        "An object with the same ID already exists",
	statuspb.StatusCode_RPC_MAX_MESSAGE_SIZE_EXCEEDED: "Request is too large",
	statuspb.StatusCode_JOB_QUEUED:                    "Job is queued to be ran.",
	statuspb.StatusCode_JOB_RUNNING:                   "Job is running",
	statuspb.StatusCode_JOB_FAILED:                    "Job failed",
	statuspb.StatusCode_LIST_OBJECTS_FAILED:           "Listing objects failed",
	statuspb.StatusCode_ARCHIVE_EXTRACT_FAILED:        "Archive extraction failed",
	statuspb.StatusCode_JOB_COMPLETED:                 "Job completed",
	statuspb.StatusCode_JOB_CANCELLED:                 "Job cancelled",
}

// newStatus builds a Status with the standard description for code and the
// given details.
func newStatus(code statuspb.StatusCode, details string) *statuspb.Status {
	return &statuspb.Status{Code: code, Description: descriptions[code], Details: details}
}

// newStatusf is newStatus with formatted details.
func newStatusf(code statuspb.StatusCode, format string, args ...any) *statuspb.Status {
	return newStatus(code, fmt.Sprintf(format, args...))
}

// okStatus is the top-level status of a successful call.
func okStatus() *statuspb.Status { return newStatus(statuspb.StatusCode_SUCCESS, "") }

// aggregate returns the top-level status of a call whose items ended with ok
// successes out of n: SUCCESS, MIXED_STATUS or FAILURE.
func aggregate(ok, n int) *statuspb.Status {
	switch {
	case ok == n:
		return okStatus()
	case ok == 0:
		return newStatus(statuspb.StatusCode_FAILURE, "every item failed; see each item's status")
	default:
		return newStatusf(statuspb.StatusCode_MIXED_STATUS, "%d of %d items failed; see each item's status", n-ok, n)
	}
}
