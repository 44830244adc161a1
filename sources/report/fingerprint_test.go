package report_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/sources/report"
)

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "failures.jsonl")
	if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp := func(t *testing.T, o report.SourceOptions) string {
		t.Helper()
		s, err := report.NewSource(path, o).Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(t, report.SourceOptions{})
	if !strings.HasPrefix(base, "report:"+path+"|") || fp(t, report.SourceOptions{}) != base {
		t.Errorf("fingerprint %q: want it stable and naming the file", base)
	}
	if fp(t, report.SourceOptions{IncludeSkipped: true}) == base {
		t.Error("IncludeSkipped does not change the fingerprint")
	}
	// A run replaces the report it read with its own: another file.
	if err := os.WriteFile(path+".new", []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path+".new", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if fp(t, report.SourceOptions{}) == base {
		t.Error("a replaced report did not change the fingerprint")
	}
	if _, err := report.NewSource(filepath.Join(dir, "none.jsonl"), report.SourceOptions{}).Fingerprint(); err == nil {
		t.Error("a missing report has a fingerprint")
	}
}
