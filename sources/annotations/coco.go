package annotations

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// COCO is the index of a COCO JSON file: for every image, its file name,
// size and a compact list of its regions. Memory grows with the number of
// images and annotations (about 60 bytes per box, plus 8 bytes per polygon
// vertex), which COCO's layout makes unavoidable: an image's annotations may
// be anywhere in the file; while the file is parsed, about 40 bytes more
// per annotation find repeated annotation IDs. Coordinates are kept as
// float32 (about 1e-4 pixel of precision at 1000 pixels). A COCO is not
// safe for concurrent use.
type COCO struct {
	name       string
	images     []cocoImage
	byID       map[int64]int32
	annIDs     map[int64]annSeen // while parsing: annotation ID -> first use
	seed       maphash.Seed
	repeats    Repeats
	byBase     map[string][]int32
	categories map[int64]string
	rle        int
	firstRLE   int64
}

type cocoImage struct {
	id            int64
	fileName      string // normalized; "" while only annotations named the id
	width, height int32
	regions       []cocoRegion
	errs          []string // per-annotation problems, reported on Lookup
	warns         []string // regions skipped, reported on Lookup as warnings
	matched       bool
}

// annSeen is the first annotation with an ID: its image and a hash of
// what it says.
type annSeen struct {
	img  int32
	hash uint64
}

// Repeats counts the annotations of a COCO file whose "id" an earlier
// annotation already has (see ParseCOCO).
type Repeats struct {
	// Identical annotations (same image, category, bbox and segmentation
	// as the first with the ID) were skipped; Different ones were kept.
	Identical, Different int
	// FirstIDs are the first few repeated IDs.
	FirstIDs []int64
}

type cocoRegion struct {
	ann  int64
	cat  int64
	box  [4]float32 // x, y, w, h when poly is nil
	poly []float32  // x1, y1, x2, y2, ...
}

// cocoImageJSON and cocoAnnJSON are the fields read from the file; others
// (area, license, coco_url...) are skipped by the decoder without storing.
type cocoImageJSON struct {
	ID       *int64 `json:"id"`
	FileName string `json:"file_name"`
	Width    int64  `json:"width"`
	Height   int64  `json:"height"`
}

type cocoAnnJSON struct {
	ID         *int64    `json:"id"`
	ImageID    *int64    `json:"image_id"`
	CategoryID *int64    `json:"category_id"`
	BBox       []float64 `json:"bbox"`
}

// cocoSegAnnJSON is cocoAnnJSON with the segmentation. (Embedding would
// put the embedded type's name in the decoder's error messages.)
type cocoSegAnnJSON struct {
	ID           *int64          `json:"id"`
	ImageID      *int64          `json:"image_id"`
	CategoryID   *int64          `json:"category_id"`
	BBox         []float64       `json:"bbox"`
	Segmentation json.RawMessage `json:"segmentation"`
}

type cocoCategoryJSON struct {
	ID   *int64 `json:"id"`
	Name string `json:"name"`
}

// PosError is a problem at a place in an annotation file. Line and Column
// are 1-based and 0 when only the byte offset is known.
type PosError struct {
	File         string
	Offset       int64
	Line, Column int
	Err          error
	// skipSpace places the error at the first non-space byte from Offset.
	skipSpace bool
	// rescan means Offset is the start of a value with a syntax error
	// somewhere in it.
	rescan bool
}

// Error returns "<file> line L column C: <problem>", or the byte offset
// when the line is not known.
func (e *PosError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d column %d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s offset %d: %v", e.File, e.Offset, e.Err)
}

// Unwrap returns the problem.
func (e *PosError) Unwrap() error { return e.Err }

