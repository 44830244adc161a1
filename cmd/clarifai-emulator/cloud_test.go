package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

const (
	testAWSSecret = "bin-aws-secret-do-not-leak"
	testAzureKey  = "bin-azure-key-do-not-leak"
)

// TestRunServesBuckets runs the emulator with a public and a private
// bucket, ingests from both, and checks that the debug log holds no secret.
func TestRunServesBuckets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr emutest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-v", "-rate-limit", "0", "-extraction-delay", "0", "-processing-delay", "0",
			"-bucket", "s3://open=" + dir, "-bucket", "s3://closed=" + dir,
			"-bucket-credentials", "s3://closed=aws:KEY:" + testAWSSecret}, &stdout, &stderr)
	}()
	c := client(t, waitListening(t, &stdout, &stderr))
	tests := []struct {
		url    string
		creds  *pb.AWSCreds
		want   statuspb.StatusCode
		detail string
	}{
		{"s3://open/note", nil, statuspb.StatusCode_JOB_COMPLETED, ""},
		{"s3://closed/note", &pb.AWSCreds{Id: "KEY", Secret: testAWSSecret}, statuspb.StatusCode_JOB_COMPLETED, ""},
		{"s3://closed/note", &pb.AWSCreds{Id: "KEY", Secret: "wrong"}, statuspb.StatusCode_LIST_OBJECTS_FAILED, "access denied listing s3://closed/note"},
		{"s3://closed/note", nil, statuspb.StatusCode_LIST_OBJECTS_FAILED, "access denied"},
		{"s3://elsewhere/note", nil, statuspb.StatusCode_LIST_OBJECTS_FAILED, "does not exist"},
	}
	for _, tc := range tests {
		src := &pb.InputsDataSource{Url: &pb.DataSourceURL{Url: tc.url}}
		if tc.creds != nil {
			src.Url.Credentials = &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_S3Creds{S3Creds: tc.creds}}
		}
		resp, err := c.PostInputsDataSources(keyCtx(t, "any"), &pb.PostInputsDataSourcesRequest{UserAppId: uai(), DataSources: []*pb.InputsDataSource{src}})
		if err != nil || resp.Status.GetCode() != statuspb.StatusCode_SUCCESS {
			t.Fatalf("%s: %v %v", tc.url, resp.GetStatus(), err)
		}
		id := resp.InputsAddJobs[0].ExtractionJobs[0].Id
		got, err := c.GetInputsExtractionJob(keyCtx(t, "any"), &pb.GetInputsExtractionJobRequest{UserAppId: uai(), InputsExtractionJobId: id})
		if err != nil {
			t.Fatal(err)
		}
		st := got.InputsExtractionJob.GetStatus()
		if st.GetCode() != tc.want || !strings.Contains(st.GetDetails(), tc.detail) {
			t.Errorf("%s: %v %q, want %v %q", tc.url, st.GetCode(), st.GetDetails(), tc.want, tc.detail)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
	if !strings.Contains(stderr.String(), "extraction job") {
		t.Errorf("no debug log of extraction jobs: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), testAWSSecret) || strings.Contains(stdout.String(), testAWSSecret) {
		t.Fatal("a credential was logged")
	}
}
