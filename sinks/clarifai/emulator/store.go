package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// The state model. Each app owns its inputs, annotations, datasets and
// inputs-add jobs behind one mutex, so apps never contend with each other.
// Later kinds of state (extraction jobs, uploads) belong in app as well.
//
// Time is kept as Unix nanoseconds. An input's status is not stored: it is
// computed from (created, delay, now, fail), which needs no timers and no
// goroutines and follows an injected clock.

// inputRec is one stored input. It is kept compact: the Input proto is
// stored marshaled, without its id, status, timestamps or media bytes.
type inputRec struct {
	id       string
	seq      uint64 // creation order within the app
	created  int64
	modified int64
	delay    int64  // processing delay at acceptance
	blob     []byte // marshaled pb.Input{Data, DatasetIds}; replaced, never mutated
	digests  []digest
	fail     failReason
	deleted  bool
	final    bool  // counted in app.nSuccess or app.nFailed
	deleteAt int64 // when a DeleteInputs takes effect (deletes.go); 0: not asked
}

func (r *inputRec) doneAt() int64 { return r.created + r.delay }

// phase is where an input is in processing at a given time.
type phase uint8

const (
	phasePending phase = iota
	phaseInProgress
	phaseSuccess
	phaseFailed
)

// phaseAt returns the processing phase of an input accepted at created with
// the given delay and outcome, at time now.
func phaseAt(created, delay int64, failed bool, now int64) phase {
	switch {
	case now >= created+delay:
		if failed {
			return phaseFailed
		}
		return phaseSuccess
	case now >= created+delay/2:
		return phaseInProgress
	default:
		return phasePending
	}
}

func (r *inputRec) phase(now int64) phase {
	return phaseAt(r.created, r.delay, r.fail != failNone, now)
}

// phaseCodes are the input status codes of each phase.
var phaseCodes = [...]statuspb.StatusCode{
	phasePending:    statuspb.StatusCode_INPUT_PENDING,
	phaseInProgress: statuspb.StatusCode_INPUT_IN_PROGRESS,
	phaseSuccess:    statuspb.StatusCode_INPUT_SUCCESS,
	phaseFailed:     statuspb.StatusCode_INPUT_FAILED,
}

// statusCode returns the input's status code at time now.
func (r *inputRec) statusCode(now int64) statuspb.StatusCode { return phaseCodes[r.phase(now)] }

// status returns the input's Status at time now.
func (r *inputRec) status(now int64) *statuspb.Status {
	code := r.statusCode(now)
	if code == statuspb.StatusCode_INPUT_FAILED {
		return newStatus(code, failDetails[r.fail])
	}
	return newStatus(code, "")
}

// annRec is one stored annotation; blob is the marshaled pb.Annotation
// without id, input_id, status or timestamps.
type annRec struct {
	id       string
	inputID  string
	seq      uint64
	created  int64
	modified int64
	blob     []byte
	deleted  bool
}

// jobEntry is one input counted by an inputs-add job.
type jobEntry struct {
	created, delay int64
	failed         bool
}

func (e jobEntry) doneAt() int64 { return e.created + e.delay }

// job is an inputs-add job. Its progress is computed from its entries, kept
// sorted by completion time, with a cursor past the completed ones so that
// polling costs O(inputs still in flight).
type job struct {
	id        string
	seq       uint64
	created   int64
	modified  int64
	cancelled bool
	entries   []jobEntry
	head      int // entries[:head] are complete and counted below
	succeeded uint64
	failed    uint64
	watermark int64 // the latest now seen by progress
	// extractions are the extraction jobs of PostInputsDataSources data
	// sources that named this job, in creation order (see extraction.go).
	extractions []*extraction
}

// add counts one more input in the job, keeping entries sorted by doneAt.
func (j *job) add(e jobEntry) {
	i := len(j.entries)
	// With a steady clock and delay, entries arrive in order and this loop
	// does not run; it keeps the order if the clock steps back.
	for i > j.head && j.entries[i-1].doneAt() > e.doneAt() {
		i--
	}
	j.entries = append(j.entries, jobEntry{})
	copy(j.entries[i+1:], j.entries[i:])
	j.entries[i] = e
}

