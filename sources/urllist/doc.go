// Package urllist is the URL-list source: New streams a text file with one
// http(s) URL per line, optionally followed by labels, line by line.
//
// Design notes: DESIGN.md in this folder.
package urllist
