package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Class is what to do about an outcome: nothing (OK), try again
// (Retryable), give up on this input or call (Permanent), or end the run
// (Fatal).
type Class uint8

const (
	// OK is not a failure: success, or an input accepted and pending.
	OK Class = iota
	// Retryable failures are transient (throttling, server busy or down,
	// timeouts, internal errors): the same request may succeed later.
	Retryable
	// Permanent failures concern one input or call (invalid argument, over
	// limit, unsupported format, bad URL, duplicate, anything not listed):
	// retrying will not help, but the run goes on.
	Permanent
	// Fatal failures make every further call fail (bad or unknown key,
	// missing scopes, unknown app, account problems): the run ends at once.
	Fatal
)

var classNames = [...]string{"ok", "retryable", "permanent", "fatal"}

// String returns "ok", "retryable", "permanent" or "fatal".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// codeClass lists every Clarifai status code whose class is not Permanent.
// Anything not listed here (and outside the internal 98xxx range) is
// Permanent.
var codeClass = map[st.StatusCode]Class{
	st.StatusCode_SUCCESS:               OK,
	st.StatusCode_MIXED_STATUS:          OK, // the caller reads each item's status
	st.StatusCode_ACCEPTED:              OK,
	st.StatusCode_INPUT_SUCCESS:         OK,
	st.StatusCode_INPUT_PENDING:         OK,
	st.StatusCode_INPUT_IN_PROGRESS:     OK,
	st.StatusCode_INPUT_MODIFY_SUCCESS:  OK,
	st.StatusCode_INPUT_MODIFY_PENDING:  OK,
	st.StatusCode_ANNOTATION_SUCCESS:    OK,
	st.StatusCode_ANNOTATION_PENDING:    OK,
	st.StatusCode_DATASET_INPUT_SUCCESS: OK,
	st.StatusCode_JOB_QUEUED:            OK,
	st.StatusCode_JOB_RUNNING:           OK,
	st.StatusCode_JOB_COMPLETED:         OK,
	st.StatusCode_UPLOAD_IN_PROGRESS:    OK,
	st.StatusCode_UPLOAD_DONE:           OK,

	// Throttling: the SDK retries these two itself.
	st.StatusCode_CONN_THROTTLED:           Retryable,
	st.StatusCode_CONN_EXCEED_HOURLY_LIMIT: Retryable,
	// Documented as transient ("try again later").
	st.StatusCode_TRY_AGAIN:              Retryable,
	st.StatusCode_RPC_REQUEST_QUEUE_FULL: Retryable,
	st.StatusCode_RPC_SERVER_UNAVAILABLE: Retryable,
	st.StatusCode_RPC_REQUEST_TIMEOUT:    Retryable,
	st.StatusCode_QUEUE_CONN_ERROR:       Retryable,
	// Maintenance is documented as transient too. Retrying is bounded by
	// MaxAttempts and MaxElapsed; a long maintenance fails the batches,
	// which a resumed run sends again.
	st.StatusCode_REQUEST_DISABLED_FOR_MAINTENANCE:      Retryable,
	st.StatusCode_INPUT_WRITES_DISABLED_FOR_MAINTENANCE: Retryable,
	// Internal errors (the 98xxx range is handled in ClassifyCode).
	st.StatusCode_INTERNAL_UNCATEGORIZED: Retryable,
	st.StatusCode_SERVER_ERROR:           Retryable, // deprecated generic 5xx

	// Credentials and account: no further call can succeed.
	st.StatusCode_CONN_KEY_INVALID:          Fatal,
	st.StatusCode_CONN_KEY_NOT_FOUND:        Fatal,
	st.StatusCode_CONN_CREDENTIALS_INVALID:  Fatal,
	st.StatusCode_CONN_TOKEN_INVALID:        Fatal,
	st.StatusCode_CONN_INSUFFICIENT_SCOPES:  Fatal,
	st.StatusCode_CONN_DOES_NOT_EXIST:       Fatal, // unknown user or app
	st.StatusCode_CONN_ACCOUNT_ISSUES:       Fatal,
	st.StatusCode_CONN_EXCEED_MONTHLY_LIMIT: Fatal, // nothing more this month
	st.StatusCode_CONN_AUTH_METHOD_DISABLED: Fatal,
}

// ClassifyCode returns the class of a Clarifai status code, top-level or
// per input. It is the table the client and the sink both use.
func ClassifyCode(code st.StatusCode) Class {
	if c, ok := codeClass[code]; ok {
		return c
	}
	if code >= 98000 && code < 99000 { // INTERNAL_* family
		return Retryable
	}
	return Permanent
}

// Classify returns the class of an error returned by a Client method or by
// gRPC: an *APIError keeps the class it was given; a gRPC status is
// classified by its code; a context cancellation is Permanent (the caller
// gave up) and a deadline is Retryable (the attempt timed out); a connection
// reset or timeout is Retryable. nil is OK; anything else is Permanent.
func Classify(err error) Class {
	if err == nil {
		return OK
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Class
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Permanent
	case errors.Is(err, context.DeadlineExceeded):
		return Retryable
	}
	if s, ok := status.FromError(err); ok {
		return classifyGRPC(s.Code(), s.Message())
	}
	var ne net.Error
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &ne) && ne.Timeout()) {
		return Retryable
	}
	return Permanent
}

// IsOutage reports whether err is a call that got no answer from the API
// to the end of its retries: a transport failure with gRPC code Unavailable
// (connection refused or reset, the host unreachable, the server going
// away) and no Clarifai status. The sink ends the run on it instead of
// failing the items of the call, which would fail for a reason that is not
// theirs: they stay pending, and a rerun sends them.
func IsOutage(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Class == Retryable && ae.Code == st.StatusCode_ZERO && ae.GRPCCode == codes.Unavailable
}

