package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
)

// IntentsFile is the name of the intent log in a checkpoint directory.
const IntentsFile = "intents.ckpt"

// intentMagic starts the intent log; records follow, each intentRecord
// bytes: XXH64 of the input ID, the content digest (both little-endian
// uint64) and a CRC-32C of those 16 bytes.
var intentMagic = []byte("CLFINTN\n")

const intentRecord = 20

// Intents is the durable intent log of a job (see the sink's IntentLog):
// for each user-given input ID whose bytes a run was about to send, the
// digest of those bytes, recorded before the request went out. It lives in
// the checkpoint directory, append-only, and is loaded whole when opened.
//
// It keeps an ID's first digest: Intend skips an ID it holds already. The
// ID is stored as its XXH64, never in clear, so the file holds no names,
// paths or secrets. In memory each ID costs one map entry of two uint64
// (about 40 bytes with the map's overhead: some 40 MB per million given-ID
// byte items); on disk 20 bytes. A torn last record (a crash in the middle
// of a write) is ignored and cut off when the log is opened.
//
// Methods are safe for concurrent use.
type Intents struct {
	mu   sync.Mutex
	f    *os.File
	sums map[uint64]uint64
	err  error // sticky write failure
}

// OpenIntents opens (creating it if needed) the intent log in dir.
func OpenIntents(dir string) (*Intents, error) {
	path := filepath.Join(dir, IntentsFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open intents: %w", err)
	}
	l := &Intents{f: f, sums: map[uint64]uint64{}}
	if err := l.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: load %s: %w", path, err)
	}
	return l, nil
}

// load reads the records, cuts off a torn or corrupt tail and leaves the
// file positioned at its end.
func (l *Intents) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return err
	}
	good, err := parseIntentLog(data, l.sums)
	switch {
	case err != nil:
		return err
	case good == 0:
		// New, or torn in its magic: start again.
		if err := l.f.Truncate(0); err != nil {
			return err
		}
		if _, err := l.f.WriteAt(intentMagic, 0); err != nil {
			return err
		}
		if err := l.f.Sync(); err != nil {
			return err
		}
		if err := durable.SyncDir(filepath.Dir(l.f.Name())); err != nil {
			return err
		}
		good = int64(len(intentMagic))
	case good < int64(len(data)):
		if err := l.f.Truncate(good); err != nil {
			return err
		}
	}
	_, err = l.f.Seek(good, io.SeekStart)
	return err
}

// parseIntentLog adds the records of the intent log data to sums (see
// parseIntents) and returns the length of its valid prefix, magic
// included: 0 for a log that is empty or torn in its magic, which holds
// nothing.
func parseIntentLog(data []byte, sums map[uint64]uint64) (int64, error) {
	switch {
	case len(data) < len(intentMagic) && bytes.HasPrefix(intentMagic, data):
		return 0, nil
	case !bytes.HasPrefix(data, intentMagic):
		return 0, errors.New("not an intent log (bad magic)")
	}
	return int64(len(intentMagic)) + parseIntents(data[len(intentMagic):], sums), nil
}

// parseIntents adds the records of data (after the magic) to sums, an ID's
// first digest kept, up to the first torn or corrupt one, and returns the
// length of the valid records.
func parseIntents(data []byte, sums map[uint64]uint64) int64 {
	var good int64
	for rest := data; len(rest) >= intentRecord; rest = rest[intentRecord:] {
		r := rest[:intentRecord]
		if crc32.Checksum(r[:16], castagnoli) != binary.LittleEndian.Uint32(r[16:]) {
			break
		}
		id := binary.LittleEndian.Uint64(r)
		if _, ok := sums[id]; !ok {
			sums[id] = binary.LittleEndian.Uint64(r[8:])
		}
		good += intentRecord
	}
	return good
}

// ReadIntents loads the intent log in dir read-only, for ingest plan:
// nothing is created, written or cut off (a torn tail is ignored), and a
// missing log holds nothing. Intended answers as on an open log; Intend
// returns ErrReadOnly.
func ReadIntents(dir string) (*Intents, error) {
	path := filepath.Join(dir, IntentsFile)
	l := &Intents{sums: map[uint64]uint64{}, err: ErrReadOnly}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return l, nil
	case err != nil:
		return nil, fmt.Errorf("checkpoint: read intents: %w", err)
	}
	if _, err := parseIntentLog(data, l.sums); err != nil {
		return nil, fmt.Errorf("checkpoint: load %s: %w", path, err)
	}
	return l, nil
}

// Intended returns the digest recorded for id.
func (l *Intents) Intended(id string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sums[xxhash.Sum64String(id)]
	return s, ok
}

// Intend records sums[i] for ids[i] (an ID already held keeps its digest)
// and returns once the records are written and fsynced: one write and one
// fsync per call. A failure is sticky: every later call returns it.
func (l *Intents) Intend(_ context.Context, ids []string, sums []uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.f == nil {
		return ErrClosed
	}
	buf := make([]byte, 0, len(ids)*intentRecord)
	for i, id := range ids {
		h := xxhash.Sum64String(id)
		if _, ok := l.sums[h]; ok {
			continue
		}
		l.sums[h] = sums[i]
		start := len(buf)
		buf = binary.LittleEndian.AppendUint64(buf, h)
		buf = binary.LittleEndian.AppendUint64(buf, sums[i])
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf[start:], castagnoli))
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := l.f.Write(buf); err != nil {
		l.err = fmt.Errorf("checkpoint: write intents: %w", err)
		return l.err
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("checkpoint: fsync intents: %w", err)
		return l.err
	}
	return nil
}

// Close closes the file. Later Intend calls return ErrClosed.
func (l *Intents) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
