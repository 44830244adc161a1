package clarifai

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// boxes returns n valid box regions labelled "cat".
func boxes(n int) []pipeline.Region {
	out := make([]pipeline.Region, n)
	for i := range out {
		f := float64(i+1) / float64(n+2)
		out[i] = pipeline.Region{Box: &pipeline.BoundingBox{Top: 0, Left: 0, Bottom: f, Right: f},
			Concepts: []pipeline.Concept{pipeline.Positive("cat")}}
	}
	return out
}

var (
	annotatedEvents = []pipeline.Event{pipeline.EventAccepted, pipeline.EventAnnotated, pipeline.EventDone}
	plainEvents     = []pipeline.Event{pipeline.EventAccepted, pipeline.EventDone}
)

func TestSinkPostsAnnotations(t *testing.T) {
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprintf("verify=%v", verify), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeAPI()
				var items []*pipeline.Item
				regions := 0
				for i := range 40 {
					it := regionItem(fmt.Sprintf("in%d", i), boxes(i%4)...)
					regions += i % 4
					items = append(items, it)
				}
				s := newTestSink(t, f, SinkConfig{Settings: Settings{Batch: sinks.BatchPolicy{MaxItems: 8}, Verify: new(verify)}, MaxAnnotations: 5})
				out, err := runSink(t, t.Context(), s, items)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					want := plainEvents
					if len(it.Regions) > 0 {
						want = annotatedEvents
					}
					if o := out[it]; o == nil || !slices.Equal(o.events, want) {
						t.Errorf("%s: events %v, want %v", it.ID, o.events, want)
					}
				}
				if p := f.problems(); len(p) > 0 {
					t.Errorf("requests a server would refuse (annotation before its input): %v", p)
				}
				if len(f.anns) != regions {
					t.Errorf("%d annotations stored, want %d (one per region)", len(f.anns), regions)
				}
				acrossItems, full := false, false
				for _, req := range f.annReqs {
					full = full || len(req.Annotations) == 5
					if n := len(req.Annotations); n == 0 || n > 5 {
						t.Errorf("request of %d annotations, want 1 to 5", n)
					}
					inputs := map[string]bool{}
					for _, an := range req.Annotations {
						inputs[an.InputId] = true
						if len(an.GetData().GetRegions()) != 1 {
							t.Errorf("annotation %s has %d regions, want 1", an.Id, len(an.GetData().GetRegions()))
						}
					}
					acrossItems = acrossItems || len(inputs) > 1
				}
				if !acrossItems || !full {
					t.Error("no request carried annotations of two items, or none was full: not batched across items")
				}
				// How full the requests are once the input has ended (they
				// then go out at once) depends on scheduling: bound loosely.
				if st := s.Stats(); st.Annotations != int64(regions) || st.AnnotatedItems != 30 ||
					st.AnnotationRequests != int64(len(f.annReqs)) || st.AnnotationRequests > int64(regions/2) {
					t.Errorf("stats %+v, %d requests for %d regions", st, len(f.annReqs), regions)
				}
			})
		})
	}
}

func TestSinkAnnotationOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		rejected := regionItem("rejected", boxes(2)...)
		flaky := regionItem("flaky", boxes(1)...)
		there := regionItem("there", boxes(1)...) // annotated by an earlier run
		good := regionItem("good", boxes(3)...)
		pixels := regionItem("pixels", pipeline.Region{ID: "p1", Pixels: true,
			Box: &pipeline.BoundingBox{Top: 1, Left: 2, Bottom: 30, Right: 40}})
		anns, err := buildAnnotations(rejected)
		if err != nil {
			t.Fatal(err)
		}
		badID := anns[1].Id
		flakyAnns, _ := buildAnnotations(flaky)
		thereAnns, _ := buildAnnotations(there)
		f.anns[thereAnns[0].Id] = thereAnns[0]
		f.annStatus = func(an *pb.Annotation, n int) *st.Status {
			switch {
			case an.Id == badID:
				return &st.Status{Code: st.StatusCode_ANNOTATION_INVALID_ARGUMENT, Description: "Invalid annotation argument", Details: "bad polygon"}
			case an.Id == flakyAnns[0].Id && n == 1:
				return &st.Status{Code: st.StatusCode_RPC_SERVER_UNAVAILABLE, Description: "try later"}
			}
			return nil
		}
		s := newTestSink(t, f, SinkConfig{})
		out, err := runSink(t, t.Context(), s, []*pipeline.Item{rejected, flaky, there, good, pixels})
		if err != nil {
			t.Fatal(err)
		}
		r := out[rejected].final
		if r.Event != pipeline.EventFailed || r.Stage != "annotate" || r.Code != int32(st.StatusCode_ANNOTATION_INVALID_ARGUMENT) ||
			!strings.Contains(r.Err.Error(), "annotation "+badID+" (region 1) of input rejected: Clarifai rejected it: ANNOTATION_INVALID_ARGUMENT (24155): Invalid annotation argument: bad polygon") ||
			!strings.Contains(r.Err.Error(), "stays on the server") {
			t.Errorf("rejected: %v stage %q code %d err %v", r.Event, r.Stage, r.Code, r.Err)
		}
		if !slices.Equal(out[rejected].events, []pipeline.Event{pipeline.EventAccepted, pipeline.EventFailed}) {
			t.Errorf("rejected: events %v", out[rejected].events)
		}
		for _, it := range []*pipeline.Item{flaky, there, good} {
			if o := out[it]; !slices.Equal(o.events, annotatedEvents) {
				t.Errorf("%s: events %v err %v, want %v", it.ID, o.events, o.final.Err, annotatedEvents)
			}
		}
		if f.annPosts[flakyAnns[0].Id] != 2 {
			t.Errorf("flaky annotation posted %d times, want 2", f.annPosts[flakyAnns[0].Id])
		}
		if f.annPosts[thereAnns[0].Id] != 1 {
			t.Errorf("existing annotation posted %d times, want 1 (duplicate ID is success)", f.annPosts[thereAnns[0].Id])
		}
		r = out[pixels].final
		if r.Event != pipeline.EventFailed || r.Stage != "annotate" || !strings.Contains(r.Err.Error(), `region 0 (id "p1"): its coordinates are still in pixels`) {
			t.Errorf("pixels: %v stage %q err %v", r.Event, r.Stage, r.Err)
		}
		if _, sent := f.inputs["pixels"]; sent {
			t.Error("an item whose region cannot be sent was uploaded")
		}
	})
}

func TestSinkResumedItemsReannotated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		withRegions := regionItem("r1", boxes(2)...)
		withRegions.Resumed = true
		plain := regionItem("r2")
		plain.Resumed = true
		f.store("r1", 0, nil)
		f.store("r2", 0, nil)
		// The earlier run posted the first annotation before it stopped.
		first, _ := buildAnnotations(withRegions)
		f.anns[first[0].Id] = first[0]
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Verify: new(true)}})
		out, err := runSink(t, t.Context(), s, []*pipeline.Item{withRegions, plain})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out[withRegions].events, []pipeline.Event{pipeline.EventAnnotated, pipeline.EventDone}) {
			t.Errorf("resumed with regions: events %v err %v", out[withRegions].events, out[withRegions].final.Err)
		}
		if !slices.Equal(out[plain].events, []pipeline.Event{pipeline.EventDone}) {
			t.Errorf("resumed without regions: events %v", out[plain].events)
		}
		if n := f.count("PostInputs"); n != 0 {
			t.Errorf("%d PostInputs calls for resumed items", n)
		}
		if len(f.annReqs) != 1 || len(f.annReqs[0].Annotations) != 2 || f.annPosts[first[0].Id] != 1 || len(f.anns) != 2 {
			t.Errorf("annotation requests %v, stored %d: want both re-posted once, the existing one kept", f.annReqs, len(f.anns))
		}
		for _, req := range f.listReqs {
			if req.Status != nil || !slices.Contains(req.Ids, "r1") || !slices.Contains(req.Ids, "r2") {
				t.Errorf("verified by %v, want ListInputs by both IDs without a status filter", req)
			}
		}
		if f.count("ListInputs") != 1 || f.count("GetInputsAddJob") != 0 {
			t.Errorf("calls %v, want one ListInputs", f.calls)
		}
	})
}

