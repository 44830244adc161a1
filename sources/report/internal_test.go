package report

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadLine(t *testing.T) {
	type line struct {
		text    string
		tooLong bool
	}
	cases := []struct {
		name  string
		in    string
		limit int
		want  []line
	}{
		{"empty input", "", 10, nil},
		{"one line", "abc\n", 10, []line{{"abc", false}}},
		{"no final newline", "abc\ndef", 10, []line{{"abc", false}, {"def", false}}},
		{"CRLF", "abc\r\ndef\r\n", 10, []line{{"abc", false}, {"def", false}}},
		{"blank lines kept", "\n\nx\n", 10, []line{{"", false}, {"", false}, {"x", false}}},
		{"exactly the limit", "0123456789\n", 10, []line{{"0123456789", false}}},
		{"one over the limit", "0123456789a\nok\n", 10, []line{{"", true}, {"ok", false}}},
		{"far over the limit, across buffer fills", strings.Repeat("x", 100) + "\nok", 10, []line{{"", true}, {"ok", false}}},
		{"long line within the limit across buffer fills", strings.Repeat("y", 100) + "\n", 200, []line{{strings.Repeat("y", 100), false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.in), 16) // the smallest buffer: lines span fills
			var got []line
			var buf []byte
			for {
				l, tooLong, err := readLine(r, buf[:0], tc.limit)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				buf = l
				got = append(got, line{string(l), tooLong})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("line %d = %+v, want %+v", i+1, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestRefreshFileKey(t *testing.T) {
	mod := time.Unix(1700000000, 5)
	const p = "/data/cat.jpg"
	cases := []struct {
		name    string
		key     string
		want    string
		changed bool
	}{
		{"unchanged", ids.FileKey(p, 10, mod), ids.FileKey(p, 10, mod), false},
		{"unchanged with tail", ids.FileKey(p, 10, mod) + "|ds=a", ids.FileKey(p, 10, mod) + "|ds=a", false},
		{"size changed", ids.FileKey(p, 9, mod), ids.FileKey(p, 10, mod), true},
		{"mtime changed, tail kept", ids.FileKey(p, 10, mod.Add(time.Second)) + "|text:ab|ds=a",
			ids.FileKey(p, 10, mod) + "|text:ab|ds=a", true},
		{"another file's key", ids.FileKey("/data/dog.jpg", 9, mod), ids.FileKey("/data/dog.jpg", 9, mod), false},
		{"an ID key", "id:x", "id:x", false},
		{"a damaged key", "file:" + p + "|ten|x", "file:" + p + "|ten|x", false},
	}
	for _, tc := range cases {
		got, changed := refreshFileKey(tc.key, p, 10, mod)
		if got != tc.want || changed != tc.changed {
			t.Errorf("%s: refreshFileKey = %q, %v; want %q, %v", tc.name, got, changed, tc.want, tc.changed)
		}
	}
}

func TestOriginalSource(t *testing.T) {
	cases := []struct{ in, want string }{
		{"manifest.csv", "manifest.csv"},
		{viaReport("manifest.csv", "f.jsonl", 3), "manifest.csv"},
		{viaReport("", "f.jsonl", 3), ""},
		{"odd [report name]", "odd"},
		{"brackets [kept]", "brackets [kept]"},
	}
	for _, tc := range cases {
		if got := originalSource(tc.in); got != tc.want {
			t.Errorf("originalSource(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewRecordRetryable(t *testing.T) {
	prov := pipeline.Provenance{Source: "manifest.csv", Row: 12, Path: "img/cat.jpg"}
	cases := []struct {
		name      string
		r         pipeline.Result
		retryable bool
		note      string
	}{
		{"url", pipeline.Result{Item: &pipeline.Item{URL: "https://x/y.jpg", Prov: prov}, Event: pipeline.EventFailed, Stage: "upload"}, true, ""},
		{"text", pipeline.Result{Item: &pipeline.Item{Text: "t", Prov: prov}, Event: pipeline.EventFailed, Stage: "upload"}, true, ""},
		{"file", pipeline.Result{Item: &pipeline.Item{Blob: pipeline.FileBlob("/x.jpg", 1), Prov: prov}, Event: pipeline.EventFailed, Stage: "upload"}, true, ""},
		{"source stage", pipeline.Result{Item: &pipeline.Item{Prov: prov}, Event: pipeline.EventFailed, Stage: "source"},
			false, "fix manifest.csv row 12 (img/cat.jpg) and rerun the original job"},
		{"archive member", pipeline.Result{Item: &pipeline.Item{Blob: pipeline.BytesBlob([]byte("x")), Prov: prov}, Event: pipeline.EventFailed, Stage: "upload"},
			false, "came from an archive or from memory"},
		{"no content", pipeline.Result{Item: &pipeline.Item{Prov: prov}, Event: pipeline.EventFailed, Stage: "transform:x"}, false, "no content"},
		{"no item", pipeline.Result{Event: pipeline.EventFailed, Stage: "upload", Err: errors.New("x")}, false, "no item"},
	}
	for _, tc := range cases {
		rec := newRecord(tc.r, time.Now())
		if rec.Retryable != tc.retryable || !strings.Contains(rec.Note, tc.note) {
			t.Errorf("%s: retryable %v note %q; want %v, a note with %q", tc.name, rec.Retryable, rec.Note, tc.retryable, tc.note)
		}
	}
}
