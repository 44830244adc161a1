package pipeline

import (
	"errors"
	"strconv"
	"strings"
)

// Field is a group of an item's data that a rerun can change on its own,
// with its own kind of call: the content (never patched: Clarifai cannot
// change an input's bytes or URL), the input's concepts, metadata and geo
// point (PatchInputs), its datasets (dataset inputs) and its regions
// (annotations).
type Field uint8

// The field groups, in the order of Digests.
const (
	FieldContent Field = iota
	FieldConcepts
	FieldMetadata
	FieldGeo
	FieldDatasets
	FieldRegions

	// NumFields is the number of field groups.
	NumFields
)

var fieldNames = [NumFields]string{"content", "concepts", "metadata", "geo", "datasets", "regions"}

// String returns the group's name as reports and plans print it.
func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return "field(" + strconv.Itoa(int(f)) + ")"
}

// Fields is a set of field groups.
type Fields uint8

// Has reports whether f is in the set.
func (fs Fields) Has(f Field) bool { return fs&(1<<f) != 0 }

// With returns the set with f added.
func (fs Fields) With(f Field) Fields { return fs | 1<<f }

// Without returns the set with f taken out.
func (fs Fields) Without(f Field) Fields { return fs &^ (1 << f) }

// String lists the groups, comma-separated, in Field order: "concepts,geo".
func (fs Fields) String() string {
	var names []string
	for f := range NumFields {
		if fs.Has(f) {
			names = append(names, f.String())
		}
	}
	return strings.Join(names, ",")
}

// Digests are 64-bit sums of an item's field groups, indexed by Field (48
// bytes). pipeline/digest computes them; two items that would leave the
// same thing on the server have equal Digests.
type Digests [NumFields]uint64

// Diff returns the groups in which d and old differ.
func (d Digests) Diff(old Digests) Fields {
	var fs Fields
	for f := range NumFields {
		if d[f] != old[f] {
			fs = fs.With(f)
		}
	}
	return fs
}

// Action is what the sink does with an item, as the checkpoint decided by
// comparing it with what an earlier run left on the server (see Sync).
type Action uint8

const (
	// ActionAdd posts the item as a new input: nothing of it is known, or
	// its content changed and its ID is derived from the content (the
	// earlier input, Sync.PriorID, is then an input that left the source).
	ActionAdd Action = iota
	// ActionUpdate changes the groups in Sync.Changed of the input
	// Sync.PriorID (Item.ID is set to it) without sending its content:
	// concepts, metadata and geo by PatchInputs, datasets by dataset
	// inputs, regions by replacing the annotations this tool made.
	ActionUpdate
	// ActionReplace deletes the input Sync.PriorID, whose content changed
	// under a user-given ID, and posts the item again under the same ID.
	// Only when the job allows it (sync.replace_content); otherwise such
	// an item is a conflict (StateConflict).
	ActionReplace
)

var actionNames = [...]string{"add", "update", "replace"}

// String returns "add", "update" or "replace".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Sync is what a checkpoint that compares items (SyncCheckpoint) found for
// one item when it was looked up, before the transforms ran. The sink reads
// it to choose the calls; the checkpoint reads it again when it records the
// item, to store Digests. A nil Sync means the checkpoint does not compare
// (the item is handled as before: posted, or verified when Resumed).
type Sync struct {
	// Digests are those of the item as its source read it (before the
	// transforms, which are functions of it and of the job's settings),
	// recorded with its state so that the next run can compare.
	Digests Digests
	// Action is what the sink does (see Action).
	Action Action
	// PriorID is the input an earlier run left on the server for the item,
	// "" if none.
	PriorID string
	// Changed are the groups that differ from what PriorID was sent with;
	// 0 for an item with nothing known. For ActionUpdate, what to change.
	Changed Fields
	// PriorDatasets are the dataset IDs PriorID was put in, when Changed
	// has FieldDatasets (the sink adds the item's DatasetIDs missing from
	// them and removes those that left).
	PriorDatasets []string
	// VerifyContent is set by the checkpoint on an item with a user-given
	// ID and a Blob whose content group changed: it saw the file's size or
	// modification time change, not its bytes, which it never reads. The
	// item is a conflict (StateConflict; the runner hands it to the sink
	// all the same) or ActionReplace, as for any content change, unless
	// its bytes are those an earlier run sent under the ID: the sink,
	// which loads them, compares them with its record of what it sent,
	// and when they are the same (a file touched, or rewritten as it was)
	// updates the other groups of Changed in place (ActionUpdate). Other
	// bytes, or none recorded: the sink replaces the input
	// (ActionReplace) or fails the item with ContentConflict. The sink
	// clears the flag once it has compared.
	VerifyContent bool
	// EntryKey is the checkpoint's key of the item's entry, set by its
	// Lookup so that the item's records need not hash its key again.
	// Opaque to every other stage, which must leave it as it is.
	EntryKey [16]byte
	// Adopted is set by the sink when it found the item's input already on
	// the server, not sent by this run, and took it as the item's (a given
	// ID read back after a crash, or an input SinkConfig.Existing listed).
	// The checkpoint keeps the mark: such an input is never deleted when
	// its item leaves the sources, since this job may not have created it.
	// The sink may change it until it sends the item's final result (an
	// adopted input deleted and sent again is the job's own); readers look
	// at it with that result only.
	Adopted bool
}

// ErrContentChanged is wrapped by the failure of an item whose content
// changed under a user-given input ID that an earlier run already used:
// Clarifai cannot change an input's content, so the item is a conflict
// until the job allows replacing it (sync.replace_content) or the item gets
// a new ID. The runner reports it at stage "sync".
var ErrContentChanged = errors.New("content changed under an input ID an earlier run used")

// SyncCheckpoint is a Checkpoint that compares an item with what an earlier
// run left on the server for it, and tracks which of its inputs the sources
// still hold, so that a rerun updates what changed and may delete what left.
//
// Lookup of a SyncCheckpoint sets it.Sync on every item it can key, and
// may return StateUpdate or StateConflict besides the others. Every
// Lookup marks the entry it finds as seen.
type SyncCheckpoint interface {
	Checkpoint
	// Unseen calls yield with every input this job created (never one it
	// adopted from the server: see Sync.Adopted) that no item looked up in
	// this process matched, in no particular order, until yield returns false. Only
	// meaningful after every source was read to its end.
	Unseen(yield func(Departed) bool)
	// RecordDeleted records that the server accepted the deletion of d's
	// input: it is not yielded again and no longer counts as the job's.
	RecordDeleted(d Departed) error
}

// Departed is an input of the job whose item is gone from the sources, as
// SyncCheckpoint.Unseen yields it.
type Departed struct {
	// ID is the input ID on the server.
	ID string
	// Key identifies the entry to RecordDeleted; opaque.
	Key [16]byte
}
