// Package emutest gives the helpers that tests running the emulator share:
// a Clock to drive its processing and extraction delays, files and zip
// archives for its buckets, and a LogBuffer for its logs. It does not
// import the emulator, so that the emulator's own tests can use it.
package emutest

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Clock is a clock that moves only when told to, for emulator.Options.Now.
// It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at a fixed instant (2023-11-14 22:13:20 UTC).
func NewClock() *Clock { return &Clock{t: time.Unix(1_700_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// WriteFile writes b to dir/rel (rel uses "/"), creating folders; it fails
// the test on an error.
func WriteFile(t testing.TB, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Member is one file of an archive.
type Member struct {
	Name string
	Data []byte
}

// Zip returns a zip archive of ms, in order; it fails the test on an error.
func Zip(t testing.TB, ms ...Member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		w, err := zw.Create(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// LogBuffer collects what the emulator (or a process running it) writes,
// from its goroutines, while a test reads it. It is a zapcore.WriteSyncer
// and safe for concurrent use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (w *LogBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Sync does nothing: the buffer holds everything written.
func (w *LogBuffer) Sync() error { return nil }

// String returns everything written so far.
func (w *LogBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
