// Package digest sums up an item as its source read it, in 48 bytes: one
// 8-byte sum per field group (pipeline.Field: content, concepts, metadata,
// geo, datasets, regions), as pipeline.Digests. Of and OfSalted compute
// them; Digests.Diff says which groups differ between two runs, so that a
// rerun can update only those.
//
// # As read
//
// The digests are taken before the transforms (rule version 2; version 1
// summed the item after them). What the server holds for an item is a
// function of the item as read, of the job's settings and of the
// content's bytes: the transforms are functions of those. The bytes are
// stood for by the content group (a file's path, size and modification
// time), and the settings by a salt that OfSalted mixes into every group
// but the content. So equal digests under an equal salt mean the server
// would be sent the same thing, and a rerun finds an unchanged item
// without reading its bytes or running its transforms.
//
// # The rule
//
// Each group is summed with XXH64 (seed 0; github.com/cespare/xxhash), which
// is specified and gives the same sums on every platform, process and
// release; hash/maphash would not. Every sum starts with Version and the
// group, and every string is length-prefixed. The sums follow the wire, not
// the Go values:
//
//   - Content: the kind as read (KindUnknown for a file whose kind is
//     detected later); for a Blob its size, path and modification time
//     (Blob.ModTime in Unix nanoseconds, 0 when unknown; the bytes are
//     not read: a rerun must not read what it skips), else the normalized
//     URL; and the text. MIME is not summed.
//   - Concepts: the multiset of (ID, name, value), the value at float32 as
//     sent: order does not count, as the server keys concepts by ID.
//   - Metadata: the object as a google.protobuf.Struct holds it: keys in no
//     order, numbers as float64 (Go integers, float32 and json.Number
//     alike), nested objects and arrays (in order) kept; nil and empty
//     alike.
//   - Geo: latitude and longitude at float32; absent is its own value.
//   - Datasets: the set of dataset IDs: no order, repeats once.
//   - Regions: the multiset of regions, each its ID, box and polygon (points
//     in order) at float32, and its concepts as above.
//
// A non-zero salt is mixed into the sum of every group but the content
// (XXH64 of the group, the salt and the unsalted sum). -0 sums as 0. Sets
// and multisets are summed element by element and
// combined by count and sum modulo 2^64, which needs no sorting and no
// allocation.
//
// # Size and collisions
//
// 8 bytes per group make the chance that an edit goes unseen 2^-64 per
// edited group; 4 would make it 2^-32, about one missed edit in a job that
// edits 4 billion items over its life, which is too close. The six groups
// are the units a rerun updates on its own (PatchInputs for concepts,
// metadata and geo, dataset inputs for datasets, annotations for regions;
// content cannot be patched), so no finer sum is needed to patch only what
// changed, and none coarser would do. Item folds them into one sum when a
// single value is wanted; it is not stored.
package digest
