package emulator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

// Test credentials: distinctive strings that must never appear in an answer.
const (
	awsKeyID     = "AKIATESTKEYID0001"
	awsSecret    = "aws-secret-do-not-leak-7f3a"
	azureAccount = "acct1"
	azureKey     = "azure-key-do-not-leak-91bc"
	gcpJSON      = `{"type": "service_account", "private_key": "gcp-key-do-not-leak-55de"}`
)

func tarGzBytes(t testing.TB, ms ...emutest.Member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		if err := tw.WriteHeader(&tar.Header{Name: m.Name, Mode: 0o644, Size: int64(len(m.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bucketDir builds a bucket with, under images/abc: one image, a folder
// abc-1 with a video, an audio, a text, a PDF (unsupported), a zip holding
// an image, a text, a nested zip and a PDF, a tar.gz holding an image, and a
// broken zip; and images/abd.png, outside the prefix. Listed in key order,
// under s3://b/images/abc the steps are:
//
//	1 images/abc-1/broken.zip (open, fails, closes)
//	2 images/abc-1/bundle.tar.gz (open)   3 c.png
//	4 images/abc-1/clip.mp4
//	5 images/abc-1/data.zip (open)  6 a.jpg  7 b.txt  8 inner.zip  9 readme.pdf
//	10 images/abc-1/doc.pdf  11 images/abc-1/notes.txt  12 images/abc-1/tone.wav
//	13 images/abcImage.png
func bucketDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	emutest.WriteFile(t, dir, "images/abcImage.png", pngBytes(t))
	emutest.WriteFile(t, dir, "images/abd.png", pngBytes(t))
	emutest.WriteFile(t, dir, "images/abc-1/clip.mp4", mp4Bytes)
	emutest.WriteFile(t, dir, "images/abc-1/tone.wav", wavBytes)
	emutest.WriteFile(t, dir, "images/abc-1/notes.txt", []byte("hello from the bucket"))
	emutest.WriteFile(t, dir, "images/abc-1/doc.pdf", []byte("%PDF-1.4 not media"))
	emutest.WriteFile(t, dir, "images/abc-1/data.zip", emutest.Zip(t,
		emutest.Member{Name: "a.jpg", Data: jpegBytes(t)}, emutest.Member{Name: "b.txt", Data: []byte("zipped text")},
		emutest.Member{Name: "inner.zip", Data: emutest.Zip(t, emutest.Member{Name: "x.png", Data: pngBytes(t)})}, emutest.Member{Name: "readme.pdf", Data: []byte("%PDF-1.4")}))
	emutest.WriteFile(t, dir, "images/abc-1/bundle.tar.gz", tarGzBytes(t, emutest.Member{Name: "sub/c.png", Data: pngBytes(t)}))
	emutest.WriteFile(t, dir, "images/abc-1/broken.zip", []byte("this is not a zip archive at all"))
	return dir
}

// template is the input template of the tests.
func template() *pb.Input {
	md, _ := structpb.NewStruct(map[string]any{"source": "bucket", "n": 2.0})
	return &pb.Input{
		DatasetIds: []string{"ds1"},
		Data: &pb.Data{
			Concepts: []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}, {Id: "pet", Value: 1}},
			Metadata: md,
		},
	}
}

func dataSource(url string, creds *pb.DataSourceCredentials) *pb.InputsDataSource {
	return &pb.InputsDataSource{
		InputsAddJobId: "job1",
		Url:            &pb.DataSourceURL{Url: url, Credentials: creds},
		InputTemplate:  template(),
	}
}

func postSources(t testing.TB, c pb.V2Client, sources ...*pb.InputsDataSource) *pb.MultiInputsAddJobResponse {
	t.Helper()
	resp, err := c.PostInputsDataSources(authCtx(t), &pb.PostInputsDataSourcesRequest{UserAppId: uai(), DataSources: sources})
	if err != nil {
		t.Fatalf("PostInputsDataSources: %v", err)
	}
	return resp
}

func getExtraction(t testing.TB, c pb.V2Client, id string) *pb.InputsExtractionJob {
	t.Helper()
	resp, err := c.GetInputsExtractionJob(authCtx(t), &pb.GetInputsExtractionJobRequest{UserAppId: uai(), InputsExtractionJobId: id})
	if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("GetInputsExtractionJob: %v %v", resp.GetStatus(), err)
	}
	return resp.InputsExtractionJob
}

func getAddJob(t testing.TB, c pb.V2Client, id string) *pb.InputsAddJob {
	t.Helper()
	resp, err := c.GetInputsAddJob(authCtx(t), &pb.GetInputsAddJobRequest{UserAppId: uai(), Id: id})
	if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("GetInputsAddJob: %v %v", resp.GetStatus(), err)
	}
	return resp.InputsAddJob
}

