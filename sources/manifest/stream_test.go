package manifest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

func richRow(i int) string {
	return fmt.Sprintf("id%d,https://x.test/img/%d.jpg,\"cat;-dog\",\"{'n': %d, 'src': 'gen'}\"\n", i, i, i)
}

const richHeader = "id,url,concepts,metadata\n"

// TestStreamingMemory streams 200k generated rows and checks that the heap
// does not grow with them: a source that kept a few hundred bytes per row
// would hold tens of megabytes at the end.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200k rows")
	}
	const rows = 200_000
	gen := &genReader{header: richHeader, row: richRow, n: rows}
	src, err := manifest.New(manifest.Config{Path: "gen.csv", Open: func() (io.ReadCloser, error) { return gen, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make(chan *pipeline.Item)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		errc <- src.Stream(ctx, out)
	}()

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var n int
	var early uint64
	for it := range out {
		if it.Err != nil {
			t.Fatalf("row %d: %v", it.Prov.Row, it.Err)
		}
		if want := n + 2; it.Prov.Row != want || it.ID != fmt.Sprintf("id%d", n) {
			t.Fatalf("item %d: row %d, id %q; want row %d in order", n, it.Prov.Row, it.ID, want)
		}
		n++
		if n == rows/10 {
			early = heap()
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("got %d items, want %d", n, rows)
	}
	if !gen.closed {
		t.Error("Stream did not close the manifest")
	}
	late := heap()
	const slack = 4 << 20
	t.Logf("heap after %d rows: %d KiB; after %d rows: %d KiB", rows/10, early>>10, rows, late>>10)
	if late > early+slack {
		t.Errorf("heap grew from %d to %d bytes over %d rows: memory is not bounded", early, late, rows-rows/10)
	}
}

// TestCancel checks that Stream returns ctx.Err() promptly, both while the
// consumer reads and while Stream is blocked on a send.
func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		read int // items to receive before cancelling
	}{{"while sending", 0}, {"after some items", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			gen := &genReader{header: richHeader, row: richRow, n: -1} // endless
			src, err := manifest.New(manifest.Config{Path: "gen.csv", Open: func() (io.ReadCloser, error) { return gen, nil }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := make(chan *pipeline.Item)
			errc := make(chan error, 1)
			go func() { errc <- src.Stream(ctx, out) }()
			for range tc.read {
				<-out
			}
			cancel()
			// Keep receiving: a source that ignored ctx would go on sending.
			deadline := time.After(2 * time.Second)
			for {
				select {
				case <-out:
					continue
				case err := <-errc:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("Stream = %v, want context.Canceled", err)
					}
					if !gen.closed {
						t.Error("Stream did not close the manifest")
					}
					return
				case <-deadline:
					t.Fatal("Stream did not return within 2s of cancel")
				}
			}
		})
	}
}

// TestRecordTooLarge checks that a quote never closed in a huge file stops
// the run instead of loading the rest of the file into memory.
func TestRecordTooLarge(t *testing.T) {
	gen := &genReader{header: "text\nfirst\n\"opened,never closed\n", row: func(int) string { return "more text\n" }, n: -1}
	src, err := manifest.New(manifest.Config{Path: "gen.csv", MaxRecordBytes: 1 << 16, Open: func() (io.ReadCloser, error) { return gen, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(chan *pipeline.Item, 10)
	err = src.Stream(ctx, out)
	close(out)
	const want = "manifest gen.csv: row 3: a record is longer than 65536 bytes (is a quote never closed?); stopped reading"
	if err == nil || err.Error() != want {
		t.Fatalf("Stream = %v, want %q", err, want)
	}
	var rows []int
	for it := range out {
		rows = append(rows, it.Prov.Row)
	}
	if len(rows) != 1 || rows[0] != 2 {
		t.Errorf("got rows %v, want [2]", rows)
	}
	if gen.i > 1<<16/10+1000 {
		t.Errorf("read %d generated lines past the limit", gen.i)
	}
}

// TestKeys checks the resume keys of every kind of row.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.jpg": "jpeg", "m.csv": "id,url,path,text,dataset_ids\n" +
		"given,https://x.test/a.jpg,,,\n" +
		",HTTPS://X.test:443/a.jpg#frag,,,\n" +
		",,a.jpg,,\n" +
		",,,some text,\n" +
		",https://x.test/a.jpg,,caption,\n" +
		",,a.jpg,caption,\n" +
		",https://x.test/a.jpg,,,\"b;a\"\n"})
	items, err := collect(t, manifest.Config{Path: filepath.Join(dir, "m.csv"), DatasetIDs: nil})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	fileKey := ids.FileKey(filepath.Join(dir, "a.jpg"), fi.Size(), fi.ModTime())
	urlKey := ids.URLKey(pipeline.KindImage, "https://x.test/a.jpg")
	want := []string{
		"id:given",
		urlKey, // normalized: scheme, host, port, fragment
		fileKey,
		ids.TextKey("some text"),
		ids.URLKey(pipeline.KindMultimodal, "https://x.test/a.jpg") + "|" + ids.TextKey("caption"),
		fileKey + "|" + ids.TextKey("caption"),
		urlKey + "|ds=a,b",
	}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	for i, it := range items {
		if it.Err != nil {
			t.Fatalf("row %d: %v", it.Prov.Row, it.Err)
		}
		if it.Key != want[i] {
			t.Errorf("row %d: Key = %q, want %q", it.Prov.Row, it.Key, want[i])
		}
		if it.Blob != nil && (it.Blob.Size != fi.Size() || !it.Blob.ModTime.Equal(fi.ModTime())) {
			t.Errorf("row %d: blob size %d mtime %v, want the file's %d, %v", it.Prov.Row, it.Blob.Size, it.Blob.ModTime, fi.Size(), fi.ModTime())
		}
	}
}

