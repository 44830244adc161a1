// Package manifest is the CSV manifest source: it streams the rows of a CSV
// file as pipeline items, one row at a time, so a manifest of millions of
// rows takes the memory of one row. New reads the Clarifai Python SDK's CSV
// format unchanged or this tool's richer schema; ParseLabels and
// ParseMetadata parse the label and metadata cells.
package manifest

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// # CSV dialect
//
// RFC 4180, read with encoding/csv: a header row, comma separators, fields
// optionally double-quoted with inner quotes doubled (""), quoted fields may
// span lines, LF or CRLF line endings, a UTF-8 byte order mark at the start
// tolerated, spaces before a field ignored. Every row must have as many
// fields as the header. Header names match case-insensitively and are
// trimmed. Cells are trimmed (except the SDK format's raw text). All text
// must be UTF-8.
//
// # Row numbers
//
// Rows are numbered as a spreadsheet shows them: the header is row 1, each
// record is one row even when a quoted field spans several lines, and a
// blank line counts as a row. Provenance.Row and every message give this
// number; messages about malformed CSV also give the line and column.
//
// # The SDK format
//
// The format of the Clarifai Python SDK's Dataset.upload_from_csv, read
// unchanged. It is detected by an "input" column, or forced with
// Config.Format = FormatSDK. The caller gives the input type and csv_type
// (Config.InputType, Config.CSVType), as with the SDK. Columns, any subset
// containing input:
//
//	inputid    the input ID (ids.ValidID); empty: derived from the content
//	input      raw text (CSVType raw), a URL (url), or a file path (file_path,
//	           relative to the manifest's folder unless absolute)
//	concepts   labels separated by ',', each positive (value 1), as written
//	metadata   a JSON object, as JSON or single-quoted: "{'k': 'v'}" (ParseMetadata)
//	geopoints  "longitude,latitude", longitude first
//
// Differences from the SDK, all on the side of keeping data: an empty
// concepts cell gives that row no labels and does not affect later rows
// (the SDK then drops the labels of every later row); labels are trimmed;
// an apostrophe inside a metadata value survives; the header may have a BOM;
// a bad row is reported and the run goes on (the SDK stops).
//
// # The rich schema
//
// This tool's own schema, detected by a header without an "input" column,
// or forced with Config.Format = FormatRich. Columns, any subset with at
// least one of url, path and text:
//
//	id           the input ID (ids.ValidID); empty: derived from the content
//	kind         image, video, audio, text or multimodal; empty: Config.DefaultKind,
//	             else from the url or path extension (media.KindFromExt): an image
//	             with a text is multimodal; only a text is text
//	url          an http(s) URL for the server to fetch
//	path         a local file, relative to the manifest's folder unless absolute
//	text         raw text: a text input, or the text of a multimodal input
//	concepts     labels separated by ',' or ';': cat, -cat, cat:0, cat:1 (ParseLabels)
//	metadata     a JSON object (ParseMetadata); numbers are float64
//	lat, lon     degrees, both or neither; lat in [-90, 90], lon in [-180, 180]
//	dataset_ids  dataset IDs separated by ',' or ';', added to Config.DatasetIDs
//	split        train, validate or test: metadata "split", and the dataset
//	             Config.SplitDatasets names for it
//	annotations  a JSON list of {"label": "cat", "box": [xmin, ymin, xmax, ymax]}
//	             or {"label": "cat", "polygon": [[x, y], ...]} in normalized
//	             coordinates; image inputs only. Only the shape is checked here.
//
// An image, video or audio row has a url or a path and no text; a text row
// has exactly one of url, path and text; a multimodal row has an image url
// or path and a text.
//
// In both formats, other columns are a header error unless
// Config.MetadataColumns maps them to metadata keys; mapped cells are
// stored as strings, and an empty mapped cell sets nothing. A metadata key
// set by two columns to different values is a row error.
//
// # Items
//
// Every item has Prov{Source: Config.Path as given, Row, Path: the row's
// URL or resolved file path}, and a Key (see pipeline.Item.Key): IDKey when
// the row gives an ID, else FileKey (from a stat of the file), URLKey or
// TextKey; a multimodal item's key is its image's key joined with
// "|" and the TextKey of its text. The dataset scope is appended with
// ids.ScopeKey. Local files are stat'ed when the row is read, and
// their bytes loaded only when the sink needs them (pipeline.FileBlob).
//
// A row that cannot be used is sent as an item with Err set to a
// *pipeline.ItemError, for example
//
//	data/m.csv row 12: lat: want a number in [-90, 90], got "91.5"
//
// and reading goes on with the next row. Duplicate IDs or rows are not
// detected here: that would need memory growing with the manifest.
