package transforms

import (
	"fmt"
	"strings"
)

// metaPath is a dotted path into nested metadata objects: "author.name" is
// the key "name" of the object under the key "author". A key that itself
// contains a dot cannot be addressed; metadata from JSON sidecars rarely has
// one, and an escape syntax would cost every user a rule to learn.
type metaPath struct {
	raw  string
	segs []string
}

// parseMetaPath splits a dotted path. Empty paths and empty segments ("a..b",
// ".a") are errors, so a typo in a config is reported instead of matching
// nothing forever.
func parseMetaPath(s string) (metaPath, error) {
	if s == "" {
		return metaPath{}, fmt.Errorf("empty path")
	}
	segs := strings.Split(s, ".")
	for _, seg := range segs {
		if seg == "" {
			return metaPath{}, fmt.Errorf("path %q has an empty segment", s)
		}
	}
	return metaPath{raw: s, segs: segs}, nil
}

// String returns the path as written.
func (p metaPath) String() string { return p.raw }

// parent returns the object holding the last segment and that segment, or
// ok=false when an intermediate key is missing or is not an object.
func (p metaPath) parent(m map[string]any) (obj map[string]any, key string, ok bool) {
	if m == nil || len(p.segs) == 0 {
		return nil, "", false
	}
	obj = m
	for _, seg := range p.segs[:len(p.segs)-1] {
		next, isObj := obj[seg].(map[string]any)
		if !isObj {
			return nil, "", false
		}
		obj = next
	}
	return obj, p.segs[len(p.segs)-1], true
}

// get returns the value at the path and whether it is present.
func (p metaPath) get(m map[string]any) (any, bool) {
	obj, key, ok := p.parent(m)
	if !ok {
		return nil, false
	}
	v, ok := obj[key]
	return v, ok
}

// remove deletes the value at the path, then every object on the path that
// the deletion left empty, so that lifting "gps.lat" and "gps.lon" out of
// {"gps": {"lat": 1, "lon": 2}} does not leave {"gps": {}} behind.
func (p metaPath) remove(m map[string]any) {
	if m == nil {
		return
	}
	chain := make([]map[string]any, 0, len(p.segs))
	obj := m
	for _, seg := range p.segs[:len(p.segs)-1] {
		chain = append(chain, obj)
		next, isObj := obj[seg].(map[string]any)
		if !isObj {
			return
		}
		obj = next
	}
	delete(obj, p.segs[len(p.segs)-1])
	// Walk back up: an object emptied by the deletion goes too, but never
	// the top-level metadata map itself.
	for i := len(chain) - 1; i >= 0 && len(obj) == 0; i-- {
		delete(chain[i], p.segs[i])
		obj = chain[i]
	}
}
