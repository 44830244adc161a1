package urllist_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
)

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(path, []byte("https://x.test/a.jpg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp := func(t *testing.T, cfg urllist.Config) string {
		t.Helper()
		src, err := urllist.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := src.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(t, urllist.Config{Path: path})
	if !strings.HasPrefix(base, "urllist:"+path+"|") || fp(t, urllist.Config{Path: path}) != base {
		t.Errorf("fingerprint %q: want it stable and naming the file", base)
	}
	for name, cfg := range map[string]urllist.Config{
		"kind":     {Path: path, Kind: pipeline.KindVideo},
		"datasets": {Path: path, DatasetIDs: []string{"d"}},
		"max line": {Path: path, MaxLineBytes: 100},
	} {
		if fp(t, cfg) == base {
			t.Errorf("%s: the fingerprint ignores a setting that changes the items", name)
		}
	}
	if err := os.Chtimes(path, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if fp(t, urllist.Config{Path: path}) == base {
		t.Error("a new modification time did not change the fingerprint")
	}
	src, _ := urllist.New(urllist.Config{Path: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
	if _, err := src.Fingerprint(); err == nil {
		t.Error("a list read through Open has a fingerprint")
	}
	src, _ = urllist.New(urllist.Config{Path: dir})
	if _, err := src.Fingerprint(); err == nil {
		t.Error("a directory has a fingerprint")
	}
}
