package pipeline

import (
	"errors"
	"fmt"
)

// Event says what happened to an item. EventAccepted and EventAnnotated are
// intermediate: the checkpoint records them so that a rerun does not send the
// same bytes again. The others are final: every item read ends in exactly one.
type Event uint8

const (
	// EventAccepted: the server acknowledged the input (per-input SUCCESS,
	// INPUT_PENDING, or "already exists" for an ID this job sent).
	EventAccepted Event = iota + 1
	// EventAnnotated: the item's region annotations were accepted.
	EventAnnotated
	// EventDone (final): the item is on the server; processed, when the run
	// verifies processing.
	EventDone
	// EventSkipped (final): the item was dropped on purpose (unknown kind, a
	// transform's choice); Err says why.
	EventSkipped
	// EventFailed (final): the item could not be delivered; Err says why.
	EventFailed
	// EventResumed (final): an earlier run already finished the item, so this
	// run sent nothing for it.
	EventResumed
)

var eventNames = [...]string{"", "accepted", "annotated", "done", "skipped", "failed", "resumed"}

func (e Event) String() string {
	if int(e) < len(eventNames) && e != 0 {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// Final reports whether e ends the item's journey through the run.
func (e Event) Final() bool { return e >= EventDone }

// Result reports an event of one item. Results flow from the stages to the
// runner, which counts them, hands them to the checkpoint and the failure
// report, and never drops one.
type Result struct {
	Item  *Item
	Event Event
	// Stage names the stage that decided a skip or failure: "source",
	// "transform:<name>", "upload", "annotate", "verify".
	Stage string
	// Code is the Clarifai status code the server gave for the item, if any.
	Code int32
	// Err is why the item was skipped or failed; nil otherwise.
	Err error
	// Attempts is how many requests carried the item (1 when no retry).
	Attempts int
	// Bytes is the number of content bytes sent for the item.
	Bytes int64

	// mark, set only between the runner's own filter and result loop, is a
	// source's end mark instead of an item's result (see sourceMark).
	mark *sourceMark
}

// ErrSkip marks an item dropped on purpose. A transform returns an error
// wrapping it (see Skip) to drop an item; the item is counted as skipped,
// not failed.
var ErrSkip = errors.New("skipped")

// Skip returns an error wrapping ErrSkip with the reason, for example
// Skip("unknown file type").
func Skip(reason string) error { return &skipError{reason} }

type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }
func (e *skipError) Is(target error) bool {
	return target == ErrSkip
}

// ItemError is the error of one item: it names the item by its provenance,
// so messages read "manifest.csv row 12: column lat: want a number, got "x"".
type ItemError struct {
	Prov Provenance
	// Field, if set, is the manifest column, file field or attribute that is
	// wrong.
	Field string
	Err   error
}

// Errorf returns an ItemError for prov and field with a formatted message.
func Errorf(prov Provenance, field, format string, args ...any) *ItemError {
	return &ItemError{Prov: prov, Field: field, Err: fmt.Errorf(format, args...)}
}

func (e *ItemError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %v", e.Prov, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Prov, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }
