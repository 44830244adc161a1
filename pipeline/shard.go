package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline/internal/identity"
)

// Shard names one part of a job split across several processes: shard
// Index of Count (0 <= Index < Count). The zero value means "not sharded".
type Shard struct {
	Index, Count int
}

// ParseShard parses "i/n" (for example "0/4"). Both are whole numbers with
// 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String renders the shard as "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Enabled reports whether the job is split (Count > 1).
func (s Shard) Enabled() bool { return s.Count > 1 }

// Owns reports whether it belongs to this shard. Every item belongs to
// exactly one shard of a given Count, the same one in every run, and an
// edited item stays in the shard whose checkpoint knows it:
//
//   - an item with an ID, by the hash of that input ID;
//   - an item without one (its ID derives from its content) that has a
//     Key, by the hash of its stable key (pipeline/ids.StableKey: the key
//     without its dataset scope, and for a local file without its size and
//     modification time). A new label, another dataset or a file rewritten
//     in place then leaves the item in its shard, whose checkpoint finds
//     its earlier version and updates it rather than another shard posting
//     it as new. For a local file this also spares reading its bytes:
//     hashing every file's content on every shard would multiply the I/O
//     by Count. Two files with equal bytes at two paths may then go to two
//     shards; both send the same derived ID, and the server keeps one
//     input;
//   - an item without ID or Key, by the hash of the ID derived from its
//     URL or text; a local file without a Key, by its provenance;
//   - an item that failed in its source, by its provenance, so that exactly
//     one shard reports it.
func (s Shard) Owns(it *Item) bool {
	if !s.Enabled() {
		return true
	}
	var basis string
	switch {
	case it.Err != nil:
		basis = "prov:" + it.Prov.String()
	case it.ID != "":
		basis = "id:" + it.ID
	case it.Key != "":
		basis = "key:" + identity.Stable(it.Key)
	case it.Blob == nil:
		basis = "id:" + identity.Derive(identity.Input{DatasetIDs: it.DatasetIDs, Kind: it.Kind.String(), URL: it.URL, Text: it.Text})
	default:
		basis = "prov:" + it.Prov.String()
	}
	sum := sha256.Sum256([]byte(basis))
	return int(binary.BigEndian.Uint64(sum[:8])%uint64(s.Count)) == s.Index
}

// Sharded returns a source that streams only the items of src that shard
// owns. Items of other shards are dropped before anything counts them: they
// are not read, skipped or reported by this process.
//
// If src implements Fingerprinter, so does the sharded source: its
// fingerprint is src's with "|shard=i/n" appended. A shard's items are
// another set than the whole source's, so a marker of one must never match
// the other, even when two shards share a checkpoint (the CLI gives each
// shard its own, but a library user may not).
func Sharded(src Source, shard Shard) Source {
	if !shard.Enabled() {
		return src
	}
	if f, ok := src.(Fingerprinter); ok {
		return fingerprintedShard{shardSource{src, shard}, f}
	}
	return shardSource{src, shard}
}

type shardSource struct {
	src   Source
	shard Shard
}

// fingerprintedShard is a shardSource of a source that has a fingerprint.
// It is a type of its own so that a sharded source implements Fingerprinter
// exactly when the source it wraps does.
type fingerprintedShard struct {
	shardSource
	f Fingerprinter
}

// Fingerprint returns the inner source's fingerprint with the shard.
func (s fingerprintedShard) Fingerprint() (string, error) {
	fp, err := s.f.Fingerprint()
	if err != nil {
		return "", err
	}
	return fp + "|shard=" + s.shard.String(), nil
}

func (s shardSource) Name() string { return s.src.Name() + " (shard " + s.shard.String() + ")" }

// Stream runs the inner source into a channel of its own and forwards the
// items this shard owns. The inner source stops when ctx ends.
func (s shardSource) Stream(ctx context.Context, out chan<- *Item) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan *Item)
	errc := make(chan error, 1)
	go func() {
		defer close(in)
		errc <- s.src.Stream(ctx, in)
	}()
	for it := range in {
		if !s.shard.Owns(it) {
			continue
		}
		if err := Send(ctx, out, it); err != nil {
			cancel()
			for range in { // let the inner source see ctx and return
			}
			<-errc
			return err
		}
	}
	return <-errc
}
