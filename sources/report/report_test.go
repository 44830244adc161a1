package report_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/report"
)

// itemOpts compares items as a retry sees them: a Blob by its path and size
// (its Open func cannot be compared), empty and nil slices alike.
var itemOpts = cmp.Options{
	cmp.Comparer(func(a, b *pipeline.Blob) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Path == b.Path && a.Size == b.Size
	}),
	cmpopts.EquateEmpty(),
	cmpopts.EquateErrors(),
	cmpopts.IgnoreUnexported(pipeline.Item{}), // the runner's own bookkeeping
}

func writeFile(t *testing.T, path, content string) os.FileInfo {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func failedResult(it *pipeline.Item, stage string, code int32, msg string) pipeline.Result {
	return pipeline.Result{Item: it, Event: pipeline.EventFailed, Stage: stage, Code: code, Err: errors.New(msg), Attempts: 3}
}

// writeReport writes results to a new report and returns its path.
func writeReport(t *testing.T, results ...pipeline.Result) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "failures.jsonl")
	w, err := report.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readItems(t *testing.T, path string, opts report.SourceOptions) []*pipeline.Item {
	t.Helper()
	items, err := pipelinetest.Collect(context.Background(), report.NewSource(path, opts))
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return items
}

// via is the provenance source a Source gives the item of report line n.
func via(src, path string, n int) string {
	note := fmt.Sprintf("[report %s line %d]", path, n)
	if src == "" {
		return note
	}
	return src + " " + note
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "cat.jpg")
	fi := writeFile(t, img, "not really a jpeg")
	fileKey := ids.FileKey(img, fi.Size(), fi.ModTime())
	items := []*pipeline.Item{
		{
			ID: "0123456789abcdef0123456789abcdef", Kind: pipeline.KindImage, Blob: pipeline.FileBlob(img, fi.Size()),
			Concepts: []pipeline.Concept{pipeline.Positive("cat"), pipeline.Negative("dog")},
			Metadata: map[string]any{"k": "v", "n": 1.5, "nested": map[string]any{"a": []any{1.0, true, nil}}},
			Geo:      &pipeline.Geo{Latitude: 48.85, Longitude: -2.35}, DatasetIDs: []string{"train"},
			Key:  ids.ScopeKey(fileKey, []string{"train"}),
			Prov: pipeline.Provenance{Source: dir, Path: img},
		},
		{
			Kind: pipeline.KindImage, URL: "https://example.com/a.jpg?x=1&y=<2>",
			Regions: []pipeline.Region{
				{ID: "r1", Concepts: []pipeline.Concept{pipeline.Positive("cat")},
					Box: &pipeline.BoundingBox{Top: 0.1, Left: 0.2, Bottom: 0.3, Right: 0.4}},
				{Concepts: []pipeline.Concept{pipeline.Negative("dog")},
					Polygon: []pipeline.Point{{Row: 0.1, Col: 0.1}, {Row: 0.2, Col: 0.2}, {Row: 0.1, Col: 0.3}}},
			},
			Key:  ids.URLKey(pipeline.KindImage, "https://example.com/a.jpg?x=1&y=<2>"),
			Prov: pipeline.Provenance{Source: "urls.txt", Line: 3, Path: "https://example.com/a.jpg?x=1&y=<2>"},
		},
		{
			ID: "user-7", Kind: pipeline.KindText, Text: "héllo \"world\"\n<tag>\t\u2028",
			Key: ids.IDKey("user-7"), Prov: pipeline.Provenance{Source: "manifest.csv", Row: 4},
		},
		{
			Kind: pipeline.KindMultimodal, Blob: pipeline.FileBlob(img, fi.Size()), Text: "a caption",
			Key: fileKey + "|text:abcd", Prov: pipeline.Provenance{Source: dir, Path: img},
		},
		{Kind: pipeline.KindVideo, URL: "https://example.com/v.mp4", Prov: pipeline.Provenance{Source: "urls.txt", Line: 9}},
	}
	var results []pipeline.Result
	for i, it := range items {
		results = append(results, failedResult(it, "upload", 30104+int32(i), fmt.Sprintf("failure %d", i)))
	}
	path := writeReport(t, results...)

	t.Run("records", func(t *testing.T) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			var rec report.Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			it := items[n]
			want := report.Record{
				Time: rec.Time, Event: "failed", Stage: "upload", Code: 30104 + int32(n), Message: fmt.Sprintf("failure %d", n),
				Attempts: 3, InputID: it.ID, Provenance: it.Prov, Retryable: true,
				Item: report.ItemRecord{
					Kind: it.Kind.String(), URL: it.URL, Text: it.Text, Concepts: it.Concepts, Metadata: it.Metadata,
					Geo: it.Geo, Regions: it.Regions, DatasetIDs: it.DatasetIDs, Key: it.Key,
				},
			}
			if it.Blob != nil {
				want.Item.File = img
			}
			if diff := cmp.Diff(want, rec, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("line %d (-want +got):\n%s", n+1, diff)
			}
			if time.Since(rec.Time) > time.Hour || rec.Time.Location() != time.UTC {
				t.Errorf("line %d: time %v, want now in UTC", n+1, rec.Time)
			}
			n++
		}
		if n != len(items) {
			t.Errorf("%d lines, want %d", n, len(items))
		}
	})

	t.Run("items", func(t *testing.T) {
		got := readItems(t, path, report.SourceOptions{})
		var want []*pipeline.Item
		for i, it := range items {
			w := *it
			w.Prov.Source = via(it.Prov.Source, path, i+1)
			// A retry deletes and re-sends an input that failed processing.
			w.Reprocess = true
			want = append(want, &w)
		}
		if diff := cmp.Diff(want, got, itemOpts); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
	})
}