// progress returns the job's progress at time now.
func (j *job) progress(now int64) *pb.InputsAddJobProgress {
	if now < j.watermark {
		// The clock stepped back: recount from the start.
		j.head, j.succeeded, j.failed = 0, 0, 0
	}
	j.watermark = now
	for j.head < len(j.entries) && j.entries[j.head].doneAt() <= now {
		if j.entries[j.head].failed {
			j.failed++
		} else {
			j.succeeded++
		}
		j.head++
	}
	p := &pb.InputsAddJobProgress{SuccessCount: j.succeeded, FailedCount: j.failed}
	for _, e := range j.entries[j.head:] {
		if phaseAt(e.created, e.delay, e.failed, now) == phaseInProgress {
			p.InProgressCount++
		} else {
			p.PendingCount++
		}
	}
	return p
}

// proto returns the job as a message at time now; progress is never nil.
func (j *job) proto(now int64) *pb.InputsAddJob {
	p := j.progress(now)
	var st *statuspb.Status
	switch {
	case j.cancelled:
		st = newStatus(statuspb.StatusCode_JOB_CANCELLED, "")
	case p.PendingCount+p.InProgressCount > 0:
		st = newStatus(statuspb.StatusCode_JOB_RUNNING, "")
	default:
		st = newStatus(statuspb.StatusCode_JOB_COMPLETED, "")
	}
	out := &pb.InputsAddJob{
		Id:         j.id,
		Progress:   p,
		CreatedAt:  ts(j.created),
		ModifiedAt: ts(j.modified),
		Status:     st,
	}
	if len(j.extractions) > 0 {
		out.Status = dataSourceStatus(j, p, now)
		for _, e := range j.extractions {
			out.ExtractionJobs = append(out.ExtractionJobs, e.proto(now))
		}
	}
	return out
}

// dataset is one stored dataset.
type dataset struct {
	seq uint64
	ds  *pb.Dataset // owned by the store; cloned on the way out
}

// app is the state of one Clarifai app. All fields are guarded by mu except
// user and id.
type app struct {
	user, id string

	mu      sync.Mutex
	created int64
	seq     uint64 // last sequence number given to anything in the app

	inputs   map[string]*inputRec
	order    []*inputRec // creation order; deleted records stay until compacted
	dead     int         // deleted records in order
	queue    []*inputRec // records not yet counted final, sorted by doneAt
	qhead    int
	nSuccess int
	nFailed  int

	anns      map[string]*annRec
	annOrder  []*annRec
	annDead   int
	annsByInp map[string][]*annRec

	datasets map[string]*dataset
	jobs     map[string]*job

	deleting  []*inputRec  // inputs asked to be deleted, by deleteAt (deletes.go)
	nDeleting atomic.Int64 // len(deleting), read without the lock
	byID      idIndex      // input ids in order, for StreamInputs (stream.go)

	extractions map[string]*extraction // by id
	extOrder    []*extraction          // creation order
	active      []*extraction          // still running
	nActive     atomic.Int64           // len(active), read without the lock
}

func (a *app) lock()   { a.mu.Lock() }
func (a *app) unlock() { a.mu.Unlock() }

func newApp(user, id string, now int64) *app {
	return &app{
		user: user, id: id,
		created:   now,
		inputs:    make(map[string]*inputRec),
		anns:      make(map[string]*annRec),
		annsByInp: make(map[string][]*annRec),
		datasets:  make(map[string]*dataset),
		jobs:      make(map[string]*job),

		extractions: make(map[string]*extraction),
	}
}

func (a *app) nextSeq() uint64 { a.seq++; return a.seq }

// addInput stores r. The caller holds the lock and has checked r.id is free.
func (a *app) addInput(r *inputRec) {
	a.inputs[r.id] = r
	a.order = append(a.order, r)
	i := len(a.queue)
	for i > a.qhead && a.queue[i-1].doneAt() > r.doneAt() {
		i--
	}
	a.queue = append(a.queue, nil)
	copy(a.queue[i+1:], a.queue[i:])
	a.queue[i] = r
}

// settle counts every input whose processing has ended by now. The caller
// holds the lock. It costs O(inputs that ended since the last call).
func (a *app) settle(now int64) {
	for a.qhead < len(a.queue) && a.queue[a.qhead].doneAt() <= now {
		r := a.queue[a.qhead]
		a.queue[a.qhead] = nil
		a.qhead++
		if r.deleted {
			continue
		}
		r.final = true
		if r.fail != failNone {
			a.nFailed++
		} else {
			a.nSuccess++
		}
	}
	if a.qhead > 1024 && a.qhead > len(a.queue)/2 {
		a.queue = append(a.queue[:0:0], a.queue[a.qhead:]...)
		a.qhead = 0
	}
}

