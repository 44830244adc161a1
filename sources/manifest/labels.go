package manifest

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// LabelSeparators are the characters that separate labels in a cell or a
// URL-list line: comma, semicolon and tab.
const LabelSeparators = ",;\t"

// ParseLabels parses a list of labels, the syntax shared by the rich
// manifest's concepts column and the URL list:
//
//	cat      positive (value 1)
//	-dog     negative (value 0)
//	dog:0    negative
//	dog:1    positive
//
// Labels are separated by any of LabelSeparators and trimmed; empty ones
// are ignored, so "" and " ; " give no labels. An explicit ":0" or ":1"
// suffix wins over a leading '-': "-1:1" is the positive label "-1". The
// label is split at its last ':', so "a:b:1" is the positive label "a:b",
// but a ':' followed by anything other than 0 or 1 is an error. A label
// repeated with the same value is kept once; the same label both positive
// and negative is an error. Labels must be valid UTF-8 without control
// characters.
//
// The result is in the order written, nil for no labels. The error, which
// carries no provenance, says what was expected and what was found.
func ParseLabels(s string) ([]pipeline.Concept, error) {
	return parseLabels(s, LabelSeparators, false)
}

// parseSDKLabels parses the concepts cell of an SDK-format manifest as the
// SDK does: labels separated by ',' only, each positive with value 1, even
// if it starts with '-' or contains ':'. Unlike the SDK, it trims the
// labels, drops empty and repeated ones, and rejects control characters.
func parseSDKLabels(s string) ([]pipeline.Concept, error) {
	return parseLabels(s, ",", true)
}

// parseLabels splits s at any of seps and parses each label; plain labels
// are all positive, as written.
func parseLabels(s, seps string, plain bool) ([]pipeline.Concept, error) {
	var out []pipeline.Concept
	var seen map[string]float32
	for s != "" {
		var tok string
		if i := strings.IndexAny(s, seps); i >= 0 {
			tok, s = s[:i], s[i+1:]
		} else {
			tok, s = s, ""
		}
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		c, err := parseLabel(tok, plain)
		if err != nil {
			return nil, err
		}
		// A linear scan is cheapest for the usual handful of labels; an index
		// keeps a cell with thousands of labels from costing n² comparisons.
		if seen == nil && len(out) >= 16 {
			seen = make(map[string]float32, 2*len(out))
			for _, o := range out {
				seen[o.ID] = o.Value
			}
		}
		v, dup := lookup(out, seen, c.ID)
		if dup && v != c.Value {
			return nil, fmt.Errorf("label %q is given both positive and negative", c.ID)
		}
		if !dup {
			out = append(out, c)
			if seen != nil {
				seen[c.ID] = c.Value
			}
		}
	}
	return out, nil
}

// lookup finds the value of label id in out, through seen when it is set.
func lookup(out []pipeline.Concept, seen map[string]float32, id string) (float32, bool) {
	if seen != nil {
		v, ok := seen[id]
		return v, ok
	}
	for _, o := range out {
		if o.ID == id {
			return o.Value, true
		}
	}
	return 0, false
}

// parseLabel parses one trimmed, non-empty label; a plain one is positive
// and taken as written.
func parseLabel(tok string, plain bool) (pipeline.Concept, error) {
	if !utf8.ValidString(tok) {
		return pipeline.Concept{}, fmt.Errorf("want UTF-8 labels, got %q", tok)
	}
	if i := strings.IndexFunc(tok, unicode.IsControl); i >= 0 {
		return pipeline.Concept{}, fmt.Errorf("want a label without control characters, got %q", tok)
	}
	name, positive := tok, true
	if plain {
		return pipeline.Positive(name), nil
	}
	if i := strings.LastIndexByte(tok, ':'); i >= 0 {
		switch strings.TrimSpace(tok[i+1:]) {
		case "1":
		case "0":
			positive = false
		default:
			return pipeline.Concept{}, fmt.Errorf("want a label such as cat, -cat, cat:1 or cat:0, got %q (the value after ':' must be 0 or 1)", tok)
		}
		name = strings.TrimSpace(tok[:i])
	} else if strings.HasPrefix(tok, "-") {
		name, positive = strings.TrimSpace(tok[1:]), false
	}
	if name == "" {
		return pipeline.Concept{}, fmt.Errorf("want a label such as cat, -cat, cat:1 or cat:0, got %q (no name)", tok)
	}
	if positive {
		return pipeline.Positive(name), nil
	}
	return pipeline.Negative(name), nil
}
