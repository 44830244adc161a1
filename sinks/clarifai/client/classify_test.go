package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

func TestClassifyCode(t *testing.T) {
	for _, tc := range []struct {
		code st.StatusCode
		want Class
	}{
		{st.StatusCode_SUCCESS, OK},
		{st.StatusCode_MIXED_STATUS, OK},
		{st.StatusCode_INPUT_SUCCESS, OK},
		{st.StatusCode_INPUT_PENDING, OK},
		{st.StatusCode_INPUT_IN_PROGRESS, OK},
		{st.StatusCode_ANNOTATION_SUCCESS, OK},

		{st.StatusCode_CONN_THROTTLED, Retryable},
		{st.StatusCode_CONN_EXCEED_HOURLY_LIMIT, Retryable},
		{st.StatusCode_TRY_AGAIN, Retryable},
		{st.StatusCode_RPC_REQUEST_QUEUE_FULL, Retryable},
		{st.StatusCode_RPC_SERVER_UNAVAILABLE, Retryable},
		{st.StatusCode_RPC_REQUEST_TIMEOUT, Retryable},
		{st.StatusCode_QUEUE_CONN_ERROR, Retryable},
		{st.StatusCode_REQUEST_DISABLED_FOR_MAINTENANCE, Retryable},
		{st.StatusCode_INPUT_WRITES_DISABLED_FOR_MAINTENANCE, Retryable},
		{st.StatusCode_INTERNAL_SERVER_ISSUE, Retryable},
		{st.StatusCode_INTERNAL_FETCHING_ISSUE, Retryable},
		{st.StatusCode_INTERNAL_DATABASE_ISSUE, Retryable},
		{st.StatusCode_INTERNAL_CONTEXT_CANCELED, Retryable},
		{st.StatusCode_INTERNAL_UNEXPECTED_TIMEOUT, Retryable},
		{st.StatusCode_INTERNAL_RESOURCE_EXHAUSTED, Retryable},
		{st.StatusCode_INTERNAL_GCP_UNCATEGORIZED, Retryable},
		{st.StatusCode(98999), Retryable}, // an internal code this subset does not name
		{st.StatusCode_INTERNAL_UNCATEGORIZED, Retryable},
		{st.StatusCode_SERVER_ERROR, Retryable},

		{st.StatusCode_CONN_KEY_INVALID, Fatal},
		{st.StatusCode_CONN_KEY_NOT_FOUND, Fatal},
		{st.StatusCode_CONN_CREDENTIALS_INVALID, Fatal},
		{st.StatusCode_CONN_TOKEN_INVALID, Fatal},
		{st.StatusCode_CONN_INSUFFICIENT_SCOPES, Fatal},
		{st.StatusCode_CONN_DOES_NOT_EXIST, Fatal},
		{st.StatusCode_CONN_ACCOUNT_ISSUES, Fatal},
		{st.StatusCode_CONN_EXCEED_MONTHLY_LIMIT, Fatal},
		{st.StatusCode_CONN_AUTH_METHOD_DISABLED, Fatal},

		{st.StatusCode_INPUT_INVALID_ARGUMENT, Permanent},
		{st.StatusCode_INPUT_OVER_LIMIT, Permanent},
		{st.StatusCode_INPUT_VIDEO_OVER_LIMIT, Permanent},
		{st.StatusCode_INPUT_UNSUPPORTED_FORMAT, Permanent},
		{st.StatusCode_INPUT_INVALID_URL, Permanent},
		{st.StatusCode_INPUT_DUPLICATE, Permanent},
		{st.StatusCode_DATABASE_DUPLICATE_KEY, Permanent},
		{st.StatusCode_INPUT_FAILED, Permanent},
		{st.StatusCode_ALL_INPUT_INVALID_BYTES, Permanent},
		{st.StatusCode_RPC_MAX_MESSAGE_SIZE_EXCEEDED, Permanent},
		{st.StatusCode_CONN_BAD_REQUEST_FORMAT, Permanent},
		{st.StatusCode_INPUT_CONNECTION_FAILED, Permanent},
		{st.StatusCode_FAILURE, Permanent},
		{st.StatusCode_ZERO, Permanent},
		{st.StatusCode(12345), Permanent},
	} {
		if got := ClassifyCode(tc.code); got != tc.want {
			t.Errorf("ClassifyCode(%v) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, OK},
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), Retryable},
		{"deadline", status.Error(codes.DeadlineExceeded, "deadline"), Retryable},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "slow down"), Retryable},
		{"message too large", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), Permanent},
		{"aborted", status.Error(codes.Aborted, "aborted"), Retryable},
		{"rst stream", status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR"), Retryable},
		{"marshal", status.Error(codes.Internal, "grpc: error while marshaling: string field contains invalid UTF-8"), Permanent},
		{"undecodable request", status.Error(codes.Internal, "grpc: failed to unmarshal the received message: proto: exceeded maximum recursion depth"), Permanent},
		{"undecodable request, older grpc", status.Error(codes.Internal, "grpc: error unmarshalling request: proto: cannot parse invalid wire-format data"), Permanent},
		{"unknown reset", status.Error(codes.Unknown, "read: connection reset by peer"), Retryable},
		{"unknown other", status.Error(codes.Unknown, "boom"), Permanent},
		{"unauthenticated", status.Error(codes.Unauthenticated, "no"), Fatal},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), Fatal},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), Permanent},
		{"unimplemented", status.Error(codes.Unimplemented, "no such method"), Permanent},
		{"wrapped grpc", fmt.Errorf("post: %w", status.Error(codes.Unavailable, "x")), Retryable},
		{"canceled", context.Canceled, Permanent},
		{"deadline ctx", fmt.Errorf("x: %w", context.DeadlineExceeded), Retryable},
		{"conn reset", fmt.Errorf("read: %w", syscall.ECONNRESET), Retryable},
		{"unexpected eof", io.ErrUnexpectedEOF, Retryable},
		{"api error keeps class", fmt.Errorf("x: %w", &APIError{Class: Fatal}), Fatal},
		{"other", errors.New("boom"), Permanent},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestAPIErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  *APIError
		want []string
	}{
		{&APIError{Method: "PostInputs", Code: st.StatusCode_CONN_THROTTLED, Description: "Making too many requests",
			Details: "exceeded limit of 15 requests per second", ReqID: "r1", Class: Retryable, Attempts: 10},
			[]string{"PostInputs: CONN_THROTTLED (11005): Making too many requests: exceeded limit of 15 requests per second [req_id r1] (after 10 attempts)"}},
		{&APIError{Method: "GetInput", Code: st.StatusCode_CONN_KEY_INVALID, Description: "API key not found", Class: Fatal, Attempts: 1},
			[]string{"GetInput: CONN_KEY_INVALID (11008): API key not found; check that CLARIFAI_PAT", "CLARIFAI_APP_ID"}},
		{&APIError{Method: "ListInputs", GRPCCode: codes.Unavailable, Err: status.Error(codes.Unavailable, "refused"), Class: Retryable, Attempts: 3},
			[]string{"ListInputs: gRPC Unavailable: refused (after 3 attempts)"}},
	} {
		got := tc.err.Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Error() = %q, want it to contain %q", got, w)
			}
		}
	}
}

