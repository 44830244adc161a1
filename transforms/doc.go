// Package transforms holds the stages that run, in order, on each item
// between the sources and the sink: text clean-up (unicode), metadata
// enrichment (metadata), region and concept validation (annotations), geo
// point checks (geo), and user functions registered by name (custom).
//
// Every transform is built from a config struct with yaml tags whose doc
// comments state the defaults. Each config has Validate, which names the bad
// key, and a constructor NewXxx(cfg, opts...) returning a pipeline.Transform.
// A job file lists them as Specs:
//
//	transforms:
//	  - unicode: {mode: ascii, metadata_fields: [caption, author.name]}
//	  - metadata: {fields: [filename, sha256, width, height], static: {project: demo}}
//	  - annotations: {}
//	  - geo: {from_metadata: {lat: gps.lat, lon: gps.lon}}
//	  - custom: remove_emoji
//
// and Build turns the list into transforms, looking custom names up in a
// Registry.
//
// One transform is not a Spec: ConceptIDs (NewConceptIDs), which gives every
// label its concept ID by the rule of package pipeline/ids. The job file's
// concept_ids key sets its mode and the CLI runs it after all the others.
// It is the one transform with state across items: the labels of the run,
// to find two that make one ID (see ids.Mapper).
//
// # Contract shared by all transforms
//
// Apply is safe for concurrent use: the pipeline calls it from several
// workers at once, each with its own item. A transform keeps no per-item
// state; what it reads from its config is never modified after construction.
// Apply changes the item in place, as pipeline.Item's ownership rule allows:
// the item, its Metadata map and the values in it belong to the stage that
// holds the item. Apply returns nil to keep the item, an error wrapping
// pipeline.ErrSkip to drop it, or another error (usually a
// *pipeline.ItemError naming the item's provenance and the field) to fail
// it. Apply blocks only while it reads the item's file (text loading,
// sha256, image headers), and such reads stop when ctx is done.
//
// # Order
//
// Transforms run in the order listed, after the media detector. Two orders
// matter: metadata's size and sha256 fields need the item's Blob, and
// unicode moves a text file's content into Item.Text and drops the Blob, so
// list metadata before unicode when you want them for text files; geo with
// from_metadata reads metadata fields, so list it after any transform that
// writes them.
package transforms
