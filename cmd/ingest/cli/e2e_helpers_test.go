package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// Helpers of the end-to-end tests: they read what the emulator stored and
// compute what it should hold, independently of the code under test
// (IDs with ids.DeriveID, the documented derivation).

// mustRun runs the CLI and stops the test unless it exits with want.
func mustRun(t *testing.T, want int, f *fixture, reg *transforms.Registry, args ...string) result {
	t.Helper()
	res := run(t, f, reg, args...)
	if res.code != want {
		t.Fatalf("exit %d, want %d:\n%s", res.code, want, res)
	}
	return res
}

// storedByID returns the emulator's inputs of the test app by input ID.
func storedByID(t *testing.T, f *fixture) map[string]emulator.StoredInput {
	t.Helper()
	out := map[string]emulator.StoredInput{}
	for _, si := range f.srv.Inputs(testUser, testApp) {
		id := si.Input.GetId()
		if _, dup := out[id]; dup {
			t.Errorf("input %s is stored twice", id)
		}
		out[id] = si
	}
	return out
}

// annotationsByInput returns the emulator's annotations by input ID, in
// creation order.
func annotationsByInput(f *fixture) map[string][]*pb.Annotation {
	out := map[string][]*pb.Annotation{}
	for _, a := range f.srv.Annotations(testUser, testApp) {
		out[a.GetInputId()] = append(out[a.GetInputId()], a)
	}
	return out
}

// concept is an expected concept: ID, name (empty: the ID) and value.
type concept struct {
	id, name string
	value    float32
}

// checkConcepts compares the concepts of an input or region with want,
// in any order; values are compared exactly (they are sent explicitly).
func checkConcepts(t *testing.T, what string, got []*pb.Concept, want ...concept) {
	t.Helper()
	type cv struct {
		name  string
		value float32
	}
	g := map[string]cv{}
	for _, c := range got {
		if _, dup := g[c.GetId()]; dup {
			t.Errorf("%s: concept %q twice", what, c.GetId())
		}
		g[c.GetId()] = cv{c.GetName(), c.GetValue()}
	}
	w := map[string]cv{}
	for _, c := range want {
		name := c.name
		if name == "" {
			name = c.id
		}
		w[c.id] = cv{name, c.value}
	}
	if len(g) != len(w) {
		t.Errorf("%s: concepts %v, want %v", what, g, w)
		return
	}
	for id, wc := range w {
		if gc, ok := g[id]; !ok || gc != wc {
			t.Errorf("%s: concepts %v, want %v", what, g, w)
			return
		}
	}
}

// metaJSON renders an input's metadata as JSON with sorted keys, "null"
// when it has none.
func metaJSON(t *testing.T, in *pb.Input) string {
	t.Helper()
	md := in.GetData().GetMetadata()
	if md == nil {
		return "null"
	}
	b, err := json.Marshal(md.AsMap())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGeo compares an input's geo point with lat/lon as sent (float32).
// want nil means no point.
func checkGeo(t *testing.T, what string, in *pb.Input, want *[2]float64) {
	t.Helper()
	g := in.GetData().GetGeo().GetGeoPoint()
	switch {
	case want == nil && g != nil:
		t.Errorf("%s: geo %v, want none", what, g)
	case want != nil && (g == nil || g.GetLatitude() != float32(want[0]) || g.GetLongitude() != float32(want[1])):
		t.Errorf("%s: geo %v, want latitude %v longitude %v", what, g, want[0], want[1])
	}
}

// checkDatasets compares an input's dataset IDs with want, as sets.
func checkDatasets(t *testing.T, what string, in *pb.Input, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(in.GetDatasetIds()))
	w := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, w) {
		t.Errorf("%s: dataset ids %v, want %v", what, got, w)
	}
}

// checkProcessed checks that the input ended INPUT_SUCCESS.
func checkProcessed(t *testing.T, what string, in *pb.Input) {
	t.Helper()
	if c := in.GetStatus().GetCode(); c != st.StatusCode_INPUT_SUCCESS {
		t.Errorf("%s: status %v, want INPUT_SUCCESS", what, c)
	}
}

