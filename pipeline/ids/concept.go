package ids

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxConceptIDLength is the longest concept ID the tool sends. Clarifai's
// loaders note a limit of 32 characters; the API documents none, so the
// tool keeps to the note.
const MaxConceptIDLength = 32

// ValidConceptID returns nil when id is 1 to MaxConceptIDLength characters
// of [A-Za-z0-9_-], and otherwise an error saying what is wrong.
func ValidConceptID(id string) error {
	if id == "" {
		return fmt.Errorf("concept ID is empty")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !idChar(c) {
			r, _ := utf8.DecodeRuneInString(id[i:])
			return fmt.Errorf("concept ID %q has the character %q; use only letters, digits, '-' and '_'", id, r)
		}
	}
	if len(id) > MaxConceptIDLength {
		return fmt.Errorf("concept ID %q is %d characters long; the limit is %d", id, len(id), MaxConceptIDLength)
	}
	return nil
}

// idChar reports whether c may appear in an input or concept ID.
func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ConceptID derives the concept ID of label by the rule in the package
// doc. It returns an error when the result is not a valid ID: empty (a
// label of nothing but accents) or longer than MaxConceptIDLength.
func ConceptID(label string) (string, error) {
	if label == "" {
		return "", fmt.Errorf("empty label")
	}
	simple := true // ASCII letters, digits, '_', '-' and ' ' only: the fast path
	for i := 0; i < len(label); i++ {
		if c := label[i]; !idChar(c) && c != ' ' {
			simple = false
			break
		}
	}
	var id string
	if simple {
		id = strings.ReplaceAll(strings.ToLower(label), " ", "-")
	} else {
		var b strings.Builder
		for _, r := range norm.NFKD.String(strings.ToLower(label)) {
			switch {
			case unicode.Is(unicode.Mn, r):
				// an accent separated from its letter by NFKD
			case r < utf8.RuneSelf && idChar(byte(r)):
				b.WriteRune(unicode.ToLower(r))
			default:
				b.WriteByte('-')
			}
		}
		id = b.String()
	}
	if id == "" {
		return "", fmt.Errorf("label %q has no character a concept ID can hold", label)
	}
	if len(id) > MaxConceptIDLength {
		return "", fmt.Errorf("label %q makes the concept ID %q, %d characters long; the limit is %d: shorten the label or give an explicit ID",
			label, id, len(id), MaxConceptIDLength)
	}
	return id, nil
}

// IsLabel reports whether a concept as a source gave it is a label, whose
// ID the rule derives from its name, rather than an explicit ID: when
// either is empty or both are equal. Sources set ID and name both to the
// label; only an explicit {"id": ..., "name": ...} with two different
// values keeps its ID.
func IsLabel(id, name string) bool { return id == "" || name == "" || id == name }

// Resolve returns the concept ID and name to send for a concept given as
// id and name (see IsLabel). A label gets ConceptID(label) as its ID and
// keeps the label as its name; an explicit ID is checked with
// ValidConceptID. With verbatim, both are returned as given, unchecked.
// The error names the label.
func Resolve(id, name string, verbatim bool) (outID, outName string, err error) {
	label := IsLabel(id, name)
	if label {
		if name == "" {
			name = id
		}
		id = name
	}
	if verbatim {
		if id == "" {
			return "", "", fmt.Errorf("empty label")
		}
		return id, name, nil
	}
	if label {
		id, err = ConceptID(name)
		return id, name, err
	}
	if err := ValidConceptID(id); err != nil {
		return "", "", fmt.Errorf("concept %q: %w", name, err)
	}
	return id, name, nil
}

// Mapping is one label and the concept ID it was sent as.
type Mapping struct {
	Label string
	ID    string
}

// Summary is what a Mapper saw: the first labels in the order they came,
// and counts.
type Summary struct {
	// First holds up to the first SummaryLen labels of the run, one per
	// concept ID.
	First []Mapping
	// IDs counts the distinct concept IDs recorded; Changed those whose ID
	// differs from the label that first made it.
	IDs, Changed int
	// Partial is set when more than MapperLimit IDs came: later ones were
	// checked per item only, and are not counted.
	Partial bool
	// Verbatim is the mode of the Mapper.
	Verbatim bool
}

