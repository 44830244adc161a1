package clarifai

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

func regionItem(id string, regions ...pipeline.Region) *pipeline.Item {
	return &pipeline.Item{ID: id, Kind: pipeline.KindImage, URL: "https://x/" + id + ".jpg", Regions: regions}
}

func TestBuildAnnotations(t *testing.T) {
	box := pipeline.Region{ID: "r1", Box: &pipeline.BoundingBox{Top: 0.1, Left: 0.2, Bottom: 0.7, Right: 0.9},
		Concepts: []pipeline.Concept{pipeline.Positive("cat"), pipeline.Negative("dog")}}
	poly := pipeline.Region{Polygon: []pipeline.Point{{Row: 0.25, Col: 0.5}, {Row: 0.75, Col: 0.125}, {Row: 1, Col: 0}},
		Concepts: []pipeline.Concept{{ID: "c-1", Name: "tree", Value: 1}}}
	it := regionItem("in1", box, poly)
	anns, err := buildAnnotations(it)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 2 {
		t.Fatalf("%d annotations, want one per region", len(anns))
	}
	want0 := &pb.Annotation{Id: anns[0].Id, InputId: "in1", Data: &pb.Data{Regions: []*pb.Region{{
		Id: "r1",
		RegionInfo: &pb.RegionInfo{BoundingBox: &pb.BoundingBox{
			TopRow: float32(0.1), LeftCol: float32(0.2), BottomRow: float32(0.7), RightCol: float32(0.9)}},
		Data: &pb.Data{Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}, {Id: "dog", Name: "dog", Value: 0}}},
	}}}}
	if !proto.Equal(anns[0], want0) {
		t.Errorf("box annotation\n got %v\nwant %v", anns[0], want0)
	}
	want1 := &pb.Annotation{Id: anns[1].Id, InputId: "in1", Data: &pb.Data{Regions: []*pb.Region{{
		Id: anns[1].Id, // no region ID given: the annotation's
		RegionInfo: &pb.RegionInfo{Polygon: &pb.Polygon{Points: []*pb.Point{
			{Row: 0.25, Col: 0.5, Visibility: pb.Point_VISIBLE},
			{Row: 0.75, Col: 0.125, Visibility: pb.Point_VISIBLE},
			{Row: 1, Col: 0, Visibility: pb.Point_VISIBLE},
		}}},
		Data: &pb.Data{Concepts: []*pb.Concept{{Id: "c-1", Name: "tree", Value: 1}}},
	}}}}
	if !proto.Equal(anns[1], want1) {
		t.Errorf("polygon annotation\n got %v\nwant %v", anns[1], want1)
	}
	// The wire carries float32 (fixed32, wire type 5) for coordinates.
	wire, err := proto.Marshal(anns[0].Data.Regions[0].RegionInfo.BoundingBox)
	if err != nil {
		t.Fatal(err)
	}
	if len(wire) != 4*5 || wire[0] != 1<<3|5 {
		t.Errorf("bounding box wire %x: want four fixed32 fields", wire)
	}
}

func TestAnnotationIDs(t *testing.T) {
	base := func() pipeline.Region {
		return pipeline.Region{Box: &pipeline.BoundingBox{Top: 0.1, Left: 0.2, Bottom: 0.3, Right: 0.4},
			Concepts: []pipeline.Concept{pipeline.Positive("cat")}}
	}
	r := base()
	id := annotationID("in1", 0, &r)
	// Pinned: the ID must not change between runs or releases, or a rerun
	// would post a second copy of every annotation.
	if want := "9128b92bedd36497128e61ab4e40b4a5"; id != want {
		t.Errorf("annotationID = %s, want %s (changing it duplicates annotations on rerun)", id, want)
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("id %q: want 32 lower-case hex characters", id)
	}
	if again := annotationID("in1", 0, &r); again != id {
		t.Error("annotationID is not deterministic")
	}
	// Rounding away below float32 precision keeps the ID: it covers what is sent.
	r2 := base()
	r2.Box.Top += 1e-12
	if annotationID("in1", 0, &r2) != id {
		t.Error("a difference float32 cannot carry changed the ID")
	}
	for name, change := range map[string]func() (string, int, pipeline.Region){
		"input":  func() (string, int, pipeline.Region) { return "in2", 0, base() },
		"index":  func() (string, int, pipeline.Region) { return "in1", 1, base() },
		"box":    func() (string, int, pipeline.Region) { r := base(); r.Box.Right = 0.5; return "in1", 0, r },
		"label":  func() (string, int, pipeline.Region) { r := base(); r.Concepts[0].ID = "dog"; return "in1", 0, r },
		"value":  func() (string, int, pipeline.Region) { r := base(); r.Concepts[0].Value = 0; return "in1", 0, r },
		"region": func() (string, int, pipeline.Region) { r := base(); r.ID = "x"; return "in1", 0, r },
		"polygon": func() (string, int, pipeline.Region) {
			r := base()
			r.Polygon = []pipeline.Point{{}, {Col: 1}, {Row: 1}}
			return "in1", 0, r
		},
	} {
		in, i, r := change()
		if annotationID(in, i, &r) == id {
			t.Errorf("changing the %s kept the ID", name)
		}
	}
}

func TestCheckRegions(t *testing.T) {
	ok := &pipeline.BoundingBox{Top: 0, Left: 0, Bottom: 1, Right: 1}
	for _, tc := range []struct {
		r    pipeline.Region
		want string
	}{
		{pipeline.Region{Box: ok}, ""},
		{pipeline.Region{ID: "px", Pixels: true, Box: &pipeline.BoundingBox{Bottom: 10, Right: 10}}, `region 1 (id "px"): its coordinates are still in pixels`},
		{pipeline.Region{Box: &pipeline.BoundingBox{Top: 0.5, Bottom: 1.5, Right: 1}}, "region 1: box (top 0.5, left 0, bottom 1.5, right 1) is outside [0, 1]"},
		{pipeline.Region{Box: &pipeline.BoundingBox{Top: math.NaN(), Bottom: 1, Right: 1}}, "outside [0, 1]"},
		{pipeline.Region{Box: &pipeline.BoundingBox{Top: 0.5, Bottom: 0.5, Right: 1}}, "is empty"},
		{pipeline.Region{Polygon: []pipeline.Point{{}, {Row: 1}}}, "polygon has 2 points"},
		{pipeline.Region{Polygon: []pipeline.Point{{}, {Row: 1}, {Row: 0.5, Col: -0.1}}}, "polygon point 2 (row 0.5, col -0.1) is outside [0, 1]"},
		{pipeline.Region{}, "neither a box nor a polygon"},
		{pipeline.Region{Box: ok, Concepts: []pipeline.Concept{{Name: "x", Value: 1}}}, "want a non-empty UTF-8 id"},
	} {
		it := regionItem("in", pipeline.Region{Box: ok}, tc.r)
		err := checkRegions(it)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
		if _, berr := buildAnnotations(it); (berr == nil) != (err == nil) {
			t.Errorf("%+v: buildAnnotations sends what checkRegions refuses (%v)", tc.r, berr)
		}
	}
}
