package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Datasets are generated deterministically: the same parameters give the
// same bytes on every machine, so a dataset is generated once per work
// directory and reused (a stamp file records the parameters). Every
// generator derives its randomness from a PCG seeded with the item's index,
// which also lets the image generator run on all cores.

// seed is mixed into every generator's PCG.
const seed = 0x1d9e57c1a21f

// stampName is the file that marks a finished dataset and records its
// parameters.
const stampName = ".complete"

// datasetStamp describes a generated dataset; it is stored as JSON in the
// dataset folder's stamp file.
type datasetStamp struct {
	Kind  string `json:"kind"`
	N     int    `json:"n"`
	Param int    `json:"param,omitempty"` // image KB, text bytes
	Bytes int64  `json:"bytes"`           // total size of the data files
}

// upToDate reports whether dir holds a finished dataset made with want, and
// returns its recorded stamp.
func upToDate(dir string, want datasetStamp) (datasetStamp, bool) {
	b, err := os.ReadFile(filepath.Join(dir, stampName))
	if err != nil {
		return datasetStamp{}, false
	}
	var got datasetStamp
	if json.Unmarshal(b, &got) != nil {
		return datasetStamp{}, false
	}
	ok := got.Kind == want.Kind && got.N == want.N && got.Param == want.Param
	return got, ok
}

func writeStamp(dir string, s datasetStamp) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stampName), b, 0o644)
}

// imageClasses are the folders of the image dataset; with
// labels_from_folders each becomes the concept of its images.
var imageClasses = []string{"cat", "dog", "bird", "car", "boat", "tree", "house", "flower", "horse", "bike"}

// imageSideFor returns the side in pixels of the square images whose JPEG
// encoding is about kb kilobytes: it encodes the first image at a few sides
// and interpolates on bytes per pixel, which is close to constant for the
// generator's pictures.
func imageSideFor(kb int) int {
	target := float64(kb * 1000)
	side := 128
	for range 3 {
		n := len(encodeImage(0, side))
		perPixel := float64(n) / float64(side*side)
		side = max(16, int(math.Sqrt(target/perPixel)+0.5))
	}
	return side
}

// encodeImage draws image i (a diagonal two-colour gradient, a few filled
// rectangles and per-channel grain, the grain sized so that the file is
// about as large as a photo of that many pixels) and returns it as JPEG.
func encodeImage(i int, side int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), seed))
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	var c0, c1 [3]float64
	for k := range 3 {
		c0[k], c1[k] = r.Float64()*255, r.Float64()*255
	}
	type rect struct {
		x0, y0, x1, y1 int
		c              [3]float64
	}
	rects := make([]rect, 2+r.IntN(4))
	for j := range rects {
		x0, y0 := r.IntN(side), r.IntN(side)
		rects[j] = rect{x0, y0, x0 + 1 + r.IntN(side/2), y0 + 1 + r.IntN(side/2),
			[3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}}
	}
	// Grain comes from 8 bytes per PCG draw: the per-pixel draw of one
	// number per channel made generation take minutes at 20,000 images.
	var grain [8]byte
	g := len(grain)
	for y := range side {
		row := img.Pix[y*img.Stride:]
		for x := range side {
			t := float64(x+y) / float64(2*side)
			var base [3]float64
			for k := range 3 {
				base[k] = c0[k]*(1-t) + c1[k]*t
			}
			for _, q := range rects {
				if x >= q.x0 && x < q.x1 && y >= q.y0 && y < q.y1 {
					base = q.c
				}
			}
			for k := range 3 {
				if g == len(grain) {
					binary.LittleEndian.PutUint64(grain[:], r.Uint64())
					g = 0
				}
				v := int(base[k]) + int(grain[g])*3/4 - 96 // grain in [-96, 95]
				g++
				row[x*4+k] = uint8(min(255, max(0, v)))
			}
			row[x*4+3] = 255
		}
	}
	var buf bytes.Buffer
	// Encoding into a buffer cannot fail.
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// imagePath returns the path of image i under root: class folders, so that
// a folder source with labels_from_folders gives every image a concept.
func imagePath(root string, i int) string {
	c := imageClasses[i%len(imageClasses)]
	return filepath.Join(root, c, fmt.Sprintf("%s_%07d.jpg", c, i))
}

// genImages makes n JPEG images of about kb kilobytes under dir, on all
// cores. It returns the dataset's stamp.
func genImages(ctx context.Context, dir string, n, kb int) (datasetStamp, error) {
	want := datasetStamp{Kind: "images", N: n, Param: kb}
	if s, ok := upToDate(dir, want); ok {
		return s, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return want, err
	}
	for _, c := range imageClasses {
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			return want, err
		}
	}
	side := imageSideFor(kb)
	g, ctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	sizes := make([]int64, workers)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				b := encodeImage(i, side)
				if err := os.WriteFile(imagePath(dir, i), b, 0o644); err != nil {
					return err
				}
				sizes[w] += int64(len(b))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return want, err
	}
	for _, s := range sizes {
		want.Bytes += s
	}
	return want, writeStamp(dir, want)
}

// words feed the text generator.
var words = strings.Fields(`the a of to and in is it that was for on are with as his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an each she which do their
time if will way about many then them write would like so these her long make thing see him two has look more day could
go come did number sound no most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every good me give our under name
very through just form sentence great think say help low line differ turn cause much mean before move right boy old too
same tell does set three want air well also play small end put home read hand port large spell add even land here must
big high such follow act why ask men change went light kind off need house picture try us again animal point mother world`)