// sinkRun runs a sink in the background and collects its results, so that a
// test can look at them while the run goes on.
type sinkRun struct {
	in   chan *pipeline.Item
	errc chan error

	mu     sync.Mutex
	events map[*pipeline.Item][]pipeline.Event
	finals map[*pipeline.Item]pipeline.Result
}

func startSink(t *testing.T, ctx context.Context, s *Sink) *sinkRun {
	t.Helper()
	sr := &sinkRun{in: make(chan *pipeline.Item), errc: make(chan error, 1),
		events: map[*pipeline.Item][]pipeline.Event{}, finals: map[*pipeline.Item]pipeline.Result{}}
	results := make(chan pipeline.Result)
	collected := make(chan struct{})
	go func() {
		err := s.Run(ctx, sr.in, results)
		close(results)
		<-collected // errc reports the end once every result is recorded
		sr.errc <- err
	}()
	go func() {
		defer close(collected)
		for r := range results {
			sr.mu.Lock()
			if _, ok := sr.finals[r.Item]; ok {
				t.Errorf("%s: event %v after its final result", r.Item.ID, r.Event)
			}
			sr.events[r.Item] = append(sr.events[r.Item], r.Event)
			if r.Event.Final() {
				sr.finals[r.Item] = r
			}
			sr.mu.Unlock()
		}
	}()
	return sr
}

// feed sends items in the background and closes the input after them.
func (sr *sinkRun) feed(ctx context.Context, items []*pipeline.Item) {
	go func() {
		defer close(sr.in)
		for _, it := range items {
			if pipeline.Send(ctx, sr.in, it) != nil {
				return
			}
		}
	}()
}

// count returns how many items had event ev, and how many are final.
func (sr *sinkRun) count(ev pipeline.Event) (n, final int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for _, evs := range sr.events {
		if slices.Contains(evs, ev) {
			n++
		}
	}
	return n, len(sr.finals)
}

func TestSinkAnnotationBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeAPI()
		f.annBlock = make(chan struct{})
		const queue = 3
		s := newTestSink(t, f, SinkConfig{Settings: Settings{Concurrency: 1, Batch: sinks.BatchPolicy{MaxItems: 1}},
			AnnotationQueue: queue, AnnotationConcurrency: 1, MaxAnnotations: 1})
		var items []*pipeline.Item
		for i := range 50 {
			items = append(items, regionItem(fmt.Sprintf("in%d", i), boxes(1)...))
		}
		sr := startSink(t, t.Context(), s)
		sr.feed(t.Context(), items)
		time.Sleep(time.Minute) // long enough for every upload, were nothing holding them back
		synctest.Wait()
		accepted, final := sr.count(pipeline.EventAccepted)
		// The annotator holds `queue` items; one worker waits to hand it
		// the next. Nothing is annotated while PostAnnotations blocks.
		if accepted != queue+1 || final != 0 || f.count("PostInputs") != queue+1 {
			t.Fatalf("while annotations block: %d accepted, %d final, %d PostInputs; want %d, 0, %d",
				accepted, final, f.count("PostInputs"), queue+1, queue+1)
		}
		close(f.annBlock)
		if err := <-sr.errc; err != nil {
			t.Fatal(err)
		}
		if _, final := sr.count(pipeline.EventDone); final != len(items) || len(f.anns) != len(items) {
			t.Errorf("%d final, %d annotations", final, len(f.anns))
		}
		if f.maxAnnInflight != 1 {
			t.Errorf("%d PostAnnotations in flight, want AnnotationConcurrency 1", f.maxAnnInflight)
		}
	})
}
