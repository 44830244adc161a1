package emulator

import (
	"context"

	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// PostDatasets creates datasets atomically: every dataset or none. An id
// that exists, or appears twice, fails the request with
// DATABASE_DUPLICATE_KEY; an invalid id with FAILURE.
func (v *service) PostDatasets(ctx context.Context, req *pb.PostDatasetsRequest) (*pb.MultiDatasetResponse, error) {
	s, a := v.s, appFrom(ctx)
	fail := func(st *statuspb.Status) (*pb.MultiDatasetResponse, error) {
		return &pb.MultiDatasetResponse{Status: st}, nil
	}
	if len(req.Datasets) == 0 {
		return fail(newStatus(statuspb.StatusCode_FAILURE, "the request has no datasets"))
	}
	seen := make(map[string]bool, len(req.Datasets))
	for _, d := range req.Datasets {
		if !validID(d.GetId(), s.opts.MaxInputIDLength) {
			return fail(newStatusf(statuspb.StatusCode_FAILURE, "dataset id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", d.GetId(), s.opts.MaxInputIDLength))
		}
		if seen[d.Id] {
			return fail(newStatusf(statuspb.StatusCode_DATABASE_DUPLICATE_KEY, "dataset id %q appears twice in the request", d.Id))
		}
		seen[d.Id] = true
	}
	now := s.nowNano()
	out := make([]*pb.Dataset, len(req.Datasets))
	a.lock()
	for _, d := range req.Datasets {
		if _, exists := a.datasets[d.Id]; exists {
			a.unlock()
			return fail(newStatusf(statuspb.StatusCode_DATABASE_DUPLICATE_KEY, "dataset %q already exists", d.Id))
		}
	}
	for i, d := range req.Datasets {
		ds := &pb.Dataset{
			Id: d.Id, AppId: a.id, UserId: a.user, CreatedAt: ts(now), ModifiedAt: ts(now),
			Description: d.Description, Metadata: d.Metadata, Notes: d.Notes, Visibility: d.Visibility,
		}
		a.datasets[d.Id] = &dataset{seq: a.nextSeq(), ds: ds}
		out[i] = proto.CloneOf(ds)
	}
	a.unlock()
	s.dirty.Store(true)
	return &pb.MultiDatasetResponse{Status: okStatus(), Datasets: out}, nil
}

// ListDatasets lists datasets in creation order; sort and filter fields are
// ignored.
func (v *service) ListDatasets(ctx context.Context, req *pb.ListDatasetsRequest) (*pb.MultiDatasetResponse, error) {
	a := appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiDatasetResponse{Status: st}, nil
	}
	a.lock()
	all := a.sortedDatasets()
	var out []*pb.Dataset
	for _, d := range pageOf(all, offset, limit) {
		out = append(out, proto.CloneOf(d.ds))
	}
	a.unlock()
	return &pb.MultiDatasetResponse{Status: okStatus(), Datasets: out}, nil
}

// GetDataset returns one dataset, or CONN_DOES_NOT_EXIST.
func (v *service) GetDataset(ctx context.Context, req *pb.GetDatasetRequest) (*pb.SingleDatasetResponse, error) {
	a := appFrom(ctx)
	a.lock()
	d := a.datasets[req.DatasetId]
	var ds *pb.Dataset
	if d != nil {
		ds = proto.CloneOf(d.ds)
	}
	a.unlock()
	if ds == nil {
		return &pb.SingleDatasetResponse{Status: newStatusf(statuspb.StatusCode_CONN_DOES_NOT_EXIST, "dataset %q does not exist", req.DatasetId)}, nil
	}
	return &pb.SingleDatasetResponse{Status: okStatus(), Dataset: ds}, nil
}
