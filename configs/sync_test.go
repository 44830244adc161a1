package configs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

const syncBase = "target: embedded\nsources: [{urls: {path: u.txt}}]\n"

// TestSyncSettingsDecodeAndValidate: every key of the sync section, from
// the job file, with its default, and bad values named by their key.
func TestSyncSettingsDecodeAndValidate(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want Sync
		err  string // "" valid; else what the decode or validate error contains
	}{
		{"", Sync{MaxDelete: "10"}, ""},
		{"sync: {}\n", Sync{MaxDelete: "10"}, ""},
		{"sync: {delete: true}\n", Sync{Delete: true, MaxDelete: "10"}, ""},
		{"sync: {max_delete: 25}\n", Sync{MaxDelete: "25"}, ""},
		{"sync: {max_delete: 0}\n", Sync{MaxDelete: "0"}, ""},
		{"sync: {max_delete: \"5%\"}\n", Sync{MaxDelete: "5%"}, ""},
		{"sync: {max_delete: 100%}\n", Sync{MaxDelete: "100%"}, ""},
		{"sync: {max_delete: 0.5%}\n", Sync{MaxDelete: "0.5%"}, ""},
		{"sync: {replace_content: true}\n", Sync{ReplaceContent: true, MaxDelete: "10"}, ""},
		{"sync: {adopt: true}\n", Sync{Adopt: true, MaxDelete: "10"}, ""},
		{"sync:\n  delete: true\n  max_delete: 3\n  replace_content: true\n  adopt: true\n",
			Sync{Delete: true, MaxDelete: "3", ReplaceContent: true, Adopt: true}, ""},
		{"sync: {max_delete: -1}\n", Sync{}, `sync.max_delete: "-1": must not be negative`},
		{"sync: {max_delete: 101%}\n", Sync{}, `sync.max_delete: "101%": a percentage must be from 0% to 100%`},
		{"sync: {max_delete: -5%}\n", Sync{}, `sync.max_delete: "-5%": a percentage`},
		{"sync: {max_delete: NaN%}\n", Sync{}, `sync.max_delete: "NaN%": want a count like 10 or a percentage like 5%`},
		{"sync: {max_delete: .nan}\n", Sync{}, `sync.max_delete: ".nan": want a count`},
		{"sync: {max_delete: Inf%}\n", Sync{}, `sync.max_delete: "Inf%": want a count`},
		{"sync: {max_delete: lots}\n", Sync{}, `sync.max_delete: "lots": want a count`},
		{"sync: {max_delete: 1.5}\n", Sync{}, `sync.max_delete: "1.5": want a count`},
		{"sync: {max_delete: \"%\"}\n", Sync{}, `sync.max_delete: "%": want a count`},
		{"sync: {max_delete: [1]}\n", Sync{}, `sync.max_delete: want a string, got a list`},
		{"sync: {delete: maybe}\n", Sync{}, `sync.delete: want true or false, got "maybe"`},
		{"sync: {replace_content: 2}\n", Sync{}, `sync.replace_content: want true or false, got "2"`},
		{"sync: {adopt: often}\n", Sync{}, `sync.adopt: want true or false, got "often"`},
		{"sync: {maxdelete: 3}\n", Sync{}, `sync.maxdelete: unknown key`},
	} {
		j, err := Parse([]byte(syncBase + tc.doc))
		if err == nil {
			j.WithDefaults()
			err = j.ValidateOffline()
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.doc, err)
		case tc.err == "" && j.Sync != tc.want:
			t.Errorf("%q: sync = %+v, want %+v", tc.doc, j.Sync, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.err)
		}
	}
}

// TestSyncEnv: the INGEST_SYNC_* variables set the section; a bad boolean
// names the variable and the key.
func TestSyncEnv(t *testing.T) {
	j := &Job{}
	err := j.ApplyEnv(func(k string) string {
		return map[string]string{"INGEST_SYNC_DELETE": "true", "INGEST_SYNC_MAX_DELETE": "5%",
			"INGEST_SYNC_REPLACE_CONTENT": "1", "INGEST_SYNC_ADOPT": "false"}[k]
	})
	if err != nil || j.Sync != (Sync{Delete: true, MaxDelete: "5%", ReplaceContent: true}) {
		t.Errorf("ApplyEnv: %+v, %v", j.Sync, err)
	}
	err = (&Job{}).ApplyEnv(func(k string) string { return map[string]string{"INGEST_SYNC_DELETE": "yes please"}[k] })
	if err == nil || !strings.Contains(err.Error(), "INGEST_SYNC_DELETE (sync.delete): want true or false") {
		t.Errorf("bad INGEST_SYNC_DELETE: %v", err)
	}
}

