package emulator

import (
	"bytes"
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Dataset membership is kept where PostInputs puts it: in each input's
// dataset_ids, inside its stored blob. The calls below change that list.

// setMembership adds the input r to dataset ds (in) or removes it, and
// reports whether anything changed. The caller holds the lock.
func (r *inputRec) setMembership(ds string, in bool, now int64) (changed bool, err error) {
	var stored pb.Input
	if err := proto.Unmarshal(r.blob, &stored); err != nil {
		return false, err
	}
	has := slices.Contains(stored.DatasetIds, ds)
	switch {
	case in && !has:
		stored.DatasetIds = append(stored.DatasetIds, ds)
	case !in && has:
		stored.DatasetIds = slices.DeleteFunc(stored.DatasetIds, func(id string) bool { return id == ds })
	default:
		return false, nil
	}
	blob, err := proto.Marshal(&stored)
	if err != nil {
		return false, err
	}
	r.blob, r.modified = blob, now
	return true, nil
}

// inDataset reports whether the input r is in dataset ds. The caller holds
// the lock.
func (r *inputRec) inDataset(ds string) bool {
	// Most inputs are not in ds; their blob does not even hold its name.
	if !bytes.Contains(r.blob, []byte(ds)) {
		return false
	}
	var stored pb.Input
	if err := proto.Unmarshal(r.blob, &stored); err != nil {
		return false
	}
	return slices.Contains(stored.DatasetIds, ds)
}

// datasetMissing is the answer to a call on a dataset that does not exist.
func datasetMissing(id string) *statuspb.Status {
	return newStatusf(statuspb.StatusCode_CONN_DOES_NOT_EXIST, "dataset %q does not exist", id)
}

// PostDatasetInputs adds existing inputs, named by dataset_inputs[].input.id,
// to a dataset. The dataset is created when missing, as PostInputs creates
// the datasets its inputs name, unless Options.NoAutoCreateApps is set
// (then CONN_DOES_NOT_EXIST). It is not atomic: each dataset input of the
// answer carries, in input.status, DATASET_INPUT_SUCCESS,
// DATASET_INPUT_DUPLICATE (already in the dataset; nothing changes) or
// INPUT_DOES_NOT_EXIST; the top-level status counts only the first as
// success. No items or more than MaxInputsPerRequest fail the call with
// FAILURE.
func (v *service) PostDatasetInputs(ctx context.Context, req *pb.PostDatasetInputsRequest) (*pb.MultiDatasetInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	fail := func(st *statuspb.Status) (*pb.MultiDatasetInputResponse, error) {
		return &pb.MultiDatasetInputResponse{Status: st}, nil
	}
	n := len(req.DatasetInputs)
	switch {
	case !validID(req.DatasetId, s.opts.MaxInputIDLength):
		return fail(newStatusf(statuspb.StatusCode_FAILURE, "dataset id %q is not valid", req.DatasetId))
	case n == 0:
		return fail(newStatus(statuspb.StatusCode_FAILURE, "the request has no dataset inputs"))
	case n > MaxInputsPerRequest:
		return fail(newStatusf(statuspb.StatusCode_FAILURE, "the request has %d dataset inputs; at most %d are allowed per request", n, MaxInputsPerRequest))
	}
	now := s.nowNano()
	out := make([]*pb.DatasetInput, n)
	ok, changed := 0, false
	a.lock()
	defer a.unlock()
	if !a.ensureDataset(req.DatasetId, now, !s.opts.NoAutoCreateApps) {
		return fail(datasetMissing(req.DatasetId))
	}
	for i, di := range req.DatasetInputs {
		id := di.GetInput().GetId()
		r := a.inputs[id]
		if r == nil {
			out[i] = &pb.DatasetInput{Input: &pb.Input{Id: id, Status: newStatusf(statuspb.StatusCode_INPUT_DOES_NOT_EXIST, "input %q does not exist", id)}}
			continue
		}
		added, err := r.setMembership(req.DatasetId, true, now)
		var st *statuspb.Status
		switch {
		case err != nil:
			st = newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "input %q cannot be read: %v", id, err)
		case added:
			st, changed = newStatus(statuspb.StatusCode_DATASET_INPUT_SUCCESS, ""), true
			ok++
		default:
			st = newStatusf(statuspb.StatusCode_DATASET_INPUT_DUPLICATE, "input %q is already in dataset %q", id, req.DatasetId)
		}
		out[i] = &pb.DatasetInput{CreatedAt: ts(now), Input: &pb.Input{Id: id, Status: st}}
	}
	if changed {
		s.dirty.Store(true)
	}
	return &pb.MultiDatasetInputResponse{Status: aggregate(ok, n), DatasetInputs: out}, nil
}

// ListDatasetInputs lists the inputs of a dataset in creation order, each
// whole with its processing status. It costs O(inputs of the app).
func (v *service) ListDatasetInputs(ctx context.Context, req *pb.ListDatasetInputsRequest) (*pb.MultiDatasetInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiDatasetInputResponse{Status: st}, nil
	}
	now := s.nowNano()
	a.lock()
	if _, ok := a.datasets[req.DatasetId]; !ok {
		a.unlock()
		return &pb.MultiDatasetInputResponse{Status: datasetMissing(req.DatasetId)}, nil
	}
	snaps := a.pageOrder(func(r *inputRec) bool { return !r.deleted && r.inDataset(req.DatasetId) }, offset, limit, now)
	a.unlock()
	resp := &pb.MultiDatasetInputResponse{Status: okStatus(), DatasetInputs: make([]*pb.DatasetInput, len(snaps))}
	for i, sn := range snaps {
		resp.DatasetInputs[i] = &pb.DatasetInput{Input: sn.proto()} // membership times are not kept
	}
	return resp, nil
}

// DeleteDatasetInputs removes inputs from a dataset; the inputs stay in the
// app. Inputs that do not exist or are not in the dataset are ignored. A
// missing dataset is CONN_DOES_NOT_EXIST; no input_ids is FAILURE.
func (v *service) DeleteDatasetInputs(ctx context.Context, req *pb.DeleteDatasetInputsRequest) (*statuspb.BaseResponse, error) {
	s, a := v.s, appFrom(ctx)
	if len(req.InputIds) == 0 {
		return &statuspb.BaseResponse{Status: newStatus(statuspb.StatusCode_FAILURE, "input_ids must not be empty")}, nil
	}
	now := s.nowNano()
	changed := false
	a.lock()
	defer a.unlock()
	if _, ok := a.datasets[req.DatasetId]; !ok {
		return &statuspb.BaseResponse{Status: datasetMissing(req.DatasetId)}, nil
	}
	for _, id := range req.InputIds {
		if r := a.inputs[id]; r != nil {
			if removed, err := r.setMembership(req.DatasetId, false, now); err == nil && removed {
				changed = true
			}
		}
	}
	if changed {
		s.dirty.Store(true)
	}
	return &statuspb.BaseResponse{Status: okStatus()}, nil
}
