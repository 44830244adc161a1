package emutest_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestClock(t *testing.T) {
	c := emutest.NewClock()
	t0 := c.Now()
	c.Advance(time.Hour)
	if got := c.Now().Sub(t0); got != time.Hour {
		t.Errorf("advanced %v, want 1h", got)
	}
}

func TestWriteFileAndZip(t *testing.T) {
	dir := t.TempDir()
	emutest.WriteFile(t, dir, "a/b/c.zip", emutest.Zip(t, emutest.Member{Name: "x.txt", Data: []byte("x")}, emutest.Member{Name: "y/z.txt", Data: []byte("z")}))
	b, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		got = append(got, f.Name+"="+string(data))
	}
	if len(got) != 2 || got[0] != "x.txt=x" || got[1] != "y/z.txt=z" {
		t.Errorf("zip holds %v", got)
	}
}

func TestLogBufferConcurrentWrites(t *testing.T) {
	var w emutest.LogBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = w.Write([]byte("ab"))
			}
		})
	}
	wg.Wait()
	if n := len(w.String()); n != 800 || w.Sync() != nil {
		t.Errorf("%d bytes written, want 800", n)
	}
}
