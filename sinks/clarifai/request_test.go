package clarifai

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// png is content that base64 would change: raw bytes must go on the wire.
var png = []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe}

func TestBuildEntry(t *testing.T) {
	meta := map[string]any{
		"s": "x", "n": 1.5, "i": 7, "b": true, "null": nil, "j": json.Number("42"),
		"nested": map[string]any{"list": []any{1, "two", false, nil}}, "tags": []string{"a", "b"},
		"labels": map[string]string{"k": "v"},
	}
	wantMeta, err := structpb.NewStruct(map[string]any{
		"s": "x", "n": 1.5, "i": 7, "b": true, "null": nil, "j": 42,
		"nested": map[string]any{"list": []any{1, "two", false, nil}}, "tags": []any{"a", "b"},
		"labels": map[string]any{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		it        *pipeline.Item
		want      *pb.Input // Id "" means: the derived ID
		wantBytes int64
	}{
		{"image bytes, labels, metadata, geo, dataset",
			&pipeline.Item{Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(png),
				Concepts: []pipeline.Concept{pipeline.Positive("cat"), pipeline.Negative("dog")},
				Metadata: meta, Geo: &pipeline.Geo{Latitude: 48.8584, Longitude: 2.2945}, DatasetIDs: []string{"train"},
				Regions: []pipeline.Region{{Box: &pipeline.BoundingBox{Bottom: 1, Right: 1}}}},
			&pb.Input{DatasetIds: []string{"train"}, Data: &pb.Data{
				Image:    &pb.Image{Base64: png},
				Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}, {Id: "dog", Name: "dog", Value: 0}},
				Metadata: wantMeta,
				Geo:      &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: float32(2.2945), Latitude: float32(48.8584)}},
			}}, int64(len(png))},
		{"video url keeps user id",
			&pipeline.Item{ID: "vid-1", Kind: pipeline.KindVideo, URL: "https://x/v.mp4"},
			&pb.Input{Id: "vid-1", Data: &pb.Data{Video: &pb.Video{Url: "https://x/v.mp4"}}}, 0},
		{"audio bytes",
			&pipeline.Item{ID: "a", Kind: pipeline.KindAudio, Blob: pipeline.BytesBlob(png)},
			&pb.Input{Id: "a", Data: &pb.Data{Audio: &pb.Audio{Base64: png}}}, int64(len(png))},
		{"raw text",
			&pipeline.Item{ID: "t", Kind: pipeline.KindText, Text: "héllo"},
			&pb.Input{Id: "t", Data: &pb.Data{Text: &pb.Text{Raw: "héllo"}}}, int64(len("héllo"))},
		{"text file",
			&pipeline.Item{ID: "tf", Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte("línea"))},
			&pb.Input{Id: "tf", Data: &pb.Data{Text: &pb.Text{Raw: "línea"}}}, int64(len("línea"))},
		{"text url",
			&pipeline.Item{ID: "tu", Kind: pipeline.KindText, URL: "https://x/a.txt"},
			&pb.Input{Id: "tu", Data: &pb.Data{Text: &pb.Text{Url: "https://x/a.txt"}}}, 0},
		{"multimodal",
			&pipeline.Item{ID: "mm", Kind: pipeline.KindMultimodal, Blob: pipeline.BytesBlob(png), Text: "a cat"},
			&pb.Input{Id: "mm", Data: &pb.Data{Image: &pb.Image{Base64: png}, Text: &pb.Text{Raw: "a cat"}}}, int64(len(png) + 5)},
		{"multimodal url",
			&pipeline.Item{ID: "mu", Kind: pipeline.KindMultimodal, URL: "https://x/c.jpg", Text: "a cat"},
			&pb.Input{Id: "mu", Data: &pb.Data{Image: &pb.Image{Url: "https://x/c.jpg"}, Text: &pb.Text{Raw: "a cat"}}}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			derived := ids.DeriveID(tc.it, png)
			userID := tc.it.ID
			e, err := buildEntry(t.Context(), tc.it)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want.Id == "" {
				want.Id = derived
			}
			if diff := cmp.Diff(want, e.in, protocmp.Transform()); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
			if tc.it.ID != want.Id || e.derived != (userID == "") || e.bytes != tc.wantBytes {
				t.Errorf("item ID %q derived %v bytes %d; want %q %v %d", tc.it.ID, e.derived, e.bytes, want.Id, userID == "", tc.wantBytes)
			}
		})
	}
}

