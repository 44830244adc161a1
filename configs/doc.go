// Package configs is the job file, one YAML document that describes the
// sources, transforms, target, upload settings and state paths of a run,
// and Job.Run, the one call that runs a job (loaded from YAML or built in
// Go) with your own transforms and sources and returns its Report.
//
// A Job composes the configs of the packages that do the work, with the
// yaml keys those packages declare: the sources' Configs, the clarifai
// section (client.Connection), and the upload section, which inlines the
// sink's clarifai.Settings and the client's client.Tuning. Each setting
// has its default and its range where it is used; the job adds only its
// own (name, target, shard, state, log, dataset_ids, workers, and the
// embedded emulator's section).
//
// Settings come from four places; a later one overrides an earlier one:
//
//  1. defaults (documented on each field),
//  2. the YAML job file (--config),
//  3. environment variables (CLARIFAI_PAT, CLARIFAI_USER_ID,
//     CLARIFAI_APP_ID, CLARIFAI_API_BASE, and INGEST_* for the rest, see
//     ApplyEnv),
//  4. command-line flags.
//
// Unknown keys and bad values are errors that name the key, for example
// `upload.batch_size: 200: want 1 to 128` or
// `line 5: upload.concurrency: want an integer, got "four"`. Secrets (the PAT,
// cloud credentials) are masked by Masked and never enter the Fingerprint.
//
// The folder also holds commented example job files (examples/), the sample
// dataset the quickstart uploads (sample/) and a Kubernetes manifest (k8s/).
package configs