// prog is InputsExtractionJobProgress in compact form.
type prog struct{ image, video, audio, text, pending, running, done, failed uint64 }

func progOf(p *pb.InputsExtractionJobProgress) prog {
	return prog{p.GetImageInputsCount(), p.GetVideoInputsCount(), p.GetAudioInputsCount(), p.GetTextInputsCount(),
		p.GetPendingArchivesCount(), p.GetInProgressArchivesCount(), p.GetCompletedArchivesCount(), p.GetFailedArchivesCount()}
}

func TestCloudPrefixKindsArchivesAndTemplate(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: -1, ProcessingDelay: -1,
		Buckets: map[string]string{"s3://b": bucketDir(t)}})
	resp := postSources(t, c, dataSource("s3://b/images/abc", nil))
	if code(resp.Status) != statuspb.StatusCode_SUCCESS || len(resp.InputsAddJobs) != 1 || len(resp.InputsAddJobs[0].ExtractionJobs) != 1 {
		t.Fatalf("response: %v", resp)
	}
	ej := getExtraction(t, c, resp.InputsAddJobs[0].ExtractionJobs[0].Id)
	if got := code(ej.Status); got != statuspb.StatusCode_JOB_COMPLETED {
		t.Fatalf("status %v (%s)", got, ej.Status.GetDetails())
	}
	// Images: abcImage.png, a.jpg (zip), c.png (tar.gz); abd.png is outside
	// the prefix and x.png is in a nested archive.
	want := prog{image: 3, video: 1, audio: 1, text: 2, done: 2, failed: 1}
	if got := progOf(ej.Progress); got != want {
		t.Fatalf("progress %+v, want %+v", got, want)
	}
	for _, frag := range []string{"3 files skipped", "2 of an unsupported type", "1 archives inside an archive", "inner.zip", "1 archives could not be extracted"} {
		if !strings.Contains(ej.Status.Details, frag) {
			t.Errorf("details %q lack %q", ej.Status.Details, frag)
		}
	}
	if !proto.Equal(ej.InputTemplate, template()) {
		t.Errorf("template echoed as %v", ej.InputTemplate)
	}

	ins := s.Inputs(testUser, testApp)
	if len(ins) != 7 {
		t.Fatalf("%d inputs, want 7", len(ins))
	}
	tmpl := template()
	for _, in := range ins {
		d := in.Input.Data
		if !validID(in.Input.Id, DefaultMaxInputIDLength) {
			t.Errorf("invalid id %q", in.Input.Id)
		}
		if !proto.Equal(&pb.Data{Concepts: d.Concepts}, &pb.Data{Concepts: tmpl.Data.Concepts}) || !proto.Equal(d.Metadata, tmpl.Data.Metadata) {
			t.Errorf("input %s: concepts %v, metadata %v", in.Input.Id, d.Concepts, d.Metadata)
		}
		if !slices.Equal(in.Input.DatasetIds, []string{"ds1"}) {
			t.Errorf("input %s: datasets %v", in.Input.Id, in.Input.DatasetIds)
		}
		if len(in.Content) != 1 || in.Content[0].Size == 0 {
			t.Errorf("input %s: content %+v", in.Input.Id, in.Content)
		}
		if got := in.Input.Status.GetCode(); got != statuspb.StatusCode_INPUT_SUCCESS {
			t.Errorf("input %s: %v %s", in.Input.Id, got, in.Input.Status.GetDetails())
		}
	}
	if !strings.HasPrefix(ins[len(ins)-1].Input.Id, "images_abcImage_png-") {
		t.Errorf("last input id %q does not name its key", ins[len(ins)-1].Input.Id)
	}
	job := getAddJob(t, c, "job1")
	if code(job.Status) != statuspb.StatusCode_JOB_COMPLETED || job.Progress.SuccessCount != 7 {
		t.Fatalf("add job %v %v", job.Status, job.Progress)
	}
	if s.Counts()[testUser+"/"+testApp].Datasets != 1 {
		t.Errorf("dataset ds1 not created")
	}
}

