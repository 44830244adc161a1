package manifest

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlainURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{"https://images.example.com/bench/00/0000000.jpg", true},
		{"http://x.y/a_b-c~d.e?x=1&y=2", true},
		{"https://x", true},
		{"https://x?q", true},
		{"https://x/a?b?c", true},
		{"https://x/a?", false},
		{"HTTPS://x/a", false},
		{"https://X/a", false},
		{"https://x:443/a", false},
		{"https://u@x/a", false},
		{"https://x/a%20b", false},
		{"https://x/a#f", false},
		{"https://x/a b", false},
		{"https:///a", false},
		{"ftp://x/a", false},
		{"https://x/é", false},
	} {
		u, ok := plainURL(tc.in)
		if ok != tc.fast {
			t.Errorf("plainURL(%q): ok = %v, want %v", tc.in, ok, tc.fast)
		}
		if !ok {
			continue
		}
		want, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, u); d != "" {
			t.Errorf("plainURL(%q): -url.Parse +plainURL:\n%s", tc.in, d)
		}
	}
}

// FuzzPlainURL checks ParseURL's fast path against its full path:
// whatever plainURL takes, parseURL accepts, with the same result.
func FuzzPlainURL(f *testing.F) {
	for _, s := range []string{"https://images.example.com/bench/00/0000000.jpg", "http://a.b?x=1&y=/z", "https://a-b.c/",
		"https://x/a?", "https://x:80/", "https://x/%41", "https://./", "https://x?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := plainURL(s)
		if !ok {
			return
		}
		want, err := parseURL(s)
		if err != nil {
			t.Fatalf("plainURL took %q, which ParseURL's full path rejects: %v", s, err)
		}
		if d := cmp.Diff(want, u); d != "" {
			t.Fatalf("plainURL(%q): -parseURL +plainURL:\n%s", s, d)
		}
	})
}

func BenchmarkParseURL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseURL("https://images.example.com/bench/02/0000002.jpg"); err != nil {
			b.Fatal(err)
		}
	}
}
