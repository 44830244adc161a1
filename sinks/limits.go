package sinks

import (
	"fmt"

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
	return nil
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