// ParseCOCO reads a COCO JSON object from r with a streaming decoder,
// keeping only the fields the join needs: images (id, file_name, width,
// height), annotations (image_id, category_id, bbox, and segmentation when
// polygons is set) and categories (id, name). Other top-level keys are
// skipped token by token, never buffered.
//
// Errors that make the file unusable (bad JSON, an image without id or
// file_name, an image id listed twice, an annotation without image_id, a
// category without a name) are returned as a *PosError naming name and the
// place; when r is an io.Seeker the place is a line and column. Problems of
// one annotation (bad bbox or polygon, a negative width or height, unknown
// category) are kept and returned by Lookup for that image only: the item
// fails. A box of zero width or height is skipped, and Lookup returns it as
// a warning. An annotation whose "id" an earlier one has is skipped when it
// says the same (image, category, bbox, segmentation: a copy) and kept
// otherwise (two annotations that share an ID by mistake); both are
// counted by Repeats and named in the image's warnings. Annotations
// without "id" are never repeats. ParseCOCO returns ctx.Err() if ctx ends
// first.
func ParseCOCO(ctx context.Context, name string, r io.Reader, polygons bool) (*COCO, error) {
	c := &COCO{
		name:       name,
		byID:       make(map[int64]int32),
		annIDs:     make(map[int64]annSeen),
		seed:       maphash.MakeSeed(),
		categories: make(map[int64]string),
	}
	dec := json.NewDecoder(r)
	if err := c.parse(ctx, dec, polygons); err != nil {
		var pe *PosError
		if errors.As(err, &pe) {
			if s, ok := r.(io.Seeker); ok {
				if pe.rescan {
					pe.Offset, pe.skipSpace = rescan(s, r, pe.Offset)
				}
				pe.Line, pe.Column = lineCol(s, r, pe.Offset, pe.skipSpace)
			}
			return nil, pe
		}
		return nil, err
	}
	c.byBase = make(map[string][]int32, len(c.images))
	for i := range c.images {
		if fn := c.images[i].fileName; fn != "" {
			b := path.Base(fn)
			c.byBase[b] = append(c.byBase[b], int32(i))
		}
	}
	// byID and annIDs are only needed while annotations may still come.
	c.byID, c.annIDs = nil, nil
	return c, nil
}

func (c *COCO) parse(ctx context.Context, dec *json.Decoder, polygons bool) error {
	start := dec.InputOffset()
	if err := expectDelim(dec, '{'); err != nil {
		return c.tokenErr(start, fmt.Errorf("want a JSON object: %w", err))
	}
	for dec.More() {
		start := dec.InputOffset()
		tok, err := token(dec)
		if err != nil {
			return c.tokenErr(start, err)
		}
		key, _ := tok.(string)
		switch key {
		case "images":
			err = c.eachElement(ctx, dec, key, func(dec *json.Decoder) error {
				var im cocoImageJSON
				if err := dec.Decode(&im); err != nil {
					return err
				}
				return c.addImage(im)
			})
		case "annotations":
			err = c.eachElement(ctx, dec, key, func(dec *json.Decoder) error {
				var a cocoSegAnnJSON
				if polygons {
					if err := dec.Decode(&a); err != nil {
						return err
					}
					return c.addAnnotation(a, polygons)
				}
				// Without polygons the segmentation is skipped unread.
				var b cocoAnnJSON
				if err := dec.Decode(&b); err != nil {
					return err
				}
				return c.addAnnotation(cocoSegAnnJSON{ID: b.ID, ImageID: b.ImageID, CategoryID: b.CategoryID, BBox: b.BBox}, polygons)
			})
		case "categories":
			err = c.eachElement(ctx, dec, key, func(dec *json.Decoder) error {
				var cat cocoCategoryJSON
				if err := dec.Decode(&cat); err != nil {
					return err
				}
				return c.addCategory(cat)
			})
		default:
			// skipValue fails on the token that starts at InputOffset.
			if err = skipValue(dec); err != nil {
				err = c.tokenErr(dec.InputOffset(), fmt.Errorf("%s: %w", key, err))
			}
		}
		if err != nil {
			return err
		}
	}
	start = dec.InputOffset()
	if err := expectDelim(dec, '}'); err != nil {
		return c.tokenErr(start, err)
	}
	start = dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return c.tokenErr(start, errors.New("data after the top-level object"))
	}
	return nil
}