// textOf returns text file i: sentences of words, about size bytes.
func textOf(i, size int) string {
	r := rand.New(rand.NewPCG(uint64(i), seed^0x7e47))
	var b strings.Builder
	fmt.Fprintf(&b, "Document %d.", i)
	for b.Len() < size {
		n := 5 + r.IntN(12)
		b.WriteByte(' ')
		for j := range n {
			w := words[r.IntN(len(words))]
			if j == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteByte('.')
	}
	b.WriteByte('\n')
	return b.String()
}

// genTexts makes n UTF-8 text files of about size bytes under dir.
func genTexts(ctx context.Context, dir string, n, size int) (datasetStamp, error) {
	want := datasetStamp{Kind: "texts", N: n, Param: size}
	if s, ok := upToDate(dir, want); ok {
		return s, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return want, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return want, err
	}
	for i := range n {
		if i%1024 == 0 && ctx.Err() != nil {
			return want, ctx.Err()
		}
		t := textOf(i, size)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc_%07d.txt", i)), []byte(t), 0o644); err != nil {
			return want, err
		}
		want.Bytes += int64(len(t))
	}
	return want, writeStamp(dir, want)
}

// manifestHeader is the rich-schema header of the URL manifest. There is
// no id column: IDs are derived from the URLs, as for most users' manifests.
const manifestHeader = "url,concepts,metadata\n"

// manifestLabels are the concepts of the manifest's rows.
var manifestLabels = []string{"cat", "dog", "bird", "car", "boat", "tree", "house", "flower", "horse", "bike",
	"person", "street", "beach", "mountain", "food", "night", "indoor", "outdoor", "snow", "water"}

var splitsByRow = []string{"train", "train", "train", "validate", "test"}

// writeManifestRow appends row i of the URL manifest to w: a URL, one to
// three labels (sometimes a negative one) and a small JSON object.
func writeManifestRow(w *bufio.Writer, i int) { writeManifestRowEdited(w, i, false) }

// labelShift is how far an edited row's labels move in the vocabulary:
// half of it, so that an edited row shares no label with the original (a
// row has at most three consecutive labels).
var labelShift = len(manifestLabels) / 2

// writeManifestRowEdited appends row i of the URL manifest to w, edited
// when edit is set: the same URL and metadata, each label replaced by the
// one labelShift further in the vocabulary (the same sign). The random
// draws are the same either way, so an unedited row is byte for byte the
// one writeManifestRow writes.
func writeManifestRowEdited(w *bufio.Writer, i int, edit bool) {
	r := rand.New(rand.NewPCG(uint64(i), seed^0x3a11))
	fmt.Fprintf(w, "https://images.example.com/bench/%02x/%07d.jpg,", i%256, i)
	n := 1 + r.IntN(3)
	if n > 1 {
		w.WriteByte('"')
	}
	first := r.IntN(len(manifestLabels))
	if edit {
		first += labelShift
	}
	for j := range n {
		if j > 0 {
			w.WriteByte(';')
		}
		// Consecutive labels of the vocabulary: distinct within a row.
		l := manifestLabels[(first+j)%len(manifestLabels)]
		if j > 0 && r.IntN(4) == 0 {
			w.WriteByte('-')
		}
		w.WriteString(l)
	}
	if n > 1 {
		w.WriteByte('"')
	}
	fmt.Fprintf(w, `,"{""row"": %d, ""source"": ""bench"", ""split"": ""%s"", ""score"": %s}"`+"\n",
		i, splitsByRow[i%len(splitsByRow)], strconv.FormatFloat(float64(r.IntN(1000))/1000, 'f', 3, 64))
}

// genManifest writes a rich-schema CSV manifest of n URL rows to
// dir/manifest.csv.
func genManifest(ctx context.Context, dir string, n int) (datasetStamp, error) {
	want := datasetStamp{Kind: "manifest", N: n}
	if s, ok := upToDate(dir, want); ok {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return want, err
	}
	_ = os.Remove(filepath.Join(dir, stampName))
	f, err := os.Create(filepath.Join(dir, "manifest.csv"))
	if err != nil {
		return want, err
	}
	cw := &countingWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	w.WriteString(manifestHeader)
	for i := range n {
		if i%65536 == 0 && ctx.Err() != nil {
			return want, errors.Join(ctx.Err(), f.Close())
		}
		writeManifestRow(w, i)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return want, err
	}
	want.Bytes = cw.n
	return want, writeStamp(dir, want)
}

// editEvery says which rows of a manifest S5 edits: every editEvery-th
// (rows editEvery-1, 2*editEvery-1, ...), so n/editEvery rows of n.
const editEvery = 100

// editedRow reports whether S5 edits row i.
func editedRow(i int) bool { return i%editEvery == editEvery-1 }

// editedRows returns how many rows of an n-row manifest S5 edits.
func editedRows(n int) int { return n / editEvery }

// writeEditedManifest writes the n-row URL manifest with the rows that
// editedRow picks edited (writeManifestRowEdited) to path, atomically (a
// temporary file renamed over path), and returns its size. The new file
// has a new modification time, so a checkpoint that recorded the old one
// as complete reads it again.
func writeEditedManifest(ctx context.Context, path string, n int) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	w.WriteString(manifestHeader)
	for i := range n {
		if i%65536 == 0 && ctx.Err() != nil {
			return 0, errors.Join(ctx.Err(), f.Close(), os.Remove(tmp))
		}
		writeManifestRowEdited(w, i, editedRow(i))
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return 0, errors.Join(err, os.Remove(tmp))
	}
	return cw.n, os.Rename(tmp, path)
}

// copyFile copies src to dst (a new file) and returns its size.
func copyFile(dst, src string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	return n, errors.Join(err, out.Close())
}

// manifestPath is the manifest file of a dataset folder made by genManifest.
func manifestPath(dir string) string { return filepath.Join(dir, "manifest.csv") }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
