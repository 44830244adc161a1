package configs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ingestkit/clarifai-ingest/configs"
)

// TestKubernetesIndexedJob checks the manifest in configs/k8s: an Indexed
// Job whose completion index becomes the shard, the checkpoint on a
// persistent volume, and a job file that this tool accepts.
func TestKubernetesIndexedJob(t *testing.T) {
	b, err := os.ReadFile("k8s/indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		docs[doc["kind"].(string)] = doc
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	job := docs["Job"]
	if job == nil || docs["ConfigMap"] == nil || docs["PersistentVolumeClaim"] == nil {
		t.Fatalf("want a Job, a ConfigMap and a PersistentVolumeClaim, got %v", docs)
	}
	spec := get(job, "spec")
	if get(spec, "completionMode") != "Indexed" || get(spec, "completions") != get(spec, "parallelism") {
		t.Errorf("not an indexed job with one pod per shard: %v", spec)
	}
	n := get(spec, "completions").(int)
	container := get(spec, "template", "spec", "containers", 0)
	args := strings.Join(toStrings(get(container, "args").([]any)), " ")
	if !strings.Contains(args, "--shard=$(JOB_COMPLETION_INDEX)/"+itoa(n)) {
		t.Errorf("args %q do not map the completion index to a shard of %d", args, n)
	}
	var stateMounted bool
	for _, m := range get(container, "volumeMounts").([]any) {
		stateMounted = stateMounted || get(m, "name") == "state"
	}
	if !stateMounted || get(spec, "template", "spec", "restartPolicy") != "Never" {
		t.Error("the checkpoint is not on the persistent volume, or pods are not replaced on failure")
	}
	// The job file in the ConfigMap is valid for this tool, with a shard.
	j, err := configs.Parse([]byte(get(docs["ConfigMap"], "data", "job.yaml").(string)))
	if err != nil {
		t.Fatal(err)
	}
	j.Shard, j.Clarifai.PAT = "3/"+itoa(n), "from-the-secret"
	j.WithDefaults()
	if err := j.Validate(); err != nil {
		t.Errorf("the ConfigMap's job file: %v", err)
	}
}

func toStrings(v []any) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = s.(string)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