// TestCloudProgressFollowsTheClock steps a fake clock through the 13 steps
// of the bucket (see bucketDir) and checks statuses and counts at each.
func TestCloudProgressFollowsTheClock(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := emutest.NewClock()
	_, c := start(t, Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: d, ProcessingDelay: 4 * d,
		Buckets: map[string]string{"s3://b/": bucketDir(t)}})
	resp := postSources(t, c, dataSource("s3://b/images/abc", nil))
	id := resp.InputsAddJobs[0].ExtractionJobs[0].Id
	if got := code(resp.InputsAddJobs[0].ExtractionJobs[0].Status); got != statuspb.StatusCode_JOB_QUEUED {
		t.Fatalf("at creation: %v", got)
	}
	tests := []struct {
		at      time.Duration
		ext     statuspb.StatusCode
		job     statuspb.StatusCode
		prog    prog
		pending uint64 // inputs of the add job not processed yet
	}{
		{0, statuspb.StatusCode_JOB_QUEUED, statuspb.StatusCode_JOB_QUEUED, prog{}, 0},
		{d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{pending: 3}, 0},
		{2 * d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{pending: 2, failed: 1}, 0},
		{3 * d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{pending: 1, running: 1, failed: 1}, 0},
		{4 * d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{image: 1, pending: 1, done: 1, failed: 1}, 1},
		{6 * d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{image: 1, video: 1, running: 1, done: 1, failed: 1}, 2},
		{13 * d, statuspb.StatusCode_JOB_RUNNING, statuspb.StatusCode_JOB_RUNNING, prog{image: 2, video: 1, audio: 1, text: 2, done: 2, failed: 1}, 2},
		{14 * d, statuspb.StatusCode_JOB_COMPLETED, statuspb.StatusCode_JOB_RUNNING, prog{image: 3, video: 1, audio: 1, text: 2, done: 2, failed: 1}, 3},
		{18 * d, statuspb.StatusCode_JOB_COMPLETED, statuspb.StatusCode_JOB_COMPLETED, prog{image: 3, video: 1, audio: 1, text: 2, done: 2, failed: 1}, 0},
	}
	var now time.Duration
	for _, tc := range tests {
		clk.Advance(tc.at - now)
		now = tc.at
		ej := getExtraction(t, c, id)
		job := getAddJob(t, c, "job1")
		if code(ej.Status) != tc.ext || code(job.Status) != tc.job || progOf(ej.Progress) != tc.prog {
			t.Fatalf("at %v: extraction %v, add job %v, progress %+v; want %v, %v, %+v", tc.at, code(ej.Status), code(job.Status), progOf(ej.Progress), tc.ext, tc.job, tc.prog)
		}
		if got := job.Progress.PendingCount + job.Progress.InProgressCount; got != tc.pending {
			t.Fatalf("at %v: %d inputs in flight, want %d", tc.at, got, tc.pending)
		}
		if !proto.Equal(job.ExtractionJobs[0].Progress, ej.Progress) {
			t.Fatalf("at %v: the add job's extraction job differs: %v", tc.at, job.ExtractionJobs[0].Progress)
		}
	}
}

// TestCloudInProcessWithRealClock runs an extraction on the default clock
// inside a synctest bubble: time.Sleep moves it.
func TestCloudInProcessWithRealClock(t *testing.T) {
	dir := bucketDir(t)
	synctest.Test(t, func(t *testing.T) {
		p := newInProcess(t, Options{RateLimit: -1, ExtractionDelay: 100 * time.Millisecond, Buckets: map[string]string{"gs://g": dir}})
		ctx := bubbleCtx()
		resp, err := call(ctx, p, "PostInputsDataSources", &pb.PostInputsDataSourcesRequest{UserAppId: uai(),
			DataSources: []*pb.InputsDataSource{{Url: &pb.DataSourceURL{Url: "gs://g/images/abcImage"}}}}, p.svc.PostInputsDataSources)
		if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("post: %v %v", resp.GetStatus(), err)
		}
		id := resp.InputsAddJobs[0].ExtractionJobs[0].Id
		get := func() *pb.InputsExtractionJob {
			r, err := call(ctx, p, "GetInputsExtractionJob", &pb.GetInputsExtractionJobRequest{UserAppId: uai(), InputsExtractionJobId: id}, p.svc.GetInputsExtractionJob)
			if err != nil {
				t.Fatal(err)
			}
			return r.InputsExtractionJob
		}
		time.Sleep(199 * time.Millisecond)
		if got := get(); code(got.Status) != statuspb.StatusCode_JOB_RUNNING || got.Progress.ImageInputsCount != 0 {
			t.Fatalf("after 199ms: %v", got)
		}
		time.Sleep(time.Millisecond)
		if got := get(); code(got.Status) != statuspb.StatusCode_JOB_COMPLETED || got.Progress.ImageInputsCount != 1 {
			t.Fatalf("after 200ms: %v", got)
		}
	})
}

