package cloudjob_test

import (
	"strings"
	"testing"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
)

func TestParseConflict(t *testing.T) {
	for in, want := range map[string]cloudjob.Conflict{"": cloudjob.ConflictSkip, "skip": cloudjob.ConflictSkip, "SUFFIX": cloudjob.ConflictSuffix, " suffix ": cloudjob.ConflictSuffix} {
		got, err := cloudjob.ParseConflict(in)
		if err != nil || got != want {
			t.Errorf("ParseConflict(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := cloudjob.ParseConflict("overwrite"); err == nil {
		t.Error("ParseConflict accepted overwrite")
	}
}

func TestSpecValidate(t *testing.T) {
	ok := func() cloudjob.Spec { return cloudjob.Spec{URLs: []string{"s3://b/p"}} }
	tests := []struct {
		name   string
		mutate func(*cloudjob.Spec)
		want   string
	}{
		{"ok", func(*cloudjob.Spec) {}, ""},
		{"every scheme", func(s *cloudjob.Spec) {
			s.URLs = []string{"gs://b", "https://a.blob.core.windows.net/c", "http://h/a.zip", "s3://b"}
		}, ""},
		{"no url", func(s *cloudjob.Spec) { s.URLs = nil }, "no URL"},
		{"ftp", func(s *cloudjob.Spec) { s.URLs = []string{"ftp://h/x"} }, "use s3://"},
		{"no bucket", func(s *cloudjob.Spec) { s.URLs = []string{"s3:///x"} }, "no bucket"},
		{"sas token not echoed", func(s *cloudjob.Spec) { s.URLs = []string{"ftp://h/x?sig=SECRETSIG"} }, "?[redacted]"},
		{"empty concept", func(s *cloudjob.Spec) { s.Concepts = []string{" "} }, "empty concept"},
		{"bad dataset", func(s *cloudjob.Spec) { s.DatasetIDs = []string{"a b"} }, "dataset ID"},
		{"bad metadata", func(s *cloudjob.Spec) { s.Metadata = map[string]any{"f": func() {}} }, "metadata"},
		{"bad job id", func(s *cloudjob.Spec) { s.JobID = "a/b" }, "job ID"},
		{"long job id", func(s *cloudjob.Spec) { s.JobID = strings.Repeat("a", 129) }, "job ID"},
		{"bad conflict", func(s *cloudjob.Spec) { s.Conflict = 9 }, "conflict"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.mutate(&s)
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRETSIG") {
				t.Fatalf("the error shows a signature: %v", err)
			}
		})
	}
}

func TestSpecRequest(t *testing.T) {
	spec := cloudjob.Spec{
		URLs:       []string{"s3://b/p", "gs://g/q", "https://acct.blob.core.windows.net/c/r", "https://example.com/a.zip"},
		Concepts:   []string{"cat", "dog"},
		DatasetIDs: []string{"ds1"},
		Metadata:   map[string]any{"k": "v", "n": 2},
		Conflict:   cloudjob.ConflictSuffix,
		Credentials: cloudjob.Credentials{
			AWS:   &cloudjob.AWSCredentials{Region: "r", AccessKeyID: "id", SecretAccessKey: "s", SessionToken: "t"},
			GCP:   &cloudjob.GCPCredentials{ServiceAccountJSON: "{}"},
			Azure: &cloudjob.AzureCredentials{AccountName: "acct", AccountKey: "k"},
		},
		JobID: "job-1",
	}
	req, err := spec.Request()
	if err != nil {
		t.Fatal(err)
	}
	if len(req.DataSources) != 4 {
		t.Fatalf("%d data sources", len(req.DataSources))
	}
	for i, ds := range req.DataSources {
		if ds.InputsAddJobId != "job-1" || ds.InputIdConflictResolution != pb.InputIDConflictResolution_SUFFIX || ds.Url.Url != spec.URLs[i] {
			t.Errorf("data source %d: %v", i, ds)
		}
		tm := ds.InputTemplate
		if len(tm.Data.Concepts) != 2 || tm.Data.Concepts[0].Id != "cat" || tm.Data.Concepts[0].Value != 1 || tm.Data.Concepts[1].Value != 1 {
			t.Errorf("concepts %v", tm.Data.Concepts)
		}
		if len(tm.DatasetIds) != 1 || tm.DatasetIds[0] != "ds1" || tm.Data.Metadata.Fields["n"].GetNumberValue() != 2 || tm.Data.Metadata.Fields["k"].GetStringValue() != "v" {
			t.Errorf("template %v", tm)
		}
	}
	creds := req.DataSources
	if c := creds[0].Url.Credentials.GetS3Creds(); c == nil || c.Id != "id" || c.Secret != "s" || c.Token != "t" || c.Region != "r" {
		t.Errorf("s3 creds %v", creds[0].Url.Credentials)
	}
	if c := creds[1].Url.Credentials.GetGcpCreds(); string(c) != "{}" {
		t.Errorf("gcp creds %v", creds[1].Url.Credentials)
	}
	if c := creds[2].Url.Credentials.GetAzureBlobCreds(); c == nil || c.AccountName != "acct" || c.AccountKey != "k" {
		t.Errorf("azure creds %v", creds[2].Url.Credentials)
	}
	if creds[3].Url.Credentials != nil {
		t.Errorf("an archive URL got credentials")
	}

	// Without a job ID, each request gets a random one shared by its URLs.
	spec.JobID = ""
	r1, _ := spec.Request()
	r2, _ := spec.Request()
	if id := r1.DataSources[0].InputsAddJobId; id == "" || id != r1.DataSources[3].InputsAddJobId || id == r2.DataSources[0].InputsAddJobId {
		t.Errorf("job ids %q %q %q", id, r1.DataSources[3].InputsAddJobId, r2.DataSources[0].InputsAddJobId)
	}
	if _, err := (cloudjob.Spec{}).Request(); err == nil {
		t.Error("Request accepted an empty spec")
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b/p": "s3://b/p",
		"https://a.blob.core.windows.net/c?sv=1&sig=abc": "https://a.blob.core.windows.net/c?[redacted]",
		"https://h/x.zip#frag":                           "https://h/x.zip?[redacted]",
	} {
		if got := cloudjob.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
