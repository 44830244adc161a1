package emulator

import (
	"net/http"
	"sort"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// Inspection of single inputs and annotations, for tests of code that
// changes what an app holds (patch, delete, dataset membership). Each
// method carries out the cloud-ingestion steps and deletions due by now
// first, so it sees what a call made now would see. They copy under the
// app's lock and are safe for concurrent use.

// current returns the app user/id with its due work done, or nil.
func (s *Server) current(userID, appID string) (*app, int64) {
	a := s.app(userID, appID, false)
	if a == nil {
		return nil, 0
	}
	now := s.nowNano()
	s.advanceExtractions(a, now)
	s.reapDeletes(a, now)
	return a, now
}

// Input returns one stored input as Inputs does, and whether it exists (an
// input whose asynchronous deletion is not due yet still exists).
func (s *Server) Input(userID, appID, inputID string) (StoredInput, bool) {
	a, now := s.current(userID, appID)
	if a == nil {
		return StoredInput{}, false
	}
	a.lock()
	r := a.inputs[inputID]
	var sn inputSnap
	if r != nil {
		sn = snapInput(r, now)
	}
	a.unlock()
	if r == nil {
		return StoredInput{}, false
	}
	return StoredInput{Input: sn.proto(), Content: contents(sn.digests)}, true
}

// InputConcepts returns the input-level concepts of an input as id -> value
// (1 positive, 0 negative), or nil when the input does not exist.
func (s *Server) InputConcepts(userID, appID, inputID string) map[string]float32 {
	si, ok := s.Input(userID, appID, inputID)
	if !ok {
		return nil
	}
	out := make(map[string]float32)
	for _, c := range si.Input.GetData().GetConcepts() {
		out[c.GetId()] = c.GetValue()
	}
	return out
}

// InputMetadata returns the metadata of an input as a JSON-like map (numbers
// are float64), an empty map when it has none, or nil when the input does
// not exist.
func (s *Server) InputMetadata(userID, appID, inputID string) map[string]any {
	si, ok := s.Input(userID, appID, inputID)
	if !ok {
		return nil
	}
	if md := si.Input.GetData().GetMetadata(); md != nil {
		return md.AsMap()
	}
	return map[string]any{}
}

// InputGeo returns the geo point of an input, and false when the input does
// not exist or has none.
func (s *Server) InputGeo(userID, appID, inputID string) (longitude, latitude float32, ok bool) {
	si, found := s.Input(userID, appID, inputID)
	gp := si.Input.GetData().GetGeo().GetGeoPoint()
	if !found || gp == nil {
		return 0, 0, false
	}
	return gp.GetLongitude(), gp.GetLatitude(), true
}

// InputDatasets returns the ids of the datasets an input is in, sorted, or
// nil when the input does not exist or is in none.
func (s *Server) InputDatasets(userID, appID, inputID string) []string {
	si, ok := s.Input(userID, appID, inputID)
	if !ok || len(si.Input.GetDatasetIds()) == 0 {
		return nil
	}
	out := append([]string(nil), si.Input.GetDatasetIds()...)
	sort.Strings(out)
	return out
}

// DatasetInputIDs returns the ids of the inputs in a dataset, sorted, or
// nil when there are none or the dataset does not exist. It costs
// O(inputs of the app).
func (s *Server) DatasetInputIDs(userID, appID, datasetID string) []string {
	a, _ := s.current(userID, appID)
	if a == nil {
		return nil
	}
	var out []string
	a.lock()
	for _, r := range a.order {
		if !r.deleted && r.inDataset(datasetID) {
			out = append(out, r.id)
		}
	}
	a.unlock()
	sort.Strings(out)
	return out
}

// Annotation returns one stored annotation (its regions with their ids,
// geometry and concepts), and whether it exists.
func (s *Server) Annotation(userID, appID, annotationID string) (*pb.Annotation, bool) {
	a, _ := s.current(userID, appID)
	if a == nil {
		return nil, false
	}
	a.lock()
	r := a.anns[annotationID]
	var blob []byte
	if r != nil {
		blob = r.blob
	}
	a.unlock()
	if r == nil {
		return nil, false
	}
	return annProto(r, blob), true
}

// InputAnnotations returns the annotations of an input in creation order,
// or nil when it has none.
func (s *Server) InputAnnotations(userID, appID, inputID string) []*pb.Annotation {
	a, _ := s.current(userID, appID)
	if a == nil {
		return nil
	}
	type snap struct {
		r    *annRec
		blob []byte
	}
	a.lock()
	var snaps []snap
	for _, r := range a.annsByInp[inputID] {
		if !r.deleted {
			snaps = append(snaps, snap{r, r.blob})
		}
	}
	a.unlock()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].r.seq < snaps[j].r.seq })
	var out []*pb.Annotation
	for _, sn := range snaps {
		out = append(out, annProto(sn.r, sn.blob))
	}
	return out
}

// PendingDeletes returns the ids of the inputs of an app that DeleteInputs
// asked to delete and that are not gone yet (Options.DeleteDelay), in the
// order they will go.
func (s *Server) PendingDeletes(userID, appID string) []string {
	a, _ := s.current(userID, appID)
	if a == nil {
		return nil
	}
	a.lock()
	defer a.unlock()
	return a.pendingDeletes()
}

// inspectSyncRoutes adds the routes of the methods above to InspectHandler.
func (s *Server) inspectSyncRoutes(mux *http.ServeMux) {
	ids := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	mux.HandleFunc("GET /input", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		si, found := s.Input(user, app, r.URL.Query().Get("id"))
		if !found {
			http.Error(w, "no such input", http.StatusNotFound)
			return
		}
		writeJSON(w, si)
	})
	mux.HandleFunc("GET /dataset-inputs", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		writeJSON(w, ids(s.DatasetInputIDs(user, app, r.URL.Query().Get("dataset"))))
	})
	mux.HandleFunc("GET /pending-deletes", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		writeJSON(w, ids(s.PendingDeletes(user, app)))
	})
}