func TestCloudCancelMidway(t *testing.T) {
	const d = 10 * time.Millisecond
	for _, how := range []string{"extraction job", "inputs-add job"} {
		t.Run(how, func(t *testing.T) {
			clk := emutest.NewClock()
			s, c := start(t, Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: d, ProcessingDelay: -1,
				Buckets: map[string]string{"s3://b": bucketDir(t)}})
			id := postSources(t, c, dataSource("s3://b/images/abc", nil)).InputsAddJobs[0].ExtractionJobs[0].Id
			clk.Advance(7 * d) // 6 steps: inside data.zip, after a.jpg
			switch how {
			case "extraction job":
				resp, err := c.CancelInputsExtractionJobs(authCtx(t), &pb.CancelInputsExtractionJobsRequest{UserAppId: uai(), Ids: []string{id}})
				if err != nil || code(resp.Status) != statuspb.StatusCode_SUCCESS || code(resp.InputsExtractionJobs[0].Status) != statuspb.StatusCode_JOB_CANCELLED {
					t.Fatalf("cancel: %v %v", resp, err)
				}
			default:
				resp, err := c.CancelInputsAddJob(authCtx(t), &pb.CancelInputsAddJobRequest{UserAppId: uai(), Id: "job1"})
				if err != nil || code(resp.InputsAddJob.GetStatus()) != statuspb.StatusCode_JOB_CANCELLED {
					t.Fatalf("cancel: %v %v", resp, err)
				}
			}
			clk.Advance(time.Hour)
			ej := getExtraction(t, c, id)
			want := prog{image: 2, video: 1, running: 1, pending: 0, done: 1, failed: 1}
			if code(ej.Status) != statuspb.StatusCode_JOB_CANCELLED || progOf(ej.Progress) != want {
				t.Fatalf("after cancel: %v %+v, want %+v", code(ej.Status), progOf(ej.Progress), want)
			}
			if n := len(s.Inputs(testUser, testApp)); n != 3 {
				t.Fatalf("%d inputs after cancel, want 3", n)
			}
			if got := code(getAddJob(t, c, "job1").Status); got != statuspb.StatusCode_JOB_CANCELLED {
				t.Fatalf("add job %v", got)
			}
			// Cancelling again changes nothing.
			resp, err := c.CancelInputsExtractionJobs(authCtx(t), &pb.CancelInputsExtractionJobsRequest{UserAppId: uai(), Ids: []string{id}})
			if err != nil || code(resp.InputsExtractionJobs[0].Status) != statuspb.StatusCode_JOB_CANCELLED {
				t.Fatalf("second cancel: %v %v", resp, err)
			}
		})
	}
}

func TestCloudCredentials(t *testing.T) {
	dir := bucketDir(t)
	aws := func(id, secret string) *pb.DataSourceCredentials {
		return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_S3Creds{S3Creds: &pb.AWSCreds{Region: "us-east-1", Id: id, Secret: secret}}}
	}
	gcp := func(j string) *pb.DataSourceCredentials {
		return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_GcpCreds{GcpCreds: []byte(j)}}
	}
	azure := func(name, key string) *pb.DataSourceCredentials {
		return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_AzureBlobCreds{AzureBlobCreds: &pb.AzureBlobCreds{AccountName: name, AccountKey: key}}}
	}
	const azureURL = "https://acct1.blob.core.windows.net/container"
	opts := Options{RateLimit: -1, ExtractionDelay: -1, ProcessingDelay: -1,
		Buckets: map[string]string{"s3://private": dir, "gs://gprivate": dir, azureURL: dir, "s3://public": dir},
		PrivateBuckets: map[string]BucketCredentials{
			"s3://private":  {AWSAccessKeyID: awsKeyID, AWSSecretAccessKey: awsSecret},
			"gs://gprivate": {GCPServiceAccountJSON: []byte(gcpJSON)},
			azureURL:        {AzureAccountName: azureAccount, AzureAccountKey: azureKey},
		},
	}
	_, c := start(t, opts)
	tests := []struct {
		name   string
		url    string
		creds  *pb.DataSourceCredentials
		want   statuspb.StatusCode
		detail string
	}{
		{"aws ok", "s3://private/images/abcImage", aws(awsKeyID, awsSecret), statuspb.StatusCode_JOB_COMPLETED, ""},
		{"aws missing", "s3://private/images/abcImage", nil, statuspb.StatusCode_LIST_OBJECTS_FAILED, "access denied listing s3://private/images/abcImage: the bucket is private"},
		{"aws wrong secret", "s3://private/images/abcImage", aws(awsKeyID, "nope"), statuspb.StatusCode_LIST_OBJECTS_FAILED, "the credentials were rejected"},
		{"aws for gcs", "gs://gprivate/images/abcImage", aws(awsKeyID, awsSecret), statuspb.StatusCode_LIST_OBJECTS_FAILED, "needs GCP (gcp_creds) credentials"},
		{"gcp ok, other whitespace", "gs://gprivate/images/abcImage", gcp(strings.ReplaceAll(gcpJSON, " ", "\n  ")), statuspb.StatusCode_JOB_COMPLETED, ""},
		{"gcp wrong", "gs://gprivate/images/abcImage", gcp(`{"type": "service_account"}`), statuspb.StatusCode_LIST_OBJECTS_FAILED, "rejected"},
		{"azure ok", azureURL + "/images/abcImage", azure(azureAccount, azureKey), statuspb.StatusCode_JOB_COMPLETED, ""},
		{"azure wrong key", azureURL + "/images/abcImage", azure(azureAccount, "bad"), statuspb.StatusCode_LIST_OBJECTS_FAILED, "rejected"},
		{"public with credentials", "s3://public/images/abcImage", aws("x", "y"), statuspb.StatusCode_JOB_COMPLETED, ""},
		{"unknown bucket", "s3://nope/images", nil, statuspb.StatusCode_LIST_OBJECTS_FAILED, "the bucket does not exist"},
		{"prefix of a bucket name is not the bucket", "s3://privatex/images", nil, statuspb.StatusCode_LIST_OBJECTS_FAILED, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := dataSource(tc.url, tc.creds)
			ds.InputsAddJobId = ""
			resp := postSources(t, c, ds)
			if code(resp.Status) != statuspb.StatusCode_SUCCESS {
				t.Fatalf("post: %v", resp.Status)
			}
			job := getAddJob(t, c, resp.InputsAddJobs[0].Id)
			ej := job.ExtractionJobs[0]
			if code(ej.Status) != tc.want || !strings.Contains(ej.Status.GetDetails(), tc.detail) {
				t.Fatalf("extraction %v %q, want %v %q", code(ej.Status), ej.Status.GetDetails(), tc.want, tc.detail)
			}
			wantJob := statuspb.StatusCode_JOB_COMPLETED
			if tc.want != statuspb.StatusCode_JOB_COMPLETED {
				wantJob = statuspb.StatusCode_JOB_FAILED
			}
			if code(job.Status) != wantJob {
				t.Fatalf("add job %v, want %v", code(job.Status), wantJob)
			}
			text := fmt.Sprint(resp, job)
			for _, secret := range []string{awsSecret, azureKey, "gcp-key-do-not-leak"} {
				if strings.Contains(text, secret) {
					t.Fatalf("an answer carries a secret: %s", text)
				}
			}
		})
	}
}

