package transforms

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetaPath(t *testing.T) {
	md := func() map[string]any {
		return map[string]any{
			"a":    map[string]any{"b": map[string]any{"c": 1.0}, "x": 2.0},
			"s":    "str",
			"dots": map[string]any{"k.with.dot": 3.0},
		}
	}
	for _, tc := range []struct {
		path       string
		wantVal    any
		wantOK     bool
		wantRemove map[string]any
	}{
		{path: "a.b.c", wantVal: 1.0, wantOK: true, wantRemove: map[string]any{"a": map[string]any{"x": 2.0}, "s": "str", "dots": map[string]any{"k.with.dot": 3.0}}},
		{path: "a.x", wantVal: 2.0, wantOK: true, wantRemove: map[string]any{"a": map[string]any{"b": map[string]any{"c": 1.0}}, "s": "str", "dots": map[string]any{"k.with.dot": 3.0}}},
		{path: "s", wantVal: "str", wantOK: true, wantRemove: map[string]any{"a": map[string]any{"b": map[string]any{"c": 1.0}, "x": 2.0}, "dots": map[string]any{"k.with.dot": 3.0}}},
		{path: "s.deeper", wantRemove: md()},    // through a non-object
		{path: "a.missing.c", wantRemove: md()}, // missing intermediate
		{path: "dots.k.with.dot", wantRemove: md()},
	} {
		p, err := parseMetaPath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := p.get(md())
		if ok != tc.wantOK || v != tc.wantVal {
			t.Errorf("get(%s) = %v, %v; want %v, %v", tc.path, v, ok, tc.wantVal, tc.wantOK)
		}
		m := md()
		p.remove(m)
		if d := cmp.Diff(tc.wantRemove, m); d != "" {
			t.Errorf("remove(%s) (-want +got):\n%s", tc.path, d)
		}
	}
	var p metaPath
	if _, ok := p.get(nil); ok {
		t.Error("get on nil metadata found something")
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b"} {
		if _, err := parseMetaPath(bad); err == nil {
			t.Errorf("parseMetaPath(%q): no error", bad)
		}
	}
}

func TestNormalizeJSON(t *testing.T) {
	in := map[string]any{
		"ints":   []any{int8(1), int16(2), int32(3), int64(4), uint(5), uint8(6), uint16(7), uint32(8), uint64(9), 10},
		"floats": []any{float32(1.5), 2.5, json.Number("3.25")},
		"yaml":   map[any]any{"k": map[any]any{"n": 1}},
		"other":  []any{nil, true, "s"},
	}
	want := map[string]any{
		"ints":   []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0},
		"floats": []any{1.5, 2.5, 3.25},
		"yaml":   map[string]any{"k": map[string]any{"n": 1.0}},
		"other":  []any{nil, true, "s"},
	}
	got, err := normalizeJSON("static", in)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		v       any
		wantErr string
	}{
		{map[any]any{1: "x"}, "static: object key 1 is not a string"},
		{json.Number("x"), "static: strconv.ParseFloat"},
		{json.Number("1e999"), "static:"},
		{[]any{struct{}{}}, "static[0]: struct {} is not a JSON value"},
	} {
		if _, err := normalizeJSON("static", tc.v); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("normalizeJSON(%#v) = %v, want %q", tc.v, err, tc.wantErr)
		}
	}
}
