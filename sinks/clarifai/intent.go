package clarifai

import (
	"context"
	"fmt"

	"github.com/cespare/xxhash/v2"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
)

// IntentLog records, durably, which content bytes a job sends under each
// user-given ID, before the request that carries them goes out. The API
// never returns uploaded bytes, so after a crash this is how the sink tells
// its own earlier upload (adopted) from other content under the same ID
// (failed): see adoptGiven.
//
// Only items with a user-given ID and content sent as bytes (local files)
// are recorded; derived IDs hash the content already, and URLs and text
// are compared with what the server returns.
type IntentLog interface {
	// Intend records sums[i] as the content digest of input ids[i]. It
	// returns once the records are durable; an error ends the run.
	Intend(ctx context.Context, ids []string, sums []uint64) error
	// Intended returns the digest recorded for id: the first one, as
	// Intend keeps an ID's first record.
	Intended(id string) (sum uint64, ok bool)
}

// contentChanged is the difference adoptGiven names when an earlier run
// recorded other bytes under the ID.
const contentChanged = "content: an earlier run of this job sent other bytes under this ID (file changed since)"

// intentBytes returns the content bytes of in, or nil if it carries none
// (URL or text content).
func intentBytes(in *pb.Input) []byte {
	d := in.GetData()
	switch {
	case len(d.GetImage().GetBase64()) > 0:
		return d.GetImage().GetBase64()
	case len(d.GetVideo().GetBase64()) > 0:
		return d.GetVideo().GetBase64()
	case len(d.GetAudio().GetBase64()) > 0:
		return d.GetAudio().GetBase64()
	}
	return nil
}

// intend sums the content of each pending input that has a user-given ID
// and bytes, notes what an earlier run recorded for it, and records the new
// intents in one call before the batch is sent. An ID that already has a
// recorded digest keeps it: if it differs, this run's bytes may not be what
// the server holds, and a duplicate-ID answer then fails the item (an ID
// whose earlier bytes never reached the server fails that way only after a
// later crash, the safe side). Derived-ID items cost nothing here.
func (u *uploader) intend(ctx context.Context, pending []*entry) error {
	var ids []string
	var sums []uint64
	for _, e := range pending {
		if e.derived {
			continue
		}
		b := intentBytes(e.in)
		if b == nil {
			continue
		}
		e.sum = xxhash.Sum64(b)
		e.prior, e.hasPrior = u.cfg.Intents.Intended(e.in.Id)
		if e.hasPrior {
			continue
		}
		ids = append(ids, e.in.Id)
		sums = append(sums, e.sum)
	}
	if len(ids) == 0 {
		return nil
	}
	if err := u.cfg.Intents.Intend(ctx, ids, sums); err != nil {
		return fmt.Errorf("record upload intents: %w", err)
	}
	return nil
}
