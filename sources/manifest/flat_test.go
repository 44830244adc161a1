package manifest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeFlatObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{`{}`, true},
		{` { "row": 12, "source": "bench", "split": "train", "score": 0.25 } `, true},
		{`{"a": -0, "b": 1.5e+10, "c": 2E-3, "d": true, "e": false, "f": null, "a": "dup"}`, true},
		{`{"name": "Zoë", "city": "東京"}`, true},
		{`{"nested": {"a": 1}}`, false},
		{`{"list": [1, 2]}`, false},
		{`{"esc": "a\"b"}`, false},
		{`{"big": 1e400}`, false},
		{`{"lead": 01}`, false},
		{`{"t": trueish}`, false},
		{`{"a": 1,}`, false},
		{`{"a": 1} x`, false},
		{`{'a': 1}`, false},
		{"{\"bad\": \"\xff\"}", false},
		{`[1]`, false},
	} {
		got, ok := decodeFlatObject(tc.in)
		if ok != tc.fast {
			t.Errorf("decodeFlatObject(%s): ok = %v, want %v", tc.in, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		var want any
		if err := json.Unmarshal([]byte(tc.in), &want); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", tc.in, err)
		}
		if diff := cmp.Diff(want, any(got)); diff != "" {
			t.Errorf("decodeFlatObject(%s) (-json +got):\n%s", tc.in, diff)
		}
	}
}

// FuzzFlatObject checks that the fast path of metadata decoding gives
// exactly what encoding/json gives whenever it accepts a cell.
func FuzzFlatObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1}`, `{"a": "b", "c": -1.5e3, "d": null}`, `{"a":true,"a":false}`,
		`{"x": "é"}`, `{"a": 1e400}`, `{"a": {}}`, " {\t\"a\"\n:\r0 } "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeFlatObject(s)
		if !ok {
			return
		}
		var want any
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("decodeFlatObject(%q) accepted what encoding/json rejects: %v", s, err)
		}
		if !cmp.Equal(want, any(got)) {
			t.Fatalf("decodeFlatObject(%q) = %v, encoding/json gives %v", s, got, want)
		}
	})
}

func BenchmarkDecodeObject(b *testing.B) {
	const cell = `{"row": 12345, "source": "bench", "split": "train", "score": 0.625}`
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeObject(cell); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal([]byte(cell), &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
