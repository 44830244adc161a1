package configs_test

import (
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/configs"
)

// TestDecodeErrorsNameTheKey: a value of the wrong type names its key and
// what is expected, whatever decodes it (the YAML library or our own
// types), in block and flow style.
func TestDecodeErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"upload:\n  batch_size: many\n", `upload.batch_size: want an integer, got "many"`},
		{"upload: {concurrency: four}\n", `upload.concurrency: want an integer, got "four"`},
		{"upload:\n  max_request_bytes: lots\n", `upload.max_request_bytes: want a size like 64MiB, 20MB or 1048576, got "lots"`},
		{"upload:\n  max_elapsed: soon\n", `upload.max_elapsed: want a duration like 500ms, 2s or 10m, got "soon"`},
		{"upload:\n  rate_limit: fast\n", `upload.rate_limit: want a number, got "fast"`},
		{"upload:\n  verify: maybe\n", `upload.verify: want true or false, got "maybe"`},
		{"upload:\n  max_attempts: [1, 2]\n", `upload.max_attempts: want an integer, got a list`},
		{"embedded:\n  processing_delay: slow\n", `embedded.processing_delay: want a duration`},
		{"sources:\n  - dir: {path: d, pair_text: often}\n", `sources[0].dir.pair_text: want true or false, got "often"`},
		{"upload:\n  batchsize: 12\n", `upload.batchsize: unknown key`},
		{"clarifai:\n  pat: [x]\n", `clarifai.pat: want a string, got a list`},
		{"upload:\n  max_wait: 1s\n", `upload.max_wait: unknown key`},
		{"upload:\n  max_request_bytes: .nan\n", `upload.max_request_bytes: want a size`},
		{"upload:\n  max_request_bytes: 1e300\n", `upload.max_request_bytes: want a size`},
	} {
		_, err := configs.Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}
