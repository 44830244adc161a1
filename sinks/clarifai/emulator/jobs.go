package emulator

import (
	"context"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Inputs-add jobs are created by PostInputs with inputs_add_job_id. A job
// counts the inputs it stored (rejected inputs are not counted) by phase;
// deleting an input later does not change its job's counts.

func jobMissing(id string) *statuspb.Status {
	return newStatusf(statuspb.StatusCode_CONN_DOES_NOT_EXIST, "inputs-add job %q does not exist", id)
}

// GetInputsAddJob returns a job with its progress (never nil), or
// CONN_DOES_NOT_EXIST.
func (v *service) GetInputsAddJob(ctx context.Context, req *pb.GetInputsAddJobRequest) (*pb.SingleInputsAddJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	now := s.nowNano()
	a.lock()
	var out *pb.InputsAddJob
	if j := a.jobs[req.Id]; j != nil {
		out = j.proto(now)
	}
	a.unlock()
	if out == nil {
		return &pb.SingleInputsAddJobResponse{Status: jobMissing(req.Id)}, nil
	}
	return &pb.SingleInputsAddJobResponse{Status: okStatus(), InputsAddJob: out}, nil
}

// ListInputsAddJobs lists jobs in creation order.
func (v *service) ListInputsAddJobs(ctx context.Context, req *pb.ListInputsAddJobsRequest) (*pb.MultiInputsAddJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiInputsAddJobResponse{Status: st}, nil
	}
	now := s.nowNano()
	var out []*pb.InputsAddJob
	a.lock()
	for _, j := range pageOf(a.sortedJobs(), offset, limit) {
		out = append(out, j.proto(now))
	}
	a.unlock()
	return &pb.MultiInputsAddJobResponse{Status: okStatus(), InputsAddJobs: out}, nil
}

// CancelInputsAddJob marks a job JOB_CANCELLED for good. Its inputs are not
// affected: those still pending go on being processed, as they may on
// Clarifai. Its extraction jobs (cloud ingestion) are cancelled too: no
// further input is created. A missing job gets CONN_DOES_NOT_EXIST.
func (v *service) CancelInputsAddJob(ctx context.Context, req *pb.CancelInputsAddJobRequest) (*pb.SingleInputsAddJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	now := s.nowNano()
	a.lock()
	j := a.jobs[req.Id]
	var exts []*extraction
	if j != nil {
		exts = append(exts, j.extractions...)
	}
	a.unlock()
	if j == nil {
		return &pb.SingleInputsAddJobResponse{Status: jobMissing(req.Id)}, nil
	}
	// Extraction jobs are cancelled without the app lock: cancelling takes
	// each job's lock first (see extraction.go).
	for _, e := range exts {
		s.cancelExtraction(a, e, now)
	}
	a.lock()
	j.cancelled, j.modified = true, now
	out := j.proto(now)
	a.unlock()
	s.dirty.Store(true)
	return &pb.SingleInputsAddJobResponse{Status: okStatus(), InputsAddJob: out}, nil
}