func TestDeleteCapLimit(t *testing.T) {
	for _, tc := range []struct {
		s    string
		held int64
		want int64
	}{
		{"", 1000, 10}, {"10", 0, 10}, {"0", 50, 0}, {"5%", 100, 5}, {"5%", 10, 0}, {"5%", 39, 1},
		{"100%", 7, 7}, {"0%", 7, 0}, {"12.5%", 8, 1}, {" 3 ", 1, 3},
	} {
		c, err := ParseDeleteCap(tc.s)
		if err != nil {
			t.Fatalf("%q: %v", tc.s, err)
		}
		if got := c.Limit(tc.held); got != tc.want {
			t.Errorf("%q of %d = %d, want %d", tc.s, tc.held, got, tc.want)
		}
	}
}

// TestSyncSettingsLeaveTheFingerprint: the sync section changes nothing an
// item becomes, so it is not in the Fingerprint: a checkpoint resumes
// whatever it says.
func TestSyncSettingsLeaveTheFingerprint(t *testing.T) {
	for _, doc := range []string{"", "sync: {delete: true, max_delete: 5%, replace_content: true, adopt: true}\n"} {
		j, err := Parse([]byte(syncBase + doc))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		base, _ := Parse([]byte(syncBase))
		base.WithDefaults()
		if j.Fingerprint() != base.Fingerprint() || j.DigestSalt() != base.DigestSalt() {
			t.Errorf("%q: fingerprint %s / salt %x, want %s / %x as without sync", doc, j.Fingerprint(), j.DigestSalt(),
				base.Fingerprint(), base.DigestSalt())
		}
	}
}

// TestDigestSalt: the salt follows what changes an item between its
// source and the server (the transforms, concept_ids) and nothing else;
// its value is pinned, as the checkpoint's digests are salted with it.
func TestDigestSalt(t *testing.T) {
	salt := func(doc string) uint64 {
		t.Helper()
		j, err := Parse([]byte(syncBase + doc))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		return j.DigestSalt()
	}
	base := salt("")
	if base != 0x5f93e7c7a4863deb {
		t.Errorf("salt of a job with no transforms = %#x; it must not change", base)
	}
	for _, same := range []string{
		"concept_ids: derive\n",
		"transforms: [{annotations: {}}]\n", // the check a run adds anyway
		"upload: {batch_size: 5, concurrency: 2, rate_limit: 3}\n",
		"upload: {dataset_ids: [d]}\n", // the sources add them: in the item as read
		"name: other\nstate: {dir: elsewhere}\n",
	} {
		if got := salt(same); got != base {
			t.Errorf("%q changes the salt (%#x, want %#x)", same, got, base)
		}
	}
	seen := map[uint64]string{base: ""}
	for _, other := range []string{
		"concept_ids: verbatim\n",
		"transforms: [{annotations: {on_invalid: drop}}]\n",
		"transforms: [{geo: {}}]\n",
		"transforms: [{metadata: {static: {a: b}}}]\n",
		"transforms: [{metadata: {static: {a: c}}}]\n",
		"transforms: [{custom: mine}]\n",
	} {
		s := salt(other)
		if prev, dup := seen[s]; dup {
			t.Errorf("%q and %q have the same salt %#x", other, prev, s)
		}
		seen[s] = other
	}
}

// fakeSync is a SyncCheckpoint whose Unseen yields gone and whose
// RecordDeleted records.
type fakeSync struct {
	gone    []pipeline.Departed
	deleted []string
	failAt  int // RecordDeleted fails for the failAt-th call (1-based); 0 never
}

func (f *fakeSync) Lookup(*pipeline.Item) pipeline.ResumeState { return pipeline.StateNew }
func (f *fakeSync) Record(pipeline.Result) error               { return nil }
func (f *fakeSync) Unseen(yield func(pipeline.Departed) bool) {
	for _, d := range f.gone {
		if !yield(d) {
			return
		}
	}
}
func (f *fakeSync) RecordDeleted(d pipeline.Departed) error {
	if f.failAt > 0 && len(f.deleted)+1 == f.failAt {
		return errors.New("disk full")
	}
	f.deleted = append(f.deleted, d.ID)
	return nil
}

func departed(ids ...string) []pipeline.Departed {
	out := make([]pipeline.Departed, len(ids))
	for i, id := range ids {
		out[i] = pipeline.Departed{ID: id, Key: [16]byte{byte(i)}}
	}
	return out
}