// TestRetryOfRetry writes the failures of a retry into a second report:
// its items name the original source once, and the second report's line.
func TestRetryOfRetry(t *testing.T) {
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Prov: pipeline.Provenance{Source: "urls.txt", Line: 3}}
	first := writeReport(t, failedResult(it, "upload", 30002, "download failed"))
	retried := readItems(t, first, report.SourceOptions{})
	second := writeReport(t, failedResult(retried[0], "upload", 30002, "download failed again"))
	got := readItems(t, second, report.SourceOptions{})
	if want := via("urls.txt", second, 1); len(got) != 1 || got[0].Prov.Source != want || got[0].Prov.Line != 3 {
		t.Errorf("retry of a retry: %+v, want provenance source %q line 3", got, want)
	}
}

func TestFileChecks(t *testing.T) {
	const derived = "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name    string
		id      string
		key     func(img string, fi os.FileInfo) string
		change  func(t *testing.T, img string)
		wantErr string // in the item's error; "" for none
		wantID  string
		wantKey func(img string, fi os.FileInfo) string // from the file as it is now
	}{
		{
			name: "unchanged: same key and ID",
			id:   derived,
			key: func(img string, fi os.FileInfo) string {
				return ids.FileKey(img, fi.Size(), fi.ModTime()) + "|ds=a"
			},
			change: func(*testing.T, string) {},
			wantID: derived,
			wantKey: func(img string, fi os.FileInfo) string {
				return ids.FileKey(img, fi.Size(), fi.ModTime()) + "|ds=a"
			},
		},
		{
			name: "fixed file: new key, derived ID dropped",
			id:   derived,
			key: func(img string, fi os.FileInfo) string {
				return ids.FileKey(img, fi.Size(), fi.ModTime()) + "|ds=a"
			},
			change: func(t *testing.T, img string) {
				writeFile(t, img, "a different and longer content")
			},
			wantID: "",
			wantKey: func(img string, fi os.FileInfo) string {
				return ids.FileKey(img, fi.Size(), fi.ModTime()) + "|ds=a"
			},
		},
		{
			name:    "fixed file with a given ID: ID and key kept",
			id:      "user-1",
			key:     func(string, os.FileInfo) string { return ids.IDKey("user-1") },
			change:  func(t *testing.T, img string) { writeFile(t, img, "a different and longer content") },
			wantID:  "user-1",
			wantKey: func(string, os.FileInfo) string { return ids.IDKey("user-1") },
		},
		{
			name:    "file gone",
			id:      derived,
			key:     func(img string, fi os.FileInfo) string { return ids.FileKey(img, fi.Size(), fi.ModTime()) },
			change:  func(t *testing.T, img string) { os.Remove(img) },
			wantErr: "the file is gone",
		},
		{
			name: "file replaced by a folder",
			key:  func(img string, fi os.FileInfo) string { return ids.FileKey(img, fi.Size(), fi.ModTime()) },
			change: func(t *testing.T, img string) {
				os.Remove(img)
				os.Mkdir(img, 0o755)
			},
			wantErr: "no longer a regular file",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "cat.jpg")
			fi := writeFile(t, img, "original")
			it := &pipeline.Item{ID: tc.id, Kind: pipeline.KindImage, Blob: pipeline.FileBlob(img, fi.Size()),
				Key: tc.key(img, fi), Prov: pipeline.Provenance{Source: "photos", Path: img}}
			path := writeReport(t, failedResult(it, "upload", 30002, "decode failed"))
			// A fix changes the size, so the test does not depend on the
			// clock moving between the writes.
			tc.change(t, img)
			got := readItems(t, path, report.SourceOptions{})
			if len(got) != 1 {
				t.Fatalf("%d items, want 1", len(got))
			}
			g := got[0]
			if tc.wantErr != "" {
				if g.Err == nil || !strings.Contains(g.Err.Error(), tc.wantErr) || !strings.Contains(g.Err.Error(), img) || g.Stage != "source" {
					t.Errorf("item error %v (stage %q), want a source error with %q naming %s", g.Err, g.Stage, tc.wantErr, img)
				}
				return
			}
			now, err := os.Stat(img)
			if err != nil {
				t.Fatal(err)
			}
			if g.Err != nil || g.ID != tc.wantID || g.Key != tc.wantKey(img, now) || g.Blob == nil || g.Blob.Size != now.Size() || !g.Blob.ModTime.Equal(now.ModTime()) {
				t.Errorf("item: err %v, ID %q, key %q, blob %+v; want ID %q, key %q, size %d, mtime %v",
					g.Err, g.ID, g.Key, g.Blob, tc.wantID, tc.wantKey(img, now), now.Size(), now.ModTime())
			}
		})
	}
}