// SummaryLen is the number of mappings Summary lists.
const SummaryLen = 10

// MapperLimit bounds the concept IDs a Mapper remembers for the run-wide
// check: at most about 150 bytes each (an ID is at most 32 characters),
// about 10 MB in all.
const MapperLimit = 1 << 16

// Mapper resolves the concepts of a run with Resolve and remembers, for
// each concept ID, the first label that made it, to find two different
// labels that end as one ID anywhere in the run. Labels that are equal
// under Unicode case folding are the same concept: "Cat" and "cat" both
// send "cat" (each keeps its own spelling as the name). Explicit IDs are
// checked but not remembered: they say which concept they mean.
//
// After MapperLimit IDs it stops remembering new ones (Summary says so);
// the check then holds within one item (see Mapper.Item). A Mapper is safe
// for concurrent use.
type Mapper struct {
	verbatim bool
	limit    int

	mu      sync.RWMutex
	byID    map[string]string // concept ID -> first label
	first   []Mapping
	changed int
	partial bool
}

// NewMapper returns a Mapper in the given mode.
func NewMapper(verbatim bool) *Mapper {
	return &Mapper{verbatim: verbatim, limit: MapperLimit, byID: make(map[string]string)}
}

// Verbatim reports the Mapper's mode.
func (m *Mapper) Verbatim() bool { return m.verbatim }

// Concept resolves one concept (see Resolve) and checks a label against
// the run's earlier labels. The error names the label and, for a
// collision, the other label.
func (m *Mapper) Concept(id, name string) (string, string, error) {
	label := IsLabel(id, name)
	outID, outName, err := Resolve(id, name, m.verbatim)
	if err != nil || !label {
		return outID, outName, err
	}
	// Nearly every label of a run was seen before: look under the read
	// lock first.
	m.mu.RLock()
	prev, ok := m.byID[outID]
	m.mu.RUnlock()
	if ok && prev == outName {
		return outID, outName, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.byID[outID]; ok {
		if prev != outName && !strings.EqualFold(prev, outName) {
			return "", "", collision(prev, outName, outID)
		}
		return outID, outName, nil
	}
	if len(m.byID) >= m.limit {
		m.partial = true
		return outID, outName, nil
	}
	m.byID[outID] = outName
	if outID != outName {
		m.changed++
	}
	if len(m.first) < SummaryLen {
		m.first = append(m.first, Mapping{Label: outName, ID: outID})
	}
	return outID, outName, nil
}

func collision(a, b, id string) error {
	return fmt.Errorf("labels %q and %q both make the concept ID %q; rename one, or give one an explicit ID ({\"id\": ..., \"name\": ...})", a, b, id)
}

// Summary returns what the Mapper has seen so far.
func (m *Mapper) Summary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Summary{First: append([]Mapping(nil), m.first...), IDs: len(m.byID), Changed: m.changed, Partial: m.partial, Verbatim: m.verbatim}
}

// Item checks the labels of one item together: two different labels of
// one item that make one ID are an error even after the Mapper stopped
// remembering. The zero value is ready; it is not safe for concurrent use.
type Item struct {
	seen []Mapping // the item's labels so far; an item carries a few
}

// Add records that label was resolved to id. dup is true when an earlier
// label of the item made id and equals label or differs from it in case
// only (the caller may drop the repeat); err is the collision error when
// an earlier, different label made id.
func (it *Item) Add(label, id string) (dup bool, err error) {
	for _, s := range it.seen {
		if s.ID != id {
			continue
		}
		if s.Label == label || strings.EqualFold(s.Label, label) {
			return true, nil
		}
		return false, collision(s.Label, label, id)
	}
	it.seen = append(it.seen, Mapping{Label: label, ID: id})
	return false, nil
}

// Reset empties it for the next item, keeping its memory.
func (it *Item) Reset() { it.seen = it.seen[:0] }
