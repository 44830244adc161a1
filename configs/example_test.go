package configs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// A job built in Go, run against the embedded Clarifai emulator (started
// on 127.0.0.1 for the run; nothing leaves the machine), with a Go
// transform of your own. Run puts the media detector first and the
// annotations check last; your transforms run after the job's own.
func ExampleJob_Run() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	_ = os.MkdirAll(data, 0o755)
	_ = os.WriteFile(filepath.Join(data, "a.txt"), []byte("hello"), 0o644)
	_ = os.WriteFile(filepath.Join(data, "b.txt"), []byte("world"), 0o644)

	job := &configs.Job{
		Name:     "example",
		Target:   configs.TargetEmbedded,
		Embedded: configs.Embedded{StateDir: filepath.Join(tmp, "emulator")},
		State:    configs.State{Dir: filepath.Join(tmp, "state")},
	}
	src, _ := configs.Parse([]byte("sources: [{dir: {path: " + data + "}}]"))
	job.Sources = src.Sources

	tag := pipeline.Func("tag", func(_ context.Context, it *pipeline.Item) error {
		if it.Metadata == nil {
			it.Metadata = map[string]any{}
		}
		it.Metadata["origin"] = "example"
		return nil
	})
	rep, err := job.Run(context.Background(), configs.WithTransforms(tag))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("read %d, uploaded %d, failed %d; the emulator holds %d inputs\n",
		rep.Stats.Read, rep.Stats.Done, rep.Stats.Failed, rep.Emulator.Inputs)
	// Output: read 2, uploaded 2, failed 0; the emulator holds 2 inputs
}

// A rerun after the sources changed: Plan says what a run would change,
// changing nothing; Run then updates the edited item in place and, with
// Sync.Delete, deletes the input of the item that left.
func ExampleJob_Plan() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	manifest := filepath.Join(tmp, "labels.csv")
	_ = os.WriteFile(manifest, []byte("id,url,concepts\n"+
		"cat-1,https://example.com/cat.jpg,cat\n"+
		"dog-1,https://example.com/dog.jpg,dog\n"), 0o644)
	job := &configs.Job{
		Name:     "example",
		Target:   configs.TargetEmbedded,
		Embedded: configs.Embedded{StateDir: filepath.Join(tmp, "emulator")},
		State:    configs.State{Dir: filepath.Join(tmp, "state")},
	}
	src, _ := configs.Parse([]byte("sources: [{csv: {path: " + manifest + "}}]"))
	job.Sources = src.Sources
	ctx := context.Background()
	if _, err := job.Run(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// A label fixed, a row removed.
	_ = os.WriteFile(manifest, []byte("id,url,concepts\ncat-1,https://example.com/cat.jpg,lion\n"), 0o644)
	job.Sync.Delete = true
	plan, err := job.Plan(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("plan: add %d, update %d (concepts %d), delete %d\n",
		plan.Add, plan.Update, plan.UpdateFields["concepts"], plan.Delete.Inputs)
	rep, err := job.Run(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("run: updated %d, deleted %d; the emulator holds %d input\n",
		rep.Stats.Updated, rep.Stats.Deleted, rep.Emulator.Inputs)
	// Output:
	// plan: add 0, update 1 (concepts 1), delete 1
	// run: updated 1, deleted 1; the emulator holds 1 input
}

// A job file that names a custom transform (`custom: shout`): WithTransform
// gives the func for that name. The func runs where the job file lists it.
func ExampleWithTransform() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	_ = os.WriteFile(filepath.Join(tmp, "urls.txt"), []byte("https://example.com/a.jpg\nhttps://example.com/b.jpg\n"), 0o644)
	_ = os.WriteFile(filepath.Join(tmp, "job.yaml"), []byte(`
target: embedded
sources: [{urls: {path: urls.txt}}]   # relative to the job file
transforms:
  - custom: label
`), 0o644)

	job, err := configs.Load(filepath.Join(tmp, "job.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// State in the temporary folder (the defaults are under .ingest/).
	job.Embedded.StateDir, job.State.Dir = filepath.Join(tmp, "emulator"), filepath.Join(tmp, "state")
	var mu sync.Mutex // the func runs on several workers at once
	var labelled []string
	label := func(_ context.Context, it *pipeline.Item) error {
		it.Concepts = append(it.Concepts, pipeline.Concept{ID: "web", Value: 1})
		mu.Lock()
		defer mu.Unlock()
		labelled = append(labelled, it.URL[strings.LastIndex(it.URL, "/")+1:])
		return nil
	}
	rep, err := job.Run(context.Background(), configs.WithTransform("label", label))
	if err != nil {
		fmt.Println(err)
		return
	}
	slices.Sort(labelled)
	fmt.Println("labelled", labelled, "uploaded", rep.Stats.Done)
	// Output: labelled [a.jpg b.jpg] uploaded 2
}

// notes is a custom source: any pipeline.Source can feed a job.
type notes []string

func (n notes) Name() string { return "notes" }

func (n notes) Stream(ctx context.Context, out chan<- *pipeline.Item) error {
	for i, text := range n {
		it := &pipeline.Item{Kind: pipeline.KindText, Text: text,
			Prov: pipeline.Provenance{Source: "notes", Path: fmt.Sprintf("note %d", i+1)}}
		if err := pipeline.Send(ctx, out, it); err != nil {
			return err
		}
	}
	return nil
}

// A custom source beside (or instead of) the job's: WithSource.
func ExampleWithSource() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	job := &configs.Job{
		Target:   configs.TargetEmbedded,
		Embedded: configs.Embedded{StateDir: filepath.Join(tmp, "emulator")},
		State:    configs.State{Dir: filepath.Join(tmp, "state")},
	}
	rep, err := job.Run(context.Background(), configs.WithSource(notes{"first note", "second note", "third note"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("uploaded %d of %d\n", rep.Stats.Done, rep.Stats.Read)
	// Output: uploaded 3 of 3
}
