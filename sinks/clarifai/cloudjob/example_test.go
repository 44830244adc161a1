package cloudjob_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// Example ingests a bucket prefix served by the emulator and waits for the
// job to end.
func Example() {
	dir, _ := os.MkdirTemp("", "bucket")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "notes"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "notes", "a.txt"), []byte("first note"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "notes", "b.txt"), []byte("second note"), 0o644)

	emu, err := emulator.Start("", emulator.Options{Buckets: map[string]string{"s3://my-bucket": dir}, ExtractionDelay: -1, ProcessingDelay: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emu.Close()
	api, err := client.New(client.Config{Connection: client.Connection{Base: "http://" + emu.Addr(), PAT: "any", UserID: "me", AppID: "app"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer api.Close()

	ctx := context.Background()
	spec := cloudjob.Spec{URLs: []string{"s3://my-bucket/notes/"}, Concepts: []string{"note"}}
	// With real buckets: spec.Credentials, err = cloudjob.CredentialSources{}.Resolve(spec.URLs...)
	job, err := cloudjob.Start(ctx, api, spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	job, err = cloudjob.Wait(ctx, api, job.ID, cloudjob.WaitOptions{MinInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(job.State(), job.Progress().Text, "texts,", job.Inputs.Succeeded, "inputs processed")
	// Output: completed 2 texts, 2 inputs processed
}