// eachElement calls fn to decode each element of the array that comes next
// in dec (null counts as empty), checking ctx every 1024 elements. An error
// is returned as a *PosError at the element, prefixed with key[i].
func (c *COCO) eachElement(ctx context.Context, dec *json.Decoder, key string, fn func(*json.Decoder) error) error {
	start := dec.InputOffset()
	tok, err := token(dec)
	if err != nil {
		return c.tokenErr(start, fmt.Errorf("%s: %w", key, err))
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return c.tokenErr(start, fmt.Errorf("%s: want a list, got %v", key, tok))
	}
	for i := 0; dec.More(); i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// More has skipped the white space before the element, or before
		// the comma that precedes it; Decode starts reading after that
		// comma, and JSON errors count their offset from there.
		start := dec.InputOffset()
		if i > 0 {
			start++
		}
		if err := fn(dec); err != nil {
			return c.elemErr(dec, start, fmt.Sprintf("%s[%d]", key, i), err)
		}
	}
	start = dec.InputOffset()
	if err := expectDelim(dec, ']'); err != nil {
		return c.tokenErr(start, fmt.Errorf("%s: %w", key, err))
	}
	return nil
}

// elemErr places err, which happened in the array element what that
// starts at offset start.
func (c *COCO) elemErr(dec *json.Decoder, start int64, what string, err error) error {
	pe := &PosError{File: c.name, Offset: start, skipSpace: true}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && se.Offset == dec.InputOffset() && strings.HasPrefix(se.Error(), "expected comma"):
		// A missing comma is found before the element is read; its offset
		// is absolute.
		pe.Offset, pe.skipSpace = se.Offset, false
	case errors.As(err, &se):
		// The decoder counts a syntax error's offset from no useful
		// point (its scanner's bytes over all values decoded so far), so
		// ParseCOCO rescans the element to find the culprit.
		pe.rescan = true
	case errors.As(err, &te):
		pe.Offset, pe.skipSpace = start+te.Offset-1, false
		err = typeError(te)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		err = errEOF
	}
	pe.Err = fmt.Errorf("%s: %w", what, err)
	return pe
}

// tokenErr places err, which happened reading the token after offset off
// (past white space and separators).
func (c *COCO) tokenErr(off int64, err error) error {
	return &PosError{File: c.name, Offset: off, skipSpace: true, Err: err}
}

// typeError words a JSON type mismatch for people.
func typeError(te *json.UnmarshalTypeError) error {
	want := "another type"
	if te.Type != nil {
		switch te.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "an integer"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Struct, reflect.Map:
			want = "an object"
		}
	}
	if te.Field != "" {
		return fmt.Errorf("%s: want %s, got %s", te.Field, want, te.Value)
	}
	return fmt.Errorf("want %s, got %s", want, te.Value)
}

func (c *COCO) addCategory(cat cocoCategoryJSON) error {
	name := strings.TrimSpace(cat.Name)
	switch {
	case cat.ID == nil:
		return errors.New("no id")
	case name == "":
		return fmt.Errorf("category id %d: no name", *cat.ID)
	}
	if old, dup := c.categories[*cat.ID]; dup && old != name {
		return fmt.Errorf("category id %d is both %q and %q", *cat.ID, old, name)
	}
	c.categories[*cat.ID] = name
	return nil
}

func (c *COCO) addImage(im cocoImageJSON) error {
	if im.ID == nil {
		return errors.New("no id")
	}
	fn := normName(im.FileName)
	if fn == "" {
		return fmt.Errorf("image id %d: no file_name", *im.ID)
	}
	if im.Width < 0 || im.Height < 0 || im.Width > math.MaxInt32 || im.Height > math.MaxInt32 {
		return fmt.Errorf("image id %d: size %dx%d is out of range", *im.ID, im.Width, im.Height)
	}
	i, ok := c.byID[*im.ID]
	if !ok {
		i = int32(len(c.images))
		c.images = append(c.images, cocoImage{id: *im.ID})
		c.byID[*im.ID] = i
	}
	img := &c.images[i]
	if img.fileName != "" {
		return fmt.Errorf("image id %d is listed twice (%s and %s)", *im.ID, img.fileName, fn)
	}
	img.fileName, img.width, img.height = fn, int32(im.Width), int32(im.Height)
	return nil
}

