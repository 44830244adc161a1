package transforms

import (
	"context"
	"fmt"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// Concept-ID modes of NewConceptIDs (the job file's concept_ids key).
const (
	// ConceptIDsDerive derives each label's concept ID by the rule of
	// package pipeline/ids ("cell phone" -> "cell-phone"), keeping the
	// label as the concept's name, and checks explicit IDs. The default.
	ConceptIDsDerive = "derive"
	// ConceptIDsVerbatim sends labels as their own concept IDs, unchanged
	// and unchecked, as versions before the rule did: for an app that
	// already holds such IDs.
	ConceptIDsVerbatim = "verbatim"
)

// ValidateConceptIDs checks a concept_ids mode: "" (the default), derive
// or verbatim.
func ValidateConceptIDs(mode string) error {
	switch mode {
	case "", ConceptIDsDerive, ConceptIDsVerbatim:
		return nil
	}
	return fmt.Errorf("%q is not one of %s, %s", mode, ConceptIDsDerive, ConceptIDsVerbatim)
}

// ConceptIDs is the transform that gives every concept of an item, on the
// input and on its regions, the ID it is sent with (see ids.Mapper): a
// label's ID is derived from it, an explicit ID is checked, and two
// different labels that make one ID anywhere in the run fail the item that
// brings the second (the message names both). Concepts of one list that
// end as the same ID and value (the labels "Cat" and "cat") are sent once.
// A bad concept fails the item alone, naming its provenance and every bad
// label. The CLI runs it last, after the custom transforms, so that labels
// they add are covered too.
//
// It is safe for concurrent use; Mapping reports what it did.
type ConceptIDs struct {
	m *ids.Mapper
}

var _ pipeline.Transform = (*ConceptIDs)(nil)

// NewConceptIDs returns the transform for mode (ConceptIDsDerive, the
// default for "", or ConceptIDsVerbatim).
func NewConceptIDs(mode string) (*ConceptIDs, error) {
	if err := ValidateConceptIDs(mode); err != nil {
		return nil, fmt.Errorf("concept_ids: %w", err)
	}
	return &ConceptIDs{m: ids.NewMapper(mode == ConceptIDsVerbatim)}, nil
}

// Name returns "concepts".
func (t *ConceptIDs) Name() string { return "concepts" }

// Mapping returns the labels seen so far and the IDs they were sent as.
func (t *ConceptIDs) Mapping() ids.Summary { return t.m.Summary() }

// Apply resolves the item's concepts in place.
func (t *ConceptIDs) Apply(_ context.Context, it *pipeline.Item) error {
	var seen ids.Item
	var problems []string
	// resolve returns in with every concept resolved. It copies in on the
	// first change rather than write to it: a custom transform may have
	// set a slice that other items share. Labels that are already IDs
	// ("cat") change nothing and cost no allocation.
	resolve := func(in []pipeline.Concept, where string) []pipeline.Concept {
		var out []pipeline.Concept // nil while nothing changed
		for i, c := range in {
			label := ids.IsLabel(c.ID, c.Name)
			id, name, err := t.m.Concept(c.ID, c.Name)
			if err == nil && label && !t.m.Verbatim() {
				_, err = seen.Add(name, id)
			}
			r := pipeline.Concept{ID: id, Name: name, Value: c.Value}
			drop := err != nil || dupIn(in[:i], out, r)
			if err != nil {
				problems = append(problems, where+err.Error())
			}
			if out == nil && (drop || r != c) {
				out = append(make([]pipeline.Concept, 0, len(in)), in[:i]...)
			}
			if out != nil && !drop {
				out = append(out, r)
			}
		}
		if out == nil {
			return in
		}
		return out
	}
	it.Concepts = resolve(it.Concepts, "")
	for i := range it.Regions {
		it.Regions[i].Concepts = resolve(it.Regions[i].Concepts, fmt.Sprintf("region %d: ", i))
	}
	if len(problems) > 0 {
		return pipeline.Errorf(it.Prov, "concepts", "%s", strings.Join(problems, "; "))
	}
	return nil
}

// dupIn reports whether the concepts kept before c (out once copying
// started, else the unchanged prefix of the input) hold c's ID with c's
// value.
func dupIn(prefix, out []pipeline.Concept, c pipeline.Concept) bool {
	if out != nil {
		prefix = out
	}
	for _, o := range prefix {
		if o.ID == c.ID && o.Value == c.Value {
			return true
		}
	}
	return false
}
