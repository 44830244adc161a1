package emulator

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// State file format
//
// The state lives in one file, StateDir/state.gob, written whole by
// durable.WriteFile (temporary file, fsync, rename, fsync of the
// directory), so a crash leaves either the old or the new file.
//
// The file is an encoding/gob stream: one fileHeader, then fileRecords each
// with exactly one field set, then a record with End set that carries the
// totals, which load checks (a file without it is rejected as truncated).
// The records of an app follow its App record: its datasets, inputs in
// creation order, annotations in creation order, then jobs. Inputs and
// annotations carry their proto messages marshaled (without ids, statuses,
// timestamps or media bytes), exactly as held in memory. Extraction jobs
// (cloud ingestion) follow the jobs; each carries its template, its
// progress and the position of its next step, never credentials (only
// whether they opened the bucket). A running extraction job lists its
// bucket again after a load and goes on from that position. An input whose
// asynchronous deletion is pending keeps its deletion time and goes when it
// is due. Files written before extraction jobs or asynchronous deletes
// existed load unchanged.

const (
	stateFile    = "state.gob"
	stateMagic   = "clarifai-emulator-state"
	stateVersion = 1
)

type fileHeader struct {
	Magic   string
	Version int
	SavedAt int64
}

type fileRecord struct {
	App     *fileApp
	Dataset []byte // marshaled pb.Dataset
	Input   *fileInput
	Ann     *fileAnn
	Job     *fileJob
	Ext     *fileExtraction
	End     *fileEnd
}

type fileApp struct {
	User, App string
	Created   int64
	Seq       uint64
	DSSeqs    []uint64 // creation sequence of each Dataset record that follows
}

type fileInput struct {
	ID                       string
	Seq                      uint64
	Created, Modified, Delay int64
	Blob                     []byte
	Digests                  []fileDigest
	Fail                     uint8
	DeleteAt                 int64 // 0 in files written before deletes were asynchronous
}

type fileDigest struct {
	Path   string
	Kind   string
	Size   int64
	SHA256 [32]byte
}

type fileAnn struct {
	ID, InputID       string
	Seq               uint64
	Created, Modified int64
	Blob              []byte
}

type fileJob struct {
	ID                string
	Seq               uint64
	Created, Modified int64
	Cancelled         bool
	EntryCreated      []int64
	EntryDelay        []int64
	EntryFailed       []bool
}

type fileExtraction struct {
	ID, URL, JobID string
	Seq            uint64
	Created, Delay int64
	Conflict       int32
	Template       []byte // marshaled pb.Input
	Denied         string
	State          uint8
	FailCode       int32
	FailDetails    string
	Modified       int64
	Kinds          [4]uint64
	Arch           [4]uint64 // pending, in progress, completed, failed
	Skips          []uint64
	Notes          []string
	Listed, Single bool
	Steps          int64
	Obj, Member    int
	InArchive      bool
	ArchErr        string
}

type fileEnd struct {
	Apps, Inputs, Anns, Datasets, Jobs, Extractions int
}

// saveLoop saves the state every SaveInterval while it changes, until the
// server closes. Close saves once more after it ends.
func (s *Server) saveLoop() {
	t := time.NewTicker(s.opts.SaveInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			if !s.dirty.Swap(false) {
				continue
			}
			if err := s.save(); err != nil {
				s.dirty.Store(true) // try again next tick
				s.log.Error("periodic save failed", zap.Error(err))
			}
		}
	}
}

// save writes the whole state atomically. Each app is written under its
// lock, so every app is consistent in itself; calls on other apps go on.
func (s *Server) save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	dir := s.opts.StateDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	start := time.Now()
	var end fileEnd
	err := durable.WriteFile(filepath.Join(dir, stateFile), 0o644, func(w io.Writer) error {
		enc := gob.NewEncoder(w)
		if err := enc.Encode(fileHeader{Magic: stateMagic, Version: stateVersion, SavedAt: s.nowNano()}); err != nil {
			return err
		}
		for _, a := range s.sortedApps() {
			if err := writeApp(enc, a, &end); err != nil {
				return fmt.Errorf("app %s/%s: %w", a.user, a.id, err)
			}
		}
		return enc.Encode(fileRecord{End: &end})
	})
	if err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	s.log.Info("state saved", zap.String("dir", dir), zap.Int("inputs", end.Inputs), zap.Duration("took", time.Since(start)))
	return nil
}