// TestConfigIsCopied checks that the caller's slices are not shared with
// the items, which later stages may modify.
func TestConfigIsCopied(t *testing.T) {
	ds := []string{"a"}
	items, _, err := streamCSV(t, manifest.Config{DatasetIDs: ds}, "text\none\ntwo\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	ds[0] = "changed"
	items[0].DatasetIDs[0] = "mutated"
	if got := items[1].DatasetIDs[0]; got != "a" {
		t.Errorf("second item's dataset = %q, want a", got)
	}
}

// FuzzManifest checks that arbitrary bytes never make the source panic or
// hang, and that every record after the header yields exactly one item,
// in order, with its row number, either usable or failed with an
// ItemError naming that row.
func FuzzManifest(f *testing.F) {
	for _, s := range []string{
		"url,text\nhttps://x/a.jpg,\n,hello\n",
		"\uFEFFinputid,input,concepts,metadata,geopoints\r\n\"a\",\"t\",\"x,y\",\"{'k': 'v'}\",\"1,2\"\r\n",
		"text,concepts\n\"multi\nline\",a\nab\"c,x\n\"never",
		"input\n\n\n\"\"\"\"\n",
		"url,annotations\nhttps://x/a.jpg,\"[{\"\"label\"\":\"\"c\"\",\"\"box\"\":[1,2,3,4]}]\"\n",
		"path,kind\n/etc/hostname,text\n../x.jpg,\n",
		"id,text,lat,lon,split,dataset_ids\n1,t,1,2,train,\"a;b\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := manifest.New(manifest.Config{
			Path: "fuzz.csv", InputType: pipeline.KindText, CSVType: manifest.CSVRaw, MaxRecordBytes: 1 << 12,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out := make(chan *pipeline.Item)
		errc := make(chan error, 1)
		go func() {
			defer close(out)
			errc <- src.Stream(ctx, out)
		}()
		var items []*pipeline.Item
		for it := range out {
			items = append(items, it)
		}
		streamErr := <-errc
		if errors.Is(streamErr, context.DeadlineExceeded) {
			t.Fatal("Stream did not finish in 10s")
		}

		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 1
		for _, it := range items {
			if it.Prov.Source != "fuzz.csv" || it.Prov.Row <= prev || it.Prov.Row > lines {
				t.Fatalf("item with provenance %+v after row %d (of %d lines)", it.Prov, prev, lines)
			}
			prev = it.Prov.Row
			if it.Err != nil {
				var ie *pipeline.ItemError
				if !errors.As(it.Err, &ie) || ie.Prov.Row != it.Prov.Row || !strings.Contains(it.Err.Error(), fmt.Sprintf("row %d", it.Prov.Row)) {
					t.Fatalf("row %d: error %q does not name its row", it.Prov.Row, it.Err)
				}
				continue
			}
			if it.Kind == pipeline.KindUnknown || (it.URL == "" && it.Blob == nil && it.Text == "") || it.Key == "" {
				t.Fatalf("row %d: usable item without kind, content or key: %+v", it.Prov.Row, it)
			}
		}
		if streamErr != nil {
			return // a header error, or a record over the limit
		}
		if want := countRecords(data); len(items) != want {
			t.Fatalf("got %d items for %d records after the header", len(items), want)
		}
	})
}

// countRecords counts the records after the header with a plain
// encoding/csv reader configured like the source's.
func countRecords(data []byte) int {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	r := csvReader(bytes.NewReader(data))
	n := -1 // the header
	for {
		if _, err := r.Read(); err == io.EOF {
			return max(n, 0)
		}
		n++
	}
}

// TestRelativeManifestFileKey checks that a manifest given by a relative
// path keys its file rows by absolute path, as ids.FileKey does, so
// that a rerun from another folder finds them done.
func TestRelativeManifestFileKey(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"data/a.jpg": "jpeg", "b.jpg": "jpeg2",
		"data/m.csv": "path\na.jpg\n../b.jpg\n"})
	t.Chdir(dir)
	items, err := collect(t, manifest.Config{Path: filepath.Join("data", "m.csv")})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range []string{"data/a.jpg", "b.jpg"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ids.FileKey(filepath.Join(dir, name), fi.Size(), fi.ModTime()))
	}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	for i, it := range items {
		if it.Err != nil {
			t.Fatalf("row %d: %v", it.Prov.Row, it.Err)
		}
		if it.Key != want[i] {
			t.Errorf("row %d: Key = %q, want %q", it.Prov.Row, it.Key, want[i])
		}
		if wantProv := filepath.Join("data", []string{"a.jpg", "../b.jpg"}[i]); it.Prov.Path != wantProv {
			t.Errorf("row %d: Prov.Path = %q, want %q", it.Prov.Row, it.Prov.Path, wantProv)
		}
	}
}
