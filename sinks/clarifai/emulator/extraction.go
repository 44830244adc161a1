package emulator

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Cloud ingestion: PostInputsDataSources and the inputs-extraction jobs.
//
// Each data source of a PostInputsDataSources call becomes one extraction
// job, attached to an inputs-add job (its inputs_add_job_id, or a random
// one; data sources naming the same id share one inputs-add job, and an
// existing id gets one more extraction job, as PostInputs merges into an
// existing job).
//
// An extraction job runs on the emulator's clock, without goroutines, like
// input processing: with d = Options.ExtractionDelay it is JOB_QUEUED for d
// after creation, then lists its objects (no time) and takes d per step,
// where a step is one object, the opening of an archive, or one archive
// member. Steps are carried out lazily: before each call on the app (and in
// the inspection methods) every step due by now is done, and the inputs it
// creates get the step's time as their creation time, so what a client
// sees depends only on the clock, not on when it looks. File I/O happens
// outside the app lock, under the job's own lock (lock order: job, then
// app).
//
// Outcomes:
//
//	unknown bucket, unreadable folder     LIST_OBJECTS_FAILED (the job fails at its start)
//	private bucket, missing or wrong credentials
//	                                      LIST_OBJECTS_FAILED, "access denied listing URL: ..."
//	archive that cannot be read           counted in failed_archives_count; the members
//	                                      read before the error are ingested; the job
//	                                      completes (ARCHIVE_EXTRACT_FAILED when the URL
//	                                      itself is that one archive)
//	archive inside an archive, file of an unsupported type, over the size limit,
//	empty or invalid, ID taken with SKIP  not an input; counted in the job's
//	                                      status details ("N files skipped: ...")
//	CancelInputsExtractionJobs / CancelInputsAddJob
//	                                      JOB_CANCELLED at once; no step after the
//	                                      cancel time is carried out
//
// The inputs-add job of data sources reports JOB_QUEUED while all its
// extraction jobs are queued, JOB_RUNNING while one runs or inputs are still
// processing, then JOB_COMPLETED, JOB_FAILED (an extraction job failed) or
// JOB_CANCELLED. (Clarifai answers JOB_COMPLETED for the inputs-add job as
// soon as its extraction jobs exist; clients should follow the extraction
// jobs and the progress counts, which both behaviours agree on.)

// maxDataSources bounds the data sources of one request.
const maxDataSources = 128

// maxNotes bounds the example file names kept per extraction job.
const maxNotes = 5

// extState is the lifecycle of an extraction job; queued versus running is
// decided by the clock.
type extState uint8

const (
	extActive extState = iota
	extCompleted
	extFailed
	extCancelled
)

// kindIndex orders the per-kind counters of an extraction job.
var kindIndex = map[MediaKind]int{KindImage: 0, KindVideo: 1, KindAudio: 2, KindText: 3}

// extraction is one inputs-extraction job. The fields under "progress" are
// guarded by the app's lock; the runtime fields by mu, which is taken
// before the app's lock.
type extraction struct {
	// Fixed at creation.
	id, url, jobID string
	seq            uint64
	created        int64
	delay          int64
	conflict       pb.InputIDConflictResolution
	template       []byte // marshaled pb.Input: data (no media) and dataset_ids
	denied         string // why the credentials do not open the bucket; "" if they do

	// Progress (app lock).
	state       extState
	failCode    statuspb.StatusCode
	failDetails string
	modified    int64
	kinds       [4]uint64 // inputs created: image, video, audio, text
	archPending uint64
	archRunning uint64
	archDone    uint64
	archFailed  uint64
	skips       [numSkipReasons]uint64
	notes       []string // up to maxNotes examples of skipped files and failed archives
	listed      bool
	steps       int64  // steps carried out
	obj         int    // index of the next object in the listing
	member      int    // index of the next member of the open archive
	inArchive   bool   // list[obj] is an archive being extracted
	archErr     string // error of the open archive, counted when it closes
	single      bool   // the listing was one archive object (the URL names an archive)

	// Runtime (mu); rebuilt after a restart from the listing and cursor.
	mu         sync.Mutex
	list       []object
	members    []prepared // of the archive list[membersOf]
	membersOf  int
	membersErr string
}

func (e *extraction) start() int64 { return e.created + e.delay }

// stepAt returns when step n (1-based) ends.
func (e *extraction) stepAt(n int64) int64 { return e.start() + n*e.delay }

