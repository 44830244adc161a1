package manifest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// Format names a manifest schema.
type Format string

// The manifest schemas. See the package documentation for their columns.
const (
	// FormatAuto detects the schema from the header: a header with an
	// "input" column is the SDK format, any other header the rich schema.
	FormatAuto Format = ""
	// FormatSDK is the CSV format of the official Clarifai Python SDK
	// (Dataset.upload_from_csv), read unchanged.
	FormatSDK Format = "sdk"
	// FormatRich is this tool's own schema with one column per field.
	FormatRich Format = "rich"
	// formatAutoName is how a job file may spell FormatAuto.
	formatAutoName Format = "auto"
)

// CSVType says what the "input" column of an SDK-format manifest holds, as
// the SDK's csv_type argument does.
type CSVType string

// The SDK csv_type values.
const (
	// CSVRaw: the input cell is the raw text of a text input.
	CSVRaw CSVType = "raw"
	// CSVURL: the input cell is a URL the server fetches.
	CSVURL CSVType = "url"
	// CSVFilePath: the input cell is a local file, relative to the
	// manifest's folder unless absolute.
	CSVFilePath CSVType = "file_path"
)

// DefaultMaxRecordBytes is the default of Config.MaxRecordBytes.
const DefaultMaxRecordBytes = 32 << 20

// Config configures a manifest Source. The zero value of every field but
// Path is usable. The yaml keys are those of a job file's `csv:` source;
// the json keys enter the job's fingerprint, so they and the order of the
// fields must not change.
type Config struct {
	// Path is the manifest file. Required. It is opened by Stream (unless
	// Open is set), named as given in every message and provenance, and its
	// folder is the base of relative paths in the manifest.
	Path string `yaml:"path" json:"path"`
	// Open, if set, is called by Stream instead of os.Open(Path), once per
	// call, for manifests that are not local files (and for tests). It
	// should return a new reader from the start each time. Stream closes
	// what it returns.
	Open func() (io.ReadCloser, error) `yaml:"-" json:"-"`

	// Format forces a schema: sdk or rich; default FormatAuto ("" or
	// "auto": detect from the header).
	Format Format `yaml:"format,omitempty" json:"format,omitempty"`

	// InputType is the kind of every row of an SDK-format manifest (the
	// SDK's input_type): image, video, audio or text. Required when the
	// manifest is in the SDK format; there is no default, because guessing
	// wrong would upload URLs or paths as text.
	InputType pipeline.Kind `yaml:"input_type,omitempty" json:"input_type,omitempty"`
	// CSVType is what the input column of an SDK-format manifest holds
	// (the SDK's csv_type): raw (text only), url or file_path. Required when
	// the manifest is in the SDK format.
	CSVType CSVType `yaml:"csv_type,omitempty" json:"csv_type,omitempty"`

	// DefaultKind is the kind of a rich-schema row whose kind cell is empty
	// (or that has no kind column). Default KindUnknown: the kind is
	// inferred from the url or path extension (see media.KindFromExt), or is text
	// for a row with only a text cell.
	DefaultKind pipeline.Kind `yaml:"default_kind,omitempty" json:"default_kind,omitempty"`

	// MetadataColumns maps extra manifest columns to metadata keys: the
	// trimmed cell is stored as a JSON string under the key; an empty cell
	// sets nothing. Column names match the header case-insensitively.
	// Without a mapping, an unknown column is a header error.
	MetadataColumns map[string]string `yaml:"metadata_columns,omitempty" json:"metadata_columns,omitempty"`
	// SplitDatasets maps a rich-schema split value (train, validate, test)
	// to a dataset ID that rows of that split are added to. A split without
	// an entry only sets the "split" metadata field. Default none.
	SplitDatasets map[string]string `yaml:"split_datasets,omitempty" json:"split_datasets,omitempty"`
	// DatasetIDs are added to every item (the SDK's dataset_id), before the
	// row's own dataset_ids. Each must pass ids.ValidID.
	DatasetIDs []string `yaml:"dataset_ids,omitempty" json:"dataset_ids,omitempty"`

	// MaxRecordBytes bounds the size of one CSV record, and so the memory
	// one record can take; default DefaultMaxRecordBytes (32 MiB). A longer
	// record, such as one swallowed by a quote that is never closed, stops
	// the run with an error. Not a job file setting.
	MaxRecordBytes int `yaml:"-" json:"-"`
}