// inputCounts returns the app's inputs by phase at now. The caller holds the
// lock. It costs O(inputs in flight).
func (a *app) inputCounts(now int64) (pending, inProgress, success, failed int) {
	a.settle(now)
	for _, r := range a.queue[a.qhead:] {
		if r.deleted {
			continue
		}
		if r.phase(now) == phaseInProgress {
			inProgress++
		} else {
			pending++
		}
	}
	return pending, inProgress, a.nSuccess, a.nFailed
}

// deleteInput removes the input id and its annotations, if present. The
// caller holds the lock.
func (a *app) deleteInput(id string, now int64) bool {
	r, ok := a.inputs[id]
	if !ok {
		return false
	}
	a.settle(now)
	delete(a.inputs, id)
	r.deleted = true
	r.blob, r.digests = nil, nil
	a.dead++
	if r.final {
		if r.fail != failNone {
			a.nFailed--
		} else {
			a.nSuccess--
		}
	}
	a.deleteAnnsOf(id)
	if a.dead > 1024 && a.dead > len(a.order)/2 {
		a.order = compact(a.order, func(r *inputRec) bool { return r.deleted })
		a.dead = 0
	}
	return true
}

// deleteAnnsOf deletes every annotation of input id and returns how many;
// the caller holds the lock.
func (a *app) deleteAnnsOf(id string) int {
	rs := a.annsByInp[id]
	for _, an := range rs {
		a.deleteAnn(an)
	}
	delete(a.annsByInp, id)
	return len(rs)
}

// deleteAnn removes one annotation; the caller holds the lock and removes it
// from annsByInp itself.
func (a *app) deleteAnn(an *annRec) {
	if an.deleted {
		return
	}
	an.deleted = true
	an.blob = nil
	delete(a.anns, an.id)
	a.annDead++
	if a.annDead > 1024 && a.annDead > len(a.annOrder)/2 {
		a.annOrder = compact(a.annOrder, func(r *annRec) bool { return r.deleted })
		a.annDead = 0
	}
}

// addAnn stores an annotation; the caller holds the lock.
func (a *app) addAnn(an *annRec) {
	a.anns[an.id] = an
	a.annOrder = append(a.annOrder, an)
	a.annsByInp[an.inputID] = append(a.annsByInp[an.inputID], an)
}

// liveAnns returns the number of stored annotations; the caller holds the lock.
func (a *app) liveAnns() int { return len(a.anns) }

// sortedDatasets returns the datasets in creation order; the caller holds
// the lock.
func (a *app) sortedDatasets() []*dataset {
	out := make([]*dataset, 0, len(a.datasets))
	for _, d := range a.datasets {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// sortedJobs returns the jobs in creation order; the caller holds the lock.
func (a *app) sortedJobs() []*job {
	out := make([]*job, 0, len(a.jobs))
	for _, j := range a.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// ensureDataset returns the dataset id, creating it when create is set. The
// caller holds the lock.
func (a *app) ensureDataset(id string, now int64, create bool) bool {
	if _, ok := a.datasets[id]; ok {
		return true
	}
	if !create {
		return false
	}
	a.datasets[id] = &dataset{seq: a.nextSeq(), ds: &pb.Dataset{
		Id: id, AppId: a.id, UserId: a.user, CreatedAt: ts(now), ModifiedAt: ts(now),
	}}
	return true
}

// compact returns s without the elements dead reports, reusing s's array.
func compact[T any](s []T, dead func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if !dead(v) {
			out = append(out, v)
		}
	}
	var zero T
	for i := len(out); i < len(s); i++ {
		s[i] = zero
	}
	return out
}

// ts converts Unix nanoseconds to a Timestamp.
func ts(n int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(0, n)) }

// newID returns 32 random hex characters, the shape of Clarifai's generated
// IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// validID reports whether id is 1..max characters of [A-Za-z0-9_-].
func validID(id string, max int) bool {
	if len(id) == 0 || len(id) > max {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
