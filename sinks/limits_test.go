package sinks_test

import (
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
)

// nested returns metadata nesting depth levels: {"a": {"a": ... 1}}, with
// an array at every third level.
func nested(depth int) map[string]any {
	var v any = 1.0
	for l := depth; l > 1; l-- {
		if l%3 == 0 {
			v = []any{"x", v}
		} else {
			v = map[string]any{"a": v}
		}
	}
	return map[string]any{"k": v, "flat": "x"}
}

func TestCheckLimitsMetadataDepth(t *testing.T) {
	prov := pipeline.Provenance{Source: "m.csv", Row: 7}
	for _, tc := range []struct {
		name string
		md   map[string]any
		want string // "" for no error
	}{
		{"flat", map[string]any{"a": "b", "n": 1.0}, ""},
		{"at the limit", nested(sinks.MaxMetadataDepth), ""},
		{"one level too deep", nested(sinks.MaxMetadataDepth + 1), "m.csv row 7: metadata: nested more than 30 levels deep (at k.a[1].a.....a.a[1])"},
		{"4000 levels", nested(4000), "nested more than 30 levels deep"},
		{"other map and slice types", map[string]any{"k": map[string][]map[string]any{"x": {nested(sinks.MaxMetadataDepth)}}}, "nested more than 30"},
	} {
		it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Metadata: tc.md, Prov: prov}
		err := sinks.CheckLimits(it)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestCheckLimitsAllocatesNothing: the check runs on every item.
func TestCheckLimitsAllocatesNothing(t *testing.T) {
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg",
		Metadata: map[string]any{"a": "b", "n": 1.0, "o": map[string]any{"l": []any{1.0, "x"}}}}
	if n := testing.AllocsPerRun(100, func() { _ = sinks.CheckLimits(it) }); n != 0 {
		t.Errorf("CheckLimits allocates %v times per item", n)
	}
}
