// Package transforms holds the stages that run, in order, on each item
// between the sources and the sink: text clean-up (unicode), metadata
// enrichment (metadata), region and concept validation (annotations), geo
// point checks (geo), and user functions registered by name (custom).
// NewUnicode, NewMetadata, NewAnnotations and NewGeo build one from its
// config; Build turns a job file's list of Specs into transforms, looking
// custom names up in a Registry.
//
// Design notes: DESIGN.md in this folder.
package transforms
