// Package dir is the local directory source: it walks a folder tree and
// streams one item per file, with labels from sidecar JSON files, folder
// names, split folders, paired text files and annotation files (COCO, YOLO,
// Pascal VOC; see package annotations).
package dir

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// The source never reads a media file's content. It emits each file with a
// lazy FileBlob, its size from stat, and Kind unknown (unless Config.Kind
// forces one); the media detector transform (pipeline/media.Detector) reads
// the head later, after the resume filter, so that a rerun never reads the
// bytes of items an earlier run finished. The only files it reads are the
// small companions of a media file: its sidecar, its paired text and its
// YOLO or VOC annotation file.
//
// # Walk
//
// The walk is depth-first in lexical (byte) order of the names in each
// folder, so two runs over the same tree emit the same items in the same
// order. It streams: it holds the sorted entry names of the current folder
// and of each folder above it (never the tree), and it finds sidecars and
// paired texts among the current folder's names only. A folder of a
// million files thus costs its names, about 50 MB.
//
// Names starting with "." are skipped (files and folders) unless
// IncludeHidden is set. Symbolic links are not followed unless
// FollowSymlinks is set: a link that passes the Include/Exclude patterns is
// reported as a skipped item. When following, a link to a folder that is
// an ancestor of itself is reported as a skipped item (a loop); a folder
// reachable by two paths is walked twice, and its files get the same
// content-derived IDs, so the server does not store them twice. Root itself
// is followed if it is a link. Files that are not regular (pipes, sockets,
// devices) are reported as skipped items.
//
// Include and Exclude are doublestar patterns ("**/*.jpg", "tmp/**")
// matched against the slash-separated path relative to Root. A file is
// walked if it matches some Include pattern (or there are none) and no
// Exclude pattern; a folder that matches an Exclude pattern is not entered.
// Files they leave out are ignored silently; they are not items.
//
// An unreadable folder, or a file or folder whose stat fails, is a failed
// item naming its path, and the walk goes on. A Root that does not exist or
// is not a folder is an error from New and from Stream.
//
// # Items
//
// Every item has Prov{Source: Root as given, Path: filepath.Join(Root,
// rel)}, Blob = FileBlob(Path, size), Kind = Config.Kind (KindUnknown by
// default), DatasetIDs = Config.DatasetIDs plus those from the split and
// the sidecar, and
//
//	Key = ScopeKey("file:<abs path>|<size>|<mtime ns>"
//	               + "|ann:<hash of its annotations>" (when annotated)
//	               + "|text:<size>:<mtime ns>"        (when it is a pair)
//	               + "|sidecar:<size>:<mtime ns>"     (when it has a sidecar),
//	               DatasetIDs)
//
// so that editing a sidecar, a paired text or an annotation delivers the
// item again. Folder labels and the split come from the path, which the
// key holds; turning those options on for a rerun does not re-deliver
// finished items.
//
// # Labels, in order of precedence
//
// Concepts are merged by ID, the first source of an ID winning: the
// sidecar's concepts, then the annotation labels (Annotations.InputConcepts),
// then the folder label. Regions are the annotation file's followed by the
// sidecar's. Metadata holds "split" and, for annotated images, the size the
// annotation file states (media.AnnotatedSizeKey, removed before upload by
// the annotations transform); the sidecar's metadata keys override these.
//
// Folder labels (LabelsFromFolders): the name of the folder holding the
// file is a positive concept (root/cat/001.jpg → "cat"). With
// SplitFromPath, split folder names are passed over: root/train/cat/001.jpg
// and root/cat/train/001.jpg → "cat". Files directly in Root get no folder
// label.
//
// Split (SplitFromPath): the deepest folder below Root named train, val,
// valid, validate, validation or test (any case) sets metadata "split" to
// "train", "validate" or "test". A sidecar's metadata "split", if a string,
// replaces it. SplitDatasets maps the item's split to a dataset ID that is
// added to its DatasetIDs.
//
// Paired text (PairText): an image (by extension: .jpg, .png, ...) and a
// .txt file with the same stem in the same folder (cat.jpg + cat.txt) are
// one multimodal item: Kind multimodal (whatever Config.Kind says), Blob
// the image, Text the .txt content. The .txt file is read here (it is the text part), must be valid
// UTF-8, non-empty and at most MaxTextSize bytes (default 1 MiB), else the
// item fails naming the file; a leading UTF-8 byte-order mark is dropped.
// The .txt is not an item of its own. Two images with one stem (cat.jpg,
// cat.png) both take cat.txt.
//
// Sidecars: see Sidecar for the file names, precedence and schema.
//
// Annotations: see package annotations for the join rules. The source
// looks up annotations for images only (by extension, or all files when
// Config.Kind is image), never emits the annotation files configured
// (annotations.Index.Owns), and after the walk emits one failed item per
// annotation image that no walked file matched, naming the annotation file
// (unless Annotations.IgnoreUnmatched).
