// Package digest sums up what a job wants the server to hold for an item, in
// 48 bytes: one 8-byte Sum per field group (content, concepts, metadata,
// geo, datasets, regions). Of computes them; Digests.Diff says which groups
// differ between two runs, so that a rerun can update only those.
//
// # The rule
//
// Each group is summed with XXH64 (seed 0; github.com/cespare/xxhash), which
// is specified and gives the same sums on every platform, process and
// release; hash/maphash would not. Every sum starts with Version and the
// group, and every string is length-prefixed. The sums follow the wire, not
// the Go values:
//
//   - Content: the kind; for a Blob its size and path (the bytes are not
//     read: a rerun must not read what it skips), else the normalized URL;
//     and the text. MIME is not sent and not summed.
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
// -0 sums as 0. Sets and multisets are summed element by element and
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
// changed, and none coarser would do. Digests.Item folds them into one Sum
// when a single value is wanted; it is not stored.
package digest
