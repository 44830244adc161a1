package clarifai

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// This file holds what a sync run does besides the sink's stages: deleting
// the inputs whose items left the sources (DeleteInputs), and listing the
// inputs an app holds (ListInputIDs), for SinkConfig.Existing.

// MaxDeletesPerRequest is the most input IDs in one DeleteInputs call.
const MaxDeletesPerRequest = 128

// inputDeleter deletes inputs by ID, with the contract of the Client method
// of the same name.
type inputDeleter interface {
	DeleteInputs(ctx context.Context, req *pb.DeleteInputsRequest, opts ...client.CallOption) (*st.BaseResponse, error)
}

// DeleteInputs deletes the inputs of departed items, in calls of up to
// MaxDeletesPerRequest IDs, through c (its rate budget, retries and
// classification of failures), in the order given. After each call the
// server accepted it calls done with that call's inputs, so that the caller
// records them (SyncCheckpoint.RecordDeleted) before the next call; an
// error from done stops it and is returned.
//
// An ID the server does not hold counts as deleted: a call refused because
// an ID does not exist (INPUT_DOES_NOT_EXIST) is split in halves until each
// unknown ID is alone, and then counts as accepted. Deletion on Clarifai is
// asynchronous: an input may still be listed for a while after done. Any
// other failure of a call stops it and is returned, naming the call; the
// inputs of earlier calls stay deleted and recorded, so a rerun goes on.
func DeleteInputs(ctx context.Context, c *client.Client, inputs []pipeline.Departed, done func([]pipeline.Departed) error) error {
	if c == nil {
		return errors.New("clarifai: DeleteInputs needs a client")
	}
	return deleteDeparted(ctx, c, inputs, done)
}

// deleteDeparted is DeleteInputs on any inputDeleter.
func deleteDeparted(ctx context.Context, api inputDeleter, inputs []pipeline.Departed, done func([]pipeline.Departed) error) error {
	for chunk := range slices.Chunk(inputs, MaxDeletesPerRequest) {
		ids := make([]string, len(chunk))
		for i, d := range chunk {
			ids[i] = d.ID
		}
		if err := deleteIDs(ctx, api, ids); err != nil {
			return err
		}
		if done != nil {
			if err := done(chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIDs deletes ids (at most MaxDeletesPerRequest) in one call, or, when
// the server refuses it because an ID does not exist, in halves until every
// unknown ID is alone (and counts as deleted). It returns nil once every ID
// is deleted or unknown, and the call's error otherwise.
func deleteIDs(ctx context.Context, api inputDeleter, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := api.DeleteInputs(ctx, &pb.DeleteInputsRequest{Ids: ids})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.Code == st.StatusCode_INPUT_DOES_NOT_EXIST {
		if len(ids) == 1 {
			return nil // unknown: nothing to delete
		}
		h := len(ids) / 2
		if err := deleteIDs(ctx, api, ids[:h:h]); err != nil {
			return err
		}
		return deleteIDs(ctx, api, ids[h:])
	}
	return fmt.Errorf("delete inputs (%d IDs, first %s): %w", len(ids), ids[0], err)
}

// maxStreamPage is the page size ListInputIDs asks for: the most a list
// call may return.
const maxStreamPage = 1000

// inputStreamer pages an app's inputs, with the contract of the Client
// method of the same name.
type inputStreamer interface {
	StreamInputs(ctx context.Context, req *pb.StreamInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error)
}

// ListInputIDs calls yield with the ID of every input the app of c holds,
// in byte order, until yield returns false. It pages with StreamInputs by
// ID (1000 a call, each under c's rate budget and retries, decoding only
// IDs and statuses), so inputs added or deleted while it pages do not make
// it lose its place. It returns nil at the end of the inputs or when yield
// returns false, and the first failed call's error otherwise.
func ListInputIDs(ctx context.Context, c *client.Client, yield func(id string) bool) error {
	if c == nil {
		return errors.New("clarifai: ListInputIDs needs a client")
	}
	return listInputIDs(ctx, c, yield)
}

// listInputIDs is ListInputIDs on any inputStreamer.
func listInputIDs(ctx context.Context, api inputStreamer, yield func(id string) bool) error {
	last := ""
	for {
		resp, err := api.StreamInputs(ctx, &pb.StreamInputsRequest{PerPage: maxStreamPage, LastId: last, OrderById: true},
			client.InputStatuses())
		if err != nil {
			return fmt.Errorf("list the app's inputs (after %q): %w", last, err)
		}
		ins := resp.GetInputs()
		for _, in := range ins {
			if !yield(in.GetId()) {
				return nil
			}
		}
		if len(ins) < maxStreamPage {
			return nil
		}
		next := ins[len(ins)-1].GetId()
		if next <= last { // a server that does not move on: stop rather than loop
			return fmt.Errorf("list the app's inputs: the page after %q did not move past it", last)
		}
		last = next
	}
}
