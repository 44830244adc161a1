// Package ids gives Clarifai input IDs and checkpoint keys: ValidID checks a
// user's ID against Clarifai's rules, DeriveID gives an item without one a
// deterministic ID, and FileKey, IDKey, URLKey, TextKey and ScopeKey build
// the Item.Key by which a checkpoint recognizes an item in a later run.
package ids

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// # Derived IDs
//
// An item whose source gives no ID gets a deterministic one, so that a retry
// or a rerun of the same job can never create a second copy of an input:
//
//	id = hex(sha256(scope 0x00 kind 0x00 identity))[:32]
//
// where identity is the file's bytes (local files and archive members), the
// normalized URL (URL items), or the raw text (text items); a multimodal item
// hashes its image identity and its text. scope is the item's sorted dataset
// IDs joined by ",", so the same file sent to two datasets is two inputs.
// 32 hex characters carry 128 bits: a collision among a billion inputs has a
// probability below 1e-20. The IDs are pinned by a golden test: changing the
// scheme would make every rerun of an existing job send its whole dataset
// again under new IDs. (The rule itself lives in pipeline/internal/identity,
// because package pipeline assigns items to shards by the same IDs.)
//
// # User-given IDs
//
// User-given IDs are kept as they are, and must match ValidID: 1 to
// MaxIDLength characters from [A-Za-z0-9_-], which is within what Clarifai
// accepts for input IDs (the API answers "id must be between 1 and 48
// characters long" to longer ones).