func TestCloudConflictResolution(t *testing.T) {
	clk := emutest.NewClock()
	s, c := start(t, Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: -1,
		Buckets: map[string]string{"s3://b": bucketDir(t)}})
	run := func(conflict pb.InputIDConflictResolution) *pb.InputsExtractionJob {
		ds := dataSource("s3://b/images/abc-1/", nil)
		ds.InputsAddJobId, ds.InputIdConflictResolution = "", conflict
		return postSources(t, c, ds).InputsAddJobs[0].ExtractionJobs[0]
	}
	first := getExtraction(t, c, run(pb.InputIDConflictResolution_SKIP).Id)
	n := len(s.Inputs(testUser, testApp))
	if n != 6 || progOf(first.Progress).image != 2 {
		t.Fatalf("first run: %d inputs, %+v", n, progOf(first.Progress))
	}
	// SKIP (and NOT_SET): a second run creates nothing and says why.
	for _, conflict := range []pb.InputIDConflictResolution{pb.InputIDConflictResolution_SKIP, pb.InputIDConflictResolution_INPUT_ID_CONFLICT_RESOLUTION_NOT_SET} {
		again := getExtraction(t, c, run(conflict).Id)
		if got := len(s.Inputs(testUser, testApp)); got != n || progOf(again.Progress).image != 0 ||
			!strings.Contains(again.Status.Details, "6 whose input ID already exists") || code(again.Status) != statuspb.StatusCode_JOB_COMPLETED {
			t.Fatalf("%v rerun: %d inputs, %v", conflict, got, again)
		}
	}
	// SUFFIX: copies with "-1", then "-2".
	for k := 1; k <= 2; k++ {
		getExtraction(t, c, run(pb.InputIDConflictResolution_SUFFIX).Id)
		ins := s.Inputs(testUser, testApp)
		if len(ins) != n*(k+1) {
			t.Fatalf("suffix run %d: %d inputs", k, len(ins))
		}
		for i, in := range ins[n*k:] {
			if want := fmt.Sprintf("%s-%d", ins[i].Input.Id, k); in.Input.Id != want || !validID(in.Input.Id, DefaultMaxInputIDLength) {
				t.Fatalf("suffix run %d: id %q, want %q", k, in.Input.Id, want)
			}
		}
	}
}

