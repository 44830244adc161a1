package manifest_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
)

// An SDK-format manifest, read with the input type and CSV type the SDK's
// upload_from_csv would be given.
func ExampleNew() {
	src, err := manifest.New(manifest.Config{
		Path:      filepath.Join("testdata", "sdk_text_raw.csv"),
		InputType: pipeline.KindText,
		CSVType:   manifest.CSVRaw,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	items, err := pipelinetest.Collect(context.Background(), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range items {
		fmt.Println(it.Prov.Row, it.ID, len(it.Concepts), it.Metadata["source"])
	}
	// Output:
	// 2 review1 1 yelp
	// 3 review2 1 yelp
	// 4 review3 0 survey
	// 5 review4 2 <nil>
}

// A rich-schema manifest with a local file, a multimodal row and a text row.
func ExampleNew_rich() {
	src, err := manifest.New(manifest.Config{
		Path:          filepath.Join("testdata", "rich.csv"),
		SplitDatasets: map[string]string{"train": "pets-train"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	items, err := pipelinetest.Collect(context.Background(), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range items {
		fmt.Println(it.Prov.Row, it.Kind, it.Concepts, it.DatasetIDs, len(it.Regions), it.Err)
	}
	// Output:
	// 2 image [{cat cat 1} {dog dog 0}] [pets-train] 1 <nil>
	// 3 multimodal [{night night 1}] [] 0 <nil>
	// 4 text [{positive positive 1}] [reviews] 0 <nil>
}

func ExampleParseLabels() {
	concepts, err := manifest.ParseLabels("cat; -dog, bird:0, fox:1")
	fmt.Println(concepts, err)
	// Output: [{cat cat 1} {dog dog 0} {bird bird 0} {fox fox 1}] <nil>
}

func ExampleParseMetadata() {
	m, err := manifest.ParseMetadata(`{'name': "O'Brien", 'age': 42, 'vip': True}`)
	fmt.Println(m, err)
	// Output: map[age:42 name:O'Brien vip:true] <nil>
}