func writeApp(enc *gob.Encoder, a *app, end *fileEnd) error {
	a.lock()
	defer a.unlock()
	dss := a.sortedDatasets()
	fa := &fileApp{User: a.user, App: a.id, Created: a.created, Seq: a.seq}
	for _, d := range dss {
		fa.DSSeqs = append(fa.DSSeqs, d.seq)
	}
	if err := enc.Encode(fileRecord{App: fa}); err != nil {
		return err
	}
	end.Apps++
	for _, d := range dss {
		b, err := proto.Marshal(d.ds)
		if err != nil {
			return err
		}
		if err := enc.Encode(fileRecord{Dataset: b}); err != nil {
			return err
		}
		end.Datasets++
	}
	for _, r := range a.order {
		if r.deleted {
			continue
		}
		fi := &fileInput{ID: r.id, Seq: r.seq, Created: r.created, Modified: r.modified, Delay: r.delay, Blob: r.blob, Fail: uint8(r.fail), DeleteAt: r.deleteAt}
		for _, d := range r.digests {
			fi.Digests = append(fi.Digests, fileDigest{Path: d.path, Kind: string(d.kind), Size: d.size, SHA256: d.sum})
		}
		if err := enc.Encode(fileRecord{Input: fi}); err != nil {
			return err
		}
		end.Inputs++
	}
	for _, r := range a.annOrder {
		if r.deleted {
			continue
		}
		if err := enc.Encode(fileRecord{Ann: &fileAnn{ID: r.id, InputID: r.inputID, Seq: r.seq, Created: r.created, Modified: r.modified, Blob: r.blob}}); err != nil {
			return err
		}
		end.Anns++
	}
	for _, j := range a.sortedJobs() {
		fj := &fileJob{ID: j.id, Seq: j.seq, Created: j.created, Modified: j.modified, Cancelled: j.cancelled}
		for _, e := range j.entries {
			fj.EntryCreated = append(fj.EntryCreated, e.created)
			fj.EntryDelay = append(fj.EntryDelay, e.delay)
			fj.EntryFailed = append(fj.EntryFailed, e.failed)
		}
		if err := enc.Encode(fileRecord{Job: fj}); err != nil {
			return err
		}
		end.Jobs++
	}
	for _, e := range a.sortedExtractions() {
		fe := &fileExtraction{
			ID: e.id, URL: e.url, JobID: e.jobID, Seq: e.seq, Created: e.created, Delay: e.delay,
			Conflict: int32(e.conflict), Template: e.template, Denied: e.denied,
			State: uint8(e.state), FailCode: int32(e.failCode), FailDetails: e.failDetails, Modified: e.modified,
			Kinds: e.kinds, Arch: [4]uint64{e.archPending, e.archRunning, e.archDone, e.archFailed},
			Skips: e.skips[:], Notes: e.notes, Listed: e.listed, Single: e.single,
			Steps: e.steps, Obj: e.obj, Member: e.member, InArchive: e.inArchive, ArchErr: e.archErr,
		}
		if err := enc.Encode(fileRecord{Ext: fe}); err != nil {
			return err
		}
		end.Extractions++
	}
	return nil
}

// load reads StateDir/state.gob, if it exists, into s. It is called before
// the server serves, so it takes no app locks.
func (s *Server) load() error {
	path := filepath.Join(s.opts.StateDir, stateFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator: load state: %w", err)
	}
	defer f.Close()
	if err := s.decodeState(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return fmt.Errorf("emulator: load state from %s: %w", path, err)
	}
	return nil
}

