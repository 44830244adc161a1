// Package urllist is the URL-list source: New streams a text file with one
// http(s) URL per line, optionally followed by labels, line by line.
package urllist

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// # Format
//
//	# a comment: the whole line starts with '#'
//	https://example.com/cats/1.jpg
//	https://example.com/cats/2.jpg<TAB>cat<TAB>-dog
//	https://example.com/clips/a.mp4<TAB>running,outdoor:1;indoor:0
//
// Each line is trimmed. Blank lines and lines whose first non-space
// character is '#' are ignored. Only full-line comments exist: a '#' after
// the URL is part of it (a fragment), since URLs may contain '#'. After the
// URL, a tab starts optional labels in the syntax of manifest.ParseLabels
// (cat, -dog, dog:0, dog:1), separated by tabs, commas or semicolons. The
// file is UTF-8; a BOM at the start and CRLF line endings are tolerated.
//
// The kind comes from Config.Kind, or else from the extension of the URL's
// path, case-insensitively (media.KindFromExt): jpg jpeg png tif tiff bmp
// webp gif are images; mp4 mov avi wmv 3gp videos; wav mp3 flac ogg audio;
// txt csv tsv md text. A line whose kind cannot be told is skipped: its item
// carries an error wrapping pipeline.ErrSkip that names the line.
//
// A line that cannot be used (not an http or https URL, no host, spaces or
// control characters, bad labels, not UTF-8, longer than
// Config.MaxLineBytes) is sent as an item with Err set to a
// *pipeline.ItemError naming the file and line, and reading goes on.
