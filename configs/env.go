package configs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// ApplyEnv overrides the job with environment variables, read through
// getenv (os.Getenv in the CLI). Set-but-empty variables are ignored. A
// malformed value is an error naming the variable.
//
//	CLARIFAI_PAT, CLARIFAI_USER_ID, CLARIFAI_APP_ID, CLARIFAI_API_BASE,
//	CLARIFAI_ROOT_CERTIFICATES_PATH        the clarifai section
//	INGEST_TARGET                          target
//	INGEST_SHARD                           shard ("i/n")
//	INGEST_STATE_DIR                       state.dir
//	INGEST_EMBEDDED_STATE_DIR              embedded.state_dir
//	INGEST_BATCH_SIZE, INGEST_CONCURRENCY,
//	INGEST_RATE_LIMIT                      upload.*
//	INGEST_LOG_LEVEL, INGEST_LOG_FORMAT    log.*
//	INGEST_SYNC_DELETE, INGEST_SYNC_MAX_DELETE,
//	INGEST_SYNC_REPLACE_CONTENT,
//	INGEST_SYNC_ADOPT                      sync.* (true/false; max_delete "10" or "5%")
func (j *Job) ApplyEnv(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv(client.EnvPAT); v != "" {
		j.Clarifai.PAT = client.Secret(v)
	}
	str(client.EnvUserID, &j.Clarifai.UserID)
	str(client.EnvAppID, &j.Clarifai.AppID)
	str(client.EnvBase, &j.Clarifai.Base)
	str(client.EnvRootCerts, &j.Clarifai.RootCertificatesPath)
	str("INGEST_TARGET", &j.Target)
	str("INGEST_SHARD", &j.Shard)
	str("INGEST_STATE_DIR", &j.State.Dir)
	str("INGEST_EMBEDDED_STATE_DIR", &j.Embedded.StateDir)
	str("INGEST_LOG_LEVEL", &j.Log.Level)
	str("INGEST_LOG_FORMAT", &j.Log.Format)
	str("INGEST_SYNC_MAX_DELETE", &j.Sync.MaxDelete)

	parseFloat := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	return errors.Join(
		envValue(getenv, "INGEST_BATCH_SIZE", "upload.batch_size", "an integer", strconv.Atoi, &j.Upload.Batch.MaxItems),
		envValue(getenv, "INGEST_CONCURRENCY", "upload.concurrency", "an integer", strconv.Atoi, &j.Upload.Concurrency),
		envValue(getenv, "INGEST_SYNC_DELETE", "sync.delete", "true or false", strconv.ParseBool, &j.Sync.Delete),
		envValue(getenv, "INGEST_SYNC_REPLACE_CONTENT", "sync.replace_content", "true or false", strconv.ParseBool, &j.Sync.ReplaceContent),
		envValue(getenv, "INGEST_SYNC_ADOPT", "sync.adopt", "true or false", strconv.ParseBool, &j.Sync.Adopt),
		// NaN and infinities are refused by Validate.
		envValue(getenv, "INGEST_RATE_LIMIT", "upload.rate_limit", "a number", parseFloat, &j.Upload.RateLimit),
	)
}

// envValue sets *dst to the variable name parsed (surrounding spaces
// trimmed) when it is set and not empty; a value parse refuses is an error
// naming the variable and the job file key it stands for, and leaves *dst.
func envValue[T any](getenv func(string) string, name, key, want string, parse func(string) (T, error), dst *T) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	x, err := parse(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%s (%s): want %s, got %q", name, key, want, v)
	}
	*dst = x
	return nil
}