// note records an example file for the job's details, up to maxNotes.
func (e *extraction) note(s string) {
	if len(e.notes) < maxNotes {
		e.notes = append(e.notes, s)
	}
}

// details summarizes what the job skipped and which archives failed.
func (e *extraction) details() string {
	var parts []string
	var n uint64
	for r := skipReason(1); r < numSkipReasons; r++ {
		if e.skips[r] > 0 {
			n += e.skips[r]
			parts = append(parts, fmt.Sprintf("%d %s", e.skips[r], skipNames[r]))
		}
	}
	var out []string
	if n > 0 {
		out = append(out, fmt.Sprintf("%d files skipped: %s", n, strings.Join(parts, ", ")))
	}
	if e.archFailed > 0 {
		out = append(out, fmt.Sprintf("%d archives could not be extracted", e.archFailed))
	}
	if len(e.notes) > 0 {
		out = append(out, "e.g. "+strings.Join(e.notes, "; "))
	}
	return strings.Join(out, ". ")
}

// statusAt returns the job's status at now. The caller holds the app lock.
func (e *extraction) statusAt(now int64) *statuspb.Status {
	var st *statuspb.Status
	switch e.state {
	case extActive:
		if now < e.start() {
			st = newStatus(statuspb.StatusCode_JOB_QUEUED, "")
		} else {
			st = newStatus(statuspb.StatusCode_JOB_RUNNING, "")
		}
	case extCompleted:
		st = newStatus(statuspb.StatusCode_JOB_COMPLETED, "")
	case extCancelled:
		st = newStatus(statuspb.StatusCode_JOB_CANCELLED, "")
	default:
		st = newStatus(e.failCode, e.failDetails)
	}
	if d := e.details(); d != "" {
		if st.Details != "" {
			st.Details += ". "
		}
		st.Details += d
	}
	return st
}

// proto returns the job as a message at now. The caller holds the app lock.
func (e *extraction) proto(now int64) *pb.InputsExtractionJob {
	tmpl := &pb.Input{}
	if err := proto.Unmarshal(e.template, tmpl); err != nil {
		tmpl = nil // the blob was marshaled in this process or checked at load
	}
	return &pb.InputsExtractionJob{
		Status: e.statusAt(now),
		Id:     e.id,
		Url:    e.url,
		Progress: &pb.InputsExtractionJobProgress{
			ImageInputsCount: e.kinds[0], VideoInputsCount: e.kinds[1],
			AudioInputsCount: e.kinds[2], TextInputsCount: e.kinds[3],
			PendingArchivesCount: e.archPending, InProgressArchivesCount: e.archRunning,
			CompletedArchivesCount: e.archDone, FailedArchivesCount: e.archFailed,
		},
		CreatedAt:                 ts(e.created),
		ModifiedAt:                ts(e.modified),
		InputIdConflictResolution: e.conflict,
		InputTemplate:             tmpl,
	}
}

// dataSourceStatus is the status of an inputs-add job with extraction jobs
// (see the comment at the top of this file). The caller holds the app lock.
func dataSourceStatus(j *job, p *pb.InputsAddJobProgress, now int64) *statuspb.Status {
	var queued, running, failed, cancelled int
	var failure *extraction
	for _, e := range j.extractions {
		switch e.state {
		case extActive:
			if now < e.start() {
				queued++
			} else {
				running++
			}
		case extFailed:
			failed++
			if failure == nil {
				failure = e
			}
		case extCancelled:
			cancelled++
		}
	}
	switch {
	case j.cancelled || cancelled > 0:
		return newStatus(statuspb.StatusCode_JOB_CANCELLED, "")
	case running > 0 || (queued > 0 && failed > 0):
		return newStatus(statuspb.StatusCode_JOB_RUNNING, "")
	case queued > 0:
		return newStatus(statuspb.StatusCode_JOB_QUEUED, "")
	case failed > 0:
		return newStatusf(statuspb.StatusCode_JOB_FAILED, "extraction job %s: %s", failure.id, failure.failDetails)
	case p.PendingCount+p.InProgressCount > 0:
		return newStatus(statuspb.StatusCode_JOB_RUNNING, "")
	}
	return newStatus(statuspb.StatusCode_JOB_COMPLETED, "")
}

// addActive and removeActive keep the app's list of extraction jobs still
// running; the caller holds the app lock.
func (a *app) addActive(e *extraction) {
	a.active = append(a.active, e)
	a.nActive.Store(int64(len(a.active)))
}

