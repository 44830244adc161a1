// Package annotations reads object annotations in the COCO, YOLO and Pascal
// VOC formats and joins them to the image files a source walks: Open
// returns an Index that a source asks for the annotation of each image
// (Lookup).
package annotations

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// The readers never convert pixel coordinates: COCO and VOC regions come out
// with Region.Pixels set, in pixels of the image (x → Col, y → Row), and the
// annotations transform normalizes them with the image size it reads from the
// file header. YOLO coordinates are already normalized and come out with
// Pixels unset.
//
// An Index is opened once per walk (Open), asked for the annotation of each
// image the walk emits (Lookup), and at the end lists the annotation images
// no Lookup matched (Unmatched). The join rules are documented on Lookup.