// checkContent compares the media an input carried as bytes or raw text:
// one entry per part, as (kind, sha256 hex).
func checkContent(t *testing.T, what string, si emulator.StoredInput, want ...[2]string) {
	t.Helper()
	var got [][2]string
	for _, c := range si.Content {
		got = append(got, [2]string{string(c.Kind), c.SHA256})
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: content %v, want %v", what, got, want)
	}
}

// region is an expected region annotation: its label, and a box (top,
// left, bottom, right) or polygon points (row, col), normalized.
type region struct {
	label string
	box   []float64
	poly  [][2]float64
}

// checkRegions compares the annotations stored for one input with want, in
// order: one annotation per region, each with one region.
func checkRegions(t *testing.T, what string, got []*pb.Annotation, want ...region) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d annotations, want %d: %v", what, len(got), len(want), got)
		return
	}
	for i, w := range want {
		regs := got[i].GetData().GetRegions()
		if len(regs) != 1 {
			t.Errorf("%s: annotation %d has %d regions, want 1", what, i, len(regs))
			continue
		}
		r := regs[0]
		checkConcepts(t, what+" region "+strconv.Itoa(i), r.GetData().GetConcepts(), concept{id: w.label, value: 1})
		info := r.GetRegionInfo()
		if w.box != nil {
			b := info.GetBoundingBox()
			g := []float32{b.GetTopRow(), b.GetLeftCol(), b.GetBottomRow(), b.GetRightCol()}
			if b == nil || !near(g, w.box...) {
				t.Errorf("%s: region %d box (top, left, bottom, right) = %v, want %v", what, i, g, w.box)
			}
		} else if info.GetBoundingBox() != nil {
			t.Errorf("%s: region %d has a box %v, want a polygon only", what, i, info.GetBoundingBox())
		}
		if w.poly != nil {
			pts := info.GetPolygon().GetPoints()
			ok := len(pts) == len(w.poly)
			for j := 0; ok && j < len(pts); j++ {
				ok = near([]float32{pts[j].GetRow(), pts[j].GetCol()}, w.poly[j][0], w.poly[j][1])
			}
			if !ok {
				t.Errorf("%s: region %d polygon = %v, want (row, col) %v", what, i, pts, w.poly)
			}
		} else if info.GetPolygon() != nil {
			t.Errorf("%s: region %d has a polygon %v, want a box only", what, i, info.GetPolygon())
		}
	}
}

// near compares float32 coordinates as sent with float64 expectations,
// within float32 rounding.
func near(got []float32, want ...float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			return false
		}
	}
	return true
}

// The documented deterministic IDs (README "IDs"), from the content.
func idOfFile(t *testing.T, kind pipeline.Kind, path string, datasets ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ids.DeriveID(&pipeline.Item{Kind: kind, Blob: pipeline.BytesBlob(b), DatasetIDs: datasets}, b)
}

func idOfImageText(t *testing.T, path, text string, datasets ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ids.DeriveID(&pipeline.Item{Kind: pipeline.KindMultimodal, Blob: pipeline.BytesBlob(b), Text: text, DatasetIDs: datasets}, b)
}

func idOfURL(kind pipeline.Kind, url string, datasets ...string) string {
	return ids.DeriveID(&pipeline.Item{Kind: kind, URL: url, DatasetIDs: datasets}, nil)
}

func idOfURLText(url, text string, datasets ...string) string {
	return ids.DeriveID(&pipeline.Item{Kind: pipeline.KindMultimodal, URL: url, Text: text, DatasetIDs: datasets}, nil)
}

func idOfText(text string, datasets ...string) string {
	return ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Text: text, DatasetIDs: datasets}, nil)
}

// fileSHA returns the hex SHA-256 of a file's bytes.
func fileSHA(t *testing.T, path string) string {
	t.Helper()
	s, _ := sha(t, path)
	return s
}

// textSHA returns the hex SHA-256 of a string.
func textSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// summaryLine matches the summary's count lines: the four it always prints,
// and the adopted line, printed when non-zero (followed by its note).
var summaryLine = regexp.MustCompile(`(?m)^  (items read|uploaded|skipped|failed|adopted) +(\d+)(?: \(.*\))?$`)

// summary returns the counts of a run's summary ("uploaded" → n).
func summary(t *testing.T, stdout string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range summaryLine.FindAllStringSubmatch(stdout, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	if len(out) < 4 {
		t.Fatalf("no summary in:\n%s", stdout)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
