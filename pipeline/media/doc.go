// Package media identifies what a file is: its kind (image, video, audio,
// text) and MIME type from its first bytes, with the file name's extension as
// a hint (Detect, and Detector as the run's first transform), and an image's
// size from its header without decoding the pixels (ImageSize). It is the
// layer sources, transforms and the emulator share for media.
package media

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// Detection follows the upload formats Clarifai documents: images JPEG, PNG,
// TIFF, BMP, WEBP and GIF; video MP4, MOV, AVI, WMV and 3GP; audio WAV, MP3,
// FLAC and OGG; text as plain text files.
