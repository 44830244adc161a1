// Package media identifies what a file is: its kind (image, video, audio,
// text) and MIME type from its first bytes, with the file name's extension as
// a hint (Detect, and Detector as the run's first transform), and an image's
// size from its header without decoding the pixels (ImageSize). It is the
// layer sources, transforms and the emulator share for media.
//
// Design notes: DESIGN.md in this folder.
package media
