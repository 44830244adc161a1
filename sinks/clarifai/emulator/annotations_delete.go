package emulator

import (
	"context"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// removeAnn deletes one annotation and takes it out of its input's list.
// The caller holds the lock.
func (a *app) removeAnn(an *annRec) {
	if an.deleted {
		return
	}
	a.deleteAnn(an)
	rest := compact(a.annsByInp[an.inputID], func(r *annRec) bool { return r == an })
	if len(rest) == 0 {
		delete(a.annsByInp, an.inputID)
	} else {
		a.annsByInp[an.inputID] = rest
	}
}

// DeleteAnnotations deletes annotations: those named by ids (only those of
// input_ids when both are given), or, with input_ids alone, every
// annotation of those inputs. Unknown ids are ignored; a request naming
// neither fails with FAILURE. Deletion is immediate.
func (v *service) DeleteAnnotations(ctx context.Context, req *pb.DeleteAnnotationsRequest) (*statuspb.BaseResponse, error) {
	s, a := v.s, appFrom(ctx)
	if len(req.Ids) == 0 && len(req.InputIds) == 0 {
		return &statuspb.BaseResponse{Status: newStatus(statuspb.StatusCode_FAILURE, "ids or input_ids must be given")}, nil
	}
	var inputs map[string]bool
	if len(req.InputIds) > 0 {
		inputs = set(req.InputIds)
	}
	deleted := 0
	a.lock()
	if len(req.Ids) > 0 {
		for _, id := range req.Ids {
			if r := a.anns[id]; r != nil && (inputs == nil || inputs[r.inputID]) {
				a.removeAnn(r)
				deleted++
			}
		}
	} else {
		for id := range inputs {
			deleted += a.deleteAnnsOf(id)
		}
	}
	a.unlock()
	if deleted > 0 {
		s.dirty.Store(true)
	}
	return &statuspb.BaseResponse{Status: okStatus()}, nil
}
