// Package checkpoint is the crash-safe, file-based pipeline.Checkpoint: it
// remembers which items the server acknowledged, so that rerunning a killed
// job skips what is done, verifies what was accepted, and sends the rest.
// Open opens (or creates) a job's checkpoint folder; the runner asks it
// Lookup and tells it Record; Compact and Reopen maintain it, and
// Options.Restart sets the old files aside.
package checkpoint

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// # What is recorded
//
// Only what the server acknowledged (see Checkpoint.Record):
//
//   - EventAccepted: the input exists on the server under Item.ID.
//   - EventAnnotated: its region annotations were accepted too.
//   - EventDone: the input is on the server (and processed, when verified).
//   - EventFailed with a non-zero Clarifai status Code from a server stage
//     (upload, annotate, verify): recorded as Failed. Lookup then answers
//     StateAccepted (with the ID) if the input had been accepted before it
//     failed, because it exists on the server and re-sending it would get
//     "already exists", which the sink counts as success; otherwise it
//     answers StateNew, so that a rerun tries it once more (one request).
//
// Failures of sources and transforms, skips, and failures without a server
// code (network, deadline) are not recorded: the user fixes the data and
// reruns, and the rerun must pick those items up again.
//
// Lookup answers what earlier runs recorded. The entries on disk are loaded
// into memory on first use (the first Lookup or Record of a run), and the
// records of the current run go to the log only: an item is looked up once,
// before it is processed, so nothing in a run needs them. An entry loaded
// from disk is updated in memory as before (a done entry stays done, a
// failed one keeps its acceptance); a record of any other item stands on its
// own: it holds the state and flags its event implies (a failure at
// "annotate" or "verify" follows an acceptance; EventDone of an item with
// regions follows its annotations) and the item's ID, which the sink sets
// before the first acknowledgement. Of several records of one key the last
// wins when the log is loaded, so a key that appears twice in one run is
// sent twice (the server's "duplicate ID" answer counts as success).
//
// # Complete sources
//
// The checkpoint implements pipeline.SourceCheckpoint: the runner records a
// source complete under its fingerprint when it was read to its end and all
// its items ended done, already done or skipped, and a rerun that finds the
// marker does not read the source at all. The markers live in sources.json,
// rewritten whole (temp file, fsync, rename, fsync of the directory) after
// the log is fsynced, so the records a marker stands for are durable before
// it. Restart moves them aside with the rest; Reopen (verify --repair) and
// a configuration change (AllowMismatch) delete them, since the sources must
// then be read again.
//
// # Files
//
// A checkpoint lives in one directory per job:
//
//	LOCK                  flock(2)-ed while a process uses the checkpoint
//	snapshot.ckpt         compacted state (absent until the first compaction)
//	log-00000007.ckpt     append-only logs, replayed in order after the snapshot
//	sources.json          complete-source markers (JSON; see above)
//	previous/             the files an Open with Restart moved aside
//
// Every file starts with the 8-byte magic "CLFCKPT\n" followed by records.
// A record is self-delimiting and checksummed:
//
//	uint32 LE payload length | uint32 LE CRC-32C (Castagnoli) of payload | payload
//
// The first record is a header (format version, file kind, generation,
// creation time, entry-count hint and the job's configuration fingerprint).
// Entry records hold the full state of one item: the first 16 bytes of
// SHA-256(Item.Key), the state, flags (accepted, annotated) and the input ID
// (16 raw bytes for 32-hex-character IDs and lower-case UUIDs, else length
// and bytes). Replaying entry records in order yields the state: the last
// record of a key wins. A snapshot ends with a trailer record holding its
// entry count.
//
// # Durability
//
// Record appends to a buffered writer and never calls fsync itself. A
// background flusher writes the buffer out and fsyncs the log every
// SyncInterval (default 1s), sooner when SyncBytes (default 1 MiB) are
// waiting; Close and Sync flush and fsync at once. So:
//
//   - A SIGKILL loses at most the records still in the process's buffer
//     (at most BufferSize bytes, at most SyncInterval old).
//   - A power loss or kernel crash loses at most the records written since
//     the last fsync (about SyncInterval).
//
// A lost record makes the rerun re-send or re-verify the item. That is safe:
// input IDs are deterministic and "already exists" for an ID this job sent
// counts as success, so nothing is created twice.
//
// A crash can leave a torn or corrupt tail (a partial record, a checksum that
// does not match). Loading detects it, keeps the valid prefix, reports it in
// LoadReport.Corruptions and the log (file and byte offset), and truncates
// the active log to the valid prefix before appending again. A process that
// never loads (every source complete) appends nothing and leaves the files
// as they are; the next load repairs them.
//
// # Compaction
//
// A snapshot is written from the in-memory index, which does not hold the
// current run's records, so a run never compacts while it records. Loading
// compacts instead, when the logs loaded are larger than
// max(CompactMinBytes, size of the snapshot): the index then holds
// everything. The active log is fsynced and closed and a new one started
// before this process records anything; then, in the background, the index
// is written to snapshot.ckpt.tmp, fsynced, renamed over snapshot.ckpt and
// the directory fsynced; only then are the older logs deleted. A crash at
// any step leaves either the old snapshot and all logs, or the new snapshot
// and some stale logs that the next Open deletes. The snapshot may hold
// states newer than the log it starts after (updates of loaded entries made
// meanwhile), which is harmless: those records are replayed again on top of
// it. Compact does the same on demand; once this process has recorded, its
// snapshot starts under the first log this process appended to, which is
// kept.
//
// So the log grows during a run by about 44 bytes per record (two or three
// records per item: 0.9-1.3 GB for a first run of 10M items) and is folded
// by the next run's load; between runs the disk holds at most the snapshot
// plus the logs of the runs since the last load.
//
// # Memory
//
// The index holds the entries loaded from disk, and only them: a first run's
// memory is flat however many items it records (TestMemoryFlatDuringRecords:
// no measurable heap growth over 1M items), and a run whose sources are all
// complete loads nothing. It keeps no key strings: it maps the 16-byte key
// hash to a 19-byte entry holding state and the packed input ID, in 64
// shards each guarded by its own RWMutex, so Lookup (resume filter) and
// Record (result loop) rarely contend. IDs that are neither hex nor UUIDs
// nor shorter than 16 bytes are kept in per-shard byte arenas.
//
// Measured (TestMemoryAndLoadTime, 2-vCPU VM, 32-hex IDs): 84 bytes of heap
// per loaded entry at 1M entries, loaded in 0.2-0.26s from a snapshot
// (0.64-0.7s from a log); at 10M, 67 bytes per entry (672 MB) and 6.7s
// (7.7s). The heap per entry swings between about 50 and 85 bytes as the
// maps grow, so budget 850 MB for resuming a job of 10M. On disk a record is
// 44 bytes: a 10M snapshot is 440 MB. Record costs 0.5 to 1µs, Lookup 0.3 to
// 1.4µs. Details in this folder's README.md.
