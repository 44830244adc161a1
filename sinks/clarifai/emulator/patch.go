package emulator

import (
	"context"
	"fmt"

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
//   - merge: concepts are added or, by id, merged into the stored one (its
//     value always, its name when sent: {id, value: 0} makes a label
//     negative); metadata is merged key by key, recursing into nested
//     objects; geo is replaced when sent.
//   - overwrite: concepts, metadata and geo are each replaced when sent
//     (a non-empty concept list, a non-nil metadata or geo).
//   - remove: concepts are removed by id; metadata keys sent are removed
//     (recursing into nested objects sent as non-empty objects); geo is
//     cleared when sent.
//
// Regions, media and dataset ids of the patch are ignored: regions are
// annotations (PatchAnnotations), media cannot be patched, and membership
// goes through PostDatasetInputs and DeleteDatasetInputs.
//
// It is not atomic. Each input's status in the answer is its processing
// status; a missing input gets INPUT_DOES_NOT_EXIST, an invalid concept or
// geo point INPUT_INVALID_ARGUMENT. A bad action, no inputs or more than
// MaxInputsPerRequest fail the whole call with INPUT_INVALID_REQUEST.
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
	if n := len(req.Inputs); n > MaxInputsPerRequest {
		return &pb.MultiInputResponse{Status: newStatusf(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has %d inputs; at most %d are allowed per request", n, MaxInputsPerRequest)}, nil
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
		dst.Concepts = mergeConcepts(dst.Concepts, p.Concepts)
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
		if len(dst.Concepts) == 0 {
			dst.Concepts = nil
		}
		if p.Metadata != nil && dst.Metadata != nil {
			removeStruct(dst.Metadata, p.Metadata)
		}
		if p.Geo != nil {
			dst.Geo = nil
		}
	}
}

// mergeConcepts merges patch into stored by id: a new id is appended, a
// known one gets the patch's value and, when sent, its name. It returns the
// merged list; the stored concepts are replaced, never changed in place.
func mergeConcepts(stored, patch []*pb.Concept) []*pb.Concept {
	for _, c := range patch {
		found := false
		for i, old := range stored {
			if old.Id == c.Id {
				m := proto.CloneOf(old)
				m.Value = c.Value
				if c.Name != "" {
					m.Name = c.Name
				}
				stored[i], found = m, true
				break
			}
		}
		if !found {
			stored = append(stored, c)
		}
	}
	return stored
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

// maxAnnotationsPerRequest bounds PatchAnnotations, as MaxInputsPerRequest
// bounds the input calls.
const maxAnnotationsPerRequest = MaxInputsPerRequest

// PatchAnnotations changes the data of stored annotations, named by id:
//
//   - merge: regions are added or, by id, merged (region_info replaced when
//     sent, concepts merged as in PatchInputs, value set when not zero); a
//     new region without id gets one; the annotation's concepts and
//     metadata merge as in PatchInputs.
//   - overwrite: regions, concepts and metadata are each replaced when sent.
//   - remove: a region sent with only its id is removed; one sent with
//     concepts loses those concepts; concepts and metadata keys sent are
//     removed. With delete_if_empty_data, an annotation left with no
//     regions and no concepts is deleted.
//
// It is not atomic. Each annotation of the answer is the annotation as
// stored afterwards with ANNOTATION_SUCCESS, or the one sent with its
// error: ANNOTATION_INVALID_ARGUMENT for an unknown id, another input_id,
// or data that PostAnnotations would refuse. A bad action, no annotations
// or more than 128 fail the whole call.
func (v *service) PatchAnnotations(ctx context.Context, req *pb.PatchAnnotationsRequest) (*pb.MultiAnnotationResponse, error) {
	s, a := v.s, appFrom(ctx)
	fail := func(code statuspb.StatusCode, format string, args ...any) (*pb.MultiAnnotationResponse, error) {
		return &pb.MultiAnnotationResponse{Status: newStatusf(code, format, args...)}, nil
	}
	switch req.Action {
	case actionMerge, actionOverwrite, actionRemove:
	default:
		return fail(statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, "action %q must be merge, overwrite or remove", req.Action)
	}
	n := len(req.Annotations)
	if n == 0 {
		return fail(statuspb.StatusCode_FAILURE, "the request has no annotations")
	}
	if n > maxAnnotationsPerRequest {
		return fail(statuspb.StatusCode_FAILURE, "the request has %d annotations; at most %d are allowed per request", n, maxAnnotationsPerRequest)
	}
	invalid := func(format string, args ...any) *statuspb.Status {
		return newStatusf(statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, format, args...)
	}
	now := s.nowNano()
	out := make([]*pb.Annotation, n)
	ok := 0
	a.lock()
	for i, p := range req.Annotations {
		reject := func(st *statuspb.Status) {
			an := proto.CloneOf(p)
			if an == nil {
				an = &pb.Annotation{}
			}
			an.Status = st
			out[i] = an
		}
		r := a.anns[p.GetId()]
		switch {
		case r == nil:
			reject(invalid("annotation %q does not exist", p.GetId()))
			continue
		case p.GetInputId() != "" && p.GetInputId() != r.inputID:
			reject(invalid("annotation %q belongs to input %q, not %q", r.id, r.inputID, p.GetInputId()))
			continue
		}
		cur := annProto(r, r.blob)
		if cur.Data == nil {
			cur.Data = &pb.Data{}
		}
		patchAnnData(cur.Data, p.GetData(), req.Action)
		if st := checkAnnData(cur.Data, s.opts.AnyConceptID); st != "" {
			reject(invalid("%s", st))
			continue
		}
		if req.Action == actionRemove && req.DeleteIfEmptyData && len(cur.Data.Regions) == 0 && len(cur.Data.Concepts) == 0 {
			a.removeAnn(r)
			out[i] = cur
			ok++
			continue
		}
		blob, err := proto.Marshal(&pb.Annotation{
			Data: cur.Data, AnnotationInfo: cur.AnnotationInfo, InputLevel: cur.InputLevel,
			ConsensusInfo: cur.ConsensusInfo, TaskId: cur.TaskId,
		})
		if err != nil {
			reject(invalid("patched annotation cannot be encoded: %v", err))
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
	return &pb.MultiAnnotationResponse{Status: aggregate(ok, n), Annotations: out}, nil
}

// checkAnnData returns what is wrong with an annotation's data after a
// patch, as PostAnnotations checks it, or "".
func checkAnnData(d *pb.Data, anyConceptID bool) string {
	for j, r := range d.GetRegions() {
		if msg := regionProblem(r, anyConceptID); msg != "" {
			return fmt.Sprintf("regions[%d]: %s", j, msg)
		}
	}
	for j, c := range d.GetConcepts() {
		if msg := conceptIDProblem(c.GetId(), anyConceptID); msg != "" {
			return fmt.Sprintf("concepts[%d] %s", j, msg)
		}
	}
	return ""
}

// patchAnnData applies patch p to an annotation's data according to action;
// see PatchAnnotations.
func patchAnnData(dst, p *pb.Data, action string) {
	if p == nil {
		return
	}
	regions := p.Regions
	patchData(dst, &pb.Data{Concepts: p.Concepts, Metadata: p.Metadata}, action)
	switch action {
	case actionMerge:
		for _, pr := range regions {
			i := -1
			for j, old := range dst.Regions {
				if pr.GetId() != "" && old.GetId() == pr.GetId() {
					i = j
					break
				}
			}
			if i < 0 {
				r := proto.CloneOf(pr)
				if r.Id == "" {
					r.Id = newID()
				}
				dst.Regions = append(dst.Regions, r)
				continue
			}
			m := proto.CloneOf(dst.Regions[i])
			if pr.RegionInfo != nil {
				m.RegionInfo = pr.RegionInfo
			}
			if pr.Value != 0 {
				m.Value = pr.Value
			}
			if cs := pr.GetData().GetConcepts(); len(cs) > 0 {
				if m.Data == nil {
					m.Data = &pb.Data{}
				}
				m.Data.Concepts = mergeConcepts(m.Data.Concepts, cs)
			}
			dst.Regions[i] = m
		}
	case actionOverwrite:
		if len(regions) > 0 {
			dst.Regions = regions
		}
	case actionRemove:
		for _, pr := range regions {
			for j, old := range dst.Regions {
				if old.GetId() != pr.GetId() {
					continue
				}
				if cs := pr.GetData().GetConcepts(); len(cs) > 0 {
					m := proto.CloneOf(old)
					if m.Data == nil {
						m.Data = &pb.Data{}
					}
					patchData(m.Data, &pb.Data{Concepts: cs}, actionRemove)
					dst.Regions[j] = m
				} else {
					dst.Regions = append(dst.Regions[:j:j], dst.Regions[j+1:]...)
				}
				break
			}
		}
		if len(dst.Regions) == 0 {
			dst.Regions = nil
		}
	}
}
