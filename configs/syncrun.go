package configs

import (
	"context"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// DeleteReport says what a run asked to delete (sync.delete) did.
type DeleteReport struct {
	// Done is set when the run looked for the inputs that left the
	// sources and deleted them (Deleted of Departed; fewer when a call
	// failed, see the run's error).
	Done bool
	// Reason says why nothing was deleted when Done is false.
	Reason string
	// Departed is the number of the job's inputs whose items are gone from
	// the sources (counted when the run could look).
	Departed int64
	// Deleted is the number of them the server deleted in this run.
	Deleted int64
	// Cap is the most the run could delete (sync.max_delete of Held).
	Cap int64
	// Held is the number of inputs the checkpoint held when the run
	// started, the base of a percentage cap.
	Held int64
}

// DeleteCapError ends a run whose sources lost more of the job's inputs
// than sync.max_delete allows: nothing was deleted. The CLI exits with
// code 5; rerun with a higher cap once the sources are checked.
type DeleteCapError struct {
	// Departed is the number of inputs that left the sources.
	Departed int64
	// Cap is the limit in force, and MaxDelete the setting it came from
	// ("10", "5%").
	Cap       int64
	MaxDelete string
	// Held is the number of inputs the checkpoint held (the base of a
	// percentage).
	Held int64
}

func (e *DeleteCapError) Error() string {
	limit := fmt.Sprintf("%d", e.Cap)
	if e.MaxDelete != limit {
		limit = fmt.Sprintf("%d (%s of the %d inputs the checkpoint holds)", e.Cap, e.MaxDelete, e.Held)
	}
	return fmt.Sprintf("%d inputs of this job left the sources, more than the %s that sync.max_delete allows: "+
		"nothing was deleted. Check that the sources are complete, then rerun with --max-delete %d "+
		"(or sync.max_delete: %d in the job file) to delete them", e.Departed, limit, e.Departed, e.Departed)
}

// deleter deletes inputs on the server and calls done after each batch the
// server accepted (clarifai.DeleteInputs).
type deleter func(ctx context.Context, inputs []pipeline.Departed, done func([]pipeline.Departed) error) error

// whyNoDelete says why a run asked to delete cannot: the run must have read
// every source to its end, with no error and no stop, and its checkpoint
// must track inputs. "" means it can.
func whyNoDelete(cp pipeline.Checkpoint, runErr error, stopped, readAll bool) string {
	switch _, ok := cp.(pipeline.SyncCheckpoint); {
	case runErr != nil:
		return "the run stopped early (see its error)"
	case stopped:
		return "the run was stopped before it read every source"
	case !readAll:
		return "not every source was read to its end without error (a source or an item of a source failed): " +
			"an item not read is not an item gone; fix the sources and rerun"
	case cp == nil:
		return "the run kept no checkpoint (--no-checkpoint), so it knows no inputs to delete"
	case !ok:
		return "the checkpoint does not track which inputs the sources still hold"
	}
	return ""
}

// deleteDeparted deletes the job's inputs whose items no source sent in
// this run (sc.Unseen), at most cap.Limit(held) of them: more is a
// *DeleteCapError and nothing is deleted. Each deletion the server accepted
// is recorded (RecordDeleted) and counted (Counters.Deleted).
func deleteDeparted(ctx context.Context, sc pipeline.SyncCheckpoint, limit DeleteCap, held int64, del deleter,
	counters *pipeline.Counters, log *zap.Logger) (*DeleteReport, error) {
	rep := &DeleteReport{Held: held, Cap: limit.Limit(held)}
	// Count first, collect only what may be deleted: a source emptied by
	// mistake costs a count, not a list of every input.
	sc.Unseen(func(pipeline.Departed) bool { rep.Departed++; return true })
	if rep.Departed > rep.Cap {
		rep.Reason = fmt.Sprintf("%d inputs left the sources, over the cap of %d", rep.Departed, rep.Cap)
		return rep, &DeleteCapError{Departed: rep.Departed, Cap: rep.Cap, MaxDelete: limit.String(), Held: held}
	}
	rep.Done = true
	if rep.Departed == 0 {
		return rep, nil
	}
	gone := make([]pipeline.Departed, 0, rep.Departed)
	sc.Unseen(func(d pipeline.Departed) bool {
		gone = append(gone, d)
		return int64(len(gone)) < rep.Departed
	})
	log.Info("deleting the inputs whose items left the sources", zap.Int("inputs", len(gone)), zap.Int64("cap", rep.Cap))
	err := del(ctx, gone, func(batch []pipeline.Departed) error {
		for _, d := range batch {
			if err := sc.RecordDeleted(d); err != nil {
				return err
			}
			rep.Deleted++
			counters.Deleted.Add(1)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("delete the inputs that left the sources (%d of %d deleted; rerun to delete the rest): %w",
			rep.Deleted, len(gone), err)
	}
	return rep, nil
}

// existingInputs lists the IDs of the app's inputs (sync.adopt) with list
// (clarifai.ListInputIDs) and returns a set of them: sorted IDs, searched in
// O(log n), which costs about the IDs' bytes.
func existingInputs(ctx context.Context, c *client.Client,
	list func(ctx context.Context, c *client.Client, yield func(string) bool) error) (func(string) bool, int, error) {
	var ids []string
	if err := list(ctx, c, func(id string) bool { ids = append(ids, id); return true }); err != nil {
		return nil, 0, fmt.Errorf("list the app's inputs (sync.adopt): %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return func(id string) bool {
		_, found := slices.BinarySearch(ids, id)
		return found
	}, len(ids), nil
}

// heldInputs is the base of a percentage sync.max_delete: the inputs cp
// holds (accepted or done) before a run changes anything. A plan counts
// with the same base as the run it foretells.
func heldInputs(cp *checkpoint.Checkpoint) int64 {
	st := cp.Stats()
	return st.Accepted + st.Done
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
