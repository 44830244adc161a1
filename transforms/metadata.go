package transforms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
)

// The metadata keys the metadata transform writes, before MetadataConfig's
// Prefix or Namespace applies. The names of MetadataConfig.Fields are the
// same strings.
const (
	// KeyFilename is the base name of the item's file (Blob.Path, else
	// Prov.Path), or the last element of a URL's path. A string.
	KeyFilename = "filename"
	// KeyRelPath is Prov.Path relative to Prov.Source when the source is a
	// local directory, with forward slashes ("cats/001.jpg"). A string;
	// absent for other sources.
	KeyRelPath = "rel_path"
	// KeySource is Prov.Source as the user wrote it. A string.
	KeySource = "source"
	// KeySize is the content length in bytes (Blob.Size). A number.
	KeySize = "size"
	// KeySHA256 is the lower-case hex SHA-256 of the content (of the Blob,
	// or of Item.Text for a text item without one). A string.
	KeySHA256 = "sha256"
	// KeyMIME is Item.MIME, e.g. "image/png". A string.
	KeyMIME = "mime"
	// KeyWidth and KeyHeight are an image's size in pixels, read from its
	// file header. Numbers.
	KeyWidth  = "width"
	KeyHeight = "height"
	// KeySplit is the dataset split, "train", "validate" or "test" (see
	// MetadataConfig.Fields). A string.
	KeySplit = "split"
)

var metadataFields = []string{KeyFilename, KeyRelPath, KeySource, KeySize, KeySHA256, KeyMIME, KeyWidth, KeyHeight, KeySplit}

// MetadataConfig configures the metadata transform (job-file key
// "metadata"), which adds facts about an item's file to its metadata. At
// least one of Fields, Static and PathRegex must be set.
//
// Keys that already exist in the item's metadata (from the source: a sidecar
// file, a manifest column) are kept unless Overwrite is set: the user's own
// data wins by default. Numbers are written as float64 (a
// google.protobuf.Struct holds doubles); other metadata values of the item
// are left as they are.
type MetadataConfig struct {
	// Fields lists the computed fields to add, by key name (see the Key
	// constants). Default: none. A field that does not apply to an item is
	// left out for that item:
	//
	//   - filename: base name of the local file, or of a URL's path.
	//   - rel_path: the path relative to the source directory; only for
	//     items of a directory source.
	//   - source: Prov.Source.
	//   - size: Blob.Size in bytes; only for items with a Blob.
	//   - sha256: the content's SHA-256, streamed over Blob.Open() without
	//     loading the file, so this reads the whole file once more (on top
	//     of the upload); for a text item without a Blob, the hash of its
	//     text. Not for URL items. A file whose length differs from
	//     Blob.Size fails the item (it changed during the run).
	//   - mime: Item.MIME, when known.
	//   - width, height: an image's size from its file header (no pixel
	//     decode); only for image and multimodal items with a Blob. An
	//     image whose header cannot be read fails the item.
	//   - split: kept if the metadata already has it (from the source,
	//     Static or a PathRegex capture), even with Overwrite; otherwise
	//     taken from the nearest directory of rel_path named train,
	//     training, val, valid, validation, dev, test or testing, possibly
	//     followed by digits ("train2017"), and written as "train", "validate"
	//     or "test". Only directories inside the source root count, so
	//     /home/test/photos never makes everything "test".
	Fields []string `yaml:"fields"`
	// Static holds key/values added to every item, at the top level of
	// the metadata whatever Prefix or Namespace say. Values may be any
	// JSON value (objects, lists, numbers, booleans, null); each item gets
	// its own copy. Static keys win over computed fields and captures of
	// the same name. Default: none.
	Static map[string]any `yaml:"static"`
	// PathRegex, if set, is matched against the slash-separated Prov.Path
	// (RE2 syntax); each named capture group that matched becomes a string
	// field named after the group. Captures win over computed fields of
	// the same name. It must have at least one named group. Default: none.
	PathRegex string `yaml:"path_regex"`
	// OnNoMatch is what happens when PathRegex does not match an item's
	// path (or the item has no path): "ignore" (default) adds no captures,
	// "fail" fails the item.
	OnNoMatch string `yaml:"on_no_match"`
	// Overwrite lets computed fields, captures and static values replace
	// keys the item's metadata already has. Default false.
	Overwrite bool `yaml:"overwrite"`
	// Prefix is prepended to the keys of computed fields and captures
	// ("ingest_" gives "ingest_filename"). Default "" (flat keys, as
	// users expect). Cannot be combined with Namespace.
	Prefix string `yaml:"prefix"`
	// Namespace, if set, puts computed fields and captures in a nested
	// object under this top-level key ({"ingest": {"filename": ...}}),
	// merged into an existing object of that name. An existing non-object
	// value under the key fails the item unless Overwrite is set. Default
	// "" (flat).
	Namespace string `yaml:"namespace"`
}

