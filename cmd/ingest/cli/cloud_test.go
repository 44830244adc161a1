package cli_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

// Cloud credentials of the tests: distinctive strings that must appear in
// no output, log or file of ours.
const (
	cloudAWSID     = "AKIAE2ECLOUDKEY"
	cloudAWSSecret = "e2e-aws-secret-4b1d7e"
	cloudAWSToken  = "e2e-aws-session-token-77aa"
	cloudAzureKey  = "e2e-azure-account-key-c3f0"
	cloudGCPKey    = "e2e-gcp-private-key-9d2b"
	azureURL       = "https://acct1.blob.core.windows.net/media"
)

var secrets = []string{cloudAWSSecret, cloudAWSToken, cloudAzureKey, cloudGCPKey}

// cloudBucket writes a bucket with, under data/: an image, a video, an
// audio, a text and a zip of an image and a text (6 inputs), and a file
// outside the prefix. With broken, it adds a zip that cannot be read.
func cloudBucket(t *testing.T, broken bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"img.png", "clip.mp4", "tone.wav", "note.txt"} {
		copyFile(t, filepath.Join(media, f), filepath.Join(dir, "data", f))
	}
	copyFile(t, filepath.Join(media, "img.gif"), filepath.Join(dir, "other", "outside.gif"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, src := range map[string]string{"inner/img.jpg": "img.jpg", "inner/readme.txt": "note.txt"} {
		b, err := os.ReadFile(filepath.Join(media, src))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(name)
		_, _ = w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "data", "pack.zip"), buf.String())
	if broken {
		writeFile(t, filepath.Join(dir, "data", "broken.zip"), "not a zip file")
	}
	return dir
}

// cloudFixture is an emulator serving one bucket as a private S3 bucket,
// a private GCS bucket and a private Azure container, logging at debug
// level into logs, and the environment a user would set for all three.
func cloudFixture(t *testing.T, opts emulator.Options, broken bool) (*fixture, *emutest.LogBuffer, string) {
	t.Helper()
	dir := cloudBucket(t, broken)
	gcpKey := filepath.Join(t.TempDir(), "sa.json")
	gcpJSON := `{"type": "service_account", "client_email": "e2e@example.iam.gserviceaccount.com", "private_key": "` + cloudGCPKey + `"}`
	writeFile(t, gcpKey, gcpJSON)
	logs := &emutest.LogBuffer{}
	opts.Logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), logs, zapcore.DebugLevel))
	opts.Buckets = map[string]string{"s3://bkt": dir, "gs://gbkt": dir, azureURL: dir, "s3://public": dir}
	opts.PrivateBuckets = map[string]emulator.BucketCredentials{
		"s3://bkt":  {AWSAccessKeyID: cloudAWSID, AWSSecretAccessKey: cloudAWSSecret, AWSSessionToken: cloudAWSToken},
		"gs://gbkt": {GCPServiceAccountJSON: []byte(gcpJSON)},
		azureURL:    {AzureAccountName: "acct1", AzureAccountKey: cloudAzureKey},
	}
	f := newFixture(t, opts)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": cloudAWSID, "AWS_SECRET_ACCESS_KEY": cloudAWSSecret, "AWS_SESSION_TOKEN": cloudAWSToken, "AWS_REGION": "eu-west-1",
		"AZURE_STORAGE_ACCOUNT": "acct1", "AZURE_STORAGE_KEY": cloudAzureKey,
	} {
		f.env[k] = v
	}
	return f, logs, gcpKey
}

var jobIDLine = regexp.MustCompile(`Started cloud ingestion job (\S+)`)

// squash collapses runs of blanks, so that tests read table output
// whatever its column widths.
func squash(s string) string { return regexp.MustCompile(`[ \t]+`).ReplaceAllString(s, " ") }

// cloudJSON is the part of the --json output the tests read.
type cloudJSON struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	HasFailures bool   `json:"has_failures"`
	Progress    struct {
		Images             int `json:"images"`
		Videos             int `json:"videos"`
		Audio              int `json:"audio"`
		Text               int `json:"text"`
		ArchivesCompleted  int `json:"archives_completed"`
		ArchivesFailed     int `json:"archives_failed"`
		ArchivesInProgress int `json:"archives_in_progress"`
	} `json:"progress"`
	Inputs struct {
		Succeeded int `json:"succeeded"`
	} `json:"inputs"`
	Extractions []struct {
		ID     string `json:"id"`
		URL    string `json:"url"`
		State  string `json:"state"`
		Status struct {
			Code    string `json:"code"`
			Details string `json:"details"`
		} `json:"status"`
		Template struct {
			Concepts   []string       `json:"concepts"`
			DatasetIDs []string       `json:"dataset_ids"`
			Metadata   map[string]any `json:"metadata"`
		} `json:"template"`
	} `json:"extraction_jobs"`
}

