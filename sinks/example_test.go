package sinks_test

import (
	"fmt"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks"
)

// The owner goroutine adds items, sends every closed batch, and flushes the
// rest at the end. A second video closes the batch before it.
func ExampleBatcher() {
	b := sinks.NewBatcher(sinks.BatchPolicy{MaxItems: 3}, nil)
	send := func(batch []*pipeline.Item) {
		var ids []string
		for _, it := range batch {
			ids = append(ids, it.ID)
		}
		fmt.Println(ids)
	}
	for _, it := range []*pipeline.Item{
		{ID: "v1", Kind: pipeline.KindVideo, URL: "https://x/1.mp4"},
		{ID: "a", Kind: pipeline.KindImage, URL: "https://x/a.jpg"},
		{ID: "v2", Kind: pipeline.KindVideo, URL: "https://x/2.mp4"},
		{ID: "b", Kind: pipeline.KindImage, URL: "https://x/b.jpg"},
		{ID: "c", Kind: pipeline.KindImage, URL: "https://x/c.jpg"},
		{ID: "d", Kind: pipeline.KindImage, URL: "https://x/d.jpg"},
	} {
		if b.Add(it) {
			for b.Full() {
				send(b.Flush())
			}
		}
	}
	for b.Len() > 0 {
		send(b.Flush())
	}
	// Output:
	// [v1 a]
	// [v2 b c]
	// [d]
}
