package pipeline

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
)

// Whole-source resume: when a run streamed a source to its end and every
// item of it ended done, already done or skipped, the runner records the
// source as complete in the checkpoint, under the source's fingerprint. A
// rerun that finds the marker does not stream the source at all: it counts
// its items as the earlier run left them and moves on. Resuming a finished
// job then costs a stat per source instead of reading every row again.
//
// Both halves are optional interfaces, so that the pipeline stays
// independent of any checkpoint implementation: a source opts in with
// Fingerprinter, a checkpoint with SourceCheckpoint. Without either, every
// source is streamed and every item looked up, as before.

// Fingerprinter is implemented by sources that can identify their input
// cheaply. See SourceCheckpoint for what the runner does with it.
type Fingerprinter interface {
	// Fingerprint returns a string that changes whenever the items Stream
	// would send could change: the input file's identity (absolute path,
	// size, modification time) and every setting of the source that shapes
	// its items. It must be cheap (a stat, never a read of the content) and
	// safe to call concurrently with Stream. An error means the source
	// cannot tell this time (the file is gone, it is not a local file): the
	// runner then streams it as usual and marks nothing.
	//
	// What the fingerprint cannot see, the runner guards against: a source
	// that sent any item with a Blob (local file content, keyed by that
	// file's size and modification time) is never marked complete, since the
	// fingerprint of a manifest does not change when a file it names does.
	// A directory source cannot implement Fingerprint at all: a change deep
	// in the tree does not change the root's modification time.
	Fingerprint() (string, error)
}

// SourceCounts says how the items of a complete source ended.
type SourceCounts struct {
	// Done counts the items delivered or updated (EventDone) or found done
	// by an earlier run (EventResumed).
	Done int64
	// Skipped counts the items dropped on purpose (EventSkipped).
	Skipped int64
}

// SourceCheckpoint is implemented by a Checkpoint that also remembers
// complete sources. Run uses it when Job.Checkpoint implements it:
//
//   - Before streaming a source that implements Fingerprinter, the reading
//     stage asks SourceDone. On a match the source is not streamed: its
//     items are counted as the marker says (Done as EventResumed, that is
//     "already done", and Skipped as skipped) without a Result per item, so
//     neither OnResult nor the failure report sees them. With Job.ReadAll
//     the reading stage does not ask: every source is streamed (and may be
//     recorded complete again).
//   - After a source was streamed to its end (no error, no Stop), the result
//     loop calls RecordSourceDone once the last of its items has its final
//     result, if none of them failed and none carried a Blob. A source whose
//     Fingerprint changed while it was read is not recorded.
//
// A source complete in a run stopped later (SIGINT during the next source)
// is recorded too: it was read to its end and every item of it is final.
type SourceCheckpoint interface {
	Checkpoint
	// SourceDone reports whether the source with this fingerprint was
	// recorded complete, and how its items ended. It is called from the
	// reading stage and must not block on slow I/O.
	SourceDone(fingerprint string) (SourceCounts, bool)
	// RecordSourceDone records the source with this fingerprint complete.
	// It is called from the result loop, the goroutine that calls Record,
	// after every Record of the source's items; it must make those records
	// durable before the marker, since a rerun will not look them up. An
	// error ends the run, as Record's does.
	RecordSourceDone(fingerprint string, counts SourceCounts) error
}

// FileFingerprint returns a fingerprint for a source reading the local file
// at path: "<kind>:<absolute path>|<size>|<mtime ns>|cfg=<hash>", where the
// file is identified as ids.FileKey identifies an item's file, and hash is a
// short SHA-256 of config, the source's settings in any stable encoding
// (JSON of a struct, say). It stats the file and reads nothing; it fails
// if the file cannot be stat'ed or is not a regular file.
func FileFingerprint(kind, path string, config []byte) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	sum := sha256.Sum256(config)
	return fmt.Sprintf("%s:%s|%d|%d|cfg=%x", kind, abs, fi.Size(), fi.ModTime().UnixNano(), sum[:12]), nil
}

// sourceMark travels from the reading stage, through the filter, to the
// result loop, in the item channel and then in a Result: the end of one
// source's items (streamed), or a source not streamed because a marker
// matched (resumed). The sender fills it in before sending it and does not
// touch it afterwards.
type sourceMark struct {
	// index is the source's 1-based index in Job.Sources.
	index int32
	// fp is the source's fingerprint, taken before and checked after it
	// was streamed; "" when the source cannot be marked complete.
	fp string
	// resumed: the source was not streamed; counts says how it ended.
	resumed bool
	counts  SourceCounts
	// items is the number of items of the source the filter passed on
	// (set by the filter for a streamed source).
	items int64
}

// sourceTally follows the items of one source in the result loop, which
// owns it.
type sourceTally struct {
	finals int64 // items with their final result
	counts SourceCounts
	// bad: an item failed or carried a Blob; the source is not marked.
	bad bool
	// end is the source's end mark, once it arrived; nil until then.
	end      *sourceMark
	recorded bool
}

// complete reports whether the source can be recorded complete now: it was
// streamed to its end under a fingerprint, nothing went wrong, and every
// item it sent has its final result.
func (t *sourceTally) complete() bool {
	return !t.recorded && !t.bad && t.end != nil && t.end.fp != "" && t.finals == t.end.items
}
