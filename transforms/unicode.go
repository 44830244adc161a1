package transforms

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// DefaultMaxTextBytes is the default UnicodeConfig.MaxTextBytes: 20 MiB, the
// order of Clarifai's per-file text limit ("< 20 MB").
const DefaultMaxTextBytes = 20 << 20

// UnicodeConfig configures the unicode transform (job-file key "unicode"),
// which strips characters from an item's text and from chosen metadata
// string values. The zero value is valid: clean mode on the text only.
type UnicodeConfig struct {
	// Mode is what to strip. Default "clean".
	//
	//   - "clean": invalid UTF-8 is repaired (see InvalidUTF8), then the
	//     string is NFKC-normalized (compatibility forms fold: "ﬁ" becomes
	//     "fi", full-width "Ａ" becomes "A", "①" becomes "1"), then
	//     zero-width characters (U+200B..U+200D, U+2060, U+FEFF byte order
	//     mark) and control characters other than \n, \t and \r are
	//     dropped. Letters, marks and symbols of every script, emoji and
	//     right-to-left text are kept, so "naïve café 東京" stays as it is.
	//     Dropping U+200D (zero-width joiner) splits emoji sequences such as
	//     "👨‍👩‍👧" into their parts, and dropping U+200C changes the
	//     spelling of some Persian and Indic words; use a custom transform
	//     if that matters to you.
	//   - "ascii": every byte outside ASCII is dropped, with no
	//     transliteration: "naïve café 東京" becomes "nave caf ". Control
	//     characters inside ASCII are kept. This is the classic "remove
	//     unicode before upload" step.
	Mode string `yaml:"mode"`
	// Text says whether the item's text is processed: Item.Text of any
	// item (the content of a text item, the text part of a multimodal one)
	// and the content of a text item held in a Blob. Default true.
	//
	// A text item whose content is in a Blob (a local .txt file) has its
	// file loaded (up to MaxTextBytes), stripped and stored in Item.Text,
	// and its Blob cleared: the text then stays in memory with the item
	// until the sink sends it, and later transforms see no Blob (list
	// metadata's size and sha256 fields before this transform).
	Text *bool `yaml:"text"`
	// MetadataFields lists the metadata string values to process, as dotted
	// paths into nested objects ("caption", "author.name"). A missing field
	// is ignored; a string is processed; in a list, the strings (also in
	// nested lists) are processed; other values (numbers, booleans, null,
	// objects) are left alone. "*" processes every string value in the
	// metadata, recursively through objects and lists, and also repairs
	// invalid UTF-8 in object keys. Default: none.
	MetadataFields []string `yaml:"metadata_fields"`
	// InvalidUTF8 is what to do with bytes that are not valid UTF-8.
	// "repair" (default) replaces each run of invalid bytes with U+FFFD in
	// clean mode and drops them in ascii mode; "fail" fails the item,
	// naming the field and the byte offset. Either way no invalid UTF-8 is
	// passed on from the strings this transform processes.
	InvalidUTF8 string `yaml:"invalid_utf8"`
	// Empty is what to do with an item whose processed text is empty or
	// only white space after stripping (a Japanese caption in ascii mode,
	// an empty .txt file): "fail" (default) fails the item with a message
	// saying so, "skip" drops it as skipped, "keep" sends it on as is (the
	// server will likely reject it). Metadata values may become empty
	// strings; they are kept.
	Empty string `yaml:"empty"`
	// MaxTextBytes caps how much of a text file is loaded into memory; a
	// larger file fails the item. Default DefaultMaxTextBytes (20 MiB).
	MaxTextBytes int64 `yaml:"max_text_bytes"`
}

func (c UnicodeConfig) withDefaults() UnicodeConfig {
	if c.Mode == "" {
		c.Mode = "clean"
	}
	if c.Text == nil {
		on := true
		c.Text = &on
	}
	if c.InvalidUTF8 == "" {
		c.InvalidUTF8 = "repair"
	}
	if c.Empty == "" {
		c.Empty = "fail"
	}
	if c.MaxTextBytes == 0 {
		c.MaxTextBytes = DefaultMaxTextBytes
	}
	return c
}