func (a *app) removeActive(e *extraction) {
	for i, x := range a.active {
		if x == e {
			a.active = append(a.active[:i], a.active[i+1:]...)
			break
		}
	}
	a.nActive.Store(int64(len(a.active)))
}

// sortedExtractions returns the app's extraction jobs in creation order;
// the caller holds the lock.
func (a *app) sortedExtractions() []*extraction { return a.extOrder }

// advanceExtractions carries out every step of the app's running extraction
// jobs due by now. It takes each job's lock, then the app's lock briefly;
// the caller holds neither.
func (s *Server) advanceExtractions(a *app, now int64) {
	if s.noAdvance || a.nActive.Load() == 0 {
		return
	}
	a.lock()
	active := append([]*extraction(nil), a.active...)
	a.unlock()
	for _, e := range active {
		e.mu.Lock()
		s.advanceLocked(a, e, now)
		e.mu.Unlock()
	}
}

// step is the outcome of one step of an extraction job, applied under the
// app lock by commit.
type step struct {
	at         int64
	openArch   bool   // an archive was opened
	archErr    string // its error, if any
	input      *prepared
	closeArch  bool   // the open archive is done
	archKey    string // its key
	last       bool   // the listing is done: the job completes
	n          int64
	obj        int
	member     int
	inArchive  bool
	listFailed string // the listing failed: the job fails
}

// commitBatch bounds the steps prepared before they are committed, so that
// a long backlog does not hold many prepared inputs in memory.
const commitBatch = 64

