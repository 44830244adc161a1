package ids

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConceptID(t *testing.T) {
	for _, tc := range []struct{ label, want, err string }{
		{"cat", "cat", ""},
		{"cell phone", "cell-phone", ""},
		{"Traffic Light", "traffic-light", ""},
		{"Defected Orange", "defected-orange", ""},
		{"Golden_Retriever-2", "golden_retriever-2", ""},
		{"a  b", "a--b", ""}, // as the official loaders: no collapsing
		{"a/b", "a-b", ""},
		{"cat's toy", "cat-s-toy", ""},
		{"Café", "cafe", ""},
		{"Ångström", "angstrom", ""},
		{"ﬁsh", "fish", ""},            // ligature, NFKD
		{"猫", "-", ""},                 // no letter of the set: one '-' per character
		{"x\u0301", "x", ""},           // combining accent dropped
		{"\u0301", "", "no character"}, // nothing left
		{"", "", "empty label"},
		{strings.Repeat("a", 32), strings.Repeat("a", 32), ""},
		{strings.Repeat("a", 33), "", "the limit is 32"},
	} {
		got, err := ConceptID(tc.label)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ConceptID(%q) = %q, %v; want an error with %q", tc.label, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ConceptID(%q) = %q, %v; want %q", tc.label, got, err, tc.want)
		}
		if ValidConceptID(got) != nil {
			t.Errorf("ConceptID(%q) = %q is not valid: %v", tc.label, got, ValidConceptID(got))
		}
	}
}

func TestValidConceptID(t *testing.T) {
	for _, id := range []string{"a", "A-b_9", strings.Repeat("x", 32)} {
		if err := ValidConceptID(id); err != nil {
			t.Errorf("ValidConceptID(%q) = %v", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                      "empty",
		"cell phone":            `character ' '`,
		"a/b":                   `character '/'`,
		"café":                  `character 'é'`,
		strings.Repeat("x", 33): "33 characters",
	} {
		if err := ValidConceptID(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidConceptID(%q) = %v; want an error with %q", id, err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		id, name         string
		verbatim         bool
		wantID, wantName string
		err              string
	}{
		{"cell phone", "cell phone", false, "cell-phone", "cell phone", ""}, // a label, as sources give it
		{"", "Cat", false, "cat", "Cat", ""},
		{"Cat", "", false, "cat", "Cat", ""},
		{"x_1", "X one", false, "x_1", "X one", ""},                         // explicit: kept
		{"Cell-Phone", "cell phone", false, "Cell-Phone", "cell phone", ""}, // explicit: case kept
		{"bad id", "Bad", false, "", "", `concept "Bad": concept ID "bad id" has the character ' '`},
		{"cell phone", "cell phone", true, "cell phone", "cell phone", ""},
		{"any thing", "Name", true, "any thing", "Name", ""},
		{"", "", true, "", "", "empty"},
	} {
		id, name, err := Resolve(tc.id, tc.name, tc.verbatim)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%q, %q, %v) = %v; want an error with %q", tc.id, tc.name, tc.verbatim, err, tc.err)
			}
			continue
		}
		if err != nil || id != tc.wantID || name != tc.wantName {
			t.Errorf("Resolve(%q, %q, %v) = %q, %q, %v; want %q, %q", tc.id, tc.name, tc.verbatim, id, name, err, tc.wantID, tc.wantName)
		}
	}
}

func TestMapperCollisionAndCase(t *testing.T) {
	m := NewMapper(false)
	for _, l := range []string{"a b", "Cat", "cat", "CAT", "a b"} {
		if _, _, err := m.Concept(l, l); err != nil {
			t.Fatalf("Concept(%q): %v", l, err)
		}
	}
	_, _, err := m.Concept("a/b", "a/b")
	if err == nil || !strings.Contains(err.Error(), `labels "a b" and "a/b" both make the concept ID "a-b"`) {
		t.Fatalf("collision: %v", err)
	}
	// An explicit ID is not a label: it may name any concept.
	if id, _, err := m.Concept("a-b", "A slash B"); err != nil || id != "a-b" {
		t.Fatalf("explicit: %q %v", id, err)
	}
	s := m.Summary()
	want := []Mapping{{"a b", "a-b"}, {"Cat", "cat"}}
	if fmt.Sprint(s.First) != fmt.Sprint(want) || s.IDs != 2 || s.Changed != 2 || s.Partial {
		t.Fatalf("summary %+v; want first %v, 2 IDs, 2 changed", s, want)
	}
}

func TestMapperVerbatim(t *testing.T) {
	m := NewMapper(true)
	for _, l := range []string{"a b", "a/b", "Cat", "cat"} {
		if id, name, err := m.Concept(l, l); err != nil || id != l || name != l {
			t.Fatalf("Concept(%q) = %q %q %v", l, id, name, err)
		}
	}
	if s := m.Summary(); s.IDs != 4 || s.Changed != 0 || !s.Verbatim {
		t.Fatalf("summary %+v", s)
	}
}

func TestMapperLimit(t *testing.T) {
	m := NewMapper(false)
	m.limit = 3
	for i := range 5 {
		l := fmt.Sprintf("L%d", i)
		if _, _, err := m.Concept(l, l); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.Summary(); s.IDs != 3 || !s.Partial {
		t.Fatalf("summary %+v; want 3 IDs, partial", s)
	}
	// Past the limit the run-wide check cannot see it; Item does.
	var it Item
	for _, l := range []string{"x y", "X Y", "x/y"} {
		id, _, _ := m.Concept(l, l)
		dup, err := it.Add(l, id)
		switch l {
		case "x y":
			if dup || err != nil {
				t.Fatal(dup, err)
			}
		case "X Y":
			if !dup || err != nil {
				t.Fatalf("case variant: dup %v err %v", dup, err)
			}
		case "x/y":
			if err == nil || !strings.Contains(err.Error(), `"x y" and "x/y"`) {
				t.Fatalf("item collision: %v", err)
			}
		}
	}
	it.Reset()
	if dup, err := it.Add("x/y", "x-y"); dup || err != nil {
		t.Fatal("Reset kept labels")
	}
}

func TestMapperConcurrent(t *testing.T) {
	m := NewMapper(false)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				l := fmt.Sprintf("Label %d", (i+g)%50)
				if _, _, err := m.Concept(l, l); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if s := m.Summary(); s.IDs != 50 {
		t.Fatalf("IDs %d, want 50", s.IDs)
	}
}

func ExampleConceptID() {
	for _, label := range []string{"cell phone", "Traffic Light", "a/b", "Café"} {
		id, _ := ConceptID(label)
		fmt.Printf("%s -> %s\n", label, id)
	}
	// Output:
	// cell phone -> cell-phone
	// Traffic Light -> traffic-light
	// a/b -> a-b
	// Café -> cafe
}
