package identity

import "testing"

func TestStable(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"", ""},
		{"id:abc", "id:abc"},
		{"id:abc|ds=train", "id:abc"},
		{"id:abc|ds=test,train", "id:abc"},
		{"file:/data/a.jpg|123|1700000000000000000", "file:/data/a.jpg"},
		{"file:/data/a.jpg|123|1700000000000000000|ds=train", "file:/data/a.jpg"},
		{"file:/data/a|ds=x.jpg|1|2", "file:/data/a|ds=x.jpg"},
		{"file:/data/a|b.jpg|1|2|ds=t", "file:/data/a|b.jpg"},
		{"url:image|https://x/y.jpg", "url:image|https://x/y.jpg"},
		{"url:image|https://x/y.jpg|ds=train", "url:image|https://x/y.jpg"},
		{"text:0123|ds=a", "text:0123"},
		{"file:odd", "file:odd"},
	} {
		if got := Stable(tc.key); got != tc.want {
			t.Errorf("Stable(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
