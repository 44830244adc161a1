package urllist_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
)

// got is the comparable part of an item.
type got struct {
	Line     int
	Kind     pipeline.Kind
	URL      string
	Path     string
	Concepts []pipeline.Concept
	Datasets []string
	Key      string
	Err      string
	Skipped  bool
}

func stream(t *testing.T, cfg urllist.Config, content string) ([]got, error) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "urls.txt"
	}
	cfg.Open = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
	src, err := urllist.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	items, err := pipelinetest.Collect(ctx, src)
	out := make([]got, len(items))
	for i, it := range items {
		out[i] = got{Line: it.Prov.Line, Kind: it.Kind, URL: it.URL, Path: it.Prov.Path, Concepts: it.Concepts,
			Datasets: it.DatasetIDs, Key: it.Key, Skipped: errors.Is(it.Err, pipeline.ErrSkip)}
		if it.Err != nil {
			out[i].Err = it.Err.Error()
			var ie *pipeline.ItemError
			if !errors.As(it.Err, &ie) || ie.Prov.Line != it.Prov.Line || it.Stage != "source" {
				t.Errorf("line %d: Err %v (stage %q) does not carry the line's provenance", it.Prov.Line, it.Err, it.Stage)
			}
		}
		if it.Prov.Source != cfg.Path {
			t.Errorf("line %d: Prov.Source = %q, want %q", it.Prov.Line, it.Prov.Source, cfg.Path)
		}
	}
	return out, err
}

