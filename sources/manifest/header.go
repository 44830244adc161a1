package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// layout is what the header says: the schema and where each column is.
type layout struct {
	format Format
	names  []string       // normalized header names, by field index
	col    map[string]int // schema column → field index
	meta   []metaColumn   // MetadataColumns present in the header
}

// metaColumn is an extra column copied into metadata.
type metaColumn struct {
	index     int
	name, key string
}

// cell returns the value of column name in rec, or "" when the header has
// no such column.
func (l *layout) cell(rec []string, name string) string {
	if i, ok := l.col[name]; ok {
		return rec[i]
	}
	return ""
}

// has reports whether the header has the schema column name.
func (l *layout) has(name string) bool {
	_, ok := l.col[name]
	return ok
}

// columnName returns the header name of field i, or "" past the header.
func (l *layout) columnName(i int) string {
	if i >= 0 && i < len(l.names) {
		return l.names[i]
	}
	return ""
}

// planHeader checks the header and decides the schema. Its errors are
// fatal: no row of the manifest could be read correctly with this header.
func planHeader(header []string, cfg Config) (*layout, error) {
	l := &layout{names: make([]string, len(header)), col: make(map[string]int, len(header))}
	var rest []string // columns that are not mapped to metadata
	seen := make(map[string]int, len(header))
	for i, h := range header {
		n := normColumn(h)
		if n == "" {
			return nil, fmt.Errorf("column %d has no name; want a header row naming every column", i+1)
		}
		if j, dup := seen[n]; dup {
			return nil, fmt.Errorf("column %q appears twice (columns %d and %d)", n, j+1, i+1)
		}
		seen[n] = i
		l.names[i] = n
		if key, ok := cfg.MetadataColumns[n]; ok {
			l.meta = append(l.meta, metaColumn{index: i, name: n, key: key})
			continue
		}
		rest = append(rest, n)
		l.col[n] = i
	}

	l.format = cfg.Format
	if l.format == FormatAuto {
		l.format = FormatRich
		if slices.Contains(rest, "input") {
			l.format = FormatSDK
		}
	}
	known := richColumns
	if l.format == FormatSDK {
		known = sdkColumns
	}
	var unknown []string
	for _, n := range rest {
		if !slices.Contains(known, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		hint := ""
		if l.format == FormatRich && (l.has("inputid") || l.has("geopoints")) {
			hint = "; inputid and geopoints are SDK-format columns, and an SDK-format manifest needs an input column"
		}
		return nil, fmt.Errorf("unknown column(s) %s: the %s format accepts %s; map other columns to metadata with metadata_columns%s",
			strings.Join(unknown, ", "), l.format, strings.Join(known, ", "), hint)
	}

	switch l.format {
	case FormatSDK:
		if !l.has("input") {
			return nil, fmt.Errorf("want an input column in an SDK-format manifest, got the columns %s", strings.Join(l.names, ", "))
		}
		if cfg.InputType == pipeline.KindUnknown || cfg.CSVType == "" {
			return nil, fmt.Errorf("the manifest is in the SDK format (it has an input column): want InputType (image, video, audio or text) and CSVType (raw, url or file_path) set, as the SDK's input_type and csv_type")
		}
	case FormatRich:
		if !l.has("url") && !l.has("path") && !l.has("text") {
			return nil, fmt.Errorf("want at least one of the columns url, path and text, got the columns %s", strings.Join(l.names, ", "))
		}
		if l.has("lat") != l.has("lon") {
			return nil, fmt.Errorf("want both the lat and lon columns or neither, got only %s", map[bool]string{true: "lat", false: "lon"}[l.has("lat")])
		}
	}
	return l, nil
}