func decodeJob(t *testing.T, res result) cloudJSON {
	t.Helper()
	var j cloudJSON
	if err := json.Unmarshal([]byte(res.stdout), &j); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res)
	}
	return j
}

// TestCloudEndToEnd ingests the bucket prefix from S3, GCS and Azure with
// `ingest cloud start --wait`, then checks the template on every input and
// the status and list output.
func TestCloudEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		url  string
		args []string
	}{
		{"s3", "s3://bkt/data/", nil},
		{"gcs", "gs://gbkt/data/", []string{"--gcp-credentials"}}, // the key file is appended below
		{"azure", azureURL + "/data/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, gcpKey := cloudFixture(t, emulator.Options{ExtractionDelay: 2 * time.Millisecond}, false)
			creds := tc.args
			if len(creds) > 0 {
				creds = append(creds, gcpKey)
			}
			args := []string{"cloud", "start", tc.url, "--concept", "cat", "--concept", "pet", "--dataset", "train",
				"--metadata", `{"source":"bucket","n":2}`, "--wait", "--poll-interval", "5ms"}
			res := run(t, f, nil, append(args, creds...)...)
			if res.code != cli.ExitOK {
				t.Fatalf("start --wait:\n%s", res)
			}
			m := jobIDLine.FindStringSubmatch(res.stdout)
			if m == nil {
				t.Fatalf("no job ID printed:\n%s", res)
			}
			id := m[1]
			for _, want := range []string{"extraction job ", "State completed", "Inputs 2 images, 1 videos, 1 audio, 2 text",
				"Archives 0 pending, 0 in progress, 1 completed, 0 failed",
				`Template concepts cat, pet; datasets train; metadata {"n":2,"source":"bucket"}`} {
				if !strings.Contains(squash(res.stdout), want) {
					t.Errorf("output lacks %q:\n%s", want, res)
				}
			}
			if !strings.Contains(res.stderr, "completed: 2 images, 1 videos, 1 audio, 2 text") {
				t.Errorf("no progress on stderr:\n%s", res.stderr)
			}

			// The template is on every input the server created.
			ins := f.srv.Inputs(testUser, testApp)
			if len(ins) != 6 {
				t.Fatalf("%d inputs, want 6", len(ins))
			}
			for _, in := range ins {
				d := in.Input.GetData()
				md := d.GetMetadata().AsMap()
				if len(d.GetConcepts()) != 2 || d.Concepts[0].Id != "cat" || d.Concepts[0].Value != 1 || d.Concepts[1].Id != "pet" ||
					len(in.Input.DatasetIds) != 1 || in.Input.DatasetIds[0] != "train" || md["source"] != "bucket" || md["n"] != 2.0 {
					t.Errorf("input %s lacks the template: %v", in.Input.Id, in.Input)
				}
				if in.Input.GetStatus().GetCode().String() != "INPUT_SUCCESS" {
					t.Errorf("input %s: %v", in.Input.Id, in.Input.GetStatus())
				}
			}

			// status, human and JSON.
			res = run(t, f, nil, "cloud", "status", id)
			if res.code != cli.ExitOK || !strings.Contains(squash(res.stdout), "Job "+id) || !strings.Contains(res.stdout, "6 processed, 0 pending") {
				t.Fatalf("status:\n%s", res)
			}
			res = run(t, f, nil, "cloud", "status", id, "--json")
			j := decodeJob(t, res)
			if j.ID != id || j.State != "completed" || j.HasFailures || j.Progress.Images != 2 || j.Progress.Text != 2 || j.Progress.ArchivesCompleted != 1 ||
				j.Inputs.Succeeded != 6 || len(j.Extractions) != 1 || j.Extractions[0].Status.Code != "JOB_COMPLETED" ||
				strings.Join(j.Extractions[0].Template.Concepts, ",") != "cat,pet" {
				t.Fatalf("status --json: %+v\n%s", j, res)
			}
			// status of the extraction job alone.
			res = run(t, f, nil, "cloud", "status", j.Extractions[0].ID)
			if res.code != cli.ExitOK || !strings.Contains(squash(res.stdout), "Extraction job "+j.Extractions[0].ID) {
				t.Fatalf("status by extraction id:\n%s", res)
			}

			// list, human and JSON.
			res = run(t, f, nil, "cloud", "list")
			if res.code != cli.ExitOK || !strings.Contains(res.stdout, "EXTRACTION JOB") ||
				!regexp.MustCompile(j.Extractions[0].ID+`\s+completed\s+2\s+1\s+1\s+2\s+1/0/0\s+\S+\s+`+regexp.QuoteMeta(tc.url)).MatchString(res.stdout) {
				t.Fatalf("list:\n%s", res)
			}
			res = run(t, f, nil, "cloud", "list", "--json", "--per-page", "5")
			var page struct {
				Page, PerPage int
				Jobs          []struct{ ID, URL string } `json:"extraction_jobs"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &page); err != nil || len(page.Jobs) != 1 || page.Jobs[0].URL != tc.url {
				t.Fatalf("list --json: %v\n%s", err, res)
			}

			// Ingesting the same prefix again with the default conflict
			// resolution (skip) creates nothing: IDs come from object keys.
			res = run(t, f, nil, append([]string{"cloud", "start", tc.url, "--wait", "--poll-interval", "5ms", "--json"}, creds...)...)
			if res.code != cli.ExitOK || decodeJob(t, res).Progress.Images != 0 || len(f.srv.Inputs(testUser, testApp)) != 6 {
				t.Fatalf("second start:\n%s", res)
			}
			// With suffix, a copy of each.
			res = run(t, f, nil, append([]string{"cloud", "start", tc.url, "--conflict", "suffix", "--wait", "--poll-interval", "5ms"}, creds...)...)
			if res.code != cli.ExitOK || len(f.srv.Inputs(testUser, testApp)) != 12 {
				t.Fatalf("start --conflict suffix: %d inputs\n%s", len(f.srv.Inputs(testUser, testApp)), res)
			}
		})
	}
}

// TestCloudListPages pages through more extraction jobs than fit a page.
func TestCloudListPages(t *testing.T) {
	f, _, _ := cloudFixture(t, emulator.Options{ExtractionDelay: time.Hour}, false)
	res := run(t, f, nil, "cloud", "start", "s3://public/data/a", "s3://public/data/b", "s3://public/data/c")
	if res.code != cli.ExitOK || strings.Count(res.stdout, "extraction job ") != 3 || !strings.Contains(res.stdout, "ingest cloud wait ") {
		t.Fatalf("start:\n%s", res)
	}
	var urls []string
	for page := 1; page <= 3; page++ {
		res = run(t, f, nil, "cloud", "list", "--per-page", "2", "--page", strconv.Itoa(page))
		if res.code != cli.ExitOK {
			t.Fatalf("list page %d:\n%s", page, res)
		}
		more := strings.Contains(res.stdout, "More: ingest cloud list --page")
		if (page == 1) != more {
			t.Errorf("page %d: more=%v\n%s", page, more, res.stdout)
		}
		urls = append(urls, regexp.MustCompile(`s3://public/data/\w`).FindAllString(res.stdout, -1)...)
	}
	if strings.Join(urls, " ") != "s3://public/data/a s3://public/data/b s3://public/data/c" {
		t.Fatalf("listed %v", urls)
	}
	if !strings.Contains(res.stdout, "No extraction jobs on this page.") {
		t.Errorf("page 3:\n%s", res.stdout)
	}
}

// TestCloudCancelMidway cancels a job half way through on the emulator's
// clock: the inputs created stay, no more are created, wait exits 1.
func TestCloudCancelMidway(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := emutest.NewClock()
	f, _, _ := cloudFixture(t, emulator.Options{ExtractionDelay: d, Now: clk.Now}, false)
	res := run(t, f, nil, "cloud", "start", "s3://bkt/data/", "--json")
	if res.code != cli.ExitOK {
		t.Fatalf("start:\n%s", res)
	}
	id := decodeJob(t, res).ID
	// Steps in key order: clip.mp4, img.png, note.txt, pack.zip opens,
	// inner/img.jpg, inner/readme.txt and the zip closes, tone.wav.
	clk.Advance(5 * d) // 4 steps: inside the zip
	res = run(t, f, nil, "cloud", "status", id, "--json")
	if j := decodeJob(t, res); j.State != "running" || j.Progress.ArchivesInProgress != 1 || j.Progress.Images+j.Progress.Videos+j.Progress.Text != 3 {
		t.Fatalf("before cancel: %+v\n%s", j, res)
	}
	res = run(t, f, nil, "cloud", "cancel", id)
	if res.code != cli.ExitOK || !strings.Contains(res.stdout, id+": cancelled (3 inputs created") {
		t.Fatalf("cancel:\n%s", res)
	}
	clk.Advance(time.Hour)
	res = run(t, f, nil, "cloud", "wait", id, "--poll-interval", "5ms")
	if res.code != cli.ExitFatal || !strings.Contains(res.stderr, "job "+id+" was cancelled") || !strings.Contains(squash(res.stdout), "State cancelled") {
		t.Fatalf("wait after cancel:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 3 {
		t.Fatalf("%d inputs after cancel, want 3", n)
	}
	// Cancelling again, and an unknown job.
	res = run(t, f, nil, "cloud", "cancel", id, "nope")
	if res.code != cli.ExitFatal || !strings.Contains(res.stdout, id+": cancelled") || !strings.Contains(res.stderr, `"nope" is neither`) {
		t.Fatalf("cancel again:\n%s", res)
	}
}

// TestCloudOutcomes checks the exit codes of wait: bad or missing
// credentials and unknown buckets fail (1) with the server's reason, an
// archive that cannot be extracted is a partial failure (3).
func TestCloudOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		env    map[string]string // overrides; "" removes
		broken bool
		code   int
		want   string
	}{
		{"wrong AWS secret", "s3://bkt/data/", map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret"}, false, cli.ExitFatal, "LIST_OBJECTS_FAILED: access denied listing s3://bkt/data/: the credentials were rejected"},
		{"no AWS credentials", "s3://bkt/data/", map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}, false, cli.ExitFatal, "access denied listing s3://bkt/data/: the bucket is private"},
		{"wrong Azure key", azureURL + "/data/", map[string]string{"AZURE_STORAGE_KEY": "bad"}, false, cli.ExitFatal, "access denied"},
		{"unknown bucket", "s3://nobucket/x", nil, false, cli.ExitFatal, "the bucket does not exist"},
		{"broken archive", "s3://bkt/data/", nil, true, cli.ExitItemsFailed, "completed with failures: 1 archives could not be extracted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _ := cloudFixture(t, emulator.Options{ExtractionDelay: -1}, tc.broken)
			for k, v := range tc.env {
				f.env[k] = v
			}
			res := run(t, f, nil, "cloud", "start", tc.url, "--wait", "--poll-interval", "5ms")
			if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", res.code, tc.code, tc.want, res)
			}
			// Start without --wait succeeds; wait alone gives the same code.
			res = run(t, f, nil, "cloud", "start", tc.url, "--json")
			if res.code != cli.ExitOK {
				t.Fatalf("start:\n%s", res)
			}
			res = run(t, f, nil, "cloud", "wait", decodeJob(t, res).ID, "--poll-interval", "5ms")
			if res.code != tc.code {
				t.Fatalf("wait: exit %d, want %d:\n%s", res.code, tc.code, res)
			}
		})
	}
}