// Validate reports the first bad setting, naming its key. Zero values are
// valid and mean the defaults.
func (c UnicodeConfig) Validate() error {
	_, err := c.compile()
	return err
}

func (c UnicodeConfig) compile() (*unicodeTransform, error) {
	c = c.withDefaults()
	t := &unicodeTransform{text: *c.Text, empty: c.Empty, maxText: c.MaxTextBytes}
	switch c.Mode {
	case "clean":
	case "ascii":
		t.strip.ascii = true
	default:
		return nil, fmt.Errorf("mode: want clean or ascii, got %q", c.Mode)
	}
	switch c.InvalidUTF8 {
	case "repair":
	case "fail":
		t.strip.failInvalid = true
	default:
		return nil, fmt.Errorf("invalid_utf8: want repair or fail, got %q", c.InvalidUTF8)
	}
	switch c.Empty {
	case "fail", "skip", "keep":
	default:
		return nil, fmt.Errorf("empty: want fail, skip or keep, got %q", c.Empty)
	}
	if c.MaxTextBytes < 0 {
		return nil, fmt.Errorf("max_text_bytes: want a positive size, got %d", c.MaxTextBytes)
	}
	for i, f := range c.MetadataFields {
		if f == "*" {
			t.allMeta = true
			continue
		}
		p, err := parseMetaPath(f)
		if err != nil {
			return nil, fmt.Errorf("metadata_fields[%d]: %w", i, err)
		}
		t.paths = append(t.paths, p)
	}
	if t.allMeta {
		t.paths = nil // "*" covers them
	}
	return t, nil
}

// NewUnicode returns the unicode transform (see UnicodeConfig), named
// "unicode". It returns cfg.Validate's error for a bad config. The transform
// is safe for concurrent use; Apply reads the item's file only for a text
// item whose content is in a Blob. Apply fails the item with a
// *pipeline.ItemError whose Field is "text" or "metadata.<path>".
//
// No Option changes it today; opts is accepted so that Build can pass the
// same options to every constructor.
func NewUnicode(cfg UnicodeConfig, opts ...Option) (pipeline.Transform, error) {
	t, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return t, nil
}

type unicodeTransform struct {
	strip   stripper
	text    bool
	allMeta bool
	paths   []metaPath
	empty   string
	maxText int64
}

var _ pipeline.Transform = (*unicodeTransform)(nil)

func (t *unicodeTransform) Name() string { return "unicode" }

func (t *unicodeTransform) Apply(ctx context.Context, it *pipeline.Item) error {
	if t.text {
		if err := t.applyText(ctx, it); err != nil {
			return err
		}
	}
	if t.allMeta {
		if sub, err := t.walkObject(it.Metadata); err != nil {
			return pipeline.Errorf(it.Prov, "metadata"+sub, "%w", err)
		}
		return nil
	}
	for _, p := range t.paths {
		obj, key, ok := p.parent(it.Metadata)
		if !ok {
			continue
		}
		v, ok := obj[key]
		if !ok {
			continue
		}
		nv, sub, err := t.value(v, false)
		if err != nil {
			return pipeline.Errorf(it.Prov, "metadata."+p.raw+sub, "%w", err)
		}
		obj[key] = nv
	}
	return nil
}

func (t *unicodeTransform) applyText(ctx context.Context, it *pipeline.Item) error {
	src := it.Text
	fromBlob := false
	if src == "" && it.Kind == pipeline.KindText && it.Blob != nil {
		b, err := it.Blob.ReadAll(ctx, t.maxText)
		if err != nil {
			return pipeline.Errorf(it.Prov, "text", "load text file: %w", err)
		}
		src, fromBlob = string(b), true
	}
	if src == "" && !fromBlob {
		return nil
	}
	out, err := t.strip.do(src)
	if err != nil {
		return pipeline.Errorf(it.Prov, "text", "%w", err)
	}
	if strings.TrimSpace(out) == "" {
		switch t.empty {
		case "skip":
			return pipeline.Skip(fmt.Sprintf("text is empty after unicode stripping (%d bytes before)", len(src)))
		case "fail":
			return pipeline.Errorf(it.Prov, "text",
				"text is empty after unicode stripping (%d bytes before, mode %s); set empty: skip or keep to allow it",
				len(src), t.strip.mode())
		}
	}
	it.Text = out
	if fromBlob {
		it.Blob = nil
	}
	return nil
}

