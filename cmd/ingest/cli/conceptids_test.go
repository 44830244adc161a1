package cli

import (
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
)

// TestPrintConceptIDsSortsByLabel: the labels come in the order the
// parallel transform workers finish, so validate prints them sorted to show
// the same list on every run.
func TestPrintConceptIDsSortsByLabel(t *testing.T) {
	s := ids.Summary{
		First:   []ids.Mapping{{Label: "Good Orange", ID: "good-orange"}, {Label: "Defected Orange", ID: "defected-orange"}},
		IDs:     2,
		Changed: 2,
	}
	var b strings.Builder
	printConceptIDs(&b, s)
	want := `
Concept IDs (derived from the labels; concept_ids: verbatim sends labels unchanged):
  "Defected Orange" -> defected-orange
  "Good Orange" -> good-orange
  2 concept IDs, 2 of them differ from their label.
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if s.First[0].Label != "Good Orange" {
		t.Error("printConceptIDs reordered the summary it was given")
	}
}