// advanceLocked carries out the steps of e due by now. The caller holds
// e.mu and not the app lock.
func (s *Server) advanceLocked(a *app, e *extraction, now int64) {
	a.lock()
	if e.state != extActive || now < e.start() {
		a.unlock()
		return
	}
	n, obj, member, inArchive, listed, denied := e.steps, e.obj, e.member, e.inArchive, e.listed, e.denied
	template := e.template
	a.unlock()

	if e.list == nil {
		var err error
		if denied != "" {
			err = fmt.Errorf("%s", denied)
		} else {
			e.list, err = s.listObjects(e.url)
		}
		if err != nil {
			s.commit(a, e, []step{{at: e.start(), listFailed: err.Error()}})
			return
		}
		if !listed {
			a.lock()
			e.listed = true
			for _, o := range e.list {
				if o.archive {
					e.archPending++
				}
			}
			e.single = len(e.list) == 1 && e.list[0].archive
			a.unlock()
		}
	}
	due := int64(math.MaxInt64)
	if e.delay > 0 {
		due = (now - e.start()) / e.delay
	}
	if obj >= len(e.list) {
		// An empty listing (or one a restart found shorter): done at once.
		s.commit(a, e, []step{{at: max(e.stepAt(n), e.start()), last: true, n: n, obj: obj}})
		e.list, e.members = nil, nil
		return
	}
	if n >= due {
		return // no step due yet: every call on the app comes here
	}
	var tmpl pb.Input
	_ = proto.Unmarshal(template, &tmpl) // checked at creation and at load
	batch := make([]step, 0, commitBatch)
	for n < due && obj < len(e.list) {
		st := step{at: e.stepAt(n + 1)}
		o := e.list[obj]
		switch {
		case !inArchive && o.archive:
			e.loadMembers(s, &tmpl, obj)
			st.openArch, st.archErr = true, e.membersErr
			inArchive, member = true, 0
		case !inArchive:
			b, tooLarge, err := readObject(o)
			var p prepared
			if err != nil {
				p = prepared{key: o.key, skip: skipInvalid}
			} else {
				p = s.prepareFile(&tmpl, o.url, o.key, b, tooLarge, false)
			}
			st.input = &p
			obj++
		default:
			if e.membersOf != obj {
				// After a restart: read the archive again to go on where
				// the last run stopped.
				e.loadMembers(s, &tmpl, obj)
			}
			if member < len(e.members) {
				st.input = &e.members[member]
				member++
			}
		}
		if inArchive && member >= len(e.members) {
			st.closeArch, st.archKey = true, o.key
			inArchive, member = false, 0
			obj++
		}
		n++
		st.n, st.obj, st.member, st.inArchive = n, obj, member, inArchive
		st.last = obj >= len(e.list) && !inArchive
		batch = append(batch, st)
		if len(batch) == commitBatch {
			if !s.commit(a, e, batch) {
				return
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		s.commit(a, e, batch)
	}
	if obj >= len(e.list) && !inArchive {
		e.list, e.members = nil, nil // done: free the runtime state
	}
}

// loadMembers reads the archive list[obj] and prepares its members. The
// caller holds e.mu.
func (e *extraction) loadMembers(s *Server, tmpl *pb.Input, obj int) {
	o := e.list[obj]
	e.members, e.membersOf, e.membersErr = nil, obj, ""
	err := readArchive(o.path, o.key, func(name string, b []byte, tooLarge bool) {
		key := o.key + "/" + name
		e.members = append(e.members, s.prepareFile(tmpl, o.url+"/"+name, key, b, tooLarge, isArchive(name)))
	})
	if err != nil {
		e.membersErr = err.Error()
	}
}

// readObject reads one listed file, unless it is over maxObjectBytes.
func readObject(o object) (b []byte, tooLarge bool, err error) {
	if o.size > maxObjectBytes {
		return nil, true, nil
	}
	b, err = readFileLimit(o.path, maxObjectBytes)
	if err != nil {
		return nil, false, err
	}
	return b, int64(len(b)) > maxObjectBytes, nil
}

// commit applies steps under the app lock. It returns false when the job is
// no longer running (cancelled meanwhile), in which case nothing is applied.
func (s *Server) commit(a *app, e *extraction, steps []step) bool {
	a.lock()
	defer a.unlock()
	if e.state != extActive {
		return false
	}
	for i := range steps {
		st := &steps[i]
		if st.listFailed != "" {
			e.state, e.failCode, e.failDetails, e.modified = extFailed, statuspb.StatusCode_LIST_OBJECTS_FAILED, st.listFailed, st.at
			a.removeActive(e)
			s.dirty.Store(true)
			s.log.Debug("extraction job failed", zap.String("job", e.id), zap.String("details", st.listFailed))
			return true
		}
		if st.openArch {
			e.archPending--
			e.archRunning++
			e.archErr = st.archErr
		}
		if p := st.input; p != nil {
			s.storeExtracted(a, e, p, st.at)
		}
		if st.closeArch {
			e.archRunning--
			if e.archErr != "" {
				e.archFailed++
				e.note(fmt.Sprintf("%s (archive: %s)", st.archKey, e.archErr))
			} else {
				e.archDone++
			}
			e.archErr = ""
		}
		if st.n > e.steps {
			e.steps, e.obj, e.member, e.inArchive = st.n, st.obj, st.member, st.inArchive
		}
		e.modified = max(e.modified, st.at)
		if st.last {
			e.state = extCompleted
			if e.single && e.archFailed > 0 {
				e.state, e.failCode = extFailed, statuspb.StatusCode_ARCHIVE_EXTRACT_FAILED
				e.failDetails = fmt.Sprintf("the archive %s could not be extracted", redactURL(e.url))
			}
			a.removeActive(e)
			s.log.Debug("extraction job ended", zap.String("job", e.id), zap.Int64("steps", e.steps))
		}
	}
	s.dirty.Store(true)
	return true
}

// storeExtracted stores one prepared file as an input of e's inputs-add job,
// created at at. The caller holds the app lock.
func (s *Server) storeExtracted(a *app, e *extraction, p *prepared, at int64) {
	if p.skip != skipNone {
		e.skips[p.skip]++
		e.note(fmt.Sprintf("%s (%s)", p.key, strings.TrimPrefix(skipNames[p.skip], "of ")))
		return
	}
	id, st := a.resolveInputID(p.id, e.conflict == pb.InputIDConflictResolution_SUFFIX, nil, nil)
	if st != nil {
		e.skips[skipDuplicate]++
		return
	}
	fail := p.fail
	if fail == failNone && s.faults.hit(s.opts.Faults.ProcessingFailRate) {
		fail = failTransient
	}
	r := &inputRec{
		id: id, seq: a.nextSeq(), created: at, modified: at, delay: s.delay,
		blob: p.blob, digests: p.digests, fail: fail,
	}
	a.addInput(r)
	if j := a.jobs[e.jobID]; j != nil {
		j.add(jobEntry{created: at, delay: s.delay, failed: fail != failNone})
		j.modified = max(j.modified, at)
	}
	e.kinds[kindIndex[p.kind]]++
}

// cancelExtraction advances e to now, then cancels it if it still runs.
// The caller holds no lock.
func (s *Server) cancelExtraction(a *app, e *extraction, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.advanceLocked(a, e, now)
	a.lock()
	if e.state == extActive {
		e.state, e.modified = extCancelled, now
		a.removeActive(e)
		e.list, e.members = nil, nil
		s.dirty.Store(true)
	}
	a.unlock()
}

func extractionMissing(id string) *statuspb.Status {
	return newStatusf(statuspb.StatusCode_CONN_DOES_NOT_EXIST, "inputs extraction job %q does not exist", id)
}

// sourcePlan is one validated data source of a PostInputsDataSources call.
type sourcePlan struct {
	jobID, url string
	conflict   pb.InputIDConflictResolution
	template   []byte
	datasets   []string
	denied     string
}

// PostInputsDataSources validates every data source, then creates one
// extraction job per data source, queued. A request with any invalid data
// source is refused as a whole (INPUT_INVALID_REQUEST, or
// INPUT_INVALID_ARGUMENT for the template) and creates nothing.
func (v *service) PostInputsDataSources(ctx context.Context, req *pb.PostInputsDataSourcesRequest) (*pb.MultiInputsAddJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	fail := func(code statuspb.StatusCode, format string, args ...any) (*pb.MultiInputsAddJobResponse, error) {
		return &pb.MultiInputsAddJobResponse{Status: newStatusf(code, format, args...)}, nil
	}
	n := len(req.DataSources)
	if n == 0 {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has no data_sources")
	}
	if n > maxDataSources {
		return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "the request has %d data_sources; at most %d are allowed", n, maxDataSources)
	}
	plans := make([]sourcePlan, n)
	for i, ds := range req.DataSources {
		p := &plans[i]
		p.jobID, p.url, p.conflict = ds.GetInputsAddJobId(), ds.GetUrl().GetUrl(), ds.GetInputIdConflictResolution()
		if p.jobID != "" && !validID(p.jobID, maxJobIDLength) {
			return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "data_sources[%d].inputs_add_job_id %q must be 1-%d characters of A-Z, a-z, 0-9, _ and -", i, p.jobID, maxJobIDLength)
		}
		if p.url == "" {
			return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "data_sources[%d].url.url is required", i)
		}
		if _, _, err := splitCloudURL(p.url); err != nil {
			return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "data_sources[%d]: %v", i, err)
		}
		switch p.conflict {
		case pb.InputIDConflictResolution_INPUT_ID_CONFLICT_RESOLUTION_NOT_SET, pb.InputIDConflictResolution_SKIP, pb.InputIDConflictResolution_SUFFIX:
		default:
			return fail(statuspb.StatusCode_INPUT_INVALID_REQUEST, "data_sources[%d].input_id_conflict_resolution %d is not a known value", i, p.conflict)
		}
		tmpl := &pb.Input{DatasetIds: ds.GetInputTemplate().GetDatasetIds()}
		if d := ds.GetInputTemplate().GetData(); d != nil {
			tmpl.Data = proto.Clone(d).(*pb.Data)
			tmpl.Data.Image, tmpl.Data.Video, tmpl.Data.Audio, tmpl.Data.Text, tmpl.Data.Parts = nil, nil, nil, nil, nil
			if st := checkPatch(tmpl.Data, s.opts.AnyConceptID); st != nil {
				st.Details = fmt.Sprintf("data_sources[%d].input_template: %s", i, st.Details)
				return &pb.MultiInputsAddJobResponse{Status: st}, nil
			}
		}
		for _, id := range tmpl.DatasetIds {
			if !validID(id, s.opts.MaxInputIDLength) {
				return fail(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "data_sources[%d].input_template: dataset id %q is not valid", i, id)
			}
		}
		blob, err := proto.Marshal(tmpl)
		if err != nil {
			return fail(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "data_sources[%d].input_template cannot be encoded: %v", i, err)
		}
		p.template, p.datasets = blob, tmpl.DatasetIds
		p.denied = s.checkAccess(p.url, ds.GetUrl().GetCredentials())
	}

	create := !s.opts.NoAutoCreateApps
	now := s.nowNano()
	a.lock()
	for _, p := range plans {
		for _, ds := range p.datasets {
			if !a.ensureDataset(ds, now, false) && !create {
				a.unlock()
				return fail(statuspb.StatusCode_INPUT_INVALID_ARGUMENT, "dataset %q does not exist", ds)
			}
		}
	}
	var jobs []*job
	seen := make(map[string]bool)
	for _, p := range plans {
		for _, ds := range p.datasets {
			a.ensureDataset(ds, now, true)
		}
		jobID := p.jobID
		if jobID == "" {
			jobID = newID()
		}
		j := a.jobs[jobID]
		if j == nil {
			j = &job{id: jobID, seq: a.nextSeq(), created: now}
			a.jobs[jobID] = j
		}
		j.modified = now
		e := &extraction{
			id: newID(), url: p.url, jobID: jobID, seq: a.nextSeq(), created: now, modified: now,
			delay: int64(s.opts.ExtractionDelay), conflict: p.conflict, template: p.template, denied: p.denied,
			membersOf: -1,
		}
		a.extractions[e.id] = e
		a.extOrder = append(a.extOrder, e)
		a.addActive(e)
		j.extractions = append(j.extractions, e)
		if !seen[jobID] {
			seen[jobID] = true
			jobs = append(jobs, j)
		}
	}
	resp := &pb.MultiInputsAddJobResponse{Status: okStatus()}
	for _, j := range jobs {
		resp.InputsAddJobs = append(resp.InputsAddJobs, j.proto(now))
	}
	a.unlock()
	s.dirty.Store(true)
	s.log.Debug("post inputs data sources", zap.String("app", a.id), zap.Int("data_sources", n))
	return resp, nil
}