// value processes one metadata value: strings are stripped, lists are
// processed element by element in place, objects only when deep (the "*"
// mode). Other values are returned unchanged. On error, sub is where below v
// it happened ("[2]", ".a.b"); field names are built only then, so the
// common path does not allocate them.
func (t *unicodeTransform) value(v any, deep bool) (nv any, sub string, err error) {
	switch x := v.(type) {
	case string:
		s, err := t.strip.do(x)
		if err != nil {
			return nil, "", err
		}
		if s == x {
			return v, "", nil // unchanged: no new interface value to allocate
		}
		return s, "", nil
	case []any:
		for i, e := range x {
			ne, sub, err := t.value(e, deep)
			if err != nil {
				return nil, fmt.Sprintf("[%d]%s", i, sub), err
			}
			x[i] = ne
		}
		return x, "", nil
	case map[string]any:
		if deep {
			sub, err := t.walkObject(x)
			return x, sub, err
		}
	}
	return v, "", nil
}

// walkObject processes every value of m recursively, and repairs object keys
// that are not valid UTF-8. When several values are bad, the error names the
// smallest key, so the report does not depend on map iteration order.
func (t *unicodeTransform) walkObject(m map[string]any) (sub string, err error) {
	var (
		firstErr error
		errKey   string
		errSub   string
		badKeys  []string
	)
	for k, v := range m {
		nv, sub, err := t.value(v, true)
		if err != nil {
			if firstErr == nil || k < errKey {
				firstErr, errKey, errSub = err, k, sub
			}
			continue
		}
		m[k] = nv
		if !utf8.ValidString(k) {
			badKeys = append(badKeys, k)
		}
	}
	if firstErr != nil {
		return "." + errKey + errSub, firstErr
	}
	for _, k := range badKeys {
		if t.strip.failInvalid {
			return "", fmt.Errorf("key %q: %w", k, invalidUTF8(k))
		}
		nk, _ := t.strip.do(k)
		if _, dup := m[nk]; dup {
			return "", fmt.Errorf("key %q: repaired to %q, which is also a key", k, nk)
		}
		m[nk] = m[k]
		delete(m, k)
	}
	return "", nil
}

// stripper applies the mode and the invalid UTF-8 policy to one string.
type stripper struct {
	ascii       bool
	failInvalid bool
}

func (s stripper) mode() string {
	if s.ascii {
		return "ascii"
	}
	return "clean"
}

// do returns str stripped. It allocates only when str changes.
func (s stripper) do(str string) (string, error) {
	if s.failInvalid && !utf8.ValidString(str) {
		return "", invalidUTF8(str)
	}
	if s.ascii {
		return stripASCII(str), nil
	}
	return cleanString(str), nil
}

// invalidUTF8 describes the first invalid byte of s.
func invalidUTF8(s string) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("invalid UTF-8 at byte %d (0x%02x)", i, s[i])
		}
		i += n
	}
	return fmt.Errorf("invalid UTF-8")
}

// stripASCII drops every byte outside ASCII. Invalid UTF-8 bytes are all
// >= 0x80, so they go too.
func stripASCII(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for ; i < len(s); i++ {
		if s[i] < utf8.RuneSelf {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// cleanString implements the clean mode (see UnicodeConfig.Mode).
func cleanString(s string) string {
	if plainASCII(s) {
		return s // ASCII without controls is NFKC-normal and has nothing to drop
	}
	// Repair first: NFKC and the filter below work on runes.
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	// QuickSpanString is a quick check that does not allocate (unlike
	// IsNormalString); when it cannot vouch for the whole string, String
	// normalizes it.
	if norm.NFKC.QuickSpanString(s) != len(s) {
		s = norm.NFKC.String(s)
	}
	// Filter after normalizing, so nothing NFKC produces escapes it.
	return strings.Map(cleanRune, s)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

// cleanRune returns -1 for the runes clean mode drops.
func cleanRune(r rune) rune {
	switch {
	case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF:
		return -1
	case r == '\n', r == '\t', r == '\r':
		return r
	case unicode.IsControl(r):
		return -1
	}
	return r
}
