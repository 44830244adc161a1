package emulator

import (
	"context"
	"sort"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// idIndex is the app's input ids in byte order, for StreamInputs with
// order_by_id. It is rebuilt, in O(n log n), on the first such call after
// inputs were added or removed: paging a whole app that does not change,
// as a client rebuilding its state does, sorts once.
type idIndex struct {
	seq  uint64 // app.seq when built
	n    int    // len(app.inputs) when built
	ids  []string
	full bool // built at least once
}

// sortedIDs returns the app's input ids in byte order. The caller holds the
// lock. (seq, number of inputs) changes with every add (seq grows) and
// every delete (the number falls while seq stays), and never comes back to
// an earlier value, so it tells when the index is stale.
func (a *app) sortedIDs() []string {
	x := &a.byID
	if x.full && x.seq == a.seq && x.n == len(a.inputs) {
		return x.ids
	}
	x.ids = x.ids[:0]
	for id := range a.inputs {
		x.ids = append(x.ids, id)
	}
	sort.Strings(x.ids)
	x.seq, x.n, x.full = a.seq, len(a.inputs), true
	return x.ids
}

// StreamInputs returns one page of the app's inputs after last_id: by
// creation order, or by id (byte order) with order_by_id; descending walks
// backwards. An empty last_id starts at the beginning (the end when
// descending). per_page defaults to DefaultPerPage and may be at most
// MaxPerPage (FAILURE above). A page shorter than per_page is the last.
//
// The order is stable: inputs added while a client pages come after it
// (by creation) or at their place (by id), and inputs deleted meanwhile
// are skipped. By creation, last_id must name an input that still exists
// (INPUT_DOES_NOT_EXIST otherwise: its place is lost); by id, any string
// works, which is why a client that may see deletions should page by id.
//
// By creation it costs O(log n + page) plus deleted inputs not yet
// compacted; by id O(log n + page) once the index is built.
func (v *service) StreamInputs(ctx context.Context, req *pb.StreamInputsRequest) (*pb.MultiInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	_, limit, st := paging(1, req.PerPage)
	if st != nil {
		return &pb.MultiInputResponse{Status: st}, nil
	}
	now := s.nowNano()
	snaps := make([]inputSnap, 0, min(limit, 1024))
	a.lock()
	if req.OrderById {
		ids := a.sortedIDs()
		if req.Descending {
			i := len(ids) - 1
			if req.LastId != "" {
				i = sort.SearchStrings(ids, req.LastId) - 1 // last id < last_id
			}
			for ; i >= 0 && len(snaps) < limit; i-- {
				snaps = append(snaps, snapInput(a.inputs[ids[i]], now))
			}
		} else {
			i := 0
			if req.LastId != "" {
				i = sort.Search(len(ids), func(k int) bool { return ids[k] > req.LastId })
			}
			for ; i < len(ids) && len(snaps) < limit; i++ {
				snaps = append(snaps, snapInput(a.inputs[ids[i]], now))
			}
		}
	} else {
		// a.order is in creation order, so by seq: the place of last_id is
		// found by binary search.
		start, step := 0, 1
		if req.Descending {
			start, step = len(a.order)-1, -1
		}
		if req.LastId != "" {
			r := a.inputs[req.LastId]
			if r == nil {
				a.unlock()
				return &pb.MultiInputResponse{Status: newStatusf(statuspb.StatusCode_INPUT_DOES_NOT_EXIST,
					"last_id %q does not exist; page with order_by_id to resume after a deleted input", req.LastId)}, nil
			}
			at := sort.Search(len(a.order), func(k int) bool { return a.order[k].seq >= r.seq })
			start = at + step
		}
		for i := start; i >= 0 && i < len(a.order) && len(snaps) < limit; i += step {
			if r := a.order[i]; !r.deleted {
				snaps = append(snaps, snapInput(r, now))
			}
		}
	}
	a.unlock()
	resp := &pb.MultiInputResponse{Status: okStatus(), Inputs: make([]*pb.Input, len(snaps))}
	for i, sn := range snaps {
		resp.Inputs[i] = sn.proto()
	}
	return resp, nil
}