func TestMalformedLines(t *testing.T) {
	good := writeReport(t, failedResult(&pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/1.jpg"}, "upload", 1, "x"))
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(b), "\n")
	content := strings.Join([]string{
		line,                   // 1
		"not json",             // 2
		"",                     // 3: blank, ignored
		`{"event":"exploded"}`, // 4
		`{"event":"failed","item":{"kind":"hologram"}}`, // 5
		`{"event":"failed"`,                             // 6
		`{"event":"failed","item":{"kind":"text","text":"` + strings.Repeat("x", 4000) + `"}}`, // 7: too long
		"   ",       // 8: blank
		line + "\r", // 9: CRLF
		line,        // 10: no final newline
	}, "\n")
	path := filepath.Join(t.TempDir(), "hand-edited.jsonl")
	writeFile(t, path, content)
	got := readItems(t, path, report.SourceOptions{MaxLineBytes: 1000})
	wants := []struct {
		line int
		err  string
	}{
		{1, ""}, {2, "malformed record"}, {4, `unknown event "exploded"`}, {5, "item kind"},
		{6, "malformed record"}, {7, "longer than 1000 bytes"}, {9, ""}, {10, ""},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d items, want %d: %v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if w.err == "" {
			if g.Err != nil || g.URL != "https://x/1.jpg" || !strings.Contains(g.Prov.Source, fmt.Sprintf("line %d]", w.line)) {
				t.Errorf("line %d: %+v, want the good record", w.line, g)
			}
			continue
		}
		if g.Err == nil || g.Stage != "source" {
			t.Errorf("line %d: err %v stage %q, want a source error", w.line, g.Err, g.Stage)
			continue
		}
		msg := g.Err.Error()
		if !strings.HasPrefix(msg, fmt.Sprintf("%s line %d: ", path, w.line)) || !strings.Contains(msg, w.err) {
			t.Errorf("line %d: error %q, want it to name %s line %d and say %q", w.line, msg, path, w.line, w.err)
		}
	}
}

func TestNotRetryable(t *testing.T) {
	prov := pipeline.Provenance{Source: "manifest.csv", Row: 12, Path: "img/cat.jpg"}
	bad := &pipeline.Item{Prov: prov}
	member := &pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob([]byte("jpeg")), Prov: pipeline.Provenance{Source: "photos.zip", Path: "photos.zip/a.jpg"}}
	nan := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Metadata: map[string]any{"score": math.NaN()}, Prov: prov}
	path := writeReport(t,
		pipeline.Result{Item: bad, Event: pipeline.EventFailed, Stage: "source", Err: pipeline.Errorf(prov, "lat", "want a number")},
		failedResult(member, "upload", 30104, "bad image"),
		failedResult(nan, "upload", 30104, "bad"),
	)
	cases := []struct {
		name string
		want string
	}{
		{"bad manifest row", "fix manifest.csv row 12 (img/cat.jpg) and rerun the original job (it failed with: manifest.csv row 12 (img/cat.jpg): lat: want a number)"},
		{"archive member", "the content of photos.zip/a.jpg came from an archive"},
		{"metadata not encodable", "the metadata could not be written"},
	}
	got := readItems(t, path, report.SourceOptions{})
	if len(got) != len(cases) {
		t.Fatalf("%d items, want %d", len(got), len(cases))
	}
	for i, tc := range cases {
		if g := got[i]; g.Err == nil || g.Stage != "source" || !strings.Contains(g.Err.Error(), tc.want) {
			t.Errorf("%s: error %v (stage %q), want a source error containing %q", tc.name, g.Err, g.Stage, tc.want)
		}
	}
	// And in the file, retryable is false with the note.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec report.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Retryable || rec.Note == "" {
			t.Errorf("line %d: retryable %v, note %q; want false with a note", i+1, rec.Retryable, rec.Note)
		}
	}
}

