package identity

import (
	"testing"
)

func TestNormalizeURLFastPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
	}{
		{"https://images.example.com/bench/0d/0000013.jpg", true},
		{"http://a.b/c?d=e&f=g", true},
		{"https://a.b", true},
		{"https://a.b?", true},
		{"https://a.b//x/./y/../z", true},
		{"HTTPS://A.B/c", false},
		{"https://A.b/c", false},
		{"https://a.b:443/c", false},
		{"https://u@a.b/c", false},
		{"https://a.b/c#frag", false},
		{"https://a.b/c%20d", false},
		{"https://a.b/c d", false},
		{" https://a.b/c", false},
		{"https:///c", false},
		{"ftp://a.b/c", false},
	} {
		if got := isNormalURL(tc.in); got != tc.fast {
			t.Errorf("isNormalURL(%q) = %v, want %v", tc.in, got, tc.fast)
		}
		if got, want := NormalizeURL(tc.in), normalizeURLSlow(tc.in); got != want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tc.in, got, want)
		}
	}
}

// FuzzNormalizeURL checks that the fast path of NormalizeURL never changes
// its result: IDs derived from URLs must stay the same across versions.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"https://a.b/c", "http://x.y/z?q=1&r=2", "https://a.b", "https://a.b?",
		"https://a.b/c#d", "HTTP://A.B/", "https://a.b:443/", "https://a..b/./c", "http://1.2.3.4/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if isNormalURL(raw) {
			if want := normalizeURLSlow(raw); raw != want {
				t.Fatalf("isNormalURL(%q) but NormalizeURL gives %q", raw, want)
			}
		}
	})
}

func BenchmarkNormalizeURL(b *testing.B) {
	for _, raw := range []string{"https://images.example.com/bench/0d/0000013.jpg", "HTTPS://Images.Example.com:443/a#b"} {
		b.Run(raw[:5], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = NormalizeURL(raw)
			}
		})
	}
}
