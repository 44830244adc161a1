package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/configs"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseRejectsUnknownKeysNamingThem(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"tartget: embedded\n", "tartget"},
		{"upload:\n  batchsize: 12\n", "batchsize"},
		{"sources:\n  - dir: {path: x, labels: true}\n", "labels"},
		{"transforms:\n  - unicod: {}\n", "unicod"},
		{"upload:\n  max_elapsed: forever\n", "duration"},
		{"upload:\n  max_request_bytes: lots\n", "size"},
	} {
		_, err := configs.Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to name %q", tc.doc, err, tc.want)
		}
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{"target: embedded\n", []string{"sources: at least one"}},
		{"target: mars\nsources: [{dir: {path: d}}]\n", []string{`target: "mars"`}},
		{"target: embedded\nsources: [{dir: {path: d}}]\nupload: {batch_size: 200}\n", []string{"upload.batch_size: 200"}},
		{"target: embedded\nsources: [{dir: {path: d}}]\nupload: {max_request_bytes: 200MB}\n", []string{"upload.max_request_bytes"}},
		{"target: embedded\nsources: [{dir: {path: d}, csv: {path: m.csv}}]\n", []string{"sources[0]: source sets dir and csv: set exactly one per list entry"}},
		{"target: embedded\nsources: [{}]\n", []string{"sources[0]: empty source"}},
		{"target: embedded\nsources: [{csv: {format: xml, path: m}}]\n", []string{`sources[0]: csv: format "xml"`}},
		{"target: embedded\nsources: [{urls: {}}]\n", []string{"sources[0]: urls: path is required"}},
		{"target: embedded\nsources: [{dir: {path: d}}]\nlog: {level: loud}\n", []string{"log.level"}},
		{"clarifai: {base: \"http://192.0.2.1:8080\", pat: p, user_id: u, app_id: a}\nsources: [{dir: {path: d}}]\n",
			[]string{"clarifai.base", "clear text", "--insecure", "insecure: true"}},
		{"clarifai: {base: \"grpc://x\", pat: p, user_id: u, app_id: a}\nsources: [{dir: {path: d}}]\n", []string{"clarifai.base", "unknown scheme"}},
		{"sources: [{dir: {path: d}}]\n", []string{"clarifai.pat", "CLARIFAI_PAT", "--target embedded", "clarifai.user_id", "clarifai.app_id"}},
	} {
		j, err := configs.Parse([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%q: %v", tc.doc, err)
		}
		j.WithDefaults()
		err = j.Validate()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q: err = %v, want %q", tc.doc, err, w)
			}
		}
	}
}