// GetInputsExtractionJob returns one extraction job, or CONN_DOES_NOT_EXIST.
func (v *service) GetInputsExtractionJob(ctx context.Context, req *pb.GetInputsExtractionJobRequest) (*pb.SingleInputsExtractionJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	now := s.nowNano()
	a.lock()
	var out *pb.InputsExtractionJob
	if e := a.extractions[req.InputsExtractionJobId]; e != nil {
		out = e.proto(now)
	}
	a.unlock()
	if out == nil {
		return &pb.SingleInputsExtractionJobResponse{Status: extractionMissing(req.InputsExtractionJobId)}, nil
	}
	return &pb.SingleInputsExtractionJobResponse{Status: okStatus(), InputsExtractionJob: out}, nil
}

// ListInputsExtractionJobs lists extraction jobs in creation order.
func (v *service) ListInputsExtractionJobs(ctx context.Context, req *pb.ListInputsExtractionJobsRequest) (*pb.MultiInputsExtractionJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	offset, limit, st := paging(req.Page, req.PerPage)
	if st != nil {
		return &pb.MultiInputsExtractionJobResponse{Status: st}, nil
	}
	now := s.nowNano()
	var out []*pb.InputsExtractionJob
	a.lock()
	for _, e := range pageOf(a.sortedExtractions(), offset, limit) {
		out = append(out, e.proto(now))
	}
	a.unlock()
	return &pb.MultiInputsExtractionJobResponse{Status: okStatus(), InputsExtractionJobs: out}, nil
}