func (s *Server) decodeState(r io.Reader) error {
	dec := gob.NewDecoder(r)
	var h fileHeader
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if h.Magic != stateMagic || h.Version != stateVersion {
		return fmt.Errorf("not a version %d state file (magic %q, version %d)", stateVersion, h.Magic, h.Version)
	}
	var (
		cur    *app
		dsSeqs []uint64
		got    fileEnd
	)
	for {
		// gob leaves fields absent from the stream untouched, so each record
		// is decoded into a fresh value.
		var rec fileRecord
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("truncated: no end record")
			}
			return err
		}
		switch {
		case rec.End != nil:
			if *rec.End != got {
				return fmt.Errorf("end record counts %+v do not match the records read %+v", *rec.End, got)
			}
			for _, a := range s.apps {
				a.rebuildQueue()
			}
			return nil
		case rec.App != nil:
			fa := rec.App
			key := fa.User + "/" + fa.App
			cur = newApp(fa.User, fa.App, fa.Created)
			cur.seq = fa.Seq
			dsSeqs = fa.DSSeqs
			s.apps[key] = cur
			got.Apps++
		case cur == nil:
			return errors.New("record before the first app")
		case rec.Dataset != nil:
			ds := &pb.Dataset{}
			if err := proto.Unmarshal(rec.Dataset, ds); err != nil || len(dsSeqs) == 0 {
				return fmt.Errorf("bad dataset record in app %s/%s", cur.user, cur.id)
			}
			cur.datasets[ds.Id] = &dataset{seq: dsSeqs[0], ds: ds}
			dsSeqs = dsSeqs[1:]
			got.Datasets++
		case rec.Input != nil:
			fi := rec.Input
			if err := proto.Unmarshal(fi.Blob, &pb.Input{}); err != nil || fi.Fail >= uint8(numFailReasons) || fi.ID == "" {
				return fmt.Errorf("bad input record %q in app %s/%s", fi.ID, cur.user, cur.id)
			}
			r := &inputRec{id: fi.ID, seq: fi.Seq, created: fi.Created, modified: fi.Modified, delay: fi.Delay, blob: fi.Blob, fail: failReason(fi.Fail), deleteAt: fi.DeleteAt}
			for _, d := range fi.Digests {
				r.digests = append(r.digests, digest{path: d.Path, kind: MediaKind(d.Kind), size: d.Size, sum: d.SHA256})
			}
			cur.inputs[r.id] = r
			cur.order = append(cur.order, r)
			if r.deleteAt != 0 {
				cur.queueDelete(r)
			}
			got.Inputs++
		case rec.Ann != nil:
			fa := rec.Ann
			if err := proto.Unmarshal(fa.Blob, &pb.Annotation{}); err != nil || fa.ID == "" {
				return fmt.Errorf("bad annotation record %q in app %s/%s", fa.ID, cur.user, cur.id)
			}
			cur.addAnn(&annRec{id: fa.ID, inputID: fa.InputID, seq: fa.Seq, created: fa.Created, modified: fa.Modified, blob: fa.Blob})
			got.Anns++
		case rec.Job != nil:
			fj := rec.Job
			if len(fj.EntryCreated) != len(fj.EntryDelay) || len(fj.EntryCreated) != len(fj.EntryFailed) {
				return fmt.Errorf("bad job record %q in app %s/%s", fj.ID, cur.user, cur.id)
			}
			j := &job{id: fj.ID, seq: fj.Seq, created: fj.Created, modified: fj.Modified, cancelled: fj.Cancelled}
			for i := range fj.EntryCreated {
				j.add(jobEntry{created: fj.EntryCreated[i], delay: fj.EntryDelay[i], failed: fj.EntryFailed[i]})
			}
			cur.jobs[j.id] = j
			got.Jobs++
		case rec.Ext != nil:
			e, err := loadExtraction(cur, rec.Ext)
			if err != nil {
				return err
			}
			cur.extractions[e.id] = e
			cur.extOrder = append(cur.extOrder, e)
			cur.jobs[e.jobID].extractions = append(cur.jobs[e.jobID].extractions, e)
			if e.state == extActive {
				cur.addActive(e)
			}
			got.Extractions++
		default:
			return errors.New("empty record")
		}
	}
}

// loadExtraction checks and rebuilds one extraction job of app cur.
func loadExtraction(cur *app, fe *fileExtraction) (*extraction, error) {
	bad := func() (*extraction, error) {
		return nil, fmt.Errorf("bad extraction job record %q in app %s/%s", fe.ID, cur.user, cur.id)
	}
	if fe.ID == "" || cur.jobs[fe.JobID] == nil || fe.State > uint8(extCancelled) || len(fe.Skips) > int(numSkipReasons) {
		return bad()
	}
	if err := proto.Unmarshal(fe.Template, &pb.Input{}); err != nil {
		return bad()
	}
	e := &extraction{
		id: fe.ID, url: fe.URL, jobID: fe.JobID, seq: fe.Seq, created: fe.Created, delay: fe.Delay,
		conflict: pb.InputIDConflictResolution(fe.Conflict), template: fe.Template, denied: fe.Denied,
		state: extState(fe.State), failCode: statuspb.StatusCode(fe.FailCode), failDetails: fe.FailDetails,
		modified: fe.Modified, kinds: fe.Kinds,
		archPending: fe.Arch[0], archRunning: fe.Arch[1], archDone: fe.Arch[2], archFailed: fe.Arch[3],
		notes: fe.Notes, listed: fe.Listed, single: fe.Single,
		steps: fe.Steps, obj: fe.Obj, member: fe.Member, inArchive: fe.InArchive, archErr: fe.ArchErr,
		membersOf: -1,
	}
	copy(e.skips[:], fe.Skips)
	return e, nil
}

// rebuildQueue puts every loaded input in the processing queue, sorted by
// completion time; settle then counts those already processed. The caller
// owns a exclusively.
func (a *app) rebuildQueue() {
	a.queue = append(a.queue[:0], a.order...)
	sort.SliceStable(a.queue, func(i, j int) bool { return a.queue[i].doneAt() < a.queue[j].doneAt() })
	a.qhead, a.nSuccess, a.nFailed = 0, 0, 0
}
