package manifest_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

func TestParseLabels(t *testing.T) {
	pos, neg := pipeline.Positive, pipeline.Negative
	for _, tc := range []struct {
		in      string
		want    []pipeline.Concept
		wantErr string
	}{
		{in: "", want: nil},
		{in: " ; ,\t", want: nil},
		{in: "cat", want: []pipeline.Concept{pos("cat")}},
		{in: "cat,-dog", want: []pipeline.Concept{pos("cat"), neg("dog")}},
		{in: "cat; dog:0 ;bird:1", want: []pipeline.Concept{pos("cat"), neg("dog"), pos("bird")}},
		{in: "cat\t-dog", want: []pipeline.Concept{pos("cat"), neg("dog")}},
		{in: " big cat , - dog ", want: []pipeline.Concept{pos("big cat"), neg("dog")}},
		{in: "-1:1", want: []pipeline.Concept{pos("-1")}},
		{in: "a:b:0", want: []pipeline.Concept{neg("a:b")}},
		{in: "cat,cat,cat:1", want: []pipeline.Concept{pos("cat")}},
		{in: "chat,été", want: []pipeline.Concept{pos("chat"), pos("été")}},
		{in: "dog:2", wantErr: `got "dog:2" (the value after ':' must be 0 or 1)`},
		{in: "dog:", wantErr: `got "dog:"`},
		{in: "-", wantErr: `got "-" (no name)`},
		{in: ":1", wantErr: `got ":1" (no name)`},
		{in: "cat,-cat", wantErr: `label "cat" is given both positive and negative`},
		{in: "cat,dog:1,dog:0", wantErr: `label "dog" is given both positive and negative`},
		{in: "ca\x01t", wantErr: "control characters"},
		{in: "ca\xfft", wantErr: "want UTF-8 labels"},
	} {
		got, err := manifest.ParseLabels(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseLabels(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLabels(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseLabels(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// TestParseLabelsMany checks that a cell of many labels is deduplicated
// through the index as it is by the scan.
func TestParseLabelsMany(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString(strings.Repeat("x", i%40+1))
		b.WriteString(",")
	}
	got, err := manifest.ParseLabels(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Errorf("got %d labels, want 40 distinct ones", len(got))
	}
	if _, err := manifest.ParseLabels(b.String() + "-xxx"); err == nil {
		t.Error("a conflict after the index was built was not detected")
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{"https://example.com/a.jpg", ""},
		{"HTTP://Example.com:8080/a%20b.jpg?x=1#frag", ""},
		{"https://example.com/ünï.jpg", ""},
		{"", "got an empty value"},
		{"ftp://example.com/a.jpg", `with the scheme "ftp"`},
		{"example.com/a.jpg", "with no scheme"},
		{"https:///a.jpg", "with no host"},
		{"https://:80/a.jpg", "with no host"},
		{"http:a.jpg", "with no host"},
		{"https://example.com/a b.jpg", "with a space at byte 21 (encode it as %20)"},
		{"https://example.com/a\x7fb.jpg", "control or space character U+007F"},
		{"https://example.com/a\u00a0.jpg", "control or space character U+00A0"},
		{"https://example.com/\xff.jpg", "not UTF-8"},
		{"https://exa mple.com", "with a space"},
		{"https://[::1/a", "missing ']' in host"},
	} {
		_, err := manifest.ParseURL(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseURL(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseURL(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}