// Validate reports the first bad setting, naming its key.
func (c MetadataConfig) Validate() error {
	_, err := c.compile()
	return err
}

func (c MetadataConfig) compile() (*metadataTransform, error) {
	t := &metadataTransform{overwrite: c.Overwrite, prefix: c.Prefix, namespace: c.Namespace}
	for i, f := range c.Fields {
		found := false
		for bit, name := range metadataFields {
			if f == name {
				t.fields |= 1 << bit
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("fields[%d]: unknown field %q (want one of %s)", i, f, strings.Join(metadataFields, ", "))
		}
	}
	if len(c.Static) > 0 {
		n, err := normalizeJSON("static", c.Static)
		if err != nil {
			return nil, err
		}
		t.static = n.(map[string]any)
		t.staticKeys = sortedKeys(t.static)
		for _, k := range t.staticKeys {
			if k == "" {
				return nil, fmt.Errorf("static: empty key")
			}
		}
	}
	if c.PathRegex != "" {
		re, err := regexp.Compile(c.PathRegex)
		if err != nil {
			return nil, fmt.Errorf("path_regex: %w", err)
		}
		named := 0
		for _, n := range re.SubexpNames() {
			if n != "" {
				named++
			}
		}
		if named == 0 {
			return nil, fmt.Errorf("path_regex: %q has no named group such as (?P<class>[^/]+)", c.PathRegex)
		}
		t.re = re
	}
	switch c.OnNoMatch {
	case "", "ignore":
	case "fail":
		t.failNoMatch = true
	default:
		return nil, fmt.Errorf("on_no_match: want ignore or fail, got %q", c.OnNoMatch)
	}
	if c.Prefix != "" && c.Namespace != "" {
		return nil, fmt.Errorf("prefix and namespace: set at most one")
	}
	if t.fields == 0 && t.static == nil && t.re == nil {
		return nil, fmt.Errorf("fields, static, path_regex: nothing to add; set at least one")
	}
	return t, nil
}

// NewMetadata returns the metadata transform (see MetadataConfig), named
// "metadata". It returns cfg.Validate's error for a bad config. The
// transform is safe for concurrent use. Apply reads the item's file for
// sha256 (all of it) and width/height (its header); such reads stop when ctx
// is done. It fails the item with a *pipeline.ItemError whose Field is
// "metadata.<key>" (the field that could not be computed, or the namespace
// key) or "metadata.path_regex".
//
// No Option changes it today; opts is accepted so that Build can pass the
// same options to every constructor.
func NewMetadata(cfg MetadataConfig, opts ...Option) (pipeline.Transform, error) {
	t, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return t, nil
}

type metadataTransform struct {
	fields      uint16 // bit i set: metadataFields[i] requested
	static      map[string]any
	staticKeys  []string
	re          *regexp.Regexp
	failNoMatch bool
	overwrite   bool
	prefix      string
	namespace   string
	// dirs caches whether a Prov.Source names a local directory, so that
	// rel_path costs one stat per source, not per item. A run has a
	// handful of sources, so it stays small.
	dirs sync.Map // string -> bool
}

var _ pipeline.Transform = (*metadataTransform)(nil)

func (t *metadataTransform) Name() string { return "metadata" }

func (t *metadataTransform) want(key string) bool {
	for bit, name := range metadataFields {
		if name == key {
			return t.fields&(1<<bit) != 0
		}
	}
	return false
}

// kv is one pending metadata write.
type kv struct {
	key string
	val any
}

// put appends or replaces key, so that a later source of the same key (a
// capture after a computed field) wins.
func put(kvs []kv, key string, val any) []kv {
	for i := range kvs {
		if kvs[i].key == key {
			kvs[i].val = val
			return kvs
		}
	}
	return append(kvs, kv{key, val})
}

func (t *metadataTransform) Apply(ctx context.Context, it *pipeline.Item) error {
	// Everything is computed before anything is written, so a failing
	// field leaves the metadata as it was, and so that the "exists" checks
	// below see the metadata as the source left it.
	var buf [12]kv
	gen, err := t.computed(ctx, it, buf[:0])
	if err != nil {
		return err
	}
	if t.re != nil {
		p := filepath.ToSlash(it.Prov.Path)
		m := t.re.FindStringSubmatchIndex(p)
		switch {
		case m == nil && t.failNoMatch:
			return pipeline.Errorf(it.Prov, "metadata.path_regex", "path %q does not match %s", p, t.re)
		case m != nil:
			for i, name := range t.re.SubexpNames() {
				if name != "" && m[2*i] >= 0 {
					gen = put(gen, name, p[m[2*i]:m[2*i+1]])
				}
			}
		}
	}
	if it.Metadata == nil {
		it.Metadata = make(map[string]any, len(gen)+len(t.static))
	}
	dest := it.Metadata
	if t.namespace != "" && len(gen) > 0 {
		switch ns := it.Metadata[t.namespace].(type) {
		case map[string]any:
			dest = ns
		case nil:
			if _, exists := it.Metadata[t.namespace]; exists && !t.overwrite {
				return pipeline.Errorf(it.Prov, "metadata."+t.namespace, "exists and is null, not an object; set overwrite: true to replace it")
			}
			dest = make(map[string]any, len(gen))
			it.Metadata[t.namespace] = dest
		default:
			if !t.overwrite {
				return pipeline.Errorf(it.Prov, "metadata."+t.namespace, "exists and is a %T, not an object; set overwrite: true to replace it", ns)
			}
			dest = make(map[string]any, len(gen))
			it.Metadata[t.namespace] = dest
		}
	}
	flat := t.namespace == "" && t.prefix == ""
	for _, e := range gen {
		key := t.prefix + e.key
		if flat && t.static != nil {
			if _, isStatic := t.static[key]; isStatic {
				continue // static wins; written below
			}
		}
		t.write(dest, key, e.val, e.key == KeySplit)
	}
	for _, k := range t.staticKeys {
		t.write(it.Metadata, k, deepCopyJSON(t.static[k]), false)
	}
	return nil
}

// write sets key unless it exists and may not be replaced.
func (t *metadataTransform) write(m map[string]any, key string, val any, keepIfSet bool) {
	if _, exists := m[key]; exists && (keepIfSet || !t.overwrite) {
		return
	}
	m[key] = val
}

// computed returns the requested computed fields that apply to it.
func (t *metadataTransform) computed(ctx context.Context, it *pipeline.Item, gen []kv) ([]kv, error) {
	if t.fields == 0 {
		return gen, nil
	}
	if t.want(KeyFilename) {
		if name := fileName(it); name != "" {
			gen = append(gen, kv{KeyFilename, name})
		}
	}
	rel := t.relPath(it.Prov)
	if t.want(KeyRelPath) && rel != "" {
		gen = append(gen, kv{KeyRelPath, rel})
	}
	if t.want(KeySource) && it.Prov.Source != "" {
		gen = append(gen, kv{KeySource, it.Prov.Source})
	}
	if t.want(KeySize) && it.Blob != nil {
		gen = append(gen, kv{KeySize, float64(it.Blob.Size)})
	}
	if t.want(KeySHA256) {
		switch {
		case it.Blob != nil:
			sum, err := blobSHA256(ctx, it.Blob)
			if err != nil {
				return nil, pipeline.Errorf(it.Prov, "metadata."+KeySHA256, "%w", err)
			}
			gen = append(gen, kv{KeySHA256, sum})
		case it.Kind == pipeline.KindText && it.Text != "":
			sum := sha256.Sum256([]byte(it.Text))
			gen = append(gen, kv{KeySHA256, hex.EncodeToString(sum[:])})
		}
	}
	if t.want(KeyMIME) && it.MIME != "" {
		gen = append(gen, kv{KeyMIME, it.MIME})
	}
	if (t.want(KeyWidth) || t.want(KeyHeight)) && it.Blob != nil &&
		(it.Kind == pipeline.KindImage || it.Kind == pipeline.KindMultimodal) {
		w, h, err := blobImageSize(ctx, it.Blob)
		if err != nil {
			return nil, pipeline.Errorf(it.Prov, "metadata.width", "%w", err)
		}
		if t.want(KeyWidth) {
			gen = append(gen, kv{KeyWidth, float64(w)})
		}
		if t.want(KeyHeight) {
			gen = append(gen, kv{KeyHeight, float64(h)})
		}
	}
	if _, set := it.Metadata[KeySplit]; t.want(KeySplit) && !set {
		if s := splitFromPath(rel); s != "" {
			gen = append(gen, kv{KeySplit, s})
		}
	}
	return gen, nil
}

// fileName returns the base name of the item's local file, or of its URL's
// path, or "".
func fileName(it *pipeline.Item) string {
	switch {
	case it.Blob != nil && it.Blob.Path != "":
		return filepath.Base(it.Blob.Path)
	case it.URL != "":
		u, err := url.Parse(it.URL)
		if err != nil || u.Path == "" || strings.HasSuffix(u.Path, "/") {
			return ""
		}
		return path.Base(u.Path)
	case it.Blob != nil && it.Prov.Path != "":
		// An archive member: its path inside the archive.
		return path.Base(filepath.ToSlash(it.Prov.Path))
	}
	return ""
}

// relPath returns prov.Path relative to prov.Source, slash-separated, when
// the source is a local directory containing the path; "" otherwise.
func (t *metadataTransform) relPath(prov pipeline.Provenance) string {
	if prov.Source == "" || prov.Path == "" || prov.Row > 0 || prov.Line > 0 {
		return ""
	}
	isDir, ok := t.dirs.Load(prov.Source)
	if !ok {
		fi, err := os.Stat(prov.Source)
		isDir = err == nil && fi.IsDir()
		t.dirs.Store(prov.Source, isDir)
	}
	if !isDir.(bool) {
		return ""
	}
	rel, err := filepath.Rel(prov.Source, prov.Path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// splitFromPath finds the split named by the nearest directory of a
// slash-separated relative path.
func splitFromPath(rel string) string {
	dir := path.Dir(rel)
	for dir != "." && dir != "/" && dir != "" {
		if s := splitName(path.Base(dir)); s != "" {
			return s
		}
		dir = path.Dir(dir)
	}
	return ""
}

func splitName(dir string) string {
	name := strings.ToLower(strings.TrimRight(dir, "0123456789"))
	switch name {
	case "train", "training":
		return "train"
	case "val", "valid", "validate", "validation", "dev":
		return "validate"
	case "test", "testing":
		return "test"
	}
	return ""
}

// copyBufs holds the buffers blobSHA256 streams through, so that hashing a
// file does not allocate 32 KiB each time.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// blobSHA256 streams the blob through SHA-256 and checks its length.
func blobSHA256(ctx context.Context, b *pipeline.Blob) (string, error) {
	r, err := b.Open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(h, ctxReader{ctx, r}, *buf)
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if n != b.Size {
		return "", fmt.Errorf("read %d bytes, want %d: the file changed while the run was going", n, b.Size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// blobImageSize reads an image's size from the blob's header.
func blobImageSize(ctx context.Context, b *pipeline.Blob) (w, h int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	r, err := b.Open()
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	w, h, _, err = media.ImageSize(r)
	return w, h, err
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
