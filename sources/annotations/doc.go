// Package annotations reads object annotations in the COCO, YOLO and Pascal
// VOC formats and joins them to the image files a source walks: Open
// returns an Index that a source asks for the annotation of each image
// (Lookup).
//
// Design notes: DESIGN.md in this folder.
package annotations
