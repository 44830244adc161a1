// Package identity holds the rule that gives an input its deterministic ID.
// pipeline/ids exports it (DeriveID, NormalizeURL, the keys) and package
// pipeline uses it to assign items to shards; neither may import the other
// for it, so the rule lives below both, written once.
package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Input is what a derived ID is made of.
type Input struct {
	// DatasetIDs scope the ID: the same content in two datasets is two
	// inputs. Their order does not matter.
	DatasetIDs []string
	// Kind is the item's kind as pipeline.Kind.String gives it.
	Kind string
	// Blob is true when the input's content is bytes, given in Content;
	// the URL is then not part of the identity.
	Blob    bool
	Content []byte
	URL     string
	Text    string
}

// Derive returns the 32-hex-character ID of in. It is on the hot path of
// every item without an ID, so the small parts are framed in a stack buffer
// and only the content is streamed into the hash.
func Derive(in Input) string {
	var small [256]byte
	b := small[:0]
	b = appendPart(b, Scope(in.DatasetIDs))
	b = appendPart(b, in.Kind)
	h := sha256.New()
	switch {
	case in.Blob:
		b = appendPart(b, "bytes")
		b = strconv.AppendInt(b, int64(len(in.Content)), 10)
		b = append(b, ':')
		h.Write(b)
		h.Write(in.Content)
		b = b[:0]
	case in.URL != "":
		b = appendPart(b, "url")
		b = appendPart(b, NormalizeURL(in.URL))
	}
	if in.Text != "" {
		b = appendPart(b, "text")
		b = appendPart(b, in.Text)
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

// Scope is the scope of an item in its IDs and keys: its dataset IDs sorted
// and joined by ",". One dataset, the common case, costs no copy.
func Scope(ids []string) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	ds := slices.Clone(ids)
	slices.Sort(ds)
	return strings.Join(ds, ",")
}

// NormalizeURL returns the form of a URL used for its identity: scheme and
// host lower-cased, default port and fragment removed. Path and query are
// kept as they are, since servers may treat them case-sensitively.
func NormalizeURL(raw string) string {
	if isNormalURL(raw) {
		return raw
	}
	return normalizeURLSlow(raw)
}

// normalizeURLSlow is NormalizeURL without its fast path: it parses raw and
// writes it back. The fast path must give what it gives (FuzzNormalizeURL).
func normalizeURLSlow(raw string) string {
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

// Stable returns the part of an item key (as pipeline/ids builds them) that
// stays the same when the item is edited: the key without its dataset scope
// ("|ds=..."), and for a local file ("file:<path>|<size>|<mtime>") without
// its size and modification time and without the fingerprints of the
// file's companions that a source appends after them ("|ann:...",
// "|text:...", "|sidecar:...": an annotation file, a paired text, a
// sidecar; what they bring is in the item's digests, not its identity).
// Two versions of one item (a label corrected, a sidecar added, the file
// rewritten, the item moved to another dataset) have the same stable key;
// the checkpoint finds an item's earlier version by it, and sharding
// assigns items by it so that an edit never moves an item to another
// shard. A key of another form is returned as it is.
func Stable(key string) string {
	if i := strings.LastIndexByte(key, '|'); i >= 0 && strings.HasPrefix(key[i+1:], "ds=") {
		key = key[:i]
	}
	if !strings.HasPrefix(key, "file:") {
		return key
	}
	for {
		i := strings.LastIndexByte(key, '|')
		if i < len("file:") || !isCompanion(key[i+1:]) {
			break
		}
		key = key[:i]
	}
	for range 2 {
		i := strings.LastIndexByte(key, '|')
		if i < len("file:") {
			return key
		}
		key = key[:i]
	}
	return key
}

// isCompanion reports whether a key part is the fingerprint of a file's
// companion, as sources/dir and sources/manifest append them.
func isCompanion(part string) bool {
	for _, p := range [...]string{"ann:", "text:", "sidecar:"} {
		if strings.HasPrefix(part, p) {
			return true
		}
	}
	return false
}
