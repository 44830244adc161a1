package clarifai

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client/clienttest"
)

// TestBuilderLoadIsReadAll: a wire builder loads what Blob.ReadAll gives,
// bytes and errors, and its buffers can be used again after release.
func TestBuilderLoadIsReadAll(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(n)}, n), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big, empty := file("big", 70_000), file("empty", 0)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		blob  *pipeline.Blob
		limit int64
	}{
		{"file", context.Background(), pipeline.FileBlob(big, 70_000), 0},
		{"empty file", context.Background(), pipeline.FileBlob(empty, 0), 0},
		{"bytes", context.Background(), pipeline.BytesBlob([]byte("hello")), 10},
		{"grew", context.Background(), pipeline.FileBlob(big, 69_999), 0},
		{"shrank", context.Background(), pipeline.FileBlob(big, 70_001), 0},
		{"over the limit", context.Background(), pipeline.FileBlob(big, 70_000), 1000},
		{"missing", context.Background(), pipeline.FileBlob(filepath.Join(dir, "none"), 3), 0},
		{"failing reader", context.Background(), &pipeline.Blob{Size: 4, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader([]byte("ab")), iotestErr{})), nil
		}}, 0},
		{"canceled", canceled, pipeline.BytesBlob([]byte("x")), 0},
	} {
		for range 2 { // the second time with a buffer released by the first
			want, wantErr := tc.blob.ReadAll(tc.ctx, tc.limit)
			bd := &builder{wire: true}
			got, err := bd.load(tc.ctx, tc.blob, tc.limit)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; ReadAll gives %d bytes, %v", tc.name, len(got), err, len(want), wantErr)
			}
			if (err == nil) != (len(bd.bufs) == 1) {
				t.Errorf("%s: %d buffers held after %v", tc.name, len(bd.bufs), err)
			}
			bd.release()
		}
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

// TestSinkRecyclesContent: with a *Client, the content buffers of a batch
// are used again by the next ones, and every input still reaches the
// server with its own bytes.
func TestSinkRecyclesContent(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{}
	f := clienttest.Start(t, func(method string, _ int, req proto.Message) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		resp := &pb.MultiInputResponse{Status: &st.Status{Code: st.StatusCode_SUCCESS}}
		for _, in := range req.(*pb.PostInputsRequest).GetInputs() {
			got[in.Id] = in.GetData().GetImage().GetBase64()
			resp.Inputs = append(resp.Inputs, &pb.Input{Id: in.Id, Status: &st.Status{Code: st.StatusCode_INPUT_PENDING}})
		}
		return resp, nil
	})
	c := testClient(t, f, nil)
	s := newTestSink(t, c, SinkConfig{Settings: Settings{Concurrency: 2, Batch: sinks.BatchPolicy{MaxItems: 3}}})
	var items []*pipeline.Item
	want := map[string][]byte{}
	for i := range 20 {
		content := bytes.Repeat([]byte{byte(i)}, 1000+i%2) // two sizes: buffers of both kinds are reused
		id := fmt.Sprintf("img-%d", i)
		want[id] = content
		items = append(items, &pipeline.Item{ID: id, Kind: pipeline.KindImage, Blob: pipeline.BytesBlob(content)})
	}
	out, err := runSink(t, t.Context(), s, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if r := out[it].final; r.Event != pipeline.EventDone {
			t.Errorf("%s: %v %v", it.ID, r.Event, r.Err)
		}
		if !bytes.Equal(got[it.ID], want[it.ID]) {
			t.Errorf("%s: the server got other bytes (%d, want %d)", it.ID, len(got[it.ID]), len(want[it.ID]))
		}
	}
}
