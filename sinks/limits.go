package sinks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Documented Clarifai upload limits (docs "Upload Limits"). "MB" in the docs
// is read as decimal megabytes, the stricter reading: an item refused here
// might have been accepted, but an item sent is never over a limit.
const (
	// MaxItemsPerRequest is the most inputs one PostInputs request may carry.
	MaxItemsPerRequest = 128
	// MaxFileBytes bounds the content of an image, audio or text item (and
	// the image of a multimodal item): it must be strictly smaller.
	MaxFileBytes int64 = 20_000_000
	// MaxVideoBytes bounds the content of a video sent as bytes: it must be
	// strictly smaller. (By URL the server fetches up to 300 MB itself.)
	MaxVideoBytes int64 = 128_000_000
	// MaxRequestBytes is the documented limit of one request's total size.
	MaxRequestBytes int64 = 128_000_000
	// MaxBatchBytes is the largest BatchPolicy.MaxBytes accepted: it leaves
	// 8 MB under MaxRequestBytes for the protobuf framing, IDs, concepts and
	// metadata that EstimateSize only approximates.
	MaxBatchBytes int64 = 120_000_000
)

// MaxMetadataDepth is the deepest nesting of objects and arrays sent in an
// item's metadata, the metadata object itself being level 1. A protobuf
// decoder refuses a message nested more than 100 messages deep (the default
// recursion limit of the C++, Java and Python runtimes), and refuses it
// whole: one such item would fail every input of its request. The request,
// the input and its data take 3 of those 100, and each level of metadata at
// most 3 more (a Struct's field entry, the Value, the Struct or ListValue
// in it), so 30 levels always decode.
const MaxMetadataDepth = 30

// itemOverhead is what EstimateSize adds to every item for its ID, dataset
// IDs, geo point and protobuf framing; metadataOverhead is added when the
// item has metadata. Both are deliberately generous: the byte budget is a
// planning figure, not an exact one.
const (
	itemOverhead     = 256
	metadataOverhead = 1024
	conceptOverhead  = 16
)

// LimitFor returns the exclusive size limit in bytes for the content of an
// item of kind k: content must be strictly smaller than the limit.
func LimitFor(k pipeline.Kind) int64 {
	if k == pipeline.KindVideo {
		return MaxVideoBytes
	}
	return MaxFileBytes
}

// CheckLimits returns nil if it is within the documented per-item limits, or
// an *pipeline.ItemError naming the item, its size and the limit. It reads
// only Blob.Size and the lengths of Text, never the content, so it is cheap
// enough to run on every item before batching. An item it refuses must be
// failed, never sent.
func CheckLimits(it *pipeline.Item) error {
	limit := LimitFor(it.Kind)
	if it.Blob != nil && it.Blob.Size >= limit {
		return pipeline.Errorf(it.Prov, "", "%s is %d bytes; Clarifai accepts %s content under %d bytes (%s)",
			it.Kind, it.Blob.Size, it.Kind, limit, mb(limit))
	}
	if n := int64(len(it.Text)); n >= MaxFileBytes {
		return pipeline.Errorf(it.Prov, "text", "text is %d bytes; Clarifai accepts text under %d bytes (%s)",
			n, MaxFileBytes, mb(MaxFileBytes))
	}
	if it.Metadata != nil && tooDeep(it.Metadata, 1) {
		return pipeline.Errorf(it.Prov, "metadata", "nested more than %d levels deep (at %s); "+
			"the request would not decode on the server", MaxMetadataDepth, deepPath(it.Metadata))
	}
	return nil
}

// tooDeep reports whether v, at nesting level (1 for the metadata object),
// nests objects and arrays deeper than MaxMetadataDepth. It stops at the
// first level too deep, so its cost is bounded by the metadata's size and
// it allocates nothing for the JSON types (map[string]any, []any); other
// maps and slices, which metadata conversion accepts too, are walked by
// reflection.
func tooDeep(v any, level int) bool {
	switch v := v.(type) {
	case map[string]any:
		if level > MaxMetadataDepth {
			return true
		}
		for _, e := range v {
			if tooDeep(e, level+1) {
				return true
			}
		}
		return false
	case []any:
		if level > MaxMetadataDepth {
			return true
		}
		for _, e := range v {
			if tooDeep(e, level+1) {
				return true
			}
		}
		return false
	case nil, string, bool, float64, float32, int, int64, json.Number:
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		if level > MaxMetadataDepth {
			return true
		}
		if rv.Kind() == reflect.Map {
			for it := rv.MapRange(); it.Next(); {
				if tooDeep(it.Value().Interface(), level+1) {
					return true
				}
			}
			return false
		}
		for i := range rv.Len() {
			if tooDeep(rv.Index(i).Interface(), level+1) {
				return true
			}
		}
	}
	return false
}

// deepPath names where metadata m is too deep (tooDeep): the keys and
// indexes down to the first level past MaxMetadataDepth, the middle elided.
func deepPath(m map[string]any) string {
	var parts []string
	var walk func(v any, level int) bool
	walk = func(v any, level int) bool {
		if level > MaxMetadataDepth {
			return true
		}
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if tooDeep(v[k], level+1) {
					parts = append(parts, k)
					return walk(v[k], level+1)
				}
			}
		case []any:
			for i, e := range v {
				if tooDeep(e, level+1) {
					parts = append(parts, "["+strconv.Itoa(i)+"]")
					return walk(e, level+1)
				}
			}
		}
		return false
	}
	walk(m, 1)
	if len(parts) > 8 {
		parts = append(parts[:4:4], append([]string{"..."}, parts[len(parts)-3:]...)...)
	}
	return strings.ReplaceAll(strings.Join(parts, "."), ".[", "[")
}

func mb(n int64) string { return fmt.Sprintf("%d MB", n/1_000_000) }

// EstimateSize returns the number of bytes it is expected to add to a
// request: its content size (Blob.Size, or the text and URL lengths) plus an
// allowance for its ID, labels, metadata and framing. It does not load the
// content.
func EstimateSize(it *pipeline.Item) int64 {
	n := int64(itemOverhead + len(it.Text) + len(it.URL) + len(it.ID))
	if it.Blob != nil {
		n += it.Blob.Size
	}
	for _, c := range it.Concepts {
		n += int64(conceptOverhead + len(c.ID) + len(c.Name))
	}
	for _, d := range it.DatasetIDs {
		n += int64(len(d) + 2)
	}
	if len(it.Metadata) > 0 {
		n += metadataOverhead
	}
	return n
}
