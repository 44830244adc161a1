package clarifai

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"unicode/utf8"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// This file turns an item's regions into PostAnnotations messages. It is
// pure: no I/O, no goroutines.

// annotationIDVersion is hashed into every annotation ID. Changing how IDs
// are derived must change it, so that a rerun never mistakes an old
// annotation for a new one with the same ID.
const annotationIDVersion = "clarifai-ingest/annotation/v1"

// checkRegions returns an error naming the first region of it that cannot
// be sent: still in pixels (the annotations transform did not normalize
// it), no box and no polygon, a coordinate outside [0, 1] or not a number,
// an empty box, a polygon of fewer than three points, or a concept without
// a UTF-8 ID. The sink never sends such a region; the caller fails the item
// at stage "annotate".
func checkRegions(it *pipeline.Item) error {
	for i := range it.Regions {
		if why := regionProblem(&it.Regions[i]); why != "" {
			return pipeline.Errorf(it.Prov, "regions", "%s: %s", regionName(i, &it.Regions[i]), why)
		}
	}
	return nil
}

// regionName names region i for messages: "region 2" or "region 2 (id "x")".
func regionName(i int, r *pipeline.Region) string {
	if r.ID != "" {
		return fmt.Sprintf("region %d (id %q)", i, r.ID)
	}
	return fmt.Sprintf("region %d", i)
}

func regionProblem(r *pipeline.Region) string {
	if r.Pixels {
		return "its coordinates are still in pixels (the annotations transform normalizes them to [0, 1]); not sent"
	}
	if r.Box == nil && len(r.Polygon) == 0 {
		return "it has neither a box nor a polygon"
	}
	if b := r.Box; b != nil {
		for _, v := range [...]float64{b.Top, b.Left, b.Bottom, b.Right} {
			if !unit(v) {
				return fmt.Sprintf("box (top %v, left %v, bottom %v, right %v) is outside [0, 1]", b.Top, b.Left, b.Bottom, b.Right)
			}
		}
		// Compared as sent: two coordinates distinct in float64 can meet in float32.
		if !(float32(b.Top) < float32(b.Bottom) && float32(b.Left) < float32(b.Right)) {
			return fmt.Sprintf("box (top %v, left %v, bottom %v, right %v) is empty: want top < bottom and left < right",
				b.Top, b.Left, b.Bottom, b.Right)
		}
	}
	if len(r.Polygon) > 0 {
		if len(r.Polygon) < 3 {
			return fmt.Sprintf("polygon has %d points; it needs at least 3", len(r.Polygon))
		}
		for j, p := range r.Polygon {
			if !unit(p.Row) || !unit(p.Col) {
				return fmt.Sprintf("polygon point %d (row %v, col %v) is outside [0, 1]", j, p.Row, p.Col)
			}
		}
	}
	for j, c := range r.Concepts {
		if c.ID == "" || !utf8.ValidString(c.ID) || !utf8.ValidString(c.Name) {
			return fmt.Sprintf("concept %d (%q/%q): want a non-empty UTF-8 id and a UTF-8 name", j, c.ID, c.Name)
		}
		if math.IsNaN(float64(c.Value)) || math.IsInf(float64(c.Value), 0) {
			return fmt.Sprintf("concept %q has value %v", c.ID, c.Value)
		}
	}
	return ""
}

// unit reports whether v is in [0, 1] (NaN is not).
func unit(v float64) bool { return v >= 0 && v <= 1 }

// buildAnnotations returns one Annotation per region of it, in region
// order, as the official SDK sends them: the input ID, a deterministic ID
// (annotationID), and Data with exactly one Region carrying the box and/or
// polygon (float32, row = y, col = x, points VISIBLE) and the region's
// concepts with explicit values. The error, from checkRegions, names the
// region.
func buildAnnotations(it *pipeline.Item) ([]*pb.Annotation, error) {
	if err := checkRegions(it); err != nil {
		return nil, err
	}
	out := make([]*pb.Annotation, len(it.Regions))
	for i := range it.Regions {
		r := &it.Regions[i]
		id := annotationID(it.ID, i, r)
		info := &pb.RegionInfo{}
		if b := r.Box; b != nil {
			info.BoundingBox = &pb.BoundingBox{
				TopRow: float32(b.Top), LeftCol: float32(b.Left), BottomRow: float32(b.Bottom), RightCol: float32(b.Right),
			}
		}
		if len(r.Polygon) > 0 {
			pts := make([]*pb.Point, len(r.Polygon))
			for j, p := range r.Polygon {
				pts[j] = &pb.Point{Row: float32(p.Row), Col: float32(p.Col), Visibility: pb.Point_VISIBLE}
			}
			info.Polygon = &pb.Polygon{Points: pts}
		}
		data := &pb.Data{}
		if len(r.Concepts) > 0 {
			data.Concepts = make([]*pb.Concept, len(r.Concepts))
			for j, c := range r.Concepts {
				// Value is always set: over gRPC a missing value reads as 0.
				data.Concepts[j] = &pb.Concept{Id: c.ID, Name: c.Name, Value: c.Value}
			}
		}
		regionID := r.ID
		if regionID == "" {
			regionID = id
		}
		out[i] = &pb.Annotation{
			Id:      id,
			InputId: it.ID,
			Data:    &pb.Data{Regions: []*pb.Region{{Id: regionID, RegionInfo: info, Data: data}}},
		}
	}
	return out, nil
}

// annotationID returns the ID of region i of input inputID: the first 32
// hex characters of SHA-256 over a version tag, the input ID, the region's
// index and ID, its geometry as sent (float32 bits) and its concepts (id,
// name, value bits), each field length-prefixed so no two regions encode
// alike. The same region of the same input gets the same ID in every run,
// so posting it again can never create a second copy: the server answers
// "already exists", which the sink counts as success. Any change to the
// region's geometry or labels gives a new ID.
func annotationID(inputID string, i int, r *pipeline.Region) string {
	h := sha256.New()
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	num := func(v uint64) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], v)])
	}
	str(annotationIDVersion)
	str(inputID)
	num(uint64(i))
	str(r.ID)
	if b := r.Box; b != nil {
		str("box")
		f32(h, b.Top, b.Left, b.Bottom, b.Right)
	}
	if len(r.Polygon) > 0 {
		str("polygon")
		num(uint64(len(r.Polygon)))
		for _, p := range r.Polygon {
			f32(h, p.Row, p.Col)
		}
	}
	num(uint64(len(r.Concepts)))
	for _, c := range r.Concepts {
		str(c.ID)
		str(c.Name)
		f32(h, float64(c.Value))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// f32 writes each value's float32 bits, big-endian: the hash covers what is
// sent, not float64 noise that float32 rounds away.
func f32(h hash.Hash, vs ...float64) {
	var b [4]byte
	for _, v := range vs {
		binary.BigEndian.PutUint32(b[:], math.Float32bits(float32(v)))
		h.Write(b[:])
	}
}
