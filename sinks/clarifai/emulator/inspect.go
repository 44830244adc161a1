package emulator

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// Content describes one piece of media an input was posted with as bytes.
// The bytes themselves are not kept.
type Content struct {
	// Path is where the media sat in Data: "image", "text",
	// "parts[0].image".
	Path string `json:"path"`
	// Kind is the media kind.
	Kind MediaKind `json:"kind"`
	// Size is the number of bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the bytes.
	SHA256 string `json:"sha256"`
}

// StoredInput is an input as the emulator holds it.
type StoredInput struct {
	// Input has the id, data (media bytes and raw text removed; urls, concepts,
	// metadata, geo, regions and parts kept), dataset ids, timestamps and the
	// status at the time of the call.
	Input *pb.Input
	// Content has one entry per piece of media sent as bytes or raw text, in
	// the order found; it is empty for URL-only inputs.
	Content []Content
}

// MarshalJSON encodes the input with protojson.
func (si StoredInput) MarshalJSON() ([]byte, error) {
	in, err := protojson.Marshal(si.Input)
	if err != nil {
		return nil, err
	}
	content := si.Content
	if content == nil {
		content = []Content{}
	}
	return json.Marshal(struct {
		Input   json.RawMessage `json:"input"`
		Content []Content       `json:"content"`
	}{in, content})
}

// Inputs returns the stored inputs of an app in creation order, or nil when
// the app does not exist. It copies the app's inputs under its lock, so it
// is O(inputs) and meant for tests and tools, not hot paths.
func (s *Server) Inputs(userID, appID string) []StoredInput {
	a, now := s.current(userID, appID)
	if a == nil {
		return nil
	}
	a.lock()
	snaps := make([]inputSnap, 0, len(a.inputs))
	for _, r := range a.order {
		if !r.deleted {
			snaps = append(snaps, snapInput(r, now))
		}
	}
	a.unlock()
	out := make([]StoredInput, len(snaps))
	for i, sn := range snaps {
		out[i] = StoredInput{Input: sn.proto(), Content: contents(sn.digests)}
	}
	return out
}

func contents(ds []digest) []Content {
	if len(ds) == 0 {
		return nil
	}
	out := make([]Content, len(ds))
	for i, d := range ds {
		out[i] = Content{Path: d.path, Kind: d.kind, Size: d.size, SHA256: hex.EncodeToString(d.sum[:])}
	}
	return out
}

// Annotations returns the stored annotations of an app in creation order,
// or nil when the app does not exist.
func (s *Server) Annotations(userID, appID string) []*pb.Annotation {
	a := s.app(userID, appID, false)
	if a == nil {
		return nil
	}
	type snap struct {
		r    *annRec
		blob []byte
	}
	s.reapDeletes(a, s.nowNano())
	a.lock()
	snaps := make([]snap, 0, len(a.anns))
	for _, r := range a.annOrder {
		if !r.deleted {
			snaps = append(snaps, snap{r, r.blob})
		}
	}
	a.unlock()
	out := make([]*pb.Annotation, len(snaps))
	for i, sn := range snaps {
		out[i] = annProto(sn.r, sn.blob)
	}
	return out
}

// Extractions returns the inputs-extraction jobs (cloud ingestion) of an
// app in creation order, as GetInputsExtractionJob would answer them now,
// or nil when the app does not exist. Steps due by now are carried out
// first.
func (s *Server) Extractions(userID, appID string) []*pb.InputsExtractionJob {
	a := s.app(userID, appID, false)
	if a == nil {
		return nil
	}
	now := s.nowNano()
	s.advanceExtractions(a, now)
	a.lock()
	defer a.unlock()
	out := make([]*pb.InputsExtractionJob, 0, len(a.extOrder))
	for _, e := range a.extOrder {
		out = append(out, e.proto(now))
	}
	return out
}

// AppCounts summarizes one app. Inputs = Pending + Success + Failed.
type AppCounts struct {
	// Inputs is the number of stored inputs.
	Inputs int `json:"inputs"`
	// Pending counts inputs not processed yet (pending or in progress).
	Pending int `json:"pending"`
	// Success counts inputs that ended INPUT_SUCCESS.
	Success int `json:"success"`
	// Failed counts inputs that ended INPUT_FAILED.
	Failed int `json:"failed"`
	// Annotations is the number of stored annotations.
	Annotations int `json:"annotations"`
	// Datasets is the number of datasets.
	Datasets int `json:"datasets"`
	// Jobs is the number of inputs-add jobs.
	Jobs int `json:"jobs"`
}