func TestURLList(t *testing.T) {
	pos, neg := pipeline.Positive, pipeline.Negative
	img, vid := pipeline.KindImage, pipeline.KindVideo
	ok := func(line int, kind pipeline.Kind, u string, cs ...pipeline.Concept) got {
		return got{Line: line, Kind: kind, URL: u, Path: u, Concepts: cs, Key: ids.URLKey(kind, u)}
	}
	bad := func(line int, u, err string) got { return got{Line: line, Path: u, Err: err} }
	for _, tc := range []struct {
		name, in string
		cfg      urllist.Config
		want     []got
	}{{
		name: "comments, blanks and labels",
		in: "# my cats\n\nhttps://x.test/a.jpg\n   \n  https://x.test/b.PNG\tcat\t-dog  \n" +
			"\t# indented comment\nhttps://x.test/c.mp4\trunning,outdoor:1;indoor:0\n",
		want: []got{
			ok(3, img, "https://x.test/a.jpg"),
			ok(5, img, "https://x.test/b.PNG", pos("cat"), neg("dog")),
			ok(7, vid, "https://x.test/c.mp4", pos("running"), pos("outdoor"), neg("indoor")),
		},
	}, {
		name: "BOM, CRLF and no final newline",
		in:   "\uFEFFhttps://x.test/a.wav\r\nhttps://x.test/b.txt\tx\r\nhttps://x.test/c.gif",
		want: []got{
			ok(1, pipeline.KindAudio, "https://x.test/a.wav"),
			ok(2, pipeline.KindText, "https://x.test/b.txt", pos("x")),
			ok(3, img, "https://x.test/c.gif"),
		},
	}, {
		name: "a '#' after the URL is part of it",
		in:   "https://x.test/a.jpg#frag\nhttps://x.test/p?q=1#x.mp4\n",
		want: []got{
			ok(1, img, "https://x.test/a.jpg#frag"),
			{Line: 2, URL: "https://x.test/p?q=1#x.mp4", Path: "https://x.test/p?q=1#x.mp4", Skipped: true,
				Err: `urls.txt line 2 (https://x.test/p?q=1#x.mp4): url: skipped: cannot tell the kind of the path "/p" (no extension) from its extension; set the kind for the list`},
		},
	}, {
		name: "unknown extension is skipped",
		in:   "https://x.test/index.php\nhttps://x.test/a.jpg\n",
		want: []got{
			{Line: 1, URL: "https://x.test/index.php", Path: "https://x.test/index.php", Skipped: true,
				Err: `urls.txt line 1 (https://x.test/index.php): url: skipped: cannot tell the kind of the path "/index.php" (extension ".php") from its extension; set the kind for the list`},
			ok(2, img, "https://x.test/a.jpg"),
		},
	}, {
		name: "kind forced",
		cfg:  urllist.Config{Kind: pipeline.KindVideo, DatasetIDs: []string{"b", "a"}},
		in:   "https://x.test/stream?id=7\n",
		want: []got{{Line: 1, Kind: vid, URL: "https://x.test/stream?id=7", Path: "https://x.test/stream?id=7",
			Datasets: []string{"b", "a"}, Key: ids.URLKey(vid, "https://x.test/stream?id=7") + "|ds=a,b"}},
	}, {
		name: "invalid lines are reported and the run goes on",
		in: "ftp://x.test/a.jpg\nx.test/a.jpg\nhttps:///a.jpg\nhttps://x.test/a b.jpg\nhttps://x.test/a.jpg cat\n" +
			"https://x.test/\x01.jpg\nhttps://x.test/a.jpg\tcat:2\nhttps://x.test/\xff.jpg\nhttps://x.test/ok.jpg\n",
		want: []got{
			bad(1, "ftp://x.test/a.jpg", `urls.txt line 1 (ftp://x.test/a.jpg): url: want an http or https URL, got "ftp://x.test/a.jpg" with the scheme "ftp"`),
			bad(2, "x.test/a.jpg", `urls.txt line 2 (x.test/a.jpg): url: want an http or https URL, got "x.test/a.jpg" with no scheme`),
			bad(3, "https:///a.jpg", `urls.txt line 3 (https:///a.jpg): url: want an http or https URL, got "https:///a.jpg" with no host`),
			bad(4, "https://x.test/a b.jpg", `urls.txt line 4 (https://x.test/a b.jpg): url: want an http or https URL, got "https://x.test/a b.jpg" with a space at byte 16 (encode it as %20); separate labels from the URL with a tab`),
			bad(5, "https://x.test/a.jpg cat", `urls.txt line 5 (https://x.test/a.jpg cat): url: want an http or https URL, got "https://x.test/a.jpg cat" with a space at byte 20 (encode it as %20); separate labels from the URL with a tab`),
			bad(6, "https://x.test/\x01.jpg", `urls.txt line 6 (https://x.test/`+"\x01"+`.jpg): url: want an http or https URL, got "https://x.test/\x01.jpg" with the control or space character U+0001 at byte 15`),
			bad(7, "https://x.test/a.jpg", `urls.txt line 7 (https://x.test/a.jpg): labels: want a label such as cat, -cat, cat:1 or cat:0, got "cat:2" (the value after ':' must be 0 or 1)`),
			{Line: 8, Err: `urls.txt line 8: want UTF-8 text, got bytes that are not UTF-8 (save the list as UTF-8)`},
			ok(9, img, "https://x.test/ok.jpg"),
		},
	}, {
		name: "line too long",
		cfg:  urllist.Config{MaxLineBytes: 40},
		in: "https://x.test/" + strings.Repeat("a", 100) + ".jpg\n" +
			"https://x.test/" + strings.Repeat("b", 22) + ".jpg\n" + // 41 bytes: fits the buffer, not the limit
			"https://x.test/" + strings.Repeat("c", 21) + ".jpg\r\n" + // exactly 40
			"https://x.test/" + strings.Repeat("d", 200),
		want: []got{
			{Line: 1, Err: "urls.txt line 1: want a line of at most 40 bytes, got a longer one"},
			{Line: 2, Err: "urls.txt line 2: want a line of at most 40 bytes, got 41"},
			ok(3, img, "https://x.test/"+strings.Repeat("c", 21)+".jpg"),
			{Line: 4, Err: "urls.txt line 4: want a line of at most 40 bytes, got a longer one"},
		},
	}, {
		name: "empty file",
		in:   "",
		want: []got{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := stream(t, tc.cfg, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, items); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenError(t *testing.T) {
	src, err := urllist.New(urllist.Config{Path: filepath.Join(t.TempDir(), "missing.txt")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pipelinetest.Collect(context.Background(), src)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stream = %v, want a not-exist error", err)
	}
}

// TestReadError checks that a failing reader ends the run with an error
// naming the line.
func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	src, err := urllist.New(urllist.Config{Path: "u.txt", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("https://x/a.jpg\nhttps://x/b"), errReader{boom})), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	items, err := pipelinetest.Collect(context.Background(), src)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "u.txt: line 2") || len(items) != 1 {
		t.Errorf("Stream = %v with %d items, want the read error at line 2 after 1 item", err, len(items))
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  urllist.Config
		want string
	}{
		{urllist.Config{Path: "u"}, ""},
		{urllist.Config{Path: "u", Kind: pipeline.KindText, DatasetIDs: []string{"d"}, MaxLineBytes: 10}, ""},
		{urllist.Config{}, "path is required"},
		{urllist.Config{Path: "u", Kind: pipeline.KindMultimodal}, "kind multimodal"},
		{urllist.Config{Path: "u", DatasetIDs: []string{""}}, "dataset_ids"},
		{urllist.Config{Path: "u", MaxLineBytes: -1}, "negative"},
	} {
		_, err := urllist.New(tc.cfg)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestCancel checks that Stream stops promptly on cancel, even when the
// consumer keeps reading and when the list is an endless run of comments.
func TestCancel(t *testing.T) {
	for name, line := range map[string]string{"urls": "https://x/a.jpg\n", "comments": "# nothing here\n"} {
		t.Run(name, func(t *testing.T) {
			src, err := urllist.New(urllist.Config{Path: "u.txt", Open: func() (io.ReadCloser, error) {
				return io.NopCloser(&repeatReader{line: line}), nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan *pipeline.Item)
			errc := make(chan error, 1)
			go func() { errc <- src.Stream(ctx, out) }()
			time.Sleep(10 * time.Millisecond)
			cancel()
			deadline := time.After(2 * time.Second)
			for {
				select {
				case <-out:
				case err := <-errc:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("Stream = %v, want context.Canceled", err)
					}
					return
				case <-deadline:
					t.Fatal("Stream did not return within 2s of cancel")
				}
			}
		})
	}
}

// repeatReader repeats line forever.
type repeatReader struct {
	line string
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

// FuzzURLList checks that no input makes the source panic, that every
// line that is not blank or a comment yields exactly one item, in order,
// and that each item is either usable or names its line.
func FuzzURLList(f *testing.F) {
	for _, s := range []string{
		"https://x.test/a.jpg\n# c\n\nhttps://x.test/b.mp4\tcat\t-dog\n",
		"\uFEFFhttps://x.test/a.jpg\r\nftp://x/y\r\n",
		"https://x.test/a b.jpg\nhttps://x.test/\x00\nhttps://[::1]:8080/a.png\n",
		"https://x.test/a.jpg\tcat:2\n\xff\n" + strings.Repeat("a", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := urllist.New(urllist.Config{Path: "f.txt", MaxLineBytes: 256, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		items, err := pipelinetest.Collect(context.Background(), src)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		lines := bytes.Split(data, []byte("\n"))
		var want []int
		for i, l := range lines {
			if i == len(lines)-1 && len(l) == 0 {
				break // after the last '\n'
			}
			l = bytes.TrimSuffix(l, []byte("\r"))
			tooLong := len(l) > 256
			if i == 0 {
				l = bytes.TrimPrefix(l, []byte("\uFEFF"))
			}
			if l = bytes.TrimSpace(l); tooLong || len(l) > 0 && l[0] != '#' {
				want = append(want, i+1)
			}
		}
		var gotLines []int
		for _, it := range items {
			gotLines = append(gotLines, it.Prov.Line)
			if it.Err != nil {
				if !strings.Contains(it.Err.Error(), fmt.Sprintf("f.txt line %d", it.Prov.Line)) {
					t.Fatalf("line %d: error %q does not name its line", it.Prov.Line, it.Err)
				}
				continue
			}
			if it.Kind == pipeline.KindUnknown || it.URL == "" || !strings.HasPrefix(it.Key, "url:") {
				t.Fatalf("line %d: usable item without kind, URL or key: %+v", it.Prov.Line, it)
			}
		}
		if !cmp.Equal(want, gotLines) {
			t.Fatalf("items for lines %v, want lines %v", gotLines, want)
		}
	})
}