func TestCloudArchiveURL(t *testing.T) {
	dir := t.TempDir()
	emutest.WriteFile(t, dir, "good.tar", func() []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, m := range []emutest.Member{{Name: "one.png", Data: pngBytes(t)}, {Name: "two.txt", Data: []byte("two")}} {
			_ = tw.WriteHeader(&tar.Header{Name: m.Name, Mode: 0o644, Size: int64(len(m.Data)), Typeflag: tar.TypeReg})
			_, _ = tw.Write(m.Data)
		}
		_ = tw.Close()
		return buf.Bytes()
	}())
	emutest.WriteFile(t, dir, "bad.tgz", []byte("not gzip"))
	_, c := start(t, Options{RateLimit: -1, ExtractionDelay: -1, Buckets: map[string]string{
		"https://example.com/data/good.tar": filepath.Join(dir, "good.tar"),
		"https://example.com/data/bad.tgz":  filepath.Join(dir, "bad.tgz"),
	}})
	tests := []struct {
		url  string
		want statuspb.StatusCode
		prog prog
	}{
		{"https://example.com/data/good.tar", statuspb.StatusCode_JOB_COMPLETED, prog{image: 1, text: 1, done: 1}},
		{"https://example.com/data/bad.tgz", statuspb.StatusCode_ARCHIVE_EXTRACT_FAILED, prog{failed: 1}},
		{"https://example.com/data/good.tar/more", statuspb.StatusCode_LIST_OBJECTS_FAILED, prog{}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			ds := dataSource(tc.url, nil)
			ds.InputsAddJobId = ""
			ej := getExtraction(t, c, postSources(t, c, ds).InputsAddJobs[0].ExtractionJobs[0].Id)
			if code(ej.Status) != tc.want || progOf(ej.Progress) != tc.prog {
				t.Fatalf("%v %+v (%s), want %v %+v", code(ej.Status), progOf(ej.Progress), ej.Status.Details, tc.want, tc.prog)
			}
		})
	}
}

func TestCloudInvalidRequests(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, Buckets: map[string]string{"s3://b": t.TempDir()}})
	ok := func() *pb.InputsDataSource { return dataSource("s3://b/x", nil) }
	tests := []struct {
		name   string
		mutate func(*pb.PostInputsDataSourcesRequest)
		want   statuspb.StatusCode
	}{
		{"no data sources", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources = nil }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"no url", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].Url = nil }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"ftp url", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].Url.Url = "ftp://host/x" }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"no bucket", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].Url.Url = "s3:///x" }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"bad job id", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].InputsAddJobId = "a b" }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"bad conflict", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].InputIdConflictResolution = 7 }, statuspb.StatusCode_INPUT_INVALID_REQUEST},
		{"concept without id", func(r *pb.PostInputsDataSourcesRequest) {
			r.DataSources[0].InputTemplate.Data.Concepts = []*pb.Concept{{Name: "x"}}
		}, statuspb.StatusCode_INPUT_INVALID_ARGUMENT},
		{"bad dataset id", func(r *pb.PostInputsDataSourcesRequest) { r.DataSources[0].InputTemplate.DatasetIds = []string{"a/b"} }, statuspb.StatusCode_INPUT_INVALID_ARGUMENT},
		{"second source bad", func(r *pb.PostInputsDataSourcesRequest) {
			bad := ok()
			bad.Url.Url = ""
			r.DataSources = append(r.DataSources, bad)
		}, statuspb.StatusCode_INPUT_INVALID_REQUEST},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &pb.PostInputsDataSourcesRequest{UserAppId: uai(), DataSources: []*pb.InputsDataSource{ok()}}
			tc.mutate(req)
			resp, err := c.PostInputsDataSources(authCtx(t), req)
			if err != nil || code(resp.Status) != tc.want || len(resp.InputsAddJobs) != 0 {
				t.Fatalf("got %v %v, want %v", resp, err, tc.want)
			}
		})
	}
	if n := len(s.Extractions(testUser, testApp)); n != 0 {
		t.Fatalf("%d extraction jobs created by refused requests", n)
	}
	for _, id := range []string{"", "nope"} {
		resp, err := c.CancelInputsExtractionJobs(authCtx(t), &pb.CancelInputsExtractionJobsRequest{UserAppId: uai(), Ids: []string{id}})
		if err != nil || code(resp.Status) == statuspb.StatusCode_SUCCESS {
			t.Fatalf("cancel %q: %v %v", id, resp, err)
		}
		g, err := c.GetInputsExtractionJob(authCtx(t), &pb.GetInputsExtractionJobRequest{UserAppId: uai(), InputsExtractionJobId: id})
		if err != nil || code(g.Status) != statuspb.StatusCode_CONN_DOES_NOT_EXIST {
			t.Fatalf("get %q: %v %v", id, g, err)
		}
	}
}

func TestCloudNoAutoCreateDatasets(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, NoAutoCreateApps: true, Apps: []string{testUser + "/" + testApp},
		Buckets: map[string]string{"s3://b": t.TempDir()}})
	resp := postSources(t, c, dataSource("s3://b/x", nil))
	if code(resp.Status) != statuspb.StatusCode_INPUT_INVALID_ARGUMENT || !strings.Contains(resp.Status.Details, `"ds1"`) {
		t.Fatalf("got %v", resp.Status)
	}
	if n := len(s.Extractions(testUser, testApp)); n != 0 {
		t.Fatalf("%d extraction jobs", n)
	}
}

