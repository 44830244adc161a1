package configs

// Stand-ins for what other branches of the sync work add; this file is
// deleted when they are merged, and each call is replaced by the real one
// named in its comment.

import (
	"context"
	"errors"

	"github.com/ingestkit/clarifai-ingest/checkpoint"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// STUB until merge: o.ReplaceContent, o.DigestSalt, o.ReadOnly = replace, salt, readOnly
func setCheckpointSync(o *checkpoint.Options, replace bool, salt uint64, readOnly bool) {}

// STUB until merge: j.ReadAll = true
func setReadAll(j *pipeline.Job) {}

// STUB until merge: s.ReadAll
func statsReadAll(s pipeline.Stats) bool { return false }

// STUB until merge: cfg.Existing = existing
func setExisting(cfg *clarifai.SinkConfig, existing func(string) bool) {}

// STUB until merge: clarifai.DeleteInputs
func deleteInputs(ctx context.Context, c *client.Client, inputs []pipeline.Departed, done func([]pipeline.Departed) error) error {
	return errors.New("deleting inputs is not built yet")
}

// STUB until merge: clarifai.ListInputIDs
func listInputIDs(ctx context.Context, c *client.Client, yield func(string) bool) error {
	return errors.New("listing inputs is not built yet")
}