func TestCloudUsageErrors(t *testing.T) {
	f, _, _ := cloudFixture(t, emulator.Options{}, false)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no url", nil, []string{"cloud", "start"}, cli.ExitUsage, "requires at least 1 arg"},
		{"status without job", nil, []string{"cloud", "status"}, cli.ExitUsage, "accepts 1 arg"},
		{"bad scheme", nil, []string{"cloud", "start", "ftp://x/y"}, cli.ExitUsage, "use s3://"},
		{"bad conflict", nil, []string{"cloud", "start", "s3://bkt/x", "--conflict", "replace"}, cli.ExitUsage, "want skip or suffix"},
		{"bad metadata", nil, []string{"cloud", "start", "s3://bkt/x", "--metadata", "[1]"}, cli.ExitUsage, "JSON object"},
		{"bad dataset", nil, []string{"cloud", "start", "s3://bkt/x", "--dataset", "a b"}, cli.ExitUsage, "dataset ID"},
		{"missing gcp key file", nil, []string{"cloud", "start", "gs://gbkt/x", "--gcp-credentials", "/nonexistent/key.json"}, cli.ExitUsage, "key.json"},
		{"half AWS credentials", map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, []string{"cloud", "start", "s3://bkt/x"}, cli.ExitUsage, "incomplete"},
		{"no PAT", map[string]string{"CLARIFAI_PAT": ""}, []string{"cloud", "list"}, cli.ExitUsage, "CLARIFAI_PAT"},
		{"bad page", nil, []string{"cloud", "list", "--page", "0"}, cli.ExitUsage, "--page"},
		{"unknown job", nil, []string{"cloud", "status", "nope"}, cli.ExitFatal, `no such cloud ingestion job: "nope"`},
		{"unknown target", nil, []string{"cloud", "list", "--target", "mars"}, cli.ExitUsage, "target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range f.env {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			g := &fixture{srv: f.srv, env: env}
			res := run(t, g, nil, tc.args...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", res.code, tc.code, tc.want, res)
			}
		})
	}
	if n := f.srv.Calls()["PostInputsDataSources"]; n != 0 {
		t.Errorf("%d PostInputsDataSources calls from refused commands", n)
	}
}

