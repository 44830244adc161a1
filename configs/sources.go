package configs

import (
	"errors"
	"fmt"
	"strings"
)

// Source is one entry of the job's sources list: exactly one of its fields
// is set, named by its key in YAML:
//
//	sources:
//	  - dir: {path: data/photos}
//	  - csv: {path: manifest.csv}
//	  - urls: {path: urls.txt, kind: image}
//	  - report: {path: .ingest/job/failures.jsonl}
//	  - cloud: {url: s3://bucket/prefix/}
type Source struct {
	Dir    *DirSource    `yaml:"dir,omitempty" json:"dir,omitempty"`
	CSV    *CSVSource    `yaml:"csv,omitempty" json:"csv,omitempty"`
	URLs   *URLSource    `yaml:"urls,omitempty" json:"urls,omitempty"`
	Report *ReportSource `yaml:"report,omitempty" json:"report,omitempty"`
	Cloud  *CloudSource  `yaml:"cloud,omitempty" json:"cloud,omitempty"`
}

// Kind returns the key of the set field ("dir", "csv", ...), or "".
func (s Source) Kind() string {
	var kinds []string
	if s.Dir != nil {
		kinds = append(kinds, "dir")
	}
	if s.CSV != nil {
		kinds = append(kinds, "csv")
	}
	if s.URLs != nil {
		kinds = append(kinds, "urls")
	}
	if s.Report != nil {
		kinds = append(kinds, "report")
	}
	if s.Cloud != nil {
		kinds = append(kinds, "cloud")
	}
	return strings.Join(kinds, ",")
}

func (s Source) validate() error {
	switch k := s.Kind(); {
	case k == "":
		return errors.New("empty source: use one of dir, csv, urls, report, cloud")
	case strings.Contains(k, ","):
		return fmt.Errorf("one source per list entry, got %s", k)
	}
	var errs []error
	need := func(key, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s.%s: required", s.Kind(), key))
		}
	}
	switch {
	case s.Dir != nil:
		need("path", s.Dir.Path)
	case s.CSV != nil:
		need("path", s.CSV.Path)
		switch s.CSV.Format {
		case "", "auto", "sdk", "rich":
		default:
			errs = append(errs, fmt.Errorf("csv.format: %q is not one of auto, sdk, rich", s.CSV.Format))
		}
	case s.URLs != nil:
		need("path", s.URLs.Path)
	case s.Report != nil:
		need("path", s.Report.Path)
	case s.Cloud != nil:
		need("url", s.Cloud.URL)
	}
	return errors.Join(errs...)
}

func (s Source) masked() Source {
	if s.Cloud != nil {
		c := *s.Cloud
		c.Credentials = c.Credentials.masked()
		s.Cloud = &c
	}
	return s
}

// DirSource reads a local folder recursively.
type DirSource struct {
	// Path is the folder. Required.
	Path string `yaml:"path" json:"path"`
	// Include and Exclude are globs (with **) matched against paths
	// relative to Path. Default: include everything.
	Include []string `yaml:"include,omitempty" json:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Kind forces the kind of every file; default: detected from content.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// IgnoreCase matches include and exclude case-insensitively.
	IgnoreCase bool `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
	// FollowSymlinks follows symbolic links. Default false.
	FollowSymlinks bool `yaml:"follow_symlinks,omitempty" json:"follow_symlinks,omitempty"`
	// IncludeHidden walks files and folders whose name starts with ".".
	// Default false.
	IncludeHidden bool `yaml:"include_hidden,omitempty" json:"include_hidden,omitempty"`
	// Sidecars reads cat.json beside cat.jpg. Default true.
	Sidecars *bool `yaml:"sidecars,omitempty" json:"sidecars,omitempty"`
	// LabelsFromFolders makes the parent folder name a concept.
	LabelsFromFolders bool `yaml:"labels_from_folders,omitempty" json:"labels_from_folders,omitempty"`
	// SplitFromPath sets metadata split from train/val/test folders.
	SplitFromPath bool `yaml:"split_from_path,omitempty" json:"split_from_path,omitempty"`
	// SplitDatasets maps a split (train, validate, test) to a dataset ID.
	SplitDatasets map[string]string `yaml:"split_datasets,omitempty" json:"split_datasets,omitempty"`
	// PairText joins cat.jpg and cat.txt into one multimodal input.
	PairText bool `yaml:"pair_text,omitempty" json:"pair_text,omitempty"`
	// Annotations joins an annotation file set to the images.
	Annotations *Annotations `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	// DatasetIDs are added to every input of this source.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
}

// Annotations names annotation files for a directory source.
type Annotations struct {
	// Format is coco, yolo or voc.
	Format string `yaml:"format" json:"format"`
	// Path is the COCO JSON file, the YOLO labels folder or the VOC XML
	// folder (relative to the job file).
	Path string `yaml:"path" json:"path"`
	// Classes is the YOLO classes file. Default <path>/classes.txt.
	Classes string `yaml:"classes,omitempty" json:"classes,omitempty"`
	// Polygons (COCO) makes each segmentation polygon a region instead of
	// the annotation's box. Default false.
	Polygons bool `yaml:"polygons,omitempty" json:"polygons,omitempty"`
	// InputConcepts also puts every region label on the input as a
	// positive concept. Default false.
	InputConcepts bool `yaml:"input_concepts,omitempty" json:"input_concepts,omitempty"`
	// IgnoreUnmatched does not report annotated images that the walk did
	// not find (when include/exclude upload a subset on purpose).
	IgnoreUnmatched bool `yaml:"ignore_unmatched,omitempty" json:"ignore_unmatched,omitempty"`
}

// CSVSource reads a CSV manifest.
type CSVSource struct {
	// Path is the manifest. Required.
	Path string `yaml:"path" json:"path"`
	// Format is auto (default), sdk (the official SDK's columns) or rich.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// InputType (image, video, audio, text) and CSVType (raw, url,
	// file_path) describe the sdk format's input column.
	InputType string `yaml:"input_type,omitempty" json:"input_type,omitempty"`
	CSVType   string `yaml:"csv_type,omitempty" json:"csv_type,omitempty"`
	// DefaultKind is the kind of rich rows without a kind column.
	DefaultKind string `yaml:"default_kind,omitempty" json:"default_kind,omitempty"`
	// MetadataColumns copies extra columns into metadata: column → key.
	MetadataColumns map[string]string `yaml:"metadata_columns,omitempty" json:"metadata_columns,omitempty"`
	// SplitDatasets maps a split column value to a dataset ID.
	SplitDatasets map[string]string `yaml:"split_datasets,omitempty" json:"split_datasets,omitempty"`
	// DatasetIDs are added to every input of this source.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
}

// URLSource reads a list of URLs, one per line.
type URLSource struct {
	// Path is the list file. Required.
	Path string `yaml:"path" json:"path"`
	// Kind forces the kind; default: from each URL's extension.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// DatasetIDs are added to every input of this source.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`
}

// ReportSource re-reads a failure report to retry just those items.
type ReportSource struct {
	// Path is the JSONL failure report. Required.
	Path string `yaml:"path" json:"path"`
	// IncludeSkipped retries skipped items too. Default false.
	IncludeSkipped bool `yaml:"include_skipped,omitempty" json:"include_skipped,omitempty"`
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
