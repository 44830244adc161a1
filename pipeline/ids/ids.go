package ids

import (
	"fmt"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/internal/identity"
)

// MaxIDLength is the longest input ID this tool accepts from a user.
const MaxIDLength = 48

// ValidID returns nil if id can be used as a Clarifai input ID, or an error
// saying what is wrong with it.
func ValidID(id string) error {
	if id == "" {
		return fmt.Errorf("input ID is empty")
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("input ID %q is %d characters long; the limit is %d", id, len(id), MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !idChar(c) {
			return fmt.Errorf("input ID %q has the character %q at %d; use only letters, digits, '-' and '_'", id, c, i)
		}
	}
	return nil
}

// NormalizeURL returns the form of a URL used for its identity: scheme and
// host lower-cased, default port and fragment removed. Path and query are
// kept as they are, since servers may treat them case-sensitively.
func NormalizeURL(raw string) string { return identity.NormalizeURL(raw) }

// DeriveID returns the deterministic ID of it (see the package doc), given
// the loaded content of its Blob (nil when it has none). It does not modify
// it. Safe for concurrent use.
func DeriveID(it *pipeline.Item, content []byte) string {
	return identity.Derive(identity.Input{
		DatasetIDs: it.DatasetIDs,
		Kind:       it.Kind.String(),
		Blob:       it.Blob != nil,
		Content:    content,
		URL:        it.URL,
		Text:       it.Text,
	})
}
