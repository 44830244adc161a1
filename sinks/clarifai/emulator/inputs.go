package emulator

import (
	"context"
	"fmt"
	"sort"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// service implements the V2 service on a Server. Every handler runs after
// Server.intercept, which has authenticated the call and put its app in the
// context. Methods not implemented here answer gRPC Unimplemented.
type service struct {
	pb.UnimplementedV2Server
	s *Server
}

var _ pb.V2Server = (*service)(nil)

// sizeSlack is how far below MaxRequestBytes the media bytes of a request
// must stay for PostInputs to skip measuring the whole request: the rest of
// 128 inputs (ids, urls, concepts, metadata) stays far below it.
const sizeSlack = 16_000_000

// maxJobIDLength bounds inputs_add_job_id.
const maxJobIDLength = 128

// duplicateIDDetails is the exact per-input details the official Python SDK
// looks for to recognize duplicate IDs.
const duplicateIDDetails = "Input has a duplicate ID."

func duplicateIDStatus() *statuspb.Status {
	return &statuspb.Status{Code: statuspb.StatusCode_INPUT_INVALID_ARGUMENT, Description: "Duplicate input ID", Details: duplicateIDDetails}
}

// postItem is one input of a PostInputs call on its way to the store.
type postItem struct {
	reject *statuspb.Status // set when the input is not stored
	blob   []byte
	check  dataCheck
}

// PostInputs validates the request as a whole, then each input, and stores
// the valid ones as pending. Validation, digesting and marshaling happen
// before the app lock is taken; under the lock the work is O(inputs).
func (v *service) PostInputs(ctx context.Context, req *pb.PostInputsRequest) (*pb.MultiInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	fail := func(code statuspb.StatusCode, format string, args ...any) (*pb.MultiInputResponse, error) {
		return &pb.MultiInputResponse{Status: newStatusf(code, format, args...)}, nil
	}
	// Sizing the whole request costs a fifth of this handler, so it is done
	// only when the media bytes, which dominate any large request, come
	// within sizeSlack of the limit.
	media := 0
	for _, in := range req.Inputs {
		media += mediaBytes(in.GetData(), 0)
	}
	if media >= MaxRequestBytes-sizeSlack {
		if size := proto.Size(req); size >= MaxRequestBytes {
			return fail(statuspb.StatusCode_RPC_MAX_MESSAGE_SIZE_EXCEEDED, "request is %d bytes; it must be under %d", size, MaxRequestBytes)
		}
	}
	n := len(req.Inputs)
	if n == 0 {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has no inputs")
	}
	if n > MaxInputsPerRequest {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has %d inputs; at most %d are allowed per request", n, MaxInputsPerRequest)
	}
	videos := 0
	for _, in := range req.Inputs {
		videos += countVideos(in.GetData(), 0)
	}
	if videos > MaxVideosPerRequest {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has %d videos; at most %d is allowed per request", videos, MaxVideosPerRequest)
	}
	jobID := req.InputsAddJobId
	if jobID != "" && !validID(jobID, maxJobIDLength) {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "inputs_add_job_id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", jobID, maxJobIDLength)
	}

	items := make([]postItem, n)
	requested := make(map[string]struct{}, n) // valid ids asked for in this request
	for i, in := range req.Inputs {
		if in == nil {
			in = &pb.Input{}
			req.Inputs[i] = in
		}
		it := &items[i]
		it.check.anyConceptID = s.opts.AnyConceptID
		switch {
		case in.Id == "":
		case !validID(in.Id, s.opts.MaxInputIDLength):
			it.reject = newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "input id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", in.Id, s.opts.MaxInputIDLength)
		default:
			if _, dup := requested[in.Id]; dup {
				it.reject = duplicateIDStatus()
			}
			requested[in.Id] = struct{}{}
		}
		// checkData runs even for rejected inputs: it strips their bytes.
		if st := checkData(in.Data, "", 0, &it.check); it.reject == nil {
			it.reject = st
		}
		for _, ds := range in.DatasetIds {
			if it.reject == nil && !validID(ds, s.opts.MaxInputIDLength) {
				it.reject = newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "dataset id %q is not valid", ds)
			}
		}
		if it.reject == nil {
			blob, err := proto.Marshal(&pb.Input{Data: in.Data, DatasetIds: in.DatasetIds})
			if err != nil {
				it.reject = newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "input cannot be encoded: %v", err)
			}
			it.blob = blob
		}
	}

	suffix := req.InputIdConflictResolution == pb.InputIDConflictResolution_SUFFIX
	create := !s.opts.NoAutoCreateApps
	now := s.nowNano()
	stored := 0
	resp := &pb.MultiInputResponse{Inputs: req.Inputs}

	a.lock()
	assigned := make(map[string]struct{}, n) // ids given out in this request
	for i, in := range req.Inputs {
		it := &items[i]
		if it.reject == nil {
			id, st := a.resolveInputID(in.Id, suffix, requested, assigned)
			if st != nil {
				it.reject = st
			} else {
				in.Id = id
			}
		}
		for _, ds := range in.DatasetIds {
			if it.reject == nil && !a.ensureDataset(ds, now, create) {
				it.reject = newStatusf(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "dataset %q does not exist", ds)
			}
		}
		if it.reject == nil && s.faults.hit(s.opts.Faults.TransientInputRate) {
			it.reject = newStatus(statuspb.StatusCode_TRY_AGAIN, "temporary error storing the input; retry")
		}
		if it.reject != nil {
			in.Status = it.reject
			continue
		}
		fail := it.check.fail
		if fail == failNone && s.faults.hit(s.opts.Faults.ProcessingFailRate) {
			fail = failTransient
		}
		r := &inputRec{
			id: in.Id, seq: a.nextSeq(), created: now, modified: now, delay: s.delay,
			blob: it.blob, digests: it.check.digests, fail: fail,
		}
		a.addInput(r)
		assigned[r.id] = struct{}{}
		stored++
		in.Status, in.CreatedAt, in.ModifiedAt = r.status(now), ts(now), ts(now)
	}
	if jobID != "" {
		j := a.jobs[jobID]
		if j == nil {
			j = &job{id: jobID, seq: a.nextSeq(), created: now}
			a.jobs[jobID] = j
		}
		for i := range items {
			if items[i].reject == nil {
				j.add(jobEntry{created: now, delay: s.delay, failed: a.inputs[req.Inputs[i].Id].fail != failNone})
			}
		}
		j.modified = now
		resp.InputsAddJob = j.proto(now)
	}
	a.unlock()

	if stored > 0 || jobID != "" {
		s.dirty.Store(true)
	}
	resp.Status = aggregate(stored, n)
	s.log.Debug("post inputs", zap.String("app", a.id), zap.Int("inputs", n), zap.Int("stored", stored))
	return resp, nil
}