func TestSkippedRecords(t *testing.T) {
	failed := failedResult(&pipeline.Item{Kind: pipeline.KindText, Text: "a"}, "upload", 0, "x")
	skipped := pipeline.Result{Item: &pipeline.Item{Kind: pipeline.KindUnknown, URL: "https://x/y.bin"}, Event: pipeline.EventSkipped,
		Stage: "transform:kind", Err: pipeline.Skip("unknown file type")}
	path := writeReport(t, failed, skipped)
	cases := []struct {
		name string
		opts report.SourceOptions
		want []string // URL or text of the items
	}{
		{"default: failed only", report.SourceOptions{}, []string{"a"}},
		{"with skipped", report.SourceOptions{IncludeSkipped: true}, []string{"a", "https://x/y.bin"}},
	}
	for _, tc := range cases {
		var got []string
		for _, it := range readItems(t, path, tc.opts) {
			if it.Err != nil {
				t.Errorf("%s: item error %v", tc.name, it.Err)
			}
			got = append(got, it.Text+it.URL)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestWriterIgnoresOtherEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	w, err := report.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	it := &pipeline.Item{Kind: pipeline.KindText, Text: "x"}
	for _, ev := range []pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone, pipeline.EventResumed} {
		if err := w.Write(pipeline.Result{Item: it, Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(pipeline.Result{Item: it, Event: pipeline.EventSkipped, Err: pipeline.Skip("no")}); err != nil {
		t.Fatal(err)
	}
	if f, s := w.Counts(); f != 0 || s != 1 {
		t.Errorf("Counts = %d, %d; want 0, 1", f, s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(failedResult(it, "upload", 0, "x")); !errors.Is(err, report.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, report.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("%d lines written, want 1 (the skip)", n)
	}
}

func TestWriterConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	w, err := report.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				it := &pipeline.Item{Kind: pipeline.KindText, Text: fmt.Sprintf("%d-%d %s", g, i, strings.Repeat("x", 500))}
				if err := w.Write(failedResult(it, "upload", 0, "x")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	items := readItems(t, path, report.SourceOptions{})
	seen := map[string]bool{}
	for _, it := range items {
		if it.Err != nil {
			t.Fatalf("interleaved write: %v", it.Err)
		}
		seen[it.Text] = true
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct items, want 200", len(seen))
	}
}

func TestStreamCancel(t *testing.T) {
	var results []pipeline.Result
	for i := range 1000 {
		results = append(results, failedResult(&pipeline.Item{Kind: pipeline.KindText, Text: fmt.Sprint(i)}, "upload", 0, "x"))
	}
	path := writeReport(t, results...)
	src := report.NewSource(path, report.SourceOptions{})

	t.Run("while blocked on a send", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan *pipeline.Item)
		errc := make(chan error, 1)
		go func() { errc <- src.Stream(ctx, out) }()
		for range 3 {
			<-out
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Stream = %v, want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out := make(chan *pipeline.Item, 1)
		if err := src.Stream(ctx, out); !errors.Is(err, context.Canceled) || len(out) != 0 {
			t.Errorf("Stream = %v with %d items sent, want context.Canceled and none", err, len(out))
		}
	})
}

func TestMissingReport(t *testing.T) {
	src := report.NewSource(filepath.Join(t.TempDir(), "nope.jsonl"), report.SourceOptions{})
	_, err := pipelinetest.Collect(context.Background(), src)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.jsonl") {
		t.Errorf("Stream = %v, want a not-exist error naming the file", err)
	}
	if name := src.Name(); !strings.HasPrefix(name, "report ") {
		t.Errorf("Name = %q", name)
	}
}

func TestNewWriterError(t *testing.T) {
	if _, err := report.NewWriter(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl")); err == nil {
		t.Error("NewWriter in a missing folder succeeded")
	}
}

// TestRetryRunReplacesTheReportItReads: a retry run reads failures.jsonl
// as its source while writing its own report to the same path; the old
// report must stay readable until the new one is complete.
func TestRetryRunReplacesTheReportItReads(t *testing.T) {
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://x/y.jpg", Prov: pipeline.Provenance{Source: "urls.txt", Line: 3}}
	path := writeReport(t, failedResult(it, "upload", 30002, "first"))
	w, err := report.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	retried := readItems(t, path, report.SourceOptions{})
	if len(retried) != 1 {
		t.Fatalf("the open writer hid the previous report: %d items", len(retried))
	}
	if err := w.Write(failedResult(retried[0], "upload", 30002, "second")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "second") || strings.Contains(string(b), `"first"`) {
		t.Errorf("report after the retry run:\n%s", b)
	}
	if _, err := os.Stat(path + report.PartialSuffix); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
}