// repeatsListed bounds Repeats.FirstIDs.
const repeatsListed = 5

func (c *COCO) addAnnotation(a cocoSegAnnJSON, polygons bool) error {
	var annID int64
	if a.ID != nil {
		annID = *a.ID
	}
	if a.ImageID == nil {
		return fmt.Errorf("annotation id %d: no image_id", annID)
	}
	i, ok := c.byID[*a.ImageID]
	if !ok {
		// The image may be listed later in the file.
		i = int32(len(c.images))
		c.images = append(c.images, cocoImage{id: *a.ImageID})
		c.byID[*a.ImageID] = i
	}
	img := &c.images[i]
	if a.ID != nil {
		h := c.annHash(a)
		if first, dup := c.annIDs[annID]; dup {
			r := &c.repeats
			if len(r.FirstIDs) < repeatsListed {
				r.FirstIDs = append(r.FirstIDs, annID)
			}
			if first.img == i && first.hash == h {
				r.Identical++
				img.warns = append(img.warns, fmt.Sprintf("annotation id %d is repeated with the same content: the copy is skipped", annID))
				return nil
			}
			r.Different++
			img.warns = append(img.warns, fmt.Sprintf("annotation id %d is repeated with other content: both are kept", annID))
		} else {
			c.annIDs[annID] = annSeen{img: i, hash: h}
		}
	}
	bad := func(format string, args ...any) error {
		img.errs = append(img.errs, fmt.Sprintf("annotation id %d: ", annID)+fmt.Sprintf(format, args...))
		return nil
	}
	if a.CategoryID == nil {
		return bad("no category_id")
	}
	reg := cocoRegion{ann: annID, cat: *a.CategoryID}
	hasBox := a.BBox != nil
	if hasBox {
		if len(a.BBox) != 4 {
			return bad("bbox has %d numbers; want [x, y, width, height]", len(a.BBox))
		}
		for _, v := range a.BBox {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				return bad("bbox %v has a number out of range", a.BBox)
			}
		}
		if a.BBox[2] < 0 || a.BBox[3] < 0 {
			return bad("bbox %v has a negative width or height", a.BBox)
		}
		if (a.BBox[2] == 0 || a.BBox[3] == 0) && !polygons {
			img.warns = append(img.warns, fmt.Sprintf("annotation id %d: bbox %v has zero area: skipped", annID, a.BBox))
			return nil
		}
		reg.box = [4]float32{float32(a.BBox[0]), float32(a.BBox[1]), float32(a.BBox[2]), float32(a.BBox[3])}
	}
	if polygons {
		seg := strings.TrimSpace(string(a.Segmentation))
		switch {
		case strings.HasPrefix(seg, "["):
			var polys [][]float64
			if err := json.Unmarshal(a.Segmentation, &polys); err != nil {
				return bad("segmentation: want a list of polygons [[x1, y1, x2, y2, ...]]: %v", err)
			}
			added := 0
			for k, p := range polys {
				if len(p) < 6 || len(p)%2 != 0 {
					return bad("segmentation polygon %d has %d numbers; want an even count of at least 6", k, len(p))
				}
				flat := make([]float32, len(p))
				for j, v := range p {
					if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
						return bad("segmentation polygon %d has a number out of range", k)
					}
					flat[j] = float32(v)
				}
				r := reg
				r.poly = flat
				img.regions = append(img.regions, r)
				added++
			}
			if added > 0 {
				return nil
			}
		case strings.HasPrefix(seg, "{"):
			// RLE masks (crowd regions) are not supported: fall back to
			// the bbox and count it, so the source can warn once.
			if c.rle == 0 {
				c.firstRLE = annID
			}
			c.rle++
		}
	}
	if !hasBox {
		if polygons {
			return bad("no bbox and no polygon segmentation (RLE masks are not supported)")
		}
		return bad("no bbox")
	}
	if a.BBox[2] == 0 || a.BBox[3] == 0 {
		img.warns = append(img.warns, fmt.Sprintf("annotation id %d: bbox %v has zero area: skipped", annID, a.BBox))
		return nil
	}
	img.regions = append(img.regions, reg)
	return nil
}

