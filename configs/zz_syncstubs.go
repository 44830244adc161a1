package configs

// Stand-ins for what another branch of the sync work adds; this file is
// deleted when it is merged, and each call is replaced by the real one
// named in its comment.

import "github.com/ingestkit/clarifai-ingest/checkpoint"

// STUB until merge: o.ReplaceContent, o.DigestSalt, o.ReadOnly = replace, salt, readOnly
func setCheckpointSync(o *checkpoint.Options, replace bool, salt uint64, readOnly bool) {}
