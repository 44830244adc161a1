package digest_test

import (
	"fmt"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/digest"
)

// A label corrected from cat to lion changes the concepts only: a rerun
// would patch them and leave the rest of the input alone.
func ExampleOf() {
	it := &pipeline.Item{Kind: pipeline.KindImage, URL: "https://example.com/1.jpg",
		Concepts: []pipeline.Concept{pipeline.Positive("cat")}, DatasetIDs: []string{"train"}}
	before := digest.Of(it)

	it.Concepts = []pipeline.Concept{pipeline.Positive("lion")}
	fmt.Println(digest.Of(it).Diff(before))
	// Output: concepts
}