// Counts returns a summary of every app, keyed by "user/app". It costs
// O(apps + inputs in flight).
func (s *Server) Counts() map[string]AppCounts {
	now := s.nowNano()
	out := make(map[string]AppCounts)
	for _, a := range s.sortedApps() {
		s.advanceExtractions(a, now)
		s.reapDeletes(a, now)
		a.lock()
		pending, inProgress, success, failed := a.inputCounts(now)
		out[a.user+"/"+a.id] = AppCounts{
			Inputs:  len(a.inputs),
			Pending: pending + inProgress, Success: success, Failed: failed,
			Annotations: a.liveAnns(), Datasets: len(a.datasets), Jobs: len(a.jobs),
		}
		a.unlock()
	}
	return out
}

// InspectHandler serves the inspection methods as JSON over HTTP:
//
//	GET /counts                          Counts()
//	GET /calls                           Calls()
//	GET /inputs?user=U&app=A[&limit=N]   Inputs(U, A), at most N of them
//	GET /annotations?user=U&app=A        Annotations(U, A), protojson
//	GET /extractions?user=U&app=A        Extractions(U, A), protojson
//	GET /input?user=U&app=A&id=I         Input(U, A, I) (404 when missing)
//	GET /dataset-inputs?user=U&app=A&dataset=D
//	                                     DatasetInputIDs(U, A, D)
//	GET /pending-deletes?user=U&app=A    PendingDeletes(U, A)
//
// It is read-only and safe for concurrent use.
func (s *Server) InspectHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Counts()) })
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Calls()) })
	mux.HandleFunc("GET /inputs", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		limit := -1
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "limit must be a non-negative integer", http.StatusBadRequest)
				return
			}
			limit = n
		}
		ins := s.Inputs(user, app)
		if limit >= 0 && limit < len(ins) {
			ins = ins[:limit]
		}
		if ins == nil {
			ins = []StoredInput{}
		}
		writeJSON(w, ins)
	})
	mux.HandleFunc("GET /annotations", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		writeProtos(w, s.Annotations(user, app))
	})
	mux.HandleFunc("GET /extractions", func(w http.ResponseWriter, r *http.Request) {
		user, app, ok := appParams(w, r)
		if !ok {
			return
		}
		writeProtos(w, s.Extractions(user, app))
	})
	s.inspectSyncRoutes(mux)
	return mux
}

// writeProtos writes messages as a JSON array of protojson objects.
func writeProtos[M proto.Message](w http.ResponseWriter, ms []M) {
	raw := make([]json.RawMessage, len(ms))
	for i, m := range ms {
		b, err := protojson.Marshal(m)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		raw[i] = b
	}
	writeJSON(w, raw)
}

func appParams(w http.ResponseWriter, r *http.Request) (user, app string, ok bool) {
	q := r.URL.Query()
	user, app = q.Get("user"), q.Get("app")
	if user == "" || app == "" {
		http.Error(w, "query parameters user and app are required", http.StatusBadRequest)
		return "", "", false
	}
	return user, app, true
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// Dump writes the inputs saved in stateDir to w as JSON lines, one per
// input: {"user":..., "app":..., "input":{...}, "content":[...]}, apps in
// order, inputs in creation order, statuses as of now. It reads the state
// without changing it and returns an error if the state cannot be read or w
// fails.
func Dump(stateDir string, w io.Writer) error {
	if stateDir == "" {
		return fmt.Errorf("emulator: dump: no state directory")
	}
	s, err := newServer(Options{StateDir: stateDir})
	if err != nil {
		return err
	}
	s.noAdvance = true // print what was saved; no bucket is configured here
	enc := json.NewEncoder(w)
	for _, a := range s.sortedApps() {
		for _, si := range s.Inputs(a.user, a.id) {
			in, err := protojson.Marshal(si.Input)
			if err != nil {
				return fmt.Errorf("emulator: dump: %w", err)
			}
			line := dumpLine{User: a.user, App: a.id, Input: in, Content: si.Content}
			if line.Content == nil {
				line.Content = []Content{}
			}
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("emulator: dump: %w", err)
			}
		}
	}
	return nil
}

// dumpLine is one line of Dump's output.
type dumpLine struct {
	User    string          `json:"user"`
	App     string          `json:"app"`
	Input   json.RawMessage `json:"input"`
	Content []Content       `json:"content"`
}