// CancelInputsExtractionJobs cancels the given jobs and returns them. Jobs
// already ended are returned unchanged. Without ids the answer is
// INPUT_INVALID_REQUEST; with an unknown id it is CONN_DOES_NOT_EXIST and
// nothing is cancelled.
func (v *service) CancelInputsExtractionJobs(ctx context.Context, req *pb.CancelInputsExtractionJobsRequest) (*pb.MultiInputsExtractionJobResponse, error) {
	s, a := v.s, appFrom(ctx)
	if len(req.Ids) == 0 {
		return &pb.MultiInputsExtractionJobResponse{Status: newStatus(statuspb.StatusCode_INPUT_INVALID_REQUEST, "ids must not be empty")}, nil
	}
	var list []*extraction
	a.lock()
	for _, id := range req.Ids {
		e := a.extractions[id]
		if e == nil {
			a.unlock()
			return &pb.MultiInputsExtractionJobResponse{Status: extractionMissing(id)}, nil
		}
		list = append(list, e)
	}
	a.unlock()
	now := s.nowNano()
	for _, e := range list {
		s.cancelExtraction(a, e, now)
	}
	resp := &pb.MultiInputsExtractionJobResponse{Status: okStatus()}
	a.lock()
	for _, e := range list {
		resp.InputsExtractionJobs = append(resp.InputsExtractionJobs, e.proto(now))
	}
	a.unlock()
	return resp, nil
}
