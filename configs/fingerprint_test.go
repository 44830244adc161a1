package configs_test

import (
	"path/filepath"
	"testing"

	"github.com/ingestkit/clarifai-ingest/configs"
)

// fullJob sets every key a fingerprint reads, with values that differ from
// the defaults, so that a change in how any of them is encoded shows.
const fullJob = `
name: golden
target: clarifai
clarifai: {base: "https://api.example.test", user_id: u, app_id: a, pat: secret}
shard: "1/4"
sources:
  - dir:
      path: photos
      include: ["**/*.jpg"]
      exclude: ["tmp/**"]
      kind: image
      ignore_case: true
      follow_symlinks: true
      include_hidden: true
      sidecars: false
      labels_from_folders: true
      split_from_path: true
      split_datasets: {train: t, validate: v}
      pair_text: true
      annotations: {format: yolo, path: labels, classes: labels/classes.txt, polygons: true, input_concepts: true, ignore_unmatched: true}
      dataset_ids: [d1]
  - dir: {path: other, sidecars: true}
  - csv:
      path: m.csv
      format: sdk
      input_type: image
      csv_type: url
      default_kind: text
      metadata_columns: {c: k}
      split_datasets: {test: te}
      dataset_ids: [d2]
  - urls: {path: urls.txt, kind: video, dataset_ids: [d3]}
  - report: {path: failures.jsonl, include_skipped: true}
  - cloud:
      url: s3://bucket/prefix/
      concepts: [cat]
      dataset_ids: [d4]
      metadata: {origin: s3, n: 7}
      conflict: suffix
      credentials: {aws_region: r, aws_profile: p, aws_access_key_id: AKIA, aws_secret_access_key: s, aws_session_token: t, gcp_service_account_file: f.json, azure_account_name: n, azure_account_key: k}
transforms:
  - unicode: {mode: ascii, metadata_fields: [caption]}
  - metadata: {fields: [filename, size], static: {a: b}}
  - geo: {}
  - annotations: {on_invalid: drop}
  - custom: mine
upload:
  dataset_ids: [all]
  batch_size: 32
  concurrency: 2
`

// TestFingerprintGolden pins Job.Fingerprint: a checkpoint is tied to it,
// so any change to it makes every existing checkpoint refuse to resume.
// The values were computed before the job's settings moved to the
// packages that own them.
func TestFingerprintGolden(t *testing.T) {
	j, err := configs.Parse([]byte(fullJob))
	if err != nil {
		t.Fatal(err)
	}
	j.WithDefaults()
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: Fingerprint = %s, want %s", name, got, want)
		}
	}
	check("full job", j.Fingerprint(), "440cfdef2dd3220fbe1219dc08f22dda")
	j.Target = configs.TargetEmbedded
	check("full job, embedded", j.Fingerprint(), "b19aacf828d56e6acb5b288ce8fa9a56")

	// The sync section decides what a run does about differences, not what
	// an item becomes: a job that sets it resumes the same checkpoint.
	js, err := configs.Parse([]byte(fullJob + "sync: {delete: true, max_delete: 5%, replace_content: true, adopt: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	js.WithDefaults()
	check("full job with sync", js.Fingerprint(), "440cfdef2dd3220fbe1219dc08f22dda")

	for _, name := range []string{"quickstart.yaml", "examples/cloud.yaml", "examples/coco.yaml", "examples/csv-rich.yaml",
		"examples/csv-sdk.yaml", "examples/custom.yaml", "examples/dir.yaml", "examples/retry-failures.yaml", "examples/urls.yaml"} {
		j, err := configs.Load(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		check(name, j.Fingerprint(), goldenExamples[name])
	}
}

var goldenExamples = map[string]string{
	"quickstart.yaml":              "bddf024e63b403f985e3bcb62aef6ffb",
	"examples/cloud.yaml":          "a1d8d2bb6522d92b1d5e6ebcbb5c49ab",
	"examples/coco.yaml":           "9cbe480749b8c720c7bda6335effc6cd",
	"examples/csv-rich.yaml":       "a0acc325f769137d8fa2168508be73c0",
	"examples/csv-sdk.yaml":        "c9322c1e2be1ca1391cf4d57b98178bf",
	"examples/custom.yaml":         "c2231615f848767c54b23455b1a741dc",
	"examples/dir.yaml":            "583e7cf3e26e7f7eec6baa44678e7260",
	"examples/retry-failures.yaml": "b1213a938b664c9c0cb956ffc37f546e",
	"examples/urls.yaml":           "19bd456bc3b0dd75fcc7b83cd92471ac",
}
