package manifest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

func TestParseMetadata(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[string]any
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "spaces", in: "  ", want: nil},
		{name: "json", in: `{"k": "v"}`, want: map[string]any{"k": "v"}},
		{name: "sdk single quotes", in: `{'k': 'v', 'n': 2}`, want: map[string]any{"k": "v", "n": 2.0}},
		{name: "json apostrophe", in: `{"name": "O'Brien"}`, want: map[string]any{"name": "O'Brien"}},
		{name: "mixed apostrophe", in: `{'name': "O'Brien"}`, want: map[string]any{"name": "O'Brien"}},
		{name: "apostrophe inside single quotes", in: `{'name': 'O'Brien', 'x': 'it's'}`,
			want: map[string]any{"name": "O'Brien", "x": "it's"}},
		{name: "escaped apostrophe", in: `{'name': 'O\'Brien'}`, want: map[string]any{"name": "O'Brien"}},
		{name: "double quote inside single quotes", in: `{'q': 'say "hi"'}`, want: map[string]any{"q": `say "hi"`}},
		{name: "apostrophe in key", in: `{'it's': 1}`, want: map[string]any{"it's": 1.0}},
		{name: "nested and typed", in: `{"a": {"b": [1, 2.5, "x", null]}, "t": true, "f": false, "z": null, "n": -1e3}`,
			want: map[string]any{"a": map[string]any{"b": []any{1.0, 2.5, "x", nil}}, "t": true, "f": false, "z": nil, "n": -1000.0}},
		{name: "python literals", in: `{'t': True, 'f': False, 'n': None, 's': 'True'}`,
			want: map[string]any{"t": true, "f": false, "n": nil, "s": "True"}},
		{name: "sdk nested", in: `{'a': {'b': ['x', 'y']}}`, want: map[string]any{"a": map[string]any{"b": []any{"x", "y"}}}},
		{name: "unicode", in: `{'city': 'Zürich'}`, want: map[string]any{"city": "Zürich"}},
		{name: "empty object", in: `{}`, want: map[string]any{}},

		{name: "not an object", in: `[1, 2]`, wantErr: "it is a JSON array, not an object"},
		{name: "null", in: `null`, wantErr: "it is a JSON null, not an object"},
		{name: "string", in: `"x"`, wantErr: "it is a JSON string, not an object"},
		{name: "bare words", in: `k: v`, wantErr: `want a JSON object such as {"k": "v"} or {'k': 'v'}, got "k: v"`},
		{name: "unclosed", in: `{'k': 'v'`, wantErr: "unexpected end of JSON input"},
		{name: "unclosed string", in: `{'k: 1}`, wantErr: "want a JSON object"},
		{name: "trailing data", in: `{"k": 1} x`, wantErr: "after top-level value"},
		{name: "two objects", in: `{"k": 1}{"j": 2}`, wantErr: "want a JSON object"},
		{name: "overflow", in: `{"k": 1e999}`, wantErr: "want a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := manifest.ParseMetadata(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseMetadata(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMetadata(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseMetadata(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// FuzzMetadataCell checks that ParseMetadata never panics, that it never
// alters a valid JSON object, and that what it returns survives a JSON
// round trip unchanged.
func FuzzMetadataCell(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"k": "v"}`, `{'k': 'v'}`, `{'name': "O'Brien"}`, `{'name': 'O'Brien'}`,
		`{'a': {'b': [1, 'x', True, None]}}`, `{'q': 'say "hi"'}`, `{'k': 'v\'}`, `{"k": "\u00e9"}`,
		`[1]`, `null`, `{'k`, `'`, `"`, `{'a': 'b', }`, `{"a": 1e400}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cell string) {
		got, err := manifest.ParseMetadata(cell)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseMetadata(%q) returned both %v and %v", cell, got, err)
			}
			return
		}
		var strict any
		if json.Unmarshal([]byte(strings.TrimSpace(cell)), &strict) == nil {
			if m, ok := strict.(map[string]any); ok && !cmp.Equal(m, got) {
				t.Fatalf("ParseMetadata(%q) = %v, but the cell is the valid JSON %v", cell, got, m)
			}
		}
		if got == nil {
			if strings.TrimSpace(cell) != "" {
				t.Fatalf("ParseMetadata(%q) = nil without an error", cell)
			}
			return
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("marshal %v: %v", got, err)
		}
		again, err := manifest.ParseMetadata(string(b))
		if err != nil || !cmp.Equal(got, again) {
			t.Fatalf("round trip of %q: %s gave %v, %v", cell, b, again, err)
		}
	})
}