func TestCloudListPagingAndSharedJob(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1, ExtractionDelay: time.Hour, Buckets: map[string]string{"s3://b": t.TempDir()}})
	// Three data sources in one request share job1; two more join it later.
	resp := postSources(t, c, dataSource("s3://b/1", nil), dataSource("s3://b/2", nil), dataSource("s3://b/3", nil))
	if len(resp.InputsAddJobs) != 1 || len(resp.InputsAddJobs[0].ExtractionJobs) != 3 {
		t.Fatalf("response %v", resp)
	}
	postSources(t, c, dataSource("s3://b/4", nil), dataSource("s3://b/5", nil))
	if got := len(getAddJob(t, c, "job1").ExtractionJobs); got != 5 {
		t.Fatalf("job1 has %d extraction jobs", got)
	}
	var urls []string
	for page := uint32(1); page <= 4; page++ {
		r, err := c.ListInputsExtractionJobs(authCtx(t), &pb.ListInputsExtractionJobsRequest{UserAppId: uai(), Page: page, PerPage: 2})
		if err != nil || code(r.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatal(r, err)
		}
		if want := []int{2, 2, 1, 0}[page-1]; len(r.InputsExtractionJobs) != want {
			t.Fatalf("page %d: %d jobs", page, len(r.InputsExtractionJobs))
		}
		for _, e := range r.InputsExtractionJobs {
			urls = append(urls, e.Url)
		}
	}
	if !slices.Equal(urls, []string{"s3://b/1", "s3://b/2", "s3://b/3", "s3://b/4", "s3://b/5"}) {
		t.Fatalf("urls %v", urls)
	}
	r, err := c.ListInputsExtractionJobs(authCtx(t), &pb.ListInputsExtractionJobsRequest{UserAppId: uai(), PerPage: MaxPerPage + 1})
	if err != nil || code(r.Status) != statuspb.StatusCode_FAILURE {
		t.Fatalf("per_page over the maximum: %v %v", r, err)
	}
	if n := len(s.Extractions(testUser, testApp)); n != 5 {
		t.Fatalf("Extractions: %d", n)
	}
}

// TestCloudPersistence closes the emulator in the middle of an archive and
// checks that a new one on the same state goes on from there: every file
// ingested once, none twice.
func TestCloudPersistence(t *testing.T) {
	const d = 10 * time.Millisecond
	dir, state := bucketDir(t), t.TempDir()
	clk := emutest.NewClock()
	opts := Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: d, ProcessingDelay: -1, StateDir: state, SaveInterval: -1,
		Buckets: map[string]string{"s3://b": dir}}
	s1, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	c1 := dial(t, s1.Addr())
	id := postSources(t, c1, dataSource("s3://b/images/abc", nil)).InputsAddJobs[0].ExtractionJobs[0].Id
	clk.Advance(7 * d) // inside data.zip
	if got := progOf(getExtraction(t, c1, id).Progress); got.running != 1 || got.image != 2 {
		t.Fatalf("before the restart: %+v", got)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	s2, c2 := start(t, opts)
	ej := getExtraction(t, c2, id)
	want := prog{image: 3, video: 1, audio: 1, text: 2, done: 2, failed: 1}
	if code(ej.Status) != statuspb.StatusCode_JOB_COMPLETED || progOf(ej.Progress) != want {
		t.Fatalf("after the restart: %v %+v (%s)", code(ej.Status), progOf(ej.Progress), ej.Status.Details)
	}
	ins := s2.Inputs(testUser, testApp)
	seen := map[string]bool{}
	for _, in := range ins {
		if seen[in.Content[0].SHA256+in.Input.Id] {
			t.Fatalf("input %s twice", in.Input.Id)
		}
		seen[in.Content[0].SHA256+in.Input.Id] = true
	}
	if len(ins) != 7 {
		t.Fatalf("%d inputs, want 7", len(ins))
	}
	if len(getAddJob(t, c2, "job1").ExtractionJobs) != 1 {
		t.Fatalf("the add job lost its extraction job")
	}
	// Dump reads the state without running anything.
	var buf bytes.Buffer
	if err := Dump(state, &buf); err != nil {
		t.Fatal(err)
	}
}

