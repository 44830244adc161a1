package dir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ingestkit/clarifai-ingest/pipeline/pipelinetest"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
)

// An ImageNet-style tree with split folders and a sidecar.
func ExampleNew() {
	root, err := os.MkdirTemp("", "dir-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	for name, content := range map[string]string{
		"train/cat/001.jpg":  "",
		"train/cat/001.json": `{"concepts": ["-dog"], "metadata": {"source": "shelter"}}`,
		"val/dog/002.jpg":    "",
		"tmp/scratch.jpg":    "",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}

	src, err := dir.New(dir.Config{
		Path:              root,
		Include:           []string{"**/*.jpg"},
		Exclude:           []string{"tmp/**"},
		LabelsFromFolders: true,
		SplitFromPath:     true,
		SplitDatasets:     map[string]string{"train": "pets-train", "val": "pets-val"},
	})
	if err != nil {
		panic(err)
	}
	items, err := pipelinetest.Collect(context.Background(), src)
	if err != nil {
		panic(err)
	}
	for _, it := range items {
		rel, _ := filepath.Rel(root, it.Prov.Path)
		fmt.Println(filepath.ToSlash(rel), it.Kind, it.Concepts, it.Metadata, it.DatasetIDs)
	}
	// Output:
	// train/cat/001.jpg unknown [{dog dog 0} {cat cat 1}] map[source:shelter split:train] [pets-train]
	// val/dog/002.jpg unknown [{dog dog 1}] map[split:validate] [pets-val]
}
