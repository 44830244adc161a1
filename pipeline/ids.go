package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strings"
)

// Input IDs.
//
// An item whose source gives no ID gets a deterministic one, so that a retry
// or a rerun of the same job can never create a second copy of an input:
//
//	id = hex(sha256(scope 0x00 kind 0x00 identity))[:32]
//
// where identity is the file's bytes (local files and archive members), the
// normalized URL (URL items), or the raw text (text items); a multimodal item
// hashes its image identity and its text. scope is the item's sorted dataset
// IDs joined by ",", so the same file sent to two datasets is two inputs.
// 32 hex characters carry 128 bits: a collision among a billion inputs has a
// probability below 1e-20.
//
// User-given IDs are kept as they are, and must match ValidID: 1 to
// MaxIDLength characters from [A-Za-z0-9_-], which is within what Clarifai
// accepts for input IDs (the API answers "id must be between 1 and 48
// characters long" to longer ones).

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
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("input ID %q has the character %q at %d; use only letters, digits, '-' and '_'", id, c, i)
		}
	}
	return nil
}

// NormalizeURL returns the form of a URL used for its identity: scheme and
// host lower-cased, default port and fragment removed. Path and query are
// kept as they are, since servers may treat them case-sensitively.
func NormalizeURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimSpace(raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// DeriveID returns the deterministic ID of it, given the loaded content of
// its Blob (nil when it has none). It does not modify it.
func DeriveID(it *Item, content []byte) string {
	h := sha256.New()
	ds := slices.Clone(it.DatasetIDs)
	slices.Sort(ds)
	writePart(h, []byte(strings.Join(ds, ",")))
	writePart(h, []byte(it.Kind.String()))
	switch {
	case it.Blob != nil:
		writePart(h, []byte("bytes"))
		writePart(h, content)
	case it.URL != "":
		writePart(h, []byte("url"))
		writePart(h, []byte(NormalizeURL(it.URL)))
	}
	if it.Text != "" {
		writePart(h, []byte("text"))
		writePart(h, []byte(it.Text))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// writePart writes a length-prefixed part, so that no two different
// sequences of parts hash the same.
func writePart(h hash.Hash, b []byte) {
	fmt.Fprintf(h, "%d:", len(b))
	h.Write(b)
}
