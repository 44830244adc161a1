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
		// A file's companions (annotation file, paired text, sidecar) are
		// edits of the item, not another item: adding, editing or removing
		// one keeps the stable key.
		{"file:/data/a.jpg|123|1700000000000000000|sidecar:52:1700000000000000001", "file:/data/a.jpg"},
		{"file:/data/a.jpg|123|17|ann:0f0e|text:9:18|sidecar:52:19|ds=train", "file:/data/a.jpg"},
		{"file:/data/a.jpg|123|17|ann:0f0e", "file:/data/a.jpg"},
		{"file:/data/a.jpg|123|17|text:0123456789abcdef", "file:/data/a.jpg"},
		{"file:/data/x|text:y.jpg|1|2", "file:/data/x|text:y.jpg"},
		{"file:/data/x|sidecar:y.jpg|1|2|sidecar:3:4", "file:/data/x|sidecar:y.jpg"},
	} {
		if got := Stable(tc.key); got != tc.want {
			t.Errorf("Stable(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
