package cloudjob

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// Conflict is what happens when the input ID the server gives a file is
// taken (input_id_conflict_resolution).
type Conflict uint8

const (
	// ConflictSkip (the default) leaves the existing input alone and does
	// not create the new one.
	ConflictSkip Conflict = iota
	// ConflictSuffix creates the new input with a suffix ("-1", "-2"...).
	ConflictSuffix
)

// ParseConflict parses "skip" (or "") and "suffix", case-insensitively.
func ParseConflict(s string) (Conflict, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "skip":
		return ConflictSkip, nil
	case "suffix":
		return ConflictSuffix, nil
	}
	return 0, fmt.Errorf("conflict %q: want skip or suffix", s)
}

// String returns "skip" or "suffix".
func (c Conflict) String() string {
	if c == ConflictSuffix {
		return "suffix"
	}
	return "skip"
}

func (c Conflict) proto() pb.InputIDConflictResolution {
	if c == ConflictSuffix {
		return pb.InputIDConflictResolution_SUFFIX
	}
	return pb.InputIDConflictResolution_SKIP
}

// Spec describes one cloud ingestion: what to ingest and what every input
// created gets.
type Spec struct {
	// URLs are the data sources: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX,
	// https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, or the http(s)
	// URL of a zip, tar or tar.gz archive. A URL is a prefix filter: it
	// takes every object whose key starts with it. At least one.
	URLs []string
	// Concepts are labels set (value 1) on every input. Each is sent with
	// the concept ID derived from it (ids.ConceptID: "Golden Retriever" is
	// ID "golden-retriever" named "Golden Retriever"), or unchanged with
	// VerbatimConcepts.
	Concepts []string
	// VerbatimConcepts sends Concepts as their own IDs, unchanged and
	// unchecked (the job file's concept_ids: verbatim).
	VerbatimConcepts bool
	// DatasetIDs are the datasets every input is added to.
	DatasetIDs []string
	// Metadata is set on every input; it must convert to a
	// google.protobuf.Struct (JSON-like values).
	Metadata map[string]any
	// Conflict is the input ID conflict resolution. Default ConflictSkip.
	Conflict Conflict
	// Credentials open private buckets; see CredentialSources.
	Credentials Credentials
	// JobID is the inputs-add job every URL's extraction job belongs to.
	// Empty means a random one.
	JobID string
}

// Validate reports every problem of the spec, without touching the network.
func (s Spec) Validate() error {
	var errs []error
	if len(s.URLs) == 0 {
		errs = append(errs, errors.New("no URL to ingest"))
	}
	for _, u := range s.URLs {
		if err := checkURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range s.Concepts {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, errors.New("empty concept"))
		} else if _, _, err := ids.Resolve(c, c, s.VerbatimConcepts); err != nil {
			errs = append(errs, fmt.Errorf("concept %q: %w", c, err))
		}
	}
	for _, d := range s.DatasetIDs {
		if err := ids.ValidID(d); err != nil {
			errs = append(errs, fmt.Errorf("dataset %s", strings.Replace(err.Error(), "input ID", "ID", 1)))
		}
	}
	if s.Metadata != nil {
		if _, err := structpb.NewStruct(s.Metadata); err != nil {
			errs = append(errs, fmt.Errorf("metadata: %w", err))
		}
	}
	if s.JobID != "" && !validJobID(s.JobID) {
		errs = append(errs, fmt.Errorf("job ID %q: use 1-%d letters, digits, '-' and '_'", s.JobID, maxJobIDLength))
	}
	if s.Conflict > ConflictSuffix {
		errs = append(errs, fmt.Errorf("conflict %d is not skip or suffix", s.Conflict))
	}
	return errors.Join(errs...)
}

// maxJobIDLength is the longest inputs-add job ID sent.
const maxJobIDLength = 128

func validJobID(id string) bool {
	if len(id) == 0 || len(id) > maxJobIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkURL accepts s3://, gs:// and http(s):// URLs with a bucket or host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q is not a URL", RedactURL(raw))
	}
	switch u.Scheme {
	case "s3", "gs", "http", "https":
	default:
		return fmt.Errorf("URL %q: use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, an Azure blob URL or an http(s) archive URL", RedactURL(raw))
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no bucket or host", RedactURL(raw))
	}
	return nil
}

// RedactURL drops what follows "?" or "#" in a URL (an Azure SAS token or a
// presigned S3 signature lives there), for printing and logging. The URL is
// sent to the server unchanged.
func RedactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i] + "?[redacted]"
	}
	return raw
}

// template is the input_template of every data source.
func (s Spec) template() (*pb.Input, error) {
	tmpl := &pb.Input{DatasetIds: append([]string(nil), s.DatasetIDs...), Data: &pb.Data{}}
	for _, c := range s.Concepts {
		id, name, err := ids.Resolve(c, c, s.VerbatimConcepts)
		if err != nil {
			return nil, fmt.Errorf("concept %q: %w", c, err)
		}
		// Value 1 explicitly: over gRPC a missing value reads as 0, a
		// negative label.
		tmpl.Data.Concepts = append(tmpl.Data.Concepts, &pb.Concept{Id: id, Name: name, Value: 1})
	}
	if s.Metadata != nil {
		md, err := structpb.NewStruct(s.Metadata)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		tmpl.Data.Metadata = md
	}
	return tmpl, nil
}

// Request builds the PostInputsDataSources request: one data source per
// URL, all in the inputs-add job s.JobID (a random ID when empty), each
// with the template and the credentials of its provider. It validates s
// first. The request carries secrets: do not log it.
func (s Spec) Request() (*pb.PostInputsDataSourcesRequest, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := s.template()
	if err != nil {
		return nil, err
	}
	jobID := s.JobID
	if jobID == "" {
		jobID = randomID()
	}
	req := &pb.PostInputsDataSourcesRequest{}
	for _, u := range s.URLs {
		req.DataSources = append(req.DataSources, &pb.InputsDataSource{
			InputsAddJobId:            jobID,
			Url:                       &pb.DataSourceURL{Url: u, Credentials: s.Credentials.proto(u)},
			InputIdConflictResolution: s.Conflict.proto(),
			InputTemplate:             tmpl,
		})
	}
	return req, nil
}

// randomID returns 32 random hex characters, the shape of Clarifai's IDs.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
