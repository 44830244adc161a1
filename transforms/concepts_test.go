package transforms

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

func TestConceptIDsDerive(t *testing.T) {
	tr, err := NewConceptIDs("")
	if err != nil {
		t.Fatal(err)
	}
	it := &pipeline.Item{
		Concepts: []pipeline.Concept{
			pipeline.Positive("Golden Retriever"), pipeline.Positive("golden retriever"), // one concept
			pipeline.Negative("Cell Phone"),
			{ID: "x_1", Name: "X one", Value: 1}, // explicit: kept
		},
		Regions: []pipeline.Region{{Concepts: []pipeline.Concept{pipeline.Positive("Defected Orange")}}},
	}
	if err := tr.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Concept{
		{ID: "golden-retriever", Name: "Golden Retriever", Value: 1},
		{ID: "cell-phone", Name: "Cell Phone", Value: 0},
		{ID: "x_1", Name: "X one", Value: 1},
	}
	if !reflect.DeepEqual(it.Concepts, want) {
		t.Fatalf("concepts %+v\nwant %+v", it.Concepts, want)
	}
	if got := it.Regions[0].Concepts; !reflect.DeepEqual(got, []pipeline.Concept{{ID: "defected-orange", Name: "Defected Orange", Value: 1}}) {
		t.Fatalf("region concepts %+v", got)
	}
	s := tr.Mapping()
	if s.IDs != 3 || s.Changed != 3 || s.First[0].ID != "golden-retriever" {
		t.Fatalf("mapping %+v", s)
	}
}

func TestConceptIDsFailures(t *testing.T) {
	tr, _ := NewConceptIDs(ConceptIDsDerive)
	prov := pipeline.Provenance{Source: "m.csv", Row: 7}
	ctx := context.Background()
	ok := &pipeline.Item{Prov: prov, Concepts: []pipeline.Concept{pipeline.Positive("a b")}}
	if err := tr.Apply(ctx, ok); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    pipeline.Concept
		want string
	}{
		{pipeline.Positive("a/b"), `m.csv row 7: concepts: labels "a b" and "a/b" both make the concept ID "a-b"`},
		{pipeline.Positive(strings.Repeat("long ", 8)), "the limit is 32"},
		{pipeline.Concept{ID: "bad id", Name: "Bad", Value: 1}, `concept "Bad": concept ID "bad id" has the character ' '`},
	} {
		it := &pipeline.Item{Prov: prov, Concepts: []pipeline.Concept{tc.c}}
		err := tr.Apply(ctx, it)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.c, err, tc.want)
		}
	}
	// Within one item, a region label colliding with an input label.
	it := &pipeline.Item{Prov: prov, Concepts: []pipeline.Concept{pipeline.Positive("p q")},
		Regions: []pipeline.Region{{Concepts: []pipeline.Concept{pipeline.Positive("p.q")}}}}
	if err := tr.Apply(ctx, it); err == nil || !strings.Contains(err.Error(), `region 0: labels "p q" and "p.q"`) {
		t.Fatalf("region collision: %v", err)
	}
}

func TestConceptIDsVerbatim(t *testing.T) {
	tr, _ := NewConceptIDs(ConceptIDsVerbatim)
	it := &pipeline.Item{Concepts: []pipeline.Concept{pipeline.Positive("cell phone"), pipeline.Positive("a/b")}}
	if err := tr.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if it.Concepts[0].ID != "cell phone" || it.Concepts[1].ID != "a/b" {
		t.Fatalf("verbatim changed IDs: %+v", it.Concepts)
	}
	if _, err := NewConceptIDs("keep"); err == nil || !strings.Contains(err.Error(), `"keep" is not one of derive, verbatim`) {
		t.Fatalf("bad mode: %v", err)
	}
}

// TestConceptIDsSharedSlice: a slice that a custom transform shares
// between items is never written to.
func TestConceptIDsSharedSlice(t *testing.T) {
	tr, _ := NewConceptIDs("")
	shared := []pipeline.Concept{pipeline.Positive("cat"), pipeline.Positive("Big Cat"), pipeline.Positive("cat")}
	for range 2 {
		it := &pipeline.Item{Concepts: shared}
		if err := tr.Apply(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		want := []pipeline.Concept{{ID: "cat", Name: "cat", Value: 1}, {ID: "big-cat", Name: "Big Cat", Value: 1}}
		if !reflect.DeepEqual(it.Concepts, want) {
			t.Fatalf("concepts %+v", it.Concepts)
		}
	}
	if shared[1].ID != "Big Cat" || len(shared) != 3 {
		t.Fatalf("the shared slice was changed: %+v", shared)
	}
	// Already IDs: the item keeps its slice.
	same := []pipeline.Concept{pipeline.Positive("cat"), pipeline.Negative("dog")}
	it := &pipeline.Item{Concepts: same}
	_ = tr.Apply(context.Background(), it)
	if &it.Concepts[0] != &same[0] {
		t.Error("a slice with nothing to change was copied")
	}
}
