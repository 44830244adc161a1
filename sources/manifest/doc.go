// Package manifest is the CSV manifest source: it streams the rows of a CSV
// file as pipeline items, one row at a time, so a manifest of millions of
// rows takes the memory of one row. New reads the Clarifai Python SDK's CSV
// format unchanged or this tool's richer schema; ParseLabels and
// ParseMetadata parse the label and metadata cells.
//
// Design notes: DESIGN.md in this folder.
package manifest
