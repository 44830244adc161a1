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

	var errs []error
	integer := func(name, key string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): want an integer, got %q", name, key, v))
				return
			}
			*dst = n
		}
	}
	integer("INGEST_BATCH_SIZE", "upload.batch_size", &j.Upload.Batch.MaxItems)
	integer("INGEST_CONCURRENCY", "upload.concurrency", &j.Upload.Concurrency)
	boolean := func(name, key string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): want true or false, got %q", name, key, v))
				return
			}
			*dst = b
		}
	}
	boolean("INGEST_SYNC_DELETE", "sync.delete", &j.Sync.Delete)
	boolean("INGEST_SYNC_REPLACE_CONTENT", "sync.replace_content", &j.Sync.ReplaceContent)
	boolean("INGEST_SYNC_ADOPT", "sync.adopt", &j.Sync.Adopt)
	if v := getenv("INGEST_RATE_LIMIT"); v != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("INGEST_RATE_LIMIT (upload.rate_limit): want a number, got %q", v))
		} else {
			j.Upload.RateLimit = f // NaN and infinities are refused by Validate
		}
	}
	return errors.Join(errs...)
}