func TestBuildEntryFailures(t *testing.T) {
	vanished := &pipeline.Blob{Size: 3, Open: func() (io.ReadCloser, error) { return nil, os.ErrNotExist }}
	for _, tc := range []struct {
		name string
		it   *pipeline.Item
		want string
	}{
		{"file vanished", &pipeline.Item{Kind: pipeline.KindImage, Blob: vanished}, "load content: file does not exist"},
		{"file changed", &pipeline.Item{Kind: pipeline.KindImage, Blob: &pipeline.Blob{Size: 99, Open: pipeline.BytesBlob(png).Open}}, "changed"},
		{"text file not utf-8", &pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob(png)}, "not valid UTF-8"},
		{"metadata type", &pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: map[string]any{"a": map[string]any{"c": make(chan int)}}},
			`metadata: a.c: cannot store a chan int`},
		{"metadata NaN", &pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: map[string]any{"n": math.NaN()}}, "n: NaN is not a JSON number"},
		{"metadata bad utf-8", &pipeline.Item{Kind: pipeline.KindText, Text: "x", Metadata: map[string]any{"s": "\xff"}}, "not valid UTF-8"},
	} {
		tc.it.Prov = pipeline.Provenance{Path: "in/f"}
		_, err := buildEntry(t.Context(), tc.it)
		var ie *pipeline.ItemError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an ItemError containing %q", tc.name, err, tc.want)
		}
		if tc.it.ID != "" {
			t.Errorf("%s: failed item got ID %q", tc.name, tc.it.ID)
		}
	}
}

func TestPrecheck(t *testing.T) {
	blob := pipeline.BytesBlob(png)
	big := &pipeline.Blob{Size: 25_000_000}
	for _, tc := range []struct {
		name string
		it   pipeline.Item
		want string // "" = ok
	}{
		{"image file", pipeline.Item{Kind: pipeline.KindImage, Blob: blob}, ""},
		{"image too big", pipeline.Item{Kind: pipeline.KindImage, Blob: big}, "image is 25000000 bytes; Clarifai accepts image content under 20000000 bytes"},
		{"video 25 MB ok", pipeline.Item{Kind: pipeline.KindVideo, Blob: big}, ""},
		{"image url and file", pipeline.Item{Kind: pipeline.KindImage, Blob: blob, URL: "https://x"}, "exactly one of a URL or a file"},
		{"image without content", pipeline.Item{Kind: pipeline.KindImage}, "exactly one"},
		{"image with text", pipeline.Item{Kind: pipeline.KindImage, URL: "https://x", Text: "t"}, "no text"},
		{"text twice", pipeline.Item{Kind: pipeline.KindText, Text: "a", URL: "https://x"}, "exactly one of raw text"},
		{"multimodal without text", pipeline.Item{Kind: pipeline.KindMultimodal, Blob: blob}, "an image (a URL or a file) and a text"},
		{"unknown kind", pipeline.Item{URL: "https://x"}, "kind unknown"},
		{"bad user id", pipeline.Item{ID: "cat.jpg", Kind: pipeline.KindImage, Blob: blob}, `id: input ID "cat.jpg" has the character '.'`},
		{"bad dataset id", pipeline.Item{Kind: pipeline.KindImage, Blob: blob, DatasetIDs: []string{"a b"}}, "dataset"},
		{"empty concept", pipeline.Item{Kind: pipeline.KindImage, Blob: blob, Concepts: []pipeline.Concept{{Name: "x"}}}, "non-empty UTF-8 id"},
		{"text not utf-8", pipeline.Item{Kind: pipeline.KindText, Text: "\xff"}, "not valid UTF-8"},
		{"geo out of range", pipeline.Item{Kind: pipeline.KindImage, Blob: blob, Geo: &pipeline.Geo{Latitude: 91}}, "latitude 91"},
		{"geo NaN", pipeline.Item{Kind: pipeline.KindImage, Blob: blob, Geo: &pipeline.Geo{Longitude: math.NaN()}}, "longitude NaN"},
	} {
		tc.it.Prov = pipeline.Provenance{Source: "m.csv", Row: 3}
		err := precheck(&tc.it)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "m.csv row 3") {
			t.Errorf("%s: %q does not name the item", tc.name, err)
		}
	}
}

