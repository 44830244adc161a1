package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseMetadata parses a metadata cell into a JSON object.
//
// An empty (or all-space) cell gives nil and no error. Otherwise the cell
// must hold one JSON object, written either as real JSON or in the form the
// Clarifai Python SDK documents, with single-quoted strings:
//
//	{"source": "web", "tags": ["a", "b"], "score": 0.5, "ok": true}
//	{'source': 'web', 'name': "O'Brien"}
//
// Strict JSON is tried first, so a valid JSON cell is never altered. Only
// if it fails is the cell converted from the single-quoted form: the
// conversion walks the cell quote by quote, so that double-quoted strings
// are copied as they are (an apostrophe inside stays one), a '"' inside a
// single-quoted string is escaped, `\'` becomes an apostrophe, and the
// Python literals True, False and None outside strings become true, false
// and null. An apostrophe inside a single-quoted string that is not
// followed by ':', ',', '}' or ']' is kept as part of the string, so
// {'name': 'O'Brien'} reads as "O'Brien"; a cell that is still ambiguous
// after this is an error, never a guess.
//
// Values keep their JSON types: nested objects (map[string]any), arrays
// ([]any), strings, booleans and null. Numbers are float64, which is what
// the google.protobuf.Struct sent to Clarifai carries; integers beyond 2^53
// lose precision (write them as strings to keep them exact).
//
// The error, which carries no provenance, says what was expected and quotes
// (a prefix of) what was found.
func ParseMetadata(cell string) (map[string]any, error) {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return nil, nil
	}
	m, err := decodeObject(cell)
	if err == nil {
		return m, nil
	}
	// The reason given is the one for the form the cell seems to be in:
	// the strict one, unless converting changed something.
	conv, ok := singleQuotedToJSON(cell)
	switch {
	case !ok:
		err = errors.New("a quoted string is never closed")
	case conv != cell:
		m, convErr := decodeObject(conv)
		if convErr == nil {
			return m, nil
		}
		err = convErr
	}
	return nil, fmt.Errorf("want a JSON object such as {\"k\": \"v\"} or {'k': 'v'}, got %s: %v", quote(cell), err)
}

// decodeObject parses s as strict JSON and requires an object.
func decodeObject(s string) (map[string]any, error) {
	if m, ok := decodeFlatObject(s); ok {
		return m, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("it is a JSON %s, not an object", jsonType(v))
	}
	return m, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "value"
	}
}

// singleQuotedToJSON converts the SDK's single-quoted form to JSON (see
// ParseMetadata). It reports false when a string is never closed. It does
// not validate the rest: the JSON decoder does.
func singleQuotedToJSON(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			// A JSON string: copy it through its closing quote.
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return "", false
			}
			b.WriteString(s[i : j+1])
			i = j + 1
		case c == '\'':
			j, ok := copySingleQuoted(&b, s, i+1)
			if !ok {
				return "", false
			}
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			switch w := s[i:j]; w {
			case "True":
				b.WriteString("true")
			case "False":
				b.WriteString("false")
			case "None":
				b.WriteString("null")
			default:
				b.WriteString(w)
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), true
}

// copySingleQuoted writes the single-quoted string whose content starts at
// s[i] to b as a JSON string, and returns the index after its closing quote.
func copySingleQuoted(b *strings.Builder, s string, i int) (int, bool) {
	b.WriteByte('"')
	for i < len(s) {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
			} else if i+1 < len(s) {
				b.WriteString(s[i : i+2])
			} else {
				b.WriteByte(c)
			}
			i += 2
		case '"':
			b.WriteString(`\"`)
			i++
		case '\'':
			if closesString(s, i+1) {
				b.WriteByte('"')
				return i + 1, true
			}
			// An apostrophe inside the string, as in 'O'Brien'.
			b.WriteByte('\'')
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return 0, false
}

// closesString reports whether a quote followed by s[i:] ends a string:
// only spaces and then a JSON delimiter or the end of the cell follow it.
func closesString(s string, i int) bool {
	for ; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		case ':', ',', '}', ']':
			return true
		default:
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '+' || c == '-'
}

// quote quotes s for a message, cut to a readable length.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

// decodeFlatObject decodes the common metadata cell, a JSON object whose
// values are strings, numbers, booleans or null, without encoding/json's
// reflection, which was a tenth of the CPU of a manifest run. It reports
// false for anything else (nesting, escapes, control characters, invalid
// UTF-8, a number float64 cannot hold, any syntax error), which then takes
// the encoding/json path; when it reports true, the map is what
// json.Unmarshal gives (FuzzFlatObject checks this).
func decodeFlatObject(s string) (map[string]any, bool) {
	p := flatParser{s: s}
	p.space()
	if !p.byte('{') {
		return nil, false
	}
	m := make(map[string]any, 8)
	p.space()
	if p.byte('}') {
		return m, p.end()
	}
	for {
		p.space()
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if !p.byte(':') {
			return nil, false
		}
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		m[k] = v // the last of duplicate keys wins, as with encoding/json
		p.space()
		if p.byte('}') {
			return m, p.end()
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// flatParser is the cursor of decodeFlatObject.
type flatParser struct {
	s string
	i int
}

func (p *flatParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *flatParser) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *flatParser) end() bool {
	p.space()
	return p.i == len(p.s)
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (p *flatParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false // encoding/json replaces invalid bytes
			}
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

func (p *flatParser) value() (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range [...]struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(p.s[p.i:], lit.word) {
			p.i += len(lit.word)
			return lit.v, true
		}
	}
	return nil, false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *flatParser) number() (any, bool) {
	start := p.i
	p.byte('-')
	switch {
	case p.byte('0'):
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.byte('.') && !p.digits() {
		return nil, false
	}
	if p.byte('e') || p.byte('E') {
		if !p.byte('+') {
			p.byte('-')
		}
		if !p.digits() {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, false // out of range: encoding/json reports it
	}
	return f, true
}

// digits reads one or more decimal digits.
func (p *flatParser) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