// TestCloudNoSecretAnywhere runs every cloud command, successful and
// failing, at debug level, and greps everything we produced for the
// credentials: command output and logs, the emulator's logs, and every file
// under the working folders (state, reports).
func TestCloudNoSecretAnywhere(t *testing.T) {
	f, emuLogs, gcpKey := cloudFixture(t, emulator.Options{ExtractionDelay: time.Millisecond}, true)
	work := t.TempDir()
	var outputs []string
	do := func(args ...string) result {
		res := run(t, f, nil, append(args, "--log-level", "debug", "--log-format", "json")...)
		outputs = append(outputs, res.stdout, res.stderr)
		return res
	}
	wrong := func(k, v string) func() {
		old := f.env[k]
		f.env[k] = v
		return func() { f.env[k] = old }
	}
	res := do("cloud", "start", "s3://bkt/data/", azureURL+"/data/", "--wait", "--poll-interval", "5ms", "--json")
	id := decodeJob(t, res).ID
	do("cloud", "start", "gs://gbkt/data/", "--gcp-credentials", gcpKey, "--wait", "--poll-interval", "5ms")
	restore := wrong("AWS_SECRET_ACCESS_KEY", "wrong")
	do("cloud", "start", "s3://bkt/data/", "--wait", "--poll-interval", "5ms")
	restore()
	do("cloud", "status", id)
	do("cloud", "status", id, "--json")
	do("cloud", "list")
	do("cloud", "list", "--json")
	do("cloud", "wait", id, "--poll-interval", "5ms", "--json")
	do("cloud", "cancel", id)
	do("config", "print")

	// A job file mixing local and cloud sources, with secrets in it too,
	// run in its own folder (state, failure report, run report).
	job := filepath.Join(work, "job.yaml")
	writeFile(t, job, `name: mixed
sources:
  - dir: {path: local}
  - cloud:
      url: s3://bkt/data/
      concepts: [cloud]
      credentials: {aws_access_key_id: `+cloudAWSID+`, aws_secret_access_key: `+cloudAWSSecret+`}
  - cloud:
      url: `+azureURL+`/data/
      credentials: {azure_account_name: acct1, azure_account_key: `+cloudAzureKey+`}
state: {dir: `+filepath.Join(work, "state")+`}
`)
	copyFile(t, filepath.Join(media, "note.txt"), filepath.Join(work, "local", "note.txt"))
	do("run", "--config", job)
	do("config", "print", "--config", job)

	all := strings.Join(outputs, "\n") + emuLogs.String()
	err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == job { // the job file is the user's
			return err
		}
		b, err := os.ReadFile(p)
		all += "\n" + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(all, "access denied") || !strings.Contains(all, id) {
		t.Fatalf("the commands did not run as expected:\n%s", all)
	}
	for _, s := range secrets {
		if i := strings.Index(all, s); i >= 0 {
			t.Fatalf("secret %q found: ...%s...", s, all[max(0, i-200):min(len(all), i+100)])
		}
	}
}

