package ids

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/internal/identity"
)

// FileKey returns the Key of an item read from a local file: its absolute
// path, size and modification time. A file that changed gets a new key and
// is delivered again.
func FileKey(path string, size int64, modTime time.Time) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fmt.Sprintf("file:%s|%d|%d", path, size, modTime.UnixNano())
}

// IDKey returns the Key of an item whose source gives its ID.
func IDKey(id string) string { return "id:" + id }

// URLKey returns the Key of an item the server fetches from a URL.
func URLKey(kind pipeline.Kind, rawURL string) string {
	return "url:" + kind.String() + "|" + identity.NormalizeURL(rawURL)
}

// TextKey returns the Key of a raw text item.
func TextKey(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "text:" + hex.EncodeToString(sum[:16])
}

// ScopeKey appends the dataset scope to key, as DeriveID scopes IDs: the same
// file sent to another dataset is another input.
func ScopeKey(key string, datasetIDs []string) string {
	if len(datasetIDs) == 0 || key == "" {
		return key
	}
	return key + "|ds=" + identity.Scope(datasetIDs)
}

// StableKey returns the part of key that stays when its item is edited:
// without the dataset scope, and for a file key without size and
// modification time and without the fingerprints of the file's companions
// (sidecar, annotation file, paired text) that sources append (see FileKey
// and ScopeKey). A rerun finds the earlier version of an edited item by it.
func StableKey(key string) string { return identity.Stable(key) }
