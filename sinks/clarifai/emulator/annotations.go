package emulator

import (
	"context"
	"sort"

	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// PostAnnotations stores each valid annotation; it is not atomic. An
// annotation needs an existing input (INPUT_DOES_NOT_EXIST otherwise), some
// data (regions or concepts) and valid geometry (ANNOTATION_INVALID_ARGUMENT
// otherwise). Empty ids are generated.
func (v *service) PostAnnotations(ctx context.Context, req *pb.PostAnnotationsRequest) (*pb.MultiAnnotationResponse, error) {
	s, a := v.s, appFrom(ctx)
	n := len(req.Annotations)
	if n == 0 {
		return &pb.MultiAnnotationResponse{Status: newStatus(statuspb.StatusCode_FAILURE, "the request has no annotations")}, nil
	}
	invalid := func(format string, args ...any) *statuspb.Status {
		return newStatusf(statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT, format, args...)
	}
	rejects := make([]*statuspb.Status, n)
	blobs := make([][]byte, n)
	requested := make(map[string]struct{}, n)
	for i, an := range req.Annotations {
		if an == nil {
			an = &pb.Annotation{}
			req.Annotations[i] = an
		}
		switch {
		case an.Id != "" && !validID(an.Id, s.opts.MaxInputIDLength):
			rejects[i] = invalid("annotation id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", an.Id, s.opts.MaxInputIDLength)
		case an.InputId == "":
			rejects[i] = invalid("input_id is required")
		case len(an.GetData().GetRegions()) == 0 && len(an.GetData().GetConcepts()) == 0:
			rejects[i] = invalid("annotation has no regions or concepts")
		}
		if an.Id != "" && rejects[i] == nil {
			if _, dup := requested[an.Id]; dup {
				rejects[i] = invalid("annotation id %q appears twice in the request", an.Id)
			}
			requested[an.Id] = struct{}{}
		}
		for j, r := range an.GetData().GetRegions() {
			if msg := regionProblem(r, s.opts.AnyConceptID); msg != "" && rejects[i] == nil {
				rejects[i] = invalid("regions[%d]: %s", j, msg)
			}
		}
		for j, c := range an.GetData().GetConcepts() {
			if msg := conceptIDProblem(c.GetId(), s.opts.AnyConceptID); msg != "" && rejects[i] == nil {
				rejects[i] = invalid("concepts[%d] %s", j, msg)
			}
		}
		if rejects[i] == nil {
			blob, err := proto.Marshal(&pb.Annotation{
				Data: an.Data, AnnotationInfo: an.AnnotationInfo, InputLevel: an.InputLevel,
				ConsensusInfo: an.ConsensusInfo, TaskId: an.TaskId,
			})
			if err != nil {
				rejects[i] = invalid("annotation cannot be encoded: %v", err)
			}
			blobs[i] = blob
		}
	}

	now := s.nowNano()
	ok := 0
	a.lock()
	for i, an := range req.Annotations {
		if rejects[i] == nil {
			if _, exists := a.inputs[an.InputId]; !exists {
				rejects[i] = newStatusf(statuspb.StatusCode_INPUT_DOES_NOT_EXIST, "input %q does not exist", an.InputId)
			}
		}
		if rejects[i] == nil && an.Id != "" {
			if _, exists := a.anns[an.Id]; exists {
				rejects[i] = invalid("annotation id %q already exists", an.Id)
			}
		}
		if rejects[i] != nil {
			an.Status = rejects[i]
			continue
		}
		if an.Id == "" {
			for an.Id = newID(); a.anns[an.Id] != nil; an.Id = newID() {
			}
		}
		a.addAnn(&annRec{id: an.Id, inputID: an.InputId, seq: a.nextSeq(), created: now, modified: now, blob: blobs[i]})
		an.Status = newStatus(statuspb.StatusCode_ANNOTATION_SUCCESS, "")
		an.CreatedAt, an.ModifiedAt = ts(now), ts(now)
		ok++
	}
	a.unlock()
	if ok > 0 {
		s.dirty.Store(true)
	}
	return &pb.MultiAnnotationResponse{Status: aggregate(ok, n), Annotations: req.Annotations}, nil
}

// annProto decodes a stored annotation.
func annProto(r *annRec, blob []byte) *pb.Annotation {
	an := &pb.Annotation{}
	_ = proto.Unmarshal(blob, an) // produced by proto.Marshal or checked at load
	an.Id, an.InputId = r.id, r.inputID
	an.Status = newStatus(statuspb.StatusCode_ANNOTATION_SUCCESS, "")
	an.CreatedAt, an.ModifiedAt = ts(r.created), ts(r.modified)
	return an
}

// ListAnnotations lists annotations in creation order, filtered by ids and
// input_ids (both: the intersection). With ids it costs O(ids), with
// input_ids O(their annotations), otherwise O(offset + page).
func (v *service) ListAnnotations(ctx context.Context, req *pb.ListAnnotationsRequest) (*pb.MultiAnnotationResponse, error) {
	a := appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiAnnotationResponse{Status: st}, nil
	}
	var inputs map[string]bool
	if len(req.InputIds) > 0 {
		inputs = set(req.InputIds)
	}
	type snap struct {
		r    *annRec
		blob []byte
	}
	var page []snap
	a.lock()
	if len(req.Ids) > 0 || inputs != nil {
		var found []*annRec
		if len(req.Ids) > 0 {
			for id := range set(req.Ids) {
				if r := a.anns[id]; r != nil && (inputs == nil || inputs[r.inputID]) {
					found = append(found, r)
				}
			}
		} else {
			for id := range inputs {
				found = append(found, a.annsByInp[id]...)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
		for _, r := range pageOf(found, offset, limit) {
			page = append(page, snap{r, r.blob})
		}
	} else {
		skip := offset
		for _, r := range a.annOrder {
			if len(page) == limit {
				break
			}
			if r.deleted {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			page = append(page, snap{r, r.blob})
		}
	}
	a.unlock()
	resp := &pb.MultiAnnotationResponse{Status: okStatus(), Annotations: make([]*pb.Annotation, len(page))}
	for i, sn := range page {
		resp.Annotations[i] = annProto(sn.r, sn.blob)
	}
	return resp, nil
}
