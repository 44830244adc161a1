package manifest_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.csv")
	if err := os.WriteFile(path, []byte("url\nhttps://x.test/a.jpg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp := func(t *testing.T, cfg manifest.Config) string {
		t.Helper()
		src, err := manifest.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := src.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(t, manifest.Config{Path: path})
	if !strings.HasPrefix(base, "manifest:"+path+"|") {
		t.Errorf("fingerprint %q does not name the file", base)
	}
	if again := fp(t, manifest.Config{Path: path}); again != base {
		t.Errorf("fingerprint not stable: %q, then %q", base, again)
	}
	for name, cfg := range map[string]manifest.Config{
		"datasets":         {Path: path, DatasetIDs: []string{"train"}},
		"default kind":     {Path: path, DefaultKind: pipeline.KindImage},
		"format":           {Path: path, Format: manifest.FormatRich},
		"metadata columns": {Path: path, MetadataColumns: map[string]string{"extra": "x"}},
		"split datasets":   {Path: path, SplitDatasets: map[string]string{"train": "t"}},
	} {
		if fp(t, cfg) == base {
			t.Errorf("%s: the fingerprint ignores a setting that changes the items", name)
		}
	}
	// Same size, another modification time: another manifest.
	if err := os.Chtimes(path, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	touched := fp(t, manifest.Config{Path: path})
	if touched == base {
		t.Error("a new modification time did not change the fingerprint")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("https://x.test/b.jpg\n")
	f.Close()
	if fp(t, manifest.Config{Path: path}) == touched {
		t.Error("a new row did not change the fingerprint")
	}

	src, _ := manifest.New(manifest.Config{Path: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
	if _, err := src.Fingerprint(); err == nil {
		t.Error("a manifest read through Open has a fingerprint")
	}
	src, _ = manifest.New(manifest.Config{Path: filepath.Join(dir, "gone.csv")})
	if _, err := src.Fingerprint(); err == nil {
		t.Error("a missing manifest has a fingerprint")
	}
}