// annHash hashes what an annotation says, to tell a copy from another
// annotation that shares its ID.
func (c *COCO) annHash(a cocoSegAnnJSON) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(*a.ImageID))
	if a.CategoryID != nil {
		put(1)
		put(uint64(*a.CategoryID))
	}
	put(uint64(len(a.BBox)))
	for _, v := range a.BBox {
		put(math.Float64bits(v))
	}
	h.Write(a.Segmentation)
	return h.Sum64()
}

// Repeats returns the annotations whose ID an earlier one has (see
// ParseCOCO).
func (c *COCO) Repeats() Repeats { return c.repeats }

// RLEFallbacks returns how many annotations had an RLE segmentation, which
// is not supported, and were read as their bbox instead, and the ID of the
// first one.
func (c *COCO) RLEFallbacks() (n int, firstID int64) { return c.rle, c.firstRLE }

// Lookup returns the annotation of the image at rel, a slash-separated path
// relative to the walked root, or nil when the file lists no such image.
//
// rel joins the COCO image whose file_name (with "\" read as "/", cleaned)
// shares the longest run of trailing path components with rel, at least
// the base name: file_name "000001.jpg" joins "train2017/000001.jpg", and
// "coco/train/a.jpg" joins "train/a.jpg". If two COCO images tie, the
// error says the join is ambiguous. One COCO image can join several walked
// files (a bare name and files of that name in two folders).
//
// Boxes are Box{Left: x, Top: y, Right: x+w, Bottom: y+h} and polygons
// Point{Col: x, Row: y}, in pixels with Pixels set. The error, if any,
// names the COCO file and the annotation IDs that are wrong (bad bbox or
// polygon, unknown category); the image then counts as matched.
func (c *COCO) Lookup(rel string) (*Annotation, error) {
	cands := c.byBase[path.Base(rel)]
	best, bestN, tie := int32(-1), 0, int32(-1)
	for _, i := range cands {
		switch n := commonSuffix(c.images[i].fileName, rel); {
		case n > bestN:
			best, bestN, tie = i, n, -1
		case n == bestN:
			tie = i
		}
	}
	if best < 0 {
		return nil, nil
	}
	if tie >= 0 {
		return nil, fmt.Errorf("%s: ambiguous: images %q (id %d) and %q (id %d) both match; put the folder in file_name",
			c.name, c.images[best].fileName, c.images[best].id, c.images[tie].fileName, c.images[tie].id)
	}
	img := &c.images[best]
	img.matched = true
	a := &Annotation{File: c.name, Width: int(img.width), Height: int(img.height)}
	for _, w := range img.warns {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%s: image %q (id %d): %s", c.name, img.fileName, img.id, w))
	}
	errs := img.errs
	for _, r := range img.regions {
		name, ok := c.categories[r.cat]
		if !ok {
			errs = append(errs, fmt.Sprintf("annotation id %d: category_id %d is not in categories", r.ann, r.cat))
			continue
		}
		reg := pipeline.Region{Pixels: true, Concepts: []pipeline.Concept{pipeline.Positive(name)}}
		if r.poly != nil {
			reg.Polygon = make([]pipeline.Point, len(r.poly)/2)
			for j := range reg.Polygon {
				reg.Polygon[j] = pipeline.Point{Col: float64(r.poly[2*j]), Row: float64(r.poly[2*j+1])}
			}
		} else {
			x, y, w, h := float64(r.box[0]), float64(r.box[1]), float64(r.box[2]), float64(r.box[3])
			reg.Box = &pipeline.BoundingBox{Left: x, Top: y, Right: x + w, Bottom: y + h}
		}
		a.Regions = append(a.Regions, reg)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: image %q (id %d): %s", c.name, img.fileName, img.id, strings.Join(errs, "; "))
	}
	a.Concepts = concepts(a.Regions)
	return a, nil
}