// TestCloudSourceInRun runs a job file that mixes a local folder and a
// cloud bucket: the local file is uploaded by the run, the bucket ingested
// by the server, both in one `ingest run`.
func TestCloudSourceInRun(t *testing.T) {
	f, _, _ := cloudFixture(t, emulator.Options{ExtractionDelay: time.Millisecond}, false)
	work := t.TempDir()
	copyFile(t, filepath.Join(media, "note.txt"), filepath.Join(work, "local", "note.txt"))
	job := filepath.Join(work, "job.yaml")
	writeFile(t, job, `name: mixed
sources:
  - dir: {path: local}
  - cloud:
      url: s3://bkt/data/
      concepts: [from-cloud]
      metadata: {origin: s3}
state: {dir: `+filepath.Join(work, "state")+`}
`)
	res := run(t, f, nil, "run", "--config", job)
	if res.code != cli.ExitOK {
		t.Fatalf("run:\n%s", res)
	}
	if n := len(f.srv.Inputs(testUser, testApp)); n != 7 {
		t.Fatalf("%d inputs, want 1 local + 6 from the bucket", n)
	}
	// A rerun follows the completed server job: nothing is posted again.
	res = run(t, f, nil, "run", "--config", job)
	if res.code != cli.ExitOK || f.srv.Calls()["PostInputsDataSources"] != 1 {
		t.Fatalf("rerun: %d posts\n%s", f.srv.Calls()["PostInputsDataSources"], res)
	}
}
