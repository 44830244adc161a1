package durable_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
)

func TestWriteFile(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		old       string // content before; "" means no file
		staleTemp bool   // a crash left path+TempSuffix behind
		write     string
		err       error // returned by write after writing
		want      string
	}{
		{name: "new file", write: "new\n", want: "new\n"},
		{name: "replaces", old: "old\n", write: "new\n", want: "new\n"},
		{name: "over a stale temp", old: "old\n", staleTemp: true, write: "new\n", want: "new\n"},
		{name: "write fails: old kept", old: "old\n", write: "half", err: boom, want: "old\n"},
		{name: "write fails: nothing created", write: "half", err: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if tc.old != "" {
				writeRaw(t, path, tc.old)
			}
			if tc.staleTemp {
				writeRaw(t, path+durable.TempSuffix, "torn and much longer than the new content")
			}
			err := durable.WriteFile(path, 0o600, func(w io.Writer) error {
				if _, err := io.WriteString(w, tc.write); err != nil {
					return err
				}
				return tc.err
			})
			if !errors.Is(err, tc.err) {
				t.Fatalf("WriteFile = %v, want %v", err, tc.err)
			}
			got, rerr := os.ReadFile(path)
			switch {
			case tc.want == "" && !errors.Is(rerr, os.ErrNotExist):
				t.Errorf("file exists after a failed first write: %q, %v", got, rerr)
			case tc.want != "" && string(got) != tc.want:
				t.Errorf("content = %q (%v), want %q", got, rerr, tc.want)
			}
			if _, err := os.Stat(path + durable.TempSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary file left behind: %v", err)
			}
			if tc.want != "" && tc.old == "" {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("mode = %v (%v), want 0600", fi.Mode().Perm(), err)
				}
			}
		})
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	if err := durable.WriteFile(path, 0o644, func(io.Writer) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("WriteFile into a missing folder = %v, want ErrNotExist", err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := durable.SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func writeRaw(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