// TestDeleteDeparted: under the cap every departed input is deleted in the
// deleter's batches and recorded; over it nothing is, and the error names
// the count, the cap and how to raise it.
func TestDeleteDeparted(t *testing.T) {
	batches := func(size int, fail error) (deleter, *int) {
		calls := 0
		return func(ctx context.Context, in []pipeline.Departed, done func([]pipeline.Departed) error) error {
			for i := 0; i < len(in); i += size {
				calls++
				if fail != nil && calls == 2 {
					return fail
				}
				if err := done(in[i:min(i+size, len(in))]); err != nil {
					return err
				}
			}
			return nil
		}, &calls
	}
	t.Run("under the cap", func(t *testing.T) {
		sc := &fakeSync{gone: departed("a", "b", "c")}
		del, calls := batches(2, nil)
		c := pipeline.NewCounters()
		rep, err := deleteDeparted(context.Background(), sc, DeleteCap{Count: 3}, 40, del, c, zap.NewNop())
		if err != nil || !rep.Done || rep.Deleted != 3 || rep.Departed != 3 || c.Deleted.Load() != 3 || *calls != 2 {
			t.Errorf("rep %+v, err %v, counted %d, calls %d", rep, err, c.Deleted.Load(), *calls)
		}
		if strings.Join(sc.deleted, ",") != "a,b,c" {
			t.Errorf("recorded %v", sc.deleted)
		}
	})
	t.Run("over the cap", func(t *testing.T) {
		sc := &fakeSync{gone: departed("a", "b", "c")}
		del, calls := batches(2, nil)
		cap, _ := ParseDeleteCap("5%")
		rep, err := deleteDeparted(context.Background(), sc, cap, 40, del, pipeline.NewCounters(), zap.NewNop())
		var ce *DeleteCapError
		if !errors.As(err, &ce) || ce.Departed != 3 || ce.Cap != 2 || *calls != 0 || len(sc.deleted) != 0 || rep.Done {
			t.Fatalf("rep %+v, err %v, calls %d, deleted %v", rep, err, *calls, sc.deleted)
		}
		for _, w := range []string{"3 inputs", "2 (5% of the 40 inputs", "nothing was deleted", "--max-delete 3", "sync.max_delete: 3"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	})
	t.Run("nothing left", func(t *testing.T) {
		del, calls := batches(2, nil)
		rep, err := deleteDeparted(context.Background(), &fakeSync{}, DeleteCap{}, 0, del, pipeline.NewCounters(), zap.NewNop())
		if err != nil || !rep.Done || *calls != 0 {
			t.Errorf("rep %+v, err %v, calls %d", rep, err, *calls)
		}
	})
	t.Run("a call fails", func(t *testing.T) {
		sc := &fakeSync{gone: departed("a", "b", "c")}
		del, _ := batches(2, errors.New("unavailable"))
		rep, err := deleteDeparted(context.Background(), sc, DeleteCap{Count: 10}, 0, del, pipeline.NewCounters(), zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "2 of 3 deleted") || rep.Deleted != 2 {
			t.Errorf("rep %+v, err %v", rep, err)
		}
	})
	t.Run("recording fails", func(t *testing.T) {
		sc := &fakeSync{gone: departed("a", "b"), failAt: 2}
		del, _ := batches(2, nil)
		rep, err := deleteDeparted(context.Background(), sc, DeleteCap{Count: 10}, 0, del, pipeline.NewCounters(), zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "disk full") || rep.Deleted != 1 {
			t.Errorf("rep %+v, err %v", rep, err)
		}
	})
}

func TestWhyNoDelete(t *testing.T) {
	sc := &fakeSync{}
	for _, tc := range []struct {
		cp      pipeline.Checkpoint
		runErr  error
		stopped bool
		readAll bool
		want    string
	}{
		{sc, nil, false, true, ""},
		{sc, errors.New("x"), false, true, "stopped early"},
		{sc, nil, true, true, "stopped before"},
		{sc, nil, false, false, "not every source was read"},
		{nil, nil, false, true, "no checkpoint"},
		{nonSync{}, nil, false, true, "does not track"},
		{readOnlyCheckpoint{sc}, nil, false, true, ""},
	} {
		got := whyNoDelete(tc.cp, tc.runErr, tc.stopped, tc.readAll)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%T %v %v %v: %q, want %q", tc.cp, tc.runErr, tc.stopped, tc.readAll, got, tc.want)
		}
	}
}

type nonSync struct{}

func (nonSync) Lookup(*pipeline.Item) pipeline.ResumeState { return pipeline.StateNew }
func (nonSync) Record(pipeline.Result) error               { return nil }

func TestExistingInputs(t *testing.T) {
	has, n, err := existingInputs(context.Background(), nil, func(_ context.Context, _ *client.Client, yield func(string) bool) error {
		for _, id := range []string{"b", "a", "c", "a"} {
			if !yield(id) {
				return nil
			}
		}
		return nil
	})
	if err != nil || n != 3 || !has("a") || !has("c") || has("d") || has("") {
		t.Errorf("n %d, err %v", n, err)
	}
}