func TestIsRequestRefused(t *testing.T) {
	grpcErr := func(c codes.Code, msg string) error {
		e := status.Error(c, msg)
		return &APIError{Method: "PostInputs", GRPCCode: c, Class: Classify(e), Err: e}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"undecodable", grpcErr(codes.Internal, "grpc: failed to unmarshal the received message: proto: exceeded maximum recursion depth"), true},
		{"invalid argument", grpcErr(codes.InvalidArgument, "bad"), true},
		{"too large", grpcErr(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), true},
		{"bad request format", StatusError("PostInputs", &st.Status{Code: st.StatusCode_CONN_BAD_REQUEST_FORMAT}, Permanent, 1), true},
		{"throttled", StatusError("PostInputs", &st.Status{Code: st.StatusCode_CONN_THROTTLED}, Retryable, 10), false},
		{"quota", grpcErr(codes.ResourceExhausted, "slow down"), false},
		{"internal fault", grpcErr(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR"), false},
		{"unavailable", grpcErr(codes.Unavailable, "connection refused"), false},
		{"bad key", StatusError("PostInputs", &st.Status{Code: st.StatusCode_CONN_KEY_INVALID}, Fatal, 1), false},
		{"unauthenticated", grpcErr(codes.Unauthenticated, "no"), false},
		{"unimplemented", grpcErr(codes.Unimplemented, "no such method"), false},
		{"not an APIError", status.Error(codes.InvalidArgument, "bad"), false},
	} {
		if got := IsRequestRefused(tc.err); got != tc.want {
			t.Errorf("%s: IsRequestRefused = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestUndecodableRequestIsRefused: the emulator, as any gRPC server, cannot
// decode a request whose metadata is nested 4,000 deep; the client sends
// it once (the same bytes never decode) and the error says the request was
// refused as a whole, which the sink splits.
func TestUndecodableRequestIsRefused(t *testing.T) {
	srv, err := emulator.Start("127.0.0.1:0", emulator.Options{PATs: []string{"pat-0123456789"}, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := New(Config{Connection: Connection{Base: "http://" + srv.Addr(), PAT: "pat-0123456789", UserID: "me", AppID: "app"},
		Tuning: Tuning{RateLimit: -1}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := structpb.NewNumberValue(1)
	for range 4000 {
		v = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"a": v}})
	}
	req := &pb.PostInputsRequest{Inputs: []*pb.Input{
		{Id: "good", Data: &pb.Data{Text: &pb.Text{Raw: "x"}}},
		{Id: "bad", Data: &pb.Data{Text: &pb.Text{Raw: "y"}, Metadata: v.GetStructValue()}},
	}}
	var n int
	_, err = c.PostInputs(t.Context(), req, Attempts(&n))
	if !IsRequestRefused(err) || n != 1 {
		t.Fatalf("PostInputs = %v after %d attempts, want a refused request after 1", err, n)
	}
	if got := len(srv.Inputs("me", "app")); got != 0 {
		t.Errorf("the emulator stored %d inputs of a request it could not decode", got)
	}
}
