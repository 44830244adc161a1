package clarifai

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

func TestInputDiff(t *testing.T) {
	md, _ := structpb.NewStruct(map[string]any{"a": "x", "n": 2.0})
	other, _ := structpb.NewStruct(map[string]any{"a": "y", "n": 2.0, "extra": true})
	url := func() *pipeline.Item {
		return &pipeline.Item{ID: "m-1", Kind: pipeline.KindImage, URL: "https://x/cat.jpg",
			Concepts: []pipeline.Concept{pipeline.Positive("cat"), {ID: "dog", Value: 0}},
			Metadata: map[string]any{"a": "x", "n": 2}, Geo: &pipeline.Geo{Latitude: 48.8584, Longitude: 2.2945},
			DatasetIDs: []string{"train"}}
	}
	stored := func() *pb.Input {
		return &pb.Input{Id: "m-1", DatasetIds: []string{"train"}, Data: &pb.Data{
			Image:    &pb.Image{Url: "https://x/cat.jpg"},
			Concepts: []*pb.Concept{{Id: "dog", Name: "dog", Value: 0}, {Id: "cat", Name: "cat", Value: 1}},
			Metadata: md, Geo: &pb.Geo{GeoPoint: &pb.GeoPoint{Latitude: 48.8584, Longitude: 2.2945}},
		}}
	}
	for _, tc := range []struct {
		name   string
		server func(*pb.Input)
		item   func(*pipeline.Item)
		want   []string // each a substring of one difference; none: adopt
	}{
		{name: "same (concept order, names and float32 geo do not matter)"},
		{name: "bytes are compared by kind", server: func(in *pb.Input) { in.Data.Image.Url = "" },
			item: func(it *pipeline.Item) { it.URL, it.Blob = "", pipeline.BytesBlob([]byte("png")) }},
		{name: "no dataset IDs from the server", server: func(in *pb.Input) { in.DatasetIds = nil }},
		{name: "empty metadata is none", server: func(in *pb.Input) { in.Data.Metadata = &structpb.Struct{} },
			item: func(it *pipeline.Item) { it.Metadata = nil }},
		{name: "other url", server: func(in *pb.Input) { in.Data.Image.Url = "https://x/dog.jpg" },
			want: []string{`image url: server has "https://x/dog.jpg", the item "https://x/cat.jpg"`}},
		{name: "other kind", server: func(in *pb.Input) { in.Data.Image, in.Data.Video = nil, &pb.Video{Url: "https://x/cat.jpg"} },
			want: []string{"kind: server has video, the item image", "image url"}},
		{name: "other concepts", server: func(in *pb.Input) { in.Data.Concepts[1].Value = 0 },
			want: []string{"concepts: server has [cat:0 dog:0], the item [cat:1 dog:0]"}},
		{name: "other metadata", server: func(in *pb.Input) { in.Data.Metadata = other },
			want: []string{"metadata: differs in a, extra"}},
		{name: "other geo", server: func(in *pb.Input) { in.Data.Geo = nil }, want: []string{"geo: server has none"}},
		{name: "other datasets", server: func(in *pb.Input) { in.DatasetIds = []string{"val"} }, want: []string{"dataset IDs"}},
		{name: "other text", server: func(in *pb.Input) { in.Data.Image, in.Data.Text = nil, &pb.Text{Raw: "hello"} },
			item: func(it *pipeline.Item) { it.Kind, it.URL, it.Text = pipeline.KindText, "", "bye" },
			want: []string{`text: server has "hello", the item "bye"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, it := stored(), url()
			if tc.server != nil {
				tc.server(in)
			}
			if tc.item != nil {
				tc.item(it)
			}
			before := in.String()
			got := inputDiff(in, it)
			if in.String() != before {
				t.Error("inputDiff changed the server's input")
			}
			if len(got) != len(tc.want) {
				t.Fatalf("inputDiff = %q, want %d differences %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("difference %d = %q, want %q", i, got[i], w)
				}
			}
		})
	}
}

// TestAdoption: what the sink does with a new item whose input the app
// holds: adopt it as it is, update the groups that differ (and its regions,
// posted again), or fail it as a conflict when the content differs.
func TestAdoption(t *testing.T) {
	stored := &pb.Input{Id: "m-1", Data: &pb.Data{Image: &pb.Image{Url: "https://x/cat.jpg"},
		Concepts: []*pb.Concept{{Id: "cat", Value: 1}}}}
	item := func(url, concept string, regions int) *pipeline.Item {
		return &pipeline.Item{ID: "m-1", Kind: pipeline.KindImage, URL: url, Concepts: []pipeline.Concept{pipeline.Positive(concept)},
			Regions: make([]pipeline.Region, regions)}
	}
	fields := func(fs ...pipeline.Field) pipeline.Fields {
		var out pipeline.Fields
		for _, f := range fs {
			out = out.With(f)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		it    *pipeline.Item
		want  pipeline.Fields
		diffs int
	}{
		{"equal", item("https://x/cat.jpg", "cat", 0), 0, 0},
		{"equal with regions", item("https://x/cat.jpg", "cat", 2), 0, 0},
		{"label", item("https://x/cat.jpg", "dog", 0), fields(pipeline.FieldConcepts), 1},
		{"label with regions", item("https://x/cat.jpg", "dog", 2), fields(pipeline.FieldConcepts, pipeline.FieldRegions), 1},
		{"content", item("https://x/dog.jpg", "dog", 2), fields(pipeline.FieldContent, pipeline.FieldConcepts), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, diffs := Adoption(stored, tc.it)
			if got != tc.want || len(diffs) != tc.diffs {
				t.Errorf("Adoption = %v %q, want %v and %d differences", got, diffs, tc.want, tc.diffs)
			}
		})
	}
}
