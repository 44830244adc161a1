package cli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testPAT  = "test-pat-0123456789"
	testUser = "tester"
	testApp  = "e2e"
)

// fixture is an emulator on 127.0.0.1 and the environment that points the
// CLI at it, as a user would with CLARIFAI_* variables.
type fixture struct {
	srv *emulator.Server
	env map[string]string
}

func newFixture(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	if opts.PATs == nil {
		opts.PATs = []string{testPAT}
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	if opts.ProcessingDelay == 0 {
		opts.ProcessingDelay = -1 // processed at once
	}
	srv, err := emulator.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &fixture{srv: srv, env: map[string]string{
		"CLARIFAI_API_BASE": "http://" + srv.Addr(),
		"CLARIFAI_PAT":      testPAT,
		"CLARIFAI_USER_ID":  testUser,
		"CLARIFAI_APP_ID":   testApp,
	}}
}

// result is what one CLI invocation produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// run runs the CLI with args and the fixture's environment (nil fixture:
// an empty environment).
func run(t *testing.T, f *fixture, reg *transforms.Registry, args ...string) result {
	t.Helper()
	env := map[string]string{}
	if f != nil {
		env = f.env
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // generous: only a hang fails
	defer cancel()
	opts := []cli.Option{cli.WithOutput(&out, &errb), cli.WithGetenv(func(k string) string { return env[k] })}
	if reg != nil {
		for _, name := range reg.Names() {
			f, _ := reg.Lookup(name)
			opts = append(opts, cli.WithTransform(name, f))
		}
	}
	code := cli.Run(ctx, args, opts...)
	return result{code, out.String(), errb.String()}
}

// copyFile copies src to dst, creating dst's folder.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// media is the folder of real sample files of every format.
const media = "../../../pipeline/media/testdata"