// resolveInputID returns the id a new input gets, or a status when it
// cannot be stored. requested holds the ids asked for in this request and
// assigned those already given out in it. The caller holds the lock.
func (a *app) resolveInputID(id string, suffix bool, requested, assigned map[string]struct{}) (string, *statuspb.Status) {
	taken := func(c string) bool {
		_, inStore := a.inputs[c]
		_, given := assigned[c]
		return inStore || given
	}
	if id == "" {
		for {
			if c := newID(); !taken(c) {
				return c, nil
			}
		}
	}
	if !taken(id) {
		return id, nil
	}
	if !suffix {
		return "", duplicateIDStatus()
	}
	free := func(c string) bool {
		_, asked := requested[c] // leave ids other inputs of this request asked for
		return !taken(c) && !asked
	}
	for k := 1; k <= 9; k++ {
		if c := fmt.Sprintf("%s-%d", id, k); free(c) {
			return c, nil
		}
	}
	for {
		if c := id + "-" + newID()[:8]; free(c) {
			return c, nil
		}
	}
}

// inputSnap is what a read needs of an inputRec, copied under the lock so
// that decoding can happen after it is released.
type inputSnap struct {
	id                string
	blob              []byte
	created, modified int64
	status            *statuspb.Status
	digests           []digest
}

func snapInput(r *inputRec, now int64) inputSnap {
	return inputSnap{id: r.id, blob: r.blob, created: r.created, modified: r.modified, status: r.status(now), digests: r.digests}
}

// proto decodes the snapshot into an Input.
func (sn inputSnap) proto() *pb.Input {
	in := &pb.Input{}
	if err := proto.Unmarshal(sn.blob, in); err != nil {
		// The blob was produced by proto.Marshal in this process or read
		// from a state file checked at load; keep the input visible anyway.
		in.Data = nil
	}
	in.Id, in.Status = sn.id, sn.status
	in.CreatedAt, in.ModifiedAt = ts(sn.created), ts(sn.modified)
	return in
}

// paging turns page and per_page into an offset and a limit.
func paging(page, perPage uint32) (offset, limit int, st *statuspb.Status) {
	if page == 0 {
		page = 1
	}
	if perPage == 0 {
		perPage = DefaultPerPage
	}
	if perPage > MaxPerPage {
		return 0, 0, newStatusf(statuspb.StatusCode_FAILURE, "per_page %d is over the maximum of %d", perPage, MaxPerPage)
	}
	off := (uint64(page) - 1) * uint64(perPage)
	if off > 1<<40 {
		off = 1 << 40
	}
	return int(off), int(perPage), nil
}