// unmatched calls fn, in file order, for every image that has annotations
// (or annotation errors) and that no Lookup matched, and for every image_id
// that annotations name but images does not list.
func (c *COCO) unmatched(ctx context.Context, fn func(UnmatchedImage) error) error {
	for i := range c.images {
		img := &c.images[i]
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var u UnmatchedImage
		switch {
		case img.fileName == "":
			u = UnmatchedImage{File: c.name, Image: fmt.Sprintf("image_id %d", img.id),
				Err: fmt.Errorf("%d annotations%s name image_id %d, which images does not list", len(img.regions)+len(img.errs), annIDList(img.regions), img.id)}
		case !img.matched && len(img.regions)+len(img.errs) > 0:
			u = UnmatchedImage{File: c.name, Image: img.fileName,
				Err: fmt.Errorf("image %q (id %d) has %d annotations, but no walked file matches it", img.fileName, img.id, len(img.regions)+len(img.errs))}
		default:
			continue
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// annIDList returns " (id 1)" or " (ids 1, 2, 3, ...)" for the first annotation IDs of
// regions, or "" when there is none.
func annIDList(regions []cocoRegion) string {
	var ids []string
	for _, r := range regions {
		if len(ids) == repeatsListed {
			ids = append(ids, "...")
			break
		}
		if n := fmt.Sprint(r.ann); !slices.Contains(ids, n) {
			ids = append(ids, n)
		}
	}
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return " (id " + ids[0] + ")"
	}
	return " (ids " + strings.Join(ids, ", ") + ")"
}

// normName cleans a COCO file_name for the join: "\" as "/", no "./" or
// leading "/".
func normName(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\`, "/"))
	if s == "" {
		return ""
	}
	s = strings.TrimLeft(path.Clean("/"+s), "/")
	return s
}

// commonSuffix counts the trailing path components a and b share.
func commonSuffix(a, b string) int {
	n := 0
	for {
		ia, ib := strings.LastIndexByte(a, '/'), strings.LastIndexByte(b, '/')
		if a[ia+1:] != b[ib+1:] {
			return n
		}
		n++
		if ia < 0 || ib < 0 {
			return n
		}
		a, b = a[:ia], b[:ib]
	}
}

// errEOF replaces io.EOF and io.ErrUnexpectedEOF from the decoder.
var errEOF = errors.New("unexpected end of file")

// token is dec.Token with errEOF for a file that ends too soon.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errEOF
	}
	return tok, err
}

// expectDelim reads the next token and checks that it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := token(dec)
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %q, got %v", d, tok)
	}
	return nil
}

// skipValue consumes the next JSON value token by token, so that a large
// value nobody needs is never held in memory.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := token(dec)
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// rescan decodes the value at offset start of the stream r afresh to find
// where its syntax error is; it returns that offset, or start (and
// skipSpace) if it cannot tell.
func rescan(s io.Seeker, r io.Reader, start int64) (off int64, skipSpace bool) {
	if _, err := s.Seek(start, io.SeekStart); err != nil {
		return start, true
	}
	var raw json.RawMessage
	var se *json.SyntaxError
	// A fresh decoder counts the offset from start; it points past the
	// culprit.
	if err := json.NewDecoder(r).Decode(&raw); errors.As(err, &se) && se.Offset > 0 {
		return start + se.Offset - 1, false
	}
	return start, true
}

// lineCol returns the 1-based line and column of byte offset off in the
// stream r, which it rewinds; with skipSpace, of the first byte from off on
// that is not JSON white space or a separator. It returns 0, 0 if it cannot rewind.
func lineCol(s io.Seeker, r io.Reader, off int64, skipSpace bool) (line, col int) {
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		return 0, 0
	}
	br := bufio.NewReader(r)
	line, col = 1, 1
	for n := int64(0); ; n++ {
		b, err := br.ReadByte()
		if err != nil || n >= off && (!skipSpace || !isSpace(b)) {
			return line, col
		}
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
}

// isSpace reports JSON white space and the separators ':' and ',', which
// lie between a token error's offset and the token.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == ':' || b == ','
}
