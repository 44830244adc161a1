package emulator

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Patch actions.
const (
	actionMerge     = "merge"
	actionOverwrite = "overwrite"
	actionRemove    = "remove"
)

// PatchInputs changes the concepts, metadata and geo of stored inputs:
//
//   - merge: concepts are added or, by id, replaced; metadata is merged key
//     by key, recursing into nested objects; geo is replaced when sent.
//   - overwrite: concepts, metadata and geo are each replaced when sent
//     (a non-empty concept list, a non-nil metadata or geo).
//   - remove: concepts are removed by id; metadata keys sent are removed
//     (recursing into nested objects sent as non-empty objects); geo is
//     cleared when sent.
//
// Each input's status in the answer is its processing status; a missing
// input gets INPUT_DOES_NOT_EXIST.
func (v *service) PatchInputs(ctx context.Context, req *pb.PatchInputsRequest) (*pb.MultiInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	switch req.Action {
	case actionMerge, actionOverwrite, actionRemove:
	default:
		return &pb.MultiInputResponse{Status: newStatusf(statuspb.StatusCode_INPUT_INVALID_REQUEST, "action %q must be merge, overwrite or remove", req.Action)}, nil
	}
	if len(req.Inputs) == 0 {
		return &pb.MultiInputResponse{Status: newStatus(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has no inputs")}, nil
	}
	now := s.nowNano()
	out := make([]*pb.Input, len(req.Inputs))
	ok := 0
	a.lock()
	for i, p := range req.Inputs {
		r := a.inputs[p.GetId()]
		if r == nil {
			out[i] = &pb.Input{Id: p.GetId(), Status: newStatusf(statuspb.StatusCode_INPUT_DOES_NOT_EXIST, "input %q does not exist", p.GetId())}
			continue
		}
		if st := checkPatch(p.GetData(), s.opts.AnyConceptID); st != nil {
			out[i] = &pb.Input{Id: p.GetId(), Status: st}
			continue
		}
		cur := snapInput(r, now).proto()
		if cur.Data == nil {
			cur.Data = &pb.Data{}
		}
		patchData(cur.Data, p.GetData(), req.Action)
		blob, err := proto.Marshal(&pb.Input{Data: cur.Data, DatasetIds: cur.DatasetIds})
		if err != nil {
			out[i] = &pb.Input{Id: p.GetId(), Status: newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "patched input cannot be encoded: %v", err)}
			continue
		}
		r.blob, r.modified = blob, now
		cur.ModifiedAt = ts(now)
		out[i] = cur
		ok++
	}
	a.unlock()
	if ok > 0 {
		s.dirty.Store(true)
	}
	return &pb.MultiInputResponse{Status: aggregate(ok, len(req.Inputs)), Inputs: out}, nil
}

// checkPatch validates the parts of a patch that PatchInputs applies, the
// concepts and geo point, which every stored input's data must pass too.
func checkPatch(d *pb.Data, anyConceptID bool) *statuspb.Status {
	for i, c := range d.GetConcepts() {
		if msg := conceptIDProblem(c.GetId(), anyConceptID); msg != "" {
			return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "concepts[%d] %s", i, msg)
		}
	}
	if gp := d.GetGeo().GetGeoPoint(); gp != nil && !(gp.Longitude >= -180 && gp.Longitude <= 180 && gp.Latitude >= -90 && gp.Latitude <= 90) {
		return newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "geo point (%v, %v) is out of range", gp.Longitude, gp.Latitude)
	}
	return nil
}

// patchData applies patch p to dst according to action; see PatchInputs.
func patchData(dst, p *pb.Data, action string) {
	if p == nil {
		return
	}
	switch action {
	case actionMerge:
		for _, c := range p.Concepts {
			replaced := false
			for i, old := range dst.Concepts {
				if old.Id == c.Id {
					dst.Concepts[i], replaced = c, true
					break
				}
			}
			if !replaced {
				dst.Concepts = append(dst.Concepts, c)
			}
		}
		if p.Metadata != nil {
			if dst.Metadata == nil {
				dst.Metadata = &structpb.Struct{}
			}
			mergeStruct(dst.Metadata, p.Metadata)
		}
		if p.Geo != nil {
			dst.Geo = p.Geo
		}
	case actionOverwrite:
		if len(p.Concepts) > 0 {
			dst.Concepts = p.Concepts
		}
		if p.Metadata != nil {
			dst.Metadata = p.Metadata
		}
		if p.Geo != nil {
			dst.Geo = p.Geo
		}
	case actionRemove:
		drop := make(map[string]bool, len(p.Concepts))
		for _, c := range p.Concepts {
			drop[c.Id] = true
		}
		dst.Concepts = compact(dst.Concepts, func(c *pb.Concept) bool { return drop[c.Id] })
		if p.Metadata != nil && dst.Metadata != nil {
			removeStruct(dst.Metadata, p.Metadata)
		}
		if p.Geo != nil {
			dst.Geo = nil
		}
	}
}

// mergeStruct sets every field of src in dst, merging nested objects.
func mergeStruct(dst, src *structpb.Struct) {
	if dst.Fields == nil {
		dst.Fields = make(map[string]*structpb.Value)
	}
	for k, v := range src.Fields {
		if d, s := dst.Fields[k].GetStructValue(), v.GetStructValue(); d != nil && s != nil {
			mergeStruct(d, s)
			continue
		}
		dst.Fields[k] = v
	}
}

// removeStruct deletes from dst every key of src; a key whose value in src
// is a non-empty object has only those nested keys removed.
func removeStruct(dst, src *structpb.Struct) {
	for k, v := range src.Fields {
		if d, s := dst.Fields[k].GetStructValue(), v.GetStructValue(); d != nil && s != nil && len(s.Fields) > 0 {
			removeStruct(d, s)
			continue
		}
		delete(dst.Fields, k)
	}
}
