// Package ids gives Clarifai input IDs and checkpoint keys: ValidID checks a
// user's ID against Clarifai's rules, DeriveID gives an item without one a
// deterministic ID, and FileKey, IDKey, URLKey, TextKey and ScopeKey build
// the Item.Key by which a checkpoint recognizes an item in a later run.
//
// Design notes: DESIGN.md in this folder.
package ids
