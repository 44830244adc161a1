package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
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
	if isNormalURL(raw) {
		return raw
	}
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

// isNormalURL reports whether raw is already in the form NormalizeURL
// gives, so that parsing and re-serializing it would return it unchanged:
// a lower-case http or https scheme, a lower-case host name without port or
// user info, then a path and query of plain characters, and no fragment.
// It may say false for URLs that are in normal form (they then take the
// slow path); it never says true for one that is not (FuzzNormalizeURL
// checks this). URL manifests are almost all of this form, and parsing
// every URL twice (key and ID) was a tenth of the CPU of a manifest run.
func isNormalURL(raw string) bool {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "http://"); !ok {
			return false
		}
	}
	i := 0
	for ; i < len(rest); i++ {
		c := rest[i]
		if c == '/' || c == '?' {
			break
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false // upper case, port, user info, IPv6 literal, escapes
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(rest); i++ {
		if !plainURLByte[rest[i]] {
			return false
		}
	}
	return true
}

// plainURLByte holds the bytes a path or query may have for isNormalURL:
// those url.URL.String writes back as they were parsed. '%' is not among
// them: an escaped path may be re-escaped differently.
var plainURLByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~/?=&" {
		t[c] = true
	}
	return t
}()

// DeriveID returns the deterministic ID of it, given the loaded content of
// its Blob (nil when it has none). It does not modify it. It is on the hot
// path of every item without an ID, so the small parts are framed in a
// stack buffer and only the content is streamed into the hash.
func DeriveID(it *Item, content []byte) string {
	var small [256]byte
	b := small[:0]
	b = appendPart(b, datasetScope(it.DatasetIDs))
	b = appendPart(b, it.Kind.String())
	h := sha256.New()
	switch {
	case it.Blob != nil:
		b = appendPart(b, "bytes")
		b = strconv.AppendInt(b, int64(len(content)), 10)
		b = append(b, ':')
		h.Write(b)
		h.Write(content)
		b = b[:0]
	case it.URL != "":
		b = appendPart(b, "url")
		b = appendPart(b, NormalizeURL(it.URL))
	}
	if it.Text != "" {
		b = appendPart(b, "text")
		b = appendPart(b, it.Text)
	}
	h.Write(b)
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h.Sum(sum[:0]))
	return string(out[:32])
}

// appendPart appends a length-prefixed part ("<len>:<bytes>"), so that no
// two different sequences of parts hash the same.
func appendPart(b []byte, part string) []byte {
	b = strconv.AppendInt(b, int64(len(part)), 10)
	b = append(b, ':')
	return append(b, part...)
}
