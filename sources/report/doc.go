// Package report writes the machine-readable failure report of a run, and
// reads it back as a pipeline.Source that retries just the items in it:
// NewWriter writes it (JSON Lines, one Record per failed or skipped item),
// NewSource reads it.
package report

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// # Format
//
// The report is JSON Lines: one Record object per failed (or skipped) item,
// in the order the results arrived. Example (wrapped here):
//
//	{"time":"2026-11-29T10:04:05.123Z","event":"failed","stage":"upload","code":30104,
//	 "message":"manifest.csv row 12 (img/cat.jpg): invalid argument","attempts":3,
//	 "input_id":"0123456789abcdef0123456789abcdef",
//	 "provenance":{"source":"manifest.csv","path":"img/cat.jpg","row":12},
//	 "retryable":true,
//	 "item":{"kind":"image","file":"/data/img/cat.jpg","concepts":[{"id":"cat","name":"cat","value":1}],
//	         "dataset_ids":["train"],"key":"file:/data/img/cat.jpg|5120|1732870000000000000|ds=train"}}
//
// A record with "retryable": false cannot be rebuilt from the report; its
// "note" says why and what to do: the source could not read the record (fix
// the data and rerun the original job), or the content was an archive member
// or in memory (rerun the original job). The report holds what the item
// holds and nothing else: no credentials or configuration.
