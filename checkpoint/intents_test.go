package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIntentsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Intended("a"); ok {
		t.Fatal("a new log holds an intent")
	}
	if err := l.Intend(t.Context(), []string{"a", "b"}, []uint64{1, 2}); err != nil {
		t.Fatal(err)
	}
	// An ID keeps its first digest.
	if err := l.Intend(t.Context(), []string{"a", "c"}, []uint64{9, 3}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Intend(t.Context(), []string{"d"}, []uint64{4}); err == nil {
		t.Error("Intend after Close succeeded")
	}
	l, err = OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id, want := range map[string]uint64{"a": 1, "b": 2, "c": 3} {
		if got, ok := l.Intended(id); !ok || got != want {
			t.Errorf("Intended(%s) = %d %v, want %d", id, got, ok, want)
		}
	}
	if _, ok := l.Intended("d"); ok {
		t.Error("d was recorded after Close")
	}
	b, _ := os.ReadFile(filepath.Join(dir, IntentsFile))
	if want := len(intentMagic) + 3*intentRecord; len(b) != want {
		t.Errorf("file has %d bytes, want %d (one record per new ID)", len(b), want)
	}
}

func TestIntentsTornTail(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Intend(t.Context(), []string{"a", "b"}, []uint64{1, 2}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	path := filepath.Join(dir, IntentsFile)
	b, _ := os.ReadFile(path)
	// A crash while the second record was written: half of it is on disk.
	if err := os.WriteFile(path, b[:len(b)-intentRecord/2], 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Intended("a"); !ok || got != 1 {
		t.Errorf("a: %d %v, want 1", got, ok)
	}
	if _, ok := l.Intended("b"); ok {
		t.Error("b survived a torn record")
	}
	// The tail is cut off: a new record after it reads back.
	if err := l.Intend(t.Context(), []string{"b"}, []uint64{5}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A corrupt (not torn) last record is ignored the same way.
	b, _ = os.ReadFile(path)
	b[len(b)-1] ^= 0xff
	os.WriteFile(path, b, 0o600)
	l, err = OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, ok := l.Intended("b"); ok {
		t.Error("b survived a corrupt record")
	}
	if got, ok := l.Intended("a"); !ok || got != 1 {
		t.Errorf("a after corruption: %d %v", got, ok)
	}
}

func TestIntentsBadMagic(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, IntentsFile), []byte("something else entirely"), 0o600)
	if _, err := OpenIntents(dir); err == nil {
		t.Error("a file without the magic opened")
	}
}

// TestReadIntents: the read-only log answers Intended as the log does,
// writes nothing (a torn tail stays), and refuses Intend; a missing log
// holds nothing and is not created.
func TestReadIntents(t *testing.T) {
	dir := t.TempDir()
	if l, err := ReadIntents(dir); err != nil {
		t.Fatal(err)
	} else if _, ok := l.Intended("a"); ok {
		t.Error("a missing log holds an intent")
	}
	if _, err := os.Stat(filepath.Join(dir, IntentsFile)); !os.IsNotExist(err) {
		t.Fatalf("ReadIntents created the log: %v", err)
	}
	l, err := OpenIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Intend(t.Context(), []string{"a", "b"}, []uint64{1, 2}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	path := filepath.Join(dir, IntentsFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("torn"))
	f.Close()
	before, _ := os.ReadFile(path)

	r, err := ReadIntents(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for id, want := range map[string]uint64{"a": 1, "b": 2} {
		if got, ok := r.Intended(id); !ok || got != want {
			t.Errorf("Intended(%s) = %d %v, want %d", id, got, ok, want)
		}
	}
	if err := r.Intend(t.Context(), []string{"c"}, []uint64{3}); err != ErrReadOnly {
		t.Errorf("Intend on a read-only log: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("ReadIntents changed the file")
	}
}
