package configs

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/transforms"
)

// DefaultMaxDelete is the default sync.max_delete: a run deletes at most 10
// inputs unless the job allows more.
const DefaultMaxDelete = "10"

// Sync is the job's `sync:` section: how a rerun brings the app in step
// with sources that changed since an earlier run. Without it a rerun adds
// new items and updates edited ones in place (labels, metadata, geo,
// datasets, regions), and never deletes anything.
//
// These settings decide what is done about differences, not what an item
// becomes, so they are not part of the Fingerprint: turning one on resumes
// the same checkpoint.
type Sync struct {
	// Delete deletes the inputs this job created whose items are gone from
	// the sources (flag --delete). Only after a run that read every source
	// to its end with no source error and no stop (a run that could not
	// says why it deleted nothing), and only up to MaxDelete. Per shard: a
	// shard deletes what its own checkpoint holds. Inputs the job adopted
	// from the server (Adopt) or that it never created are never deleted.
	Delete bool `yaml:"delete"`
	// MaxDelete caps the deletions of one run (flag --max-delete): a count
	// ("10") or a percentage ("5%") of the inputs the job's checkpoint held
	// when the run started (rounded down). More inputs gone than that ends
	// the run with an error that deletes nothing and says how to raise the
	// cap. Default 10.
	MaxDelete string `yaml:"max_delete"`
	// ReplaceContent allows an item whose content changed under a
	// user-given input ID that an earlier run used to replace that input:
	// it is deleted and posted again under the same ID (flag
	// --replace-content). Default false: such an item is a conflict,
	// reported failed at stage "sync" (exit code 4), as Clarifai cannot
	// change an input's content in place.
	ReplaceContent bool `yaml:"replace_content"`
	// Adopt lists the app's input IDs before the run (flag --adopt): a new
	// item whose ID is already on the server is compared with it instead
	// of posted, and counts as done (equal) or is updated in place. Use it
	// for an app loaded before this tool kept digests, or by another tool,
	// or with a lost checkpoint. Costs one StreamInputs call per page of
	// the app's inputs.
	Adopt bool `yaml:"adopt"`
}

// WithDefaults fills MaxDelete with its default.
func (s Sync) WithDefaults() Sync {
	if s.MaxDelete == "" {
		s.MaxDelete = DefaultMaxDelete
	}
	return s
}

// Validate checks the section; errors name the key.
func (s Sync) Validate() error {
	if _, err := ParseDeleteCap(s.MaxDelete); err != nil {
		return fmt.Errorf("sync.max_delete: %w", err)
	}
	return nil
}

// DeleteCap is a parsed sync.max_delete: a count, or a percentage of the
// inputs a job's checkpoint holds.
type DeleteCap struct {
	// Count is the cap when Percent is false.
	Count int64
	// Percent, when set, makes Percentage the cap, in percent (0 to 100).
	Percent    bool
	Percentage float64
}

// ParseDeleteCap parses "10" or "5%" ("" is the default, 10). A count must
// be a non-negative integer, a percentage a number from 0 to 100.
func ParseDeleteCap(s string) (DeleteCap, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		v = DefaultMaxDelete
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return DeleteCap{}, fmt.Errorf("%q: want a count like 10 or a percentage like 5%%", s)
		}
		if f < 0 || f > 100 {
			return DeleteCap{}, fmt.Errorf("%q: a percentage must be from 0%% to 100%%", s)
		}
		return DeleteCap{Percent: true, Percentage: f}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return DeleteCap{}, fmt.Errorf("%q: want a count like 10 or a percentage like 5%%", s)
	}
	if n < 0 {
		return DeleteCap{}, fmt.Errorf("%q: must not be negative", s)
	}
	return DeleteCap{Count: n}, nil
}

// Limit is the most inputs a run may delete when the checkpoint holds held
// inputs.
func (c DeleteCap) Limit(held int64) int64 {
	if !c.Percent {
		return c.Count
	}
	return int64(math.Floor(float64(max(held, 0)) * c.Percentage / 100))
}

// String renders the cap as the job file writes it.
func (c DeleteCap) String() string {
	if c.Percent {
		return strconv.FormatFloat(c.Percentage, 'f', -1, 64) + "%"
	}
	return strconv.FormatInt(c.Count, 10)
}

// DigestSalt is a 64-bit hash of the job's settings that change what an
// item becomes between its source and the server: the transforms list
// (with the annotations check the run adds when the list has none) and the
// concept_ids mode. The checkpoint mixes it into every digest but the
// content's, so that a rerun with other such settings updates every item
// it finished (checkpoint.Options.DigestSalt).
//
// It covers settings, not code: a func named by `custom:` (WithTransform,
// transforms.Register) or given with WithTransforms is covered by its name
// at most, so a change of what it does is not seen; rename it, or restart
// the job, to have every item sent again.
func (j *Job) DigestSalt() uint64 {
	specs := append(slices.Clip(j.Transforms), j.addedAnnotations()...)
	mode := j.ConceptIDs
	if mode == "" {
		mode = transforms.ConceptIDsDerive
	}
	b, _ := json.Marshal(struct {
		Transforms []transforms.Spec
		ConceptIDs string
	}{specs, mode})
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8])
}
