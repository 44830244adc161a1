package configs

import (
	"errors"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline/oneof"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
	"github.com/ingestkit/clarifai-ingest/sources/report"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
)

// Source is one entry of the job's sources list: exactly one of its fields
// is set, named by its key in YAML. Each is the Config of the source's own
// package, with its own keys, defaults and Validate:
//
//	sources:
//	  - dir: {path: data/photos}                 # sources/dir.Config
//	  - csv: {path: manifest.csv}                # sources/manifest.Config
//	  - urls: {path: urls.txt, kind: image}      # sources/urllist.Config
//	  - report: {path: .ingest/job/failures.jsonl} # sources/report.Config
//	  - cloud: {url: s3://bucket/prefix/}        # CloudSource
//
// Relative paths are relative to the job file; the job's
// upload.dataset_ids are added before each source's own (see Job.Sources).
// The json keys enter the job's fingerprint.
type Source struct {
	Dir    *dir.Config      `yaml:"dir,omitempty" json:"dir,omitempty"`
	CSV    *manifest.Config `yaml:"csv,omitempty" json:"csv,omitempty"`
	URLs   *urllist.Config  `yaml:"urls,omitempty" json:"urls,omitempty"`
	Report *report.Config   `yaml:"report,omitempty" json:"report,omitempty"`
	Cloud  *CloudSource     `yaml:"cloud,omitempty" json:"cloud,omitempty"`
}

// Kind returns the key of the set field ("dir", "csv", ...), or "" when
// none or more than one is set.
func (s Source) Kind() string {
	k, _ := oneof.Key(s, "source")
	return k
}

// validate checks that one field is set and that its config is valid. It
// does not touch the file system.
func (s Source) validate() error {
	k, err := oneof.Key(s, "source")
	if err != nil {
		return err
	}
	switch k {
	case "dir":
		err = s.Dir.Check() // the files are checked when the run builds the source
	case "csv":
		err = s.CSV.Validate()
	case "urls":
		err = s.URLs.Validate()
	case "report":
		err = s.Report.Validate()
	case "cloud":
		if s.Cloud.URL == "" {
			err = errors.New("cloud: url: required")
		}
	}
	if err == nil {
		return nil
	}
	// The sources' messages start with their package's name; the job file
	// calls them by their key.
	var lines []string
	for l := range strings.SplitSeq(err.Error(), "\n") {
		head, rest, ok := strings.Cut(l, ": ")
		if !ok || strings.Contains(head, " ") {
			rest = l
		}
		lines = append(lines, k+": "+rest)
	}
	return errors.New(strings.Join(lines, "\n"))
}

func (s Source) masked() Source {
	if s.Cloud != nil {
		c := *s.Cloud
		c.Credentials = c.Credentials.masked()
		s.Cloud = &c
	}
	return s
}

// CloudSource asks Clarifai to ingest a bucket prefix or archive URL itself
// (PostInputsDataSources).
type CloudSource struct {
	// URL is s3://bucket/prefix, gs://bucket/prefix, an Azure blob URL or
	// an archive URL. It is a prefix filter.
	URL string `yaml:"url" json:"url"`
	// Concepts, DatasetIDs and Metadata are copied onto every input created.
	Concepts   []string       `yaml:"concepts,omitempty" json:"concepts,omitempty"`
	DatasetIDs []string       `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
	Metadata   map[string]any `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	// Conflict is skip (default) or suffix: what happens to a taken input ID.
	Conflict    string           `yaml:"conflict,omitempty" json:"conflict,omitempty"`
	Credentials CloudCredentials `yaml:"credentials,omitempty" json:"credentials,omitempty"`
}

// CloudCredentials for a private bucket. Prefer environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION;
// GOOGLE_APPLICATION_CREDENTIALS; AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY)
// or, for AWS, a profile of the AWS shared files (aws_profile, else
// AWS_PROFILE); see sinks/clarifai/cloudjob.CredentialSources for the order.
type CloudCredentials struct {
	AWSRegion             string `yaml:"aws_region,omitempty" json:"aws_region,omitempty"`
	AWSProfile            string `yaml:"aws_profile,omitempty" json:"aws_profile,omitempty"`
	AWSAccessKeyID        string `yaml:"aws_access_key_id,omitempty" json:"aws_access_key_id,omitempty"`
	AWSSecretAccessKey    string `yaml:"aws_secret_access_key,omitempty" json:"aws_secret_access_key,omitempty"`
	AWSSessionToken       string `yaml:"aws_session_token,omitempty" json:"aws_session_token,omitempty"`
	GCPServiceAccountFile string `yaml:"gcp_service_account_file,omitempty" json:"gcp_service_account_file,omitempty"`
	AzureAccountName      string `yaml:"azure_account_name,omitempty" json:"azure_account_name,omitempty"`
	AzureAccountKey       string `yaml:"azure_account_key,omitempty" json:"azure_account_key,omitempty"`
}

func (c CloudCredentials) masked() CloudCredentials {
	c.AWSAccessKeyID = mask(c.AWSAccessKeyID)
	c.AWSSecretAccessKey = mask(c.AWSSecretAccessKey)
	c.AWSSessionToken = mask(c.AWSSessionToken)
	c.AzureAccountKey = mask(c.AzureAccountKey)
	return c
}