// pageOf returns s[offset:offset+limit], clipped.
func pageOf[T any](s []T, offset, limit int) []T {
	if offset >= len(s) {
		return nil
	}
	return s[offset:min(len(s), offset+limit)]
}

// pageOrder returns the snapshots of the inputs in a.order (creation order)
// that match, after skipping offset of them, at most limit. It costs
// O(offset + page) plus the inputs that do not match. The caller holds the
// lock.
func (a *app) pageOrder(match func(*inputRec) bool, offset, limit int, now int64) []inputSnap {
	var snaps []inputSnap
	skip := offset
	for _, r := range a.order {
		if len(snaps) == limit {
			break
		}
		if !match(r) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		snaps = append(snaps, snapInput(r, now))
	}
	return snaps
}

// ListInputs lists inputs in creation order. With ids it costs O(ids);
// without, O(offset + page), plus deleted inputs not yet compacted.
func (v *service) ListInputs(ctx context.Context, req *pb.ListInputsRequest) (*pb.MultiInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiInputResponse{Status: st}, nil
	}
	code := req.GetStatus().GetCode()
	now := s.nowNano()
	match := func(r *inputRec) bool {
		return r != nil && !r.deleted && (code == 0 || r.statusCode(now) == code)
	}
	var snaps []inputSnap
	a.lock()
	if len(req.Ids) > 0 {
		var found []*inputRec
		seen := make(map[string]struct{}, len(req.Ids))
		for _, id := range req.Ids {
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			if r := a.inputs[id]; match(r) {
				found = append(found, r)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
		for _, r := range pageOf(found, offset, limit) {
			snaps = append(snaps, snapInput(r, now))
		}
	} else {
		snaps = a.pageOrder(match, offset, limit, now)
	}
	a.unlock()

	resp := &pb.MultiInputResponse{Status: okStatus(), Inputs: make([]*pb.Input, len(snaps))}
	for i, sn := range snaps {
		resp.Inputs[i] = sn.proto()
	}
	return resp, nil
}

// GetInput returns one input, or INPUT_DOES_NOT_EXIST.
func (v *service) GetInput(ctx context.Context, req *pb.GetInputRequest) (*pb.SingleInputResponse, error) {
	s, a := v.s, appFrom(ctx)
	now := s.nowNano()
	a.lock()
	r := a.inputs[req.InputId]
	var sn inputSnap
	if r != nil {
		sn = snapInput(r, now)
	}
	a.unlock()
	if r == nil {
		return &pb.SingleInputResponse{Status: newStatusf(statuspb.StatusCode_INPUT_DOES_NOT_EXIST, "input %q does not exist", req.InputId)}, nil
	}
	return &pb.SingleInputResponse{Status: okStatus(), Input: sn.proto()}, nil
}

// GetInputCount counts the app's inputs by processing phase.
func (v *service) GetInputCount(ctx context.Context, _ *pb.GetInputCountRequest) (*pb.SingleInputCountResponse, error) {
	s, a := v.s, appFrom(ctx)
	now := s.nowNano()
	a.lock()
	pending, inProgress, success, failed := a.inputCounts(now)
	a.unlock()
	return &pb.SingleInputCountResponse{Status: okStatus(), Counts: &pb.InputCount{
		Processed: uint32(success), ToProcess: uint32(pending), Errors: uint32(failed), Processing: uint32(inProgress),
	}}, nil
}

// DeleteInputs deletes the given inputs, pending or not, with their
// annotations. Ids that do not exist are ignored. As on Clarifai, deletion
// is asynchronous when Options.DeleteDelay is set: the inputs stay (listed,
// counted, their ids taken) until it has passed (see deletes.go); without
// it they go at once.
func (v *service) DeleteInputs(ctx context.Context, req *pb.DeleteInputsRequest) (*statuspb.BaseResponse, error) {
	s, a := v.s, appFrom(ctx)
	if len(req.Ids) == 0 {
		return &statuspb.BaseResponse{Status: newStatus(statuspb.StatusCode_INPUT_INVALID_REQUEST, "ids must not be empty")}, nil
	}
	now := s.nowNano()
	deleted := 0
	a.lock()
	for _, id := range req.Ids {
		if s.opts.DeleteDelay > 0 {
			if a.scheduleDelete(id, now+int64(s.opts.DeleteDelay)) {
				deleted++
			}
		} else if a.deleteInput(id, now) {
			deleted++
		}
	}
	a.unlock()
	if deleted > 0 {
		s.dirty.Store(true)
	}
	return &statuspb.BaseResponse{Status: okStatus()}, nil
}