func TestObjectInputID(t *testing.T) {
	tests := []struct {
		url, key string
		max      int
		prefix   string
	}{
		{"s3://b/images/a.png", "images/a.png", 48, "images_a_png-"},
		{"s3://b/a_b", "a_b", 48, "a_b-"},
		{"s3://b/a/b", "a/b", 48, "a_b-"},
		{"s3://b/" + strings.Repeat("x", 100) + ".jpg", strings.Repeat("x", 100) + ".jpg", 48, "xxxxxxxxxxxxxxxxxxxxxx_jpg-"},
		{"s3://b/..//..", "..//..", 48, ""},
		{"s3://b/é.png", "é.png", 48, "png-"},
		{"s3://b/a.png", "a.png", 16, ""},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		id := objectInputID(tc.url, tc.key, tc.max)
		if !validID(id, tc.max-idSuffixReserve) && tc.max > idSuffixReserve+idHashLen {
			t.Errorf("%q: id %q is not valid with room for a suffix", tc.key, id)
		}
		if !validID(id, tc.max) || !strings.HasPrefix(id, tc.prefix) {
			t.Errorf("%q: id %q, want a valid id starting %q", tc.key, id, tc.prefix)
		}
		if id != objectInputID(tc.url, tc.key, tc.max) {
			t.Errorf("%q: not deterministic", tc.key)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%q and %q share id %q", tc.url, other, id)
		}
		seen[id] = tc.url
	}
}

func TestBucketOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad scheme", Options{Buckets: map[string]string{"ftp://x": dir}}, "must start with"},
		{"no path", Options{Buckets: map[string]string{"s3://x": ""}}, "no local path"},
		{"twice", Options{Buckets: map[string]string{"s3://x": dir, "s3://x/": dir}}, "twice"},
		{"private not a bucket", Options{PrivateBuckets: map[string]BucketCredentials{"s3://x": {AWSAccessKeyID: "a", AWSSecretAccessKey: "b"}}}, "not in Buckets"},
		{"half aws", Options{Buckets: map[string]string{"s3://x": dir}, PrivateBuckets: map[string]BucketCredentials{"s3://x": {AWSAccessKeyID: "a"}}}, "key ID and a secret"},
		{"two providers", Options{Buckets: map[string]string{"s3://x": dir}, PrivateBuckets: map[string]BucketCredentials{"s3://x": {AWSAccessKeyID: "a", AWSSecretAccessKey: "b", AzureAccountName: "n", AzureAccountKey: "k"}}}, "exactly one"},
		{"bad gcp json", Options{Buckets: map[string]string{"gs://x": dir}, PrivateBuckets: map[string]BucketCredentials{"gs://x": {GCPServiceAccountJSON: []byte("{")}}}, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Start("", Options{Buckets: map[string]string{"s3://x": filepath.Join(dir, "missing")}}); err == nil {
		t.Fatal("Start accepted a bucket whose folder does not exist")
	}
}

func TestBucketCredentialsNeverPrint(t *testing.T) {
	c := BucketCredentials{AWSAccessKeyID: awsKeyID, AWSSecretAccessKey: awsSecret, AzureAccountKey: azureKey, GCPServiceAccountJSON: []byte(gcpJSON)}
	o := Options{PrivateBuckets: map[string]BucketCredentials{"s3://b": c}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %#v %s %q", c, c, c, c), fmt.Sprintf("%+v", o)} {
		for _, secret := range []string{awsSecret, azureKey, "gcp-key-do-not-leak", awsKeyID} {
			if strings.Contains(s, secret) {
				t.Fatalf("printed %q", s)
			}
		}
	}
}

// TestCloudConcurrentPolling has many clients poll while the clock moves:
// every file is ingested exactly once, whoever carries out the steps.
func TestCloudConcurrentPolling(t *testing.T) {
	const d = time.Millisecond
	clk := emutest.NewClock()
	s, c := start(t, Options{Now: clk.Now, RateLimit: -1, ExtractionDelay: d, ProcessingDelay: -1,
		Buckets: map[string]string{"s3://b": bucketDir(t)}})
	id := postSources(t, c, dataSource("s3://b/images/abc", nil)).InputsAddJobs[0].ExtractionJobs[0].Id
	done := make(chan struct{})
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				r, err := c.GetInputsExtractionJob(authCtx(t), &pb.GetInputsExtractionJobRequest{UserAppId: uai(), InputsExtractionJobId: id})
				if err != nil {
					errs <- err
					return
				}
				if code(r.Status) != statuspb.StatusCode_SUCCESS {
					errs <- fmt.Errorf("status %v", r.Status)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		clk.Advance(d)
		time.Sleep(time.Millisecond) // let the pollers interleave; correctness does not depend on it
	}
	close(done)
	for w := 0; w < 8; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ej := getExtraction(t, c, id)
	ids := map[string]bool{}
	for _, in := range s.Inputs(testUser, testApp) {
		ids[in.Input.Id] = true
	}
	if code(ej.Status) != statuspb.StatusCode_JOB_COMPLETED || len(ids) != 7 || len(s.Inputs(testUser, testApp)) != 7 {
		t.Fatalf("%v, %d distinct of %d inputs", code(ej.Status), len(ids), len(s.Inputs(testUser, testApp)))
	}
}
