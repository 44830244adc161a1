// Package dir is the local directory source: it walks a folder tree and
// streams one item per file, with labels from sidecar JSON files, folder
// names, split folders, paired text files and annotation files (COCO, YOLO,
// Pascal VOC; see package annotations).
//
// Design notes: DESIGN.md in this folder.
package dir