func BenchmarkBuildEntry(b *testing.B) {
	b.Run("blob", func(b *testing.B) {
		content := make([]byte, 256<<10)
		blob := pipeline.BytesBlob(content)
		meta := map[string]any{"filename": "cat.jpg", "split": "train", "score": 0.9, "tags": []any{"a", "b"}}
		b.ReportAllocs()
		b.SetBytes(int64(len(content)))
		for b.Loop() {
			it := &pipeline.Item{Kind: pipeline.KindImage, Blob: blob, Metadata: meta,
				Concepts: []pipeline.Concept{pipeline.Positive("cat")}, DatasetIDs: []string{"train"}}
			if _, err := buildEntry(b.Context(), it); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A row of the benchmark manifest (S2): a URL, labels and flat metadata
	// as sources/manifest decodes it; the ID is derived from the URL. The
	// sink builds it with a wire builder (see builder) for a *Client.
	for _, bd := range []*builder{nil, {wire: true}} {
		name := "url labels metadata"
		if bd != nil {
			name += " wire"
		}
		b.Run(name, func(b *testing.B) {
			concepts := []pipeline.Concept{pipeline.Positive("boat"), pipeline.Positive("tree"), pipeline.Negative("house")}
			meta := map[string]any{"row": 2.0, "source": "bench", "split": "train", "score": 0.552}
			b.ReportAllocs()
			for b.Loop() {
				it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://images.example.com/bench/02/0000002.jpg",
					Concepts: concepts, Metadata: meta}
				if _, err := bd.build(b.Context(), it); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	sent := make([]*entry, 128)
	got := make([]*pb.Input, 128)
	for i := range sent {
		id := ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Text: strings.Repeat("x", i+1)}, nil)
		sent[i] = &entry{in: &pb.Input{Id: id}}
		got[len(got)-1-i] = &pb.Input{Id: id} // reversed: the slow path
	}
	b.ReportAllocs()
	for b.Loop() {
		match(sent, got, false)
	}
}

// flatMap builds an object for FuzzFlatStruct from fuzzer bytes: each
// 3-byte group picks a key, a value type and a value.
func flatMap(b []byte, strs string) map[string]any {
	m := map[string]any{}
	for len(b) >= 3 {
		k := strs[:int(b[0])%(len(strs)+1)]
		var v any
		switch b[1] % 7 {
		case 0:
			v = strs[int(b[2])%(len(strs)+1):]
		case 1:
			v = float64(int8(b[2])) / 4
		case 2:
			v = b[2]%2 == 0
		case 3:
			v = nil
		case 4:
			v = math.Inf(int(b[2]%3) - 1) // NaN-free: -Inf, +Inf, +Inf
		case 5:
			v = int(b[2]) // not a flat type: the general path
		case 6:
			v = []any{strs}
		}
		m[k] = v
		b = b[3:]
	}
	return m
}

// FuzzFlatStruct checks the fast path of toStruct against the general one.
func FuzzFlatStruct(f *testing.F) {
	f.Add([]byte("\x01\x00\x02\x02\x01\x07\x03\x02\x00\x04\x03\x00"), "key\xffé")
	f.Add([]byte("\x05\x00\x00\x06\x01\x01"), "ab\xff")
	f.Add([]byte("\x01\x04\x00"), "x")
	f.Fuzz(func(t *testing.T, b []byte, strs string) {
		m := flatMap(b, strs)
		want, wantErr := toStructAt(m, "")
		got, ok := flatStruct(m)
		if !ok {
			return // the general path decides
		}
		if wantErr != nil {
			t.Fatalf("flatStruct took %v, which the general path rejects: %v", m, wantErr)
		}
		if !proto.Equal(want, got) {
			t.Fatalf("flatStruct(%v) = %v, want %v", m, got, want)
		}
		if got2, err := toStruct(m); err != nil || !proto.Equal(got2, want) {
			t.Fatalf("toStruct(%v) = %v, %v", m, got2, err)
		}
	})
}

func TestFlatStructTakesJSONObjects(t *testing.T) {
	m := map[string]any{"row": 2.0, "source": "bench", "ok": true, "none": nil, "": ""}
	got, ok := flatStruct(m)
	if !ok {
		t.Fatal("flatStruct refused a flat JSON object")
	}
	want, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, m := range []map[string]any{{"n": 1}, {"s": "\xff"}, {"\xff": "s"}, {"f": math.NaN()}, {"o": map[string]any{}}} {
		if _, ok := flatStruct(m); ok {
			t.Errorf("flatStruct took %v", m)
		}
	}
}

func BenchmarkToStruct(b *testing.B) {
	meta := map[string]any{"row": 2.0, "source": "bench", "split": "train", "score": 0.552}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := toStruct(meta); err != nil {
			b.Fatal(err)
		}
	}
}
