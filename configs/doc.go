// Package configs is the job file: one YAML document that describes the
// sources, transforms, target, upload settings and state paths of a run.
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
// `upload.batch_size: 200 is over the API limit of 128`. Secrets (the PAT,
// cloud credentials) are masked by Masked and never enter the Fingerprint.
//
// The folder also holds commented example job files (examples/), the sample
// dataset the quickstart uploads (sample/) and a Kubernetes manifest (k8s/).
package configs
