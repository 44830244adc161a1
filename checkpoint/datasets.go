package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
)

// The dataset-set dictionary maps the datasets digest of an item (its
// pipeline.FieldDatasets sum, salted as the job salts it) to the sorted
// dataset IDs the item was put in, so that Lookup can tell the sink which
// datasets an updated input leaves (pipeline.Sync.PriorDatasets): the
// entries keep 8 bytes of digest, not the IDs. Jobs use a handful of
// distinct sets, so the file is tiny and loaded whole with the entries.
//
// datasets.ckpt is the magic "CLFDSET\n", then frames as in the entry files
// (uint32 LE length, CRC-32C, payload), each payload
// 'D' | uint64 LE digest | uvarint count | count x (uvarint length, bytes).
// A new set is appended and fsynced (the file's creation with its
// directory) before Record appends the first entry record that refers to
// it, so a durable record never refers to a set that is not. A torn tail
// is cut off when loaded (a set whose frame was torn was never referred
// to by a durable record). The file is append-only and never compacted:
// one frame per distinct set the job ever used.
const (
	datasetsName  = "datasets.ckpt"
	datasetsMagic = "CLFDSET\n"
	recDatasets   = 'D'
	// maxDatasetSet bounds the IDs of one set as loaded.
	maxDatasetSet = 4096
)

// loadDatasets reads datasets.ckpt, if any, into c.dsets. A torn or
// corrupt tail is ignored (and cut off unless read-only) and reported.
func (c *Checkpoint) loadDatasets() error {
	c.dsMu.Lock()
	defer c.dsMu.Unlock()
	c.dsets = make(map[uint64][]string)
	path := filepath.Join(c.dir, datasetsName)
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	br := bufio.NewReader(f)
	var magic [len(datasetsMagic)]byte
	valid := int64(0)
	var bad *formatError
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != datasetsMagic {
		bad = &formatError{0, "not a dataset dictionary (bad or short magic)"}
	} else {
		valid = int64(len(datasetsMagic))
		fr := &frameReader{r: br, off: valid}
		for {
			p, err := fr.next()
			if err == io.EOF {
				break
			}
			if errors.As(err, &bad) {
				break
			}
			if err != nil {
				return fmt.Errorf("checkpoint: read %s: %w", path, err)
			}
			d, set, err := decodeDatasets(p)
			if err != nil {
				bad = &formatError{valid, err.Error()}
				break
			}
			c.dsets[d] = set
			valid = fr.off
		}
	}
	if bad == nil {
		return nil
	}
	cr := Corruption{File: path, Offset: bad.Offset, Dropped: size - bad.Offset, Reason: bad.Reason}
	if !c.opts.ReadOnly {
		if valid == 0 {
			err = os.Remove(path)
		} else {
			err = os.Truncate(path, valid)
		}
		if err != nil {
			return fmt.Errorf("checkpoint: cut the invalid tail of %s: %w", path, err)
		}
		cr.Truncated = true
	}
	c.report.Corruptions = append(c.report.Corruptions, cr)
	return nil
}

func decodeDatasets(p []byte) (uint64, []string, error) {
	d := decoder{p: p}
	if d.byte() != recDatasets {
		return 0, nil, errors.New("not a dataset set record")
	}
	sum := binary.LittleEndian.Uint64(d.take(8))
	n := d.uvarint()
	if n > maxDatasetSet {
		return 0, nil, fmt.Errorf("dataset set of %d IDs", n)
	}
	set := make([]string, 0, n)
	for range n {
		set = append(set, string(d.bytes(maxIDLen)))
	}
	if err := d.end(); err != nil {
		return 0, nil, fmt.Errorf("dataset set: %w", err)
	}
	return sum, set, nil
}

// datasetsOf returns the dataset IDs recorded for the datasets digest d,
// nil if none (no datasets, or not recorded). The slice is the caller's.
func (c *Checkpoint) datasetsOf(d uint64) []string {
	c.dsMu.RLock()
	defer c.dsMu.RUnlock()
	return slices.Clone(c.dsets[d])
}

// noteDatasets makes sure the dictionary holds ids under d, durably,
// before a record refers to d. An empty set is not stored (Lookup then
// answers no prior datasets, which is what it is).
func (c *Checkpoint) noteDatasets(d uint64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	c.dsMu.RLock()
	_, ok := c.dsets[d]
	c.dsMu.RUnlock()
	if ok {
		return nil
	}
	set := slices.Clone(ids)
	slices.Sort(set)
	set = slices.Compact(set)
	c.dsMu.Lock()
	defer c.dsMu.Unlock()
	if _, ok := c.dsets[d]; ok {
		return nil
	}
	if err := c.appendDatasets(d, set); err != nil {
		return err
	}
	c.dsets[d] = set
	return nil
}

// appendDatasets appends the record of set and fsyncs it, creating the
// file (fsynced with its directory) if needed. The caller holds dsMu.
func (c *Checkpoint) appendDatasets(d uint64, set []string) error {
	path := filepath.Join(c.dir, datasetsName)
	var buf []byte
	if c.dsFile == nil {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("checkpoint: %w", err)
		}
		if fi.Size() == 0 {
			buf = append(buf, datasetsMagic...)
		}
		c.dsFile = f
		c.dsNew = fi.Size() == 0
	}
	buf, start := beginFrame(buf)
	buf = append(buf, recDatasets)
	buf = binary.LittleEndian.AppendUint64(buf, d)
	buf = binary.AppendUvarint(buf, uint64(len(set)))
	for _, id := range set {
		buf = binary.AppendUvarint(buf, uint64(len(id)))
		buf = append(buf, id...)
	}
	buf = endFrame(buf, start)
	if _, err := c.dsFile.Write(buf); err != nil {
		return fmt.Errorf("checkpoint: append to %s: %w", path, err)
	}
	if err := c.dsFile.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", path, err)
	}
	if c.dsNew {
		if err := durable.SyncDir(c.dir); err != nil {
			return fmt.Errorf("checkpoint: sync %s: %w", c.dir, err)
		}
		c.dsNew = false
	}
	return nil
}

// closeDatasets closes the dictionary file if it is open.
func (c *Checkpoint) closeDatasets() error {
	c.dsMu.Lock()
	defer c.dsMu.Unlock()
	if c.dsFile == nil {
		return nil
	}
	err := c.dsFile.Close()
	c.dsFile = nil
	return err
}
