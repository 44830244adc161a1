// Package ids gives Clarifai input IDs and checkpoint keys: ValidID checks a
// user's ID against Clarifai's rules, DeriveID gives an item without one a
// deterministic ID, and FileKey, IDKey, URLKey, TextKey and ScopeKey build
// the Item.Key by which a checkpoint recognizes an item in a later run.
// ConceptID and Resolve turn a label into a concept ID the way Clarifai's
// own loaders do, and Mapper finds two labels of a run that make one ID.
//
// Design notes: DESIGN.md in this folder.
package ids
