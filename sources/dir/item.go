package dir

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

// item builds the item of the regular file name in folder d. It always
// returns the item; a non-nil error means the item fails with it. Only the
// file's companions (sidecar, paired text, annotation file) are read.
func (w *walker) item(d *folder, name, rel string, fi fs.FileInfo) (*pipeline.Item, error) {
	cfg := &w.s.cfg
	p := w.path(rel)
	prov := pipeline.Provenance{Source: cfg.Path, Path: p}
	it := &pipeline.Item{
		Kind:       cfg.Kind,
		Blob:       pipeline.FileBlobAt(p, fi.Size(), fi.ModTime()),
		Prov:       prov,
		DatasetIDs: slices.Clone(cfg.DatasetIDs),
	}
	key := ids.FileKey(w.abs(rel), fi.Size(), fi.ModTime())
	// The key is set whatever happens below, so that a failed item is still
	// recognizable in reports.
	defer func() { it.Key = ids.ScopeKey(key, it.DatasetIDs) }()

	var split string
	if cfg.SplitFromPath {
		split = splitOfDir(d.rel)
	}
	var folderLabel string
	if cfg.LabelsFromFolders {
		folderLabel = labelOfDir(d.rel, cfg.SplitFromPath)
	}

	// Annotations first: Lookup marks the annotation matched, so that an
	// image failing for another reason is not also reported unmatched.
	var ann *annotations.Annotation
	if w.idx != nil && (isImageName(name) || cfg.Kind == pipeline.KindImage) {
		a, err := w.idx.Lookup(rel)
		if err != nil {
			return it, &pipeline.ItemError{Prov: prov, Field: "annotations", Err: err}
		}
		if ann = a; ann != nil {
			key += "|ann:" + ann.Fingerprint()
			for _, msg := range ann.Warnings {
				w.s.log.Warn("annotation skipped or doubtful", zap.String("item", prov.String()), zap.String("problem", msg))
			}
		}
	}

	if txt, ok := w.pairTextOf(d, name); ok {
		text, fp, err := w.readText(joinRel(d.rel, txt))
		if err != nil {
			return it, &pipeline.ItemError{Prov: prov, Field: "text", Err: err}
		}
		it.Kind, it.Text = pipeline.KindMultimodal, text
		key += "|text:" + fp
	}

	var sc *Sidecar
	if scName, byStem := w.sidecarOf(d, name); scName != "" {
		scPath := w.path(joinRel(d.rel, scName))
		var fp string
		var err error
		sc, fp, err = w.readSidecar(scPath)
		if err != nil {
			return it, &pipeline.ItemError{Prov: prov, Field: "sidecar", Err: err}
		}
		key += "|sidecar:" + fp
		if byStem && sc.ID != "" {
			if users := w.stemUsers(d, stem(name)); len(users) > 1 {
				return it, pipeline.Errorf(prov, "sidecar", "%s sets id %q but is the sidecar of %s; name it %s.json to give one file an ID",
					scPath, sc.ID, strings.Join(users, ", "), name)
			}
		}
	}

	// Concepts, first ID wins: sidecar, annotation labels, folder label.
	var concepts []pipeline.Concept
	add := func(c pipeline.Concept) {
		if !slices.ContainsFunc(concepts, func(o pipeline.Concept) bool { return o.ID == c.ID }) {
			concepts = append(concepts, c)
		}
	}
	if sc != nil {
		for _, c := range sc.Concepts {
			add(c.Concept)
		}
	}
	if ann != nil && cfg.Annotations.InputConcepts {
		for _, c := range ann.Concepts {
			add(c)
		}
	}
	if folderLabel != "" {
		add(pipeline.Positive(folderLabel))
	}
	it.Concepts = concepts

	if split != "" {
		it.Metadata = map[string]any{"split": split}
	}
	if ann != nil {
		it.Regions = ann.Regions
		it.Metadata = media.SetAnnotatedSize(it.Metadata, ann.Width, ann.Height)
	}
	if sc != nil {
		it.ID = sc.ID
		if sc.Geo != nil {
			it.Geo = &pipeline.Geo{Latitude: *sc.Geo.Lat, Longitude: *sc.Geo.Lon}
		}
		for _, r := range sc.Regions {
			it.Regions = append(it.Regions, r.region())
		}
		if len(sc.Metadata) > 0 && it.Metadata == nil {
			it.Metadata = make(map[string]any, len(sc.Metadata))
		}
		for k, v := range sc.Metadata {
			it.Metadata[k] = v
		}
		if s, ok := sc.Metadata["split"].(string); ok {
			split = s
			if n := splitName(s); n != "" {
				split = n
			}
		}
		for _, id := range sc.DatasetIDs {
			if !slices.Contains(it.DatasetIDs, id) {
				it.DatasetIDs = append(it.DatasetIDs, id)
			}
		}
	}
	if ds := cfg.SplitDatasets[split]; ds != "" && !slices.Contains(it.DatasetIDs, ds) {
		it.DatasetIDs = append(it.DatasetIDs, ds)
	}
	return it, nil
}

// readSmall reads the companion file p, which must be a regular file of
// at most limit bytes, and returns its content and "<size>:<mtime ns>".
func (w *walker) readSmall(p string, limit int64) ([]byte, string, error) {
	// Stat before opening: opening a named pipe would block the walk.
	if fi, err := w.s.fs.Stat(p); err != nil {
		return nil, "", err
	} else if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", p)
	}
	f, err := w.s.fs.Open(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// Stat the open file, so that the fingerprint describes what is read.
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Size() > limit {
		return nil, "", fmt.Errorf("%s is %d bytes; the limit is %d", p, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("%s grew over the limit of %d bytes", p, limit)
	}
	return data, fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano()), nil
}

// readSidecar reads and parses the sidecar at p.
func (w *walker) readSidecar(p string) (*Sidecar, string, error) {
	data, fp, err := w.readSmall(p, maxSidecarSize)
	if err != nil {
		return nil, "", err
	}
	sc, err := ParseSidecar(p, data)
	return sc, fp, err
}

// readText reads the paired text file rel.
func (w *walker) readText(rel string) (string, string, error) {
	p := w.path(rel)
	data, fp, err := w.readSmall(p, w.s.cfg.MaxTextSize)
	if err != nil {
		return "", "", err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		return "", "", fmt.Errorf("%s is not valid UTF-8 (at byte %d)", p, bad)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", "", fmt.Errorf("%s is empty", p)
	}
	return string(data), fp, nil
}

// splitName returns the split a folder name stands for: "train",
// "validate", "test", or "" for none.
func splitName(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "train":
		return "train"
	case "val", "valid", "validate", "validation":
		return "validate"
	case "test":
		return "test"
	}
	return ""
}

// splitOfDir returns the split of the deepest split folder in dirRel.
func splitOfDir(dirRel string) string {
	for dirRel != "" {
		i := strings.LastIndexByte(dirRel, '/')
		if s := splitName(dirRel[i+1:]); s != "" {
			return s
		}
		dirRel = dirRel[:max(i, 0)]
	}
	return ""
}

// labelOfDir returns the name of the deepest folder in dirRel, passing
// over split folders when skipSplits is set; "" for files in Path.
func labelOfDir(dirRel string, skipSplits bool) string {
	for dirRel != "" {
		i := strings.LastIndexByte(dirRel, '/')
		if name := dirRel[i+1:]; !skipSplits || splitName(name) == "" {
			return name
		}
		dirRel = dirRel[:max(i, 0)]
	}
	return ""
}
