package manifest

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseURL parses s as the URL of a remote file for Clarifai to fetch: an
// absolute http or https URL with a host, valid UTF-8, and without spaces
// or control characters (encode them, e.g. %20). s must be trimmed. The
// error says what is wrong and quotes s.
func ParseURL(s string) (*url.URL, error) {
	if u, ok := plainURL(s); ok {
		return u, nil
	}
	return parseURL(s)
}

// parseURL is ParseURL without its fast path.
func parseURL(s string) (*url.URL, error) {
	const want = "want an http or https URL"
	if s == "" {
		return nil, fmt.Errorf("%s, got an empty value", want)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%s, got %s with bytes that are not UTF-8", want, quote(s))
	}
	for i, r := range s {
		switch {
		case r == ' ':
			return nil, fmt.Errorf("%s, got %s with a space at byte %d (encode it as %%20)", want, quote(s), i)
		case unicode.IsControl(r) || unicode.IsSpace(r):
			return nil, fmt.Errorf("%s, got %s with the control or space character %U at byte %d", want, quote(s), r, i)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the URL; keep only the reason.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s, got %s: %v", want, quote(s), err)
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		if u.Scheme == "" {
			return nil, fmt.Errorf("%s, got %s with no scheme", want, quote(s))
		}
		return nil, fmt.Errorf("%s, got %s with the scheme %q", want, quote(s), u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s, got %s with no host", want, quote(s))
	}
	return u, nil
}

// plainURL is ParseURL's fast path, for the URLs manifests are made of: a
// lower-case http or https scheme, a host of lower-case letters, digits,
// dots and dashes, then a path and query of plain characters (letters,
// digits, -._~/=& and ?, the first of which starts the query), without
// escapes, port, user info or fragment. For those it returns what url.Parse
// would, at a fraction of the cost; ok is false for anything else, which
// then takes the full path (FuzzPlainURL checks both agree).
func plainURL(s string) (u *url.URL, ok bool) {
	rest, ok := strings.CutPrefix(s, "https://")
	scheme := "https"
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return nil, false
		}
		scheme = "http"
	}
	host := 0
	for host < len(rest) && rest[host] != '/' && rest[host] != '?' {
		if c := rest[host]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return nil, false
		}
		host++
	}
	if host == 0 {
		return nil, false
	}
	query := -1 // index in rest of the '?' that starts the query
	for i := host; i < len(rest); i++ {
		c := rest[i]
		if c == '?' {
			if query < 0 {
				query = i
			}
			continue
		}
		if !plainURLByte[c] {
			return nil, false
		}
	}
	u = &url.URL{Scheme: scheme, Host: rest[:host], Path: rest[host:]}
	if query >= 0 {
		if query == len(rest)-1 {
			return nil, false // "?" and nothing: url.Parse sets ForceQuery
		}
		u.Path, u.RawQuery = rest[host:query], rest[query+1:]
	}
	return u, true
}

// plainURLByte holds the bytes of plainURL's path and query, besides '?'.
var plainURLByte = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/=&" {
		t[c] = true
	}
	return t
}()

// parseCoord parses a latitude (max 90) or longitude (max 180) in degrees,
// requiring a finite number in [-max, max].
func parseCoord(s string, max float64) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < -max || v > max {
		return 0, false
	}
	return v, true
}

// firstInvalidUTF8 returns the index of the first field of rec that is not
// valid UTF-8, or -1.
func firstInvalidUTF8(rec []string) int {
	for i, f := range rec {
		if !utf8.ValidString(f) {
			return i
		}
	}
	return -1
}