func TestInsecureAllowsPlaintextOffLoopback(t *testing.T) {
	for _, doc := range []string{
		"clarifai: {base: \"http://192.0.2.1:8080\", insecure: true, pat: p, user_id: u, app_id: a}\nsources: [{dir: {path: d}}]\n",
		"clarifai: {base: \"http://127.0.0.1:8080\", pat: p, user_id: u, app_id: a}\nsources: [{dir: {path: d}}]\n",
	} {
		j, err := configs.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		if err := j.Validate(); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestPrecedenceDefaultsFileEnv(t *testing.T) {
	j, err := configs.Parse([]byte(`
target: embedded
clarifai: {user_id: file-user, app_id: file-app}
upload: {concurrency: 8, batch_size: 64}
sources: [{dir: {path: d}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.ApplyEnv(env(map[string]string{"CLARIFAI_USER_ID": "env-user", "INGEST_CONCURRENCY": "2", "CLARIFAI_PAT": "s3cret"})); err != nil {
		t.Fatal(err)
	}
	j.WithDefaults()
	if j.Clarifai.UserID != "env-user" || j.Clarifai.AppID != "file-app" {
		t.Errorf("user/app = %s/%s: env must override the file, the file the default", j.Clarifai.UserID, j.Clarifai.AppID)
	}
	if j.Upload.Concurrency != 2 || j.Upload.Batch.MaxItems != 64 || j.Upload.RateLimit != 15 {
		t.Errorf("upload = %+v", j.Upload)
	}
	if time.Duration(j.Upload.MaxElapsed) != 10*time.Minute || !*j.Upload.Verify {
		t.Errorf("defaults not applied: %+v", j.Upload)
	}
	if err := j.Validate(); err != nil {
		t.Errorf("valid job: %v", err)
	}
	if err := j.ApplyEnv(env(map[string]string{"INGEST_RATE_LIMIT": "fast"})); err == nil || !strings.Contains(err.Error(), "INGEST_RATE_LIMIT") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestMaskedHidesEverySecret(t *testing.T) {
	j, err := configs.Parse([]byte(`
clarifai: {pat: pat-SECRET-1}
sources:
  - cloud:
      url: s3://b/p
      credentials: {aws_access_key_id: AKIA-SECRET-2, aws_secret_access_key: SECRET-3, aws_session_token: SECRET-4, azure_account_key: SECRET-5}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Masked().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("masked YAML leaks a secret:\n%s", b)
	}
	if !strings.Contains(string(b), "s3://b/p") || !strings.Contains(string(b), "****") {
		t.Errorf("masked YAML lost non-secrets:\n%s", b)
	}
	if j.Clarifai.PAT != "pat-SECRET-1" {
		t.Error("Masked modified the original")
	}
}

func TestFingerprint(t *testing.T) {
	base := func() *configs.Job {
		j, err := configs.Parse([]byte("target: embedded\nsources: [{dir: {path: d}}]\ntransforms: [{unicode: {mode: ascii}}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		return j
	}
	fp := base().Fingerprint()
	tuned := base()
	tuned.Upload.Concurrency, tuned.Upload.RateLimit, tuned.Clarifai.PAT = 16, 3, "other"
	if tuned.Fingerprint() != fp {
		t.Error("tuning or the PAT changed the fingerprint")
	}
	for name, change := range map[string]func(j *configs.Job){
		"source":    func(j *configs.Job) { j.Sources[0].Dir.Path = "e" },
		"transform": func(j *configs.Job) { j.Transforms = nil },
		"datasets":  func(j *configs.Job) { j.Upload.DatasetIDs = []string{"x"} },
		"app":       func(j *configs.Job) { j.Clarifai.AppID = "other" },
	} {
		j := base()
		change(j)
		if j.Fingerprint() == fp {
			t.Errorf("changing the %s kept the fingerprint", name)
		}
	}
}

func TestLoadResolvesPathsAgainstTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(p, []byte("target: embedded\nsources: [{dir: {path: photos}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := configs.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "job" {
		t.Errorf("name = %q, want the file's base name", j.Name)
	}
	if got := j.Path(j.Sources[0].Dir.Path); got != filepath.Join(dir, "photos") {
		t.Errorf("Path = %q", got)
	}
	if got := j.Path("/abs"); got != "/abs" {
		t.Errorf("absolute path changed: %q", got)
	}
}

func TestShardGetsItsOwnStateDir(t *testing.T) {
	j, err := configs.Parse([]byte("name: big\ntarget: embedded\nsources: [{dir: {path: d}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.ApplyEnv(env(map[string]string{"INGEST_SHARD": "2/4"})); err != nil {
		t.Fatal(err)
	}
	j.WithDefaults()
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(".ingest", "big", "shard-2-of-4"); j.State.Dir != want || !strings.HasPrefix(j.State.Failures, want) {
		t.Errorf("state = %+v, want under %s", j.State, want)
	}
	other := *j
	other.Shard = "3/4"
	if other.Fingerprint() == j.Fingerprint() {
		t.Error("two shards share a fingerprint")
	}
	j.Shard = "4/4"
	if err := j.Validate(); err == nil || !strings.Contains(err.Error(), "shard") {
		t.Errorf("bad shard: %v", err)
	}
}