// classifyGRPC classifies a gRPC transport status.
func classifyGRPC(c codes.Code, msg string) Class {
	switch c {
	case codes.OK:
		return OK
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return Retryable
	case codes.ResourceExhausted:
		// grpc-go reports an oversized message with this code too; that
		// one will never pass.
		if strings.Contains(msg, "larger than max") {
			return Permanent
		}
		return Retryable
	case codes.Internal:
		// grpc-go reports a request it cannot marshal (invalid UTF-8 in a
		// string field) as Internal; that one will never pass. Other
		// Internal errors include RST_STREAM resets and server faults.
		if strings.Contains(msg, "error while marshaling") {
			return Permanent
		}
		// A server that cannot decode the request (too deeply nested, a
		// malformed field) says so with Internal too; the same bytes never
		// decode.
		if isDecodeFailure(msg) {
			return Permanent
		}
		return Retryable
	case codes.Unknown:
		if isReset(msg) {
			return Retryable
		}
		return Permanent
	case codes.Unauthenticated, codes.PermissionDenied:
		return Fatal
	default:
		return Permanent
	}
}

// isDecodeFailure reports whether a gRPC message says the server could
// not decode the request (grpc-go: "grpc: failed to unmarshal the received
// message: ...", older versions "grpc: error unmarshalling request: ...").
func isDecodeFailure(msg string) bool {
	return strings.Contains(msg, "unmarshal") || strings.Contains(msg, "exceeded maximum recursion depth")
}

// IsRequestRefused reports whether err is a call the server refused as a
// whole for what the request carries: it could not decode it (metadata
// nested too deep), found an argument invalid, or found it too large. Sent
// again as it is, it fails again; its inputs sent in smaller requests may
// pass, all but the one or few at fault, so the sink splits such a batch to
// isolate them. A refusal about who sent it (Fatal: key, scopes, app), how
// fast (throttling, quota) or the connection (Retryable, IsOutage) is not
// one: splitting would not help.
//
// It is a Permanent *APIError with a Clarifai status for the whole call, or
// with gRPC code InvalidArgument, OutOfRange, ResourceExhausted (a message
// over the size limit; the others are Retryable) or Internal (a request the
// server could not decode; the others are Retryable).
func IsRequestRefused(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Class != Permanent {
		return false
	}
	if ae.Code != st.StatusCode_ZERO {
		return true
	}
	switch ae.GRPCCode {
	case codes.InvalidArgument, codes.OutOfRange, codes.ResourceExhausted, codes.Internal:
		return true
	}
	return false
}

func isReset(msg string) bool {
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "RST_STREAM") ||
		strings.Contains(msg, "unexpected EOF")
}

// isThrottle reports whether a status code or transport error means "slow
// down": the shared Budget is halved for it and Counters.Throttle counts it.
func isThrottle(code st.StatusCode, grpcCode codes.Code) bool {
	return code == st.StatusCode_CONN_THROTTLED || code == st.StatusCode_CONN_EXCEED_HOURLY_LIMIT ||
		grpcCode == codes.ResourceExhausted
}

// APIError is a failed call, returned by Client methods after retries have
// run out, for a non-success status or a transport error. It never contains
// credentials.
type APIError struct {
	// Method is the RPC, e.g. "PostInputs".
	Method string
	// Code is the Clarifai status code the server answered with; ZERO for a
	// transport error (see GRPCCode).
	Code st.StatusCode
	// GRPCCode is the gRPC status of a transport error; codes.OK when the
	// server answered with a Clarifai status.
	GRPCCode codes.Code
	// Description, Details and ReqID come from the server's status.
	Description, Details, ReqID string
	// Class is the classification of the last outcome.
	Class Class
	// Attempts is how many requests were sent.
	Attempts int
	// Err is the transport error, if any.
	Err error
}

// Error renders the failure for a user: the method, the code and the
// server's words, and for a fatal failure what to check.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteString(": ")
	if e.Code != st.StatusCode_ZERO {
		b.WriteString(statusText(e.Code, e.Description, e.Details))
		if e.ReqID != "" {
			b.WriteString(" [req_id " + e.ReqID + "]")
		}
	} else if e.Err != nil {
		if s, ok := status.FromError(e.Err); ok {
			fmt.Fprintf(&b, "gRPC %s: %s", s.Code(), s.Message())
		} else {
			b.WriteString(e.Err.Error())
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Class == Fatal {
		b.WriteString("; check that CLARIFAI_PAT is a valid personal access token with the needed scopes, " +
			"and that CLARIFAI_USER_ID and CLARIFAI_APP_ID name an app it can access")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// StatusError is the APIError of the status s of a call to method.
func StatusError(method string, s *st.Status, class Class, attempts int) *APIError {
	return &APIError{Method: method, Code: s.GetCode(), Description: s.GetDescription(), Details: s.GetDetails(),
		ReqID: s.GetReqId(), Class: class, Attempts: attempts}
}

// statusText renders a status for people: "NAME (code): description:
// details", the details only when they say more than the description.
func statusText(code st.StatusCode, description, details string) string {
	msg := fmt.Sprintf("%s (%d)", code, int32(code))
	if description != "" {
		msg += ": " + description
	}
	if details != "" && details != description {
		msg += ": " + details
	}
	return msg
}

// Describe renders s for people: "NAME (code): description: details",
// the details only when they say more than the description.
func Describe(s *st.Status) string {
	return statusText(s.GetCode(), s.GetDescription(), s.GetDetails())
}
