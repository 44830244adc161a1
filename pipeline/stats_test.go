package pipeline

import "testing"

// TestCountersSyncOutcomes: how a final result counts, by what the sink
// did with the item.
func TestCountersSyncOutcomes(t *testing.T) {
	done := func(sy *Sync) Result { return Result{Item: &Item{Sync: sy}, Event: EventDone} }
	for _, tc := range []struct {
		name string
		res  Result
		want Stats
	}{
		{"posted", done(nil), Stats{Done: 1}},
		{"posted with sync", done(&Sync{}), Stats{Done: 1}},
		{"adopted as it is", done(&Sync{Adopted: true}), Stats{Adopted: 1}},
		{"adopted and updated", done(&Sync{Adopted: true, Action: ActionUpdate, Changed: Fields(0).With(FieldConcepts)}), Stats{Updated: 1}},
		{"updated", done(&Sync{Action: ActionUpdate, Changed: Fields(0).With(FieldMetadata)}), Stats{Updated: 1}},
		{"touched, nothing to change", done(&Sync{Action: ActionUpdate}), Stats{Resumed: 1}},
		{"replaced", done(&Sync{Action: ActionReplace}), Stats{Done: 1, Replaced: 1}},
		{"conflict", Result{Item: &Item{}, Event: EventFailed, Err: ErrContentChanged}, Stats{Failed: 1, Conflicts: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Counters{}
			c.count(tc.res)
			if got := c.Snapshot(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