// sdkColumns are the only columns the SDK accepts.
var sdkColumns = []string{"inputid", "input", "concepts", "metadata", "geopoints"}

// richColumns are the columns of the rich schema.
var richColumns = []string{"id", "kind", "url", "path", "text", "concepts", "metadata",
	"lat", "lon", "dataset_ids", "split", "annotations"}

// splits are the accepted values of the split column.
var splits = []string{"train", "validate", "test"}

// withDefaults returns c with its defaults filled in and names normalized.
func (c Config) withDefaults() Config {
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.Format == formatAutoName {
		c.Format = FormatAuto
	}
	if len(c.MetadataColumns) > 0 {
		m := make(map[string]string, len(c.MetadataColumns))
		for col, key := range c.MetadataColumns {
			m[normColumn(col)] = key
		}
		c.MetadataColumns = m
	}
	return c
}

// Validate returns every problem with c, joined with errors.Join, or nil.
// New calls it.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("manifest: path is required"))
	}
	switch c.Format {
	case FormatAuto, formatAutoName, FormatSDK, FormatRich:
	default:
		errs = append(errs, fmt.Errorf("manifest: format %q: want %q, %q, auto or empty (detect)", c.Format, FormatSDK, FormatRich))
	}
	switch c.InputType {
	case pipeline.KindUnknown, pipeline.KindImage, pipeline.KindVideo, pipeline.KindAudio, pipeline.KindText:
	default:
		errs = append(errs, fmt.Errorf("manifest: input_type %v: want image, video, audio or text", c.InputType))
	}
	switch c.CSVType {
	case "", CSVURL, CSVFilePath:
	case CSVRaw:
		if c.InputType != pipeline.KindUnknown && c.InputType != pipeline.KindText {
			errs = append(errs, fmt.Errorf("manifest: csv_type raw holds text, but input_type is %v", c.InputType))
		}
	default:
		errs = append(errs, fmt.Errorf("manifest: csv_type %q: want raw, url or file_path", c.CSVType))
	}
	if c.Format == FormatSDK && (c.InputType == pipeline.KindUnknown || c.CSVType == "") {
		errs = append(errs, errors.New("manifest: the SDK format needs input_type and csv_type"))
	}
	if c.DefaultKind > pipeline.KindMultimodal {
		errs = append(errs, fmt.Errorf("manifest: default_kind %v is not a kind", c.DefaultKind))
	}
	for _, id := range c.DatasetIDs {
		if err := ids.ValidID(id); err != nil {
			errs = append(errs, fmt.Errorf("manifest: dataset_ids: %w", err))
		}
	}
	for split, id := range c.SplitDatasets {
		if !slices.Contains(splits, split) {
			errs = append(errs, fmt.Errorf("manifest: split_datasets: split %q: want train, validate or test", split))
		}
		if err := ids.ValidID(id); err != nil {
			errs = append(errs, fmt.Errorf("manifest: split_datasets[%q]: %w", split, err))
		}
	}
	seenCol := map[string]bool{}
	seenKey := map[string]string{}
	for col, key := range c.MetadataColumns {
		n := normColumn(col)
		switch {
		case n == "":
			errs = append(errs, errors.New("manifest: metadata_columns: empty column name"))
		case slices.Contains(sdkColumns, n) || slices.Contains(richColumns, n):
			errs = append(errs, fmt.Errorf("manifest: metadata_columns: %q is a manifest column, not an extra one", col))
		case seenCol[n]:
			errs = append(errs, fmt.Errorf("manifest: metadata_columns: column %q is mapped twice", col))
		}
		seenCol[n] = true
		if key == "" {
			errs = append(errs, fmt.Errorf("manifest: metadata_columns[%q]: empty metadata key", col))
		} else if other, ok := seenKey[key]; ok {
			errs = append(errs, fmt.Errorf("manifest: metadata_columns: columns %q and %q both map to key %q", other, col, key))
		}
		seenKey[key] = col
	}
	return errors.Join(errs...)
}

// normColumn is the form in which header names and MetadataColumns keys
// are compared.
func normColumn(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
