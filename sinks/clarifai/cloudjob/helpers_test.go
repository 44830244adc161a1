package cloudjob_test

import (
	"bytes"
	"image"
	"image/png"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testPAT   = "pat-for-cloud-tests"
	testUser  = "u1"
	testApp   = "a1"
	awsID     = "AKIACLOUDTEST"
	awsSecret = "cloud-aws-secret-never-shown-1c9e"
)

func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bucket writes a bucket with, under data/: an image, a text, an audio, a
// video, and a zip of one image and one text (7 steps, 6 inputs), plus a
// file outside the prefix.
func bucket(t testing.TB) string {
	dir := t.TempDir()
	emutest.WriteFile(t, dir, "data/a.png", pngBytes(t))
	emutest.WriteFile(t, dir, "data/b.txt", []byte("some text"))
	emutest.WriteFile(t, dir, "data/c.wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	emutest.WriteFile(t, dir, "data/d.mp4", []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"))
	emutest.WriteFile(t, dir, "data/e.zip", emutest.Zip(t, emutest.Member{Name: "f.png", Data: pngBytes(t)}, emutest.Member{Name: "g.txt", Data: []byte("zipped")}))
	emutest.WriteFile(t, dir, "other/x.png", pngBytes(t))
	return dir
}

// env is an emulator serving bucket s3://pub (public) and s3://priv
// (private, awsID/awsSecret), and a client of it.
type env struct {
	emu    *emulator.Server
	client *client.Client
	clock  *emutest.Clock
}

func newEnv(t testing.TB, delay time.Duration, useClock bool) *env {
	t.Helper()
	dir := bucket(t)
	e := &env{}
	opts := emulator.Options{
		PATs: []string{testPAT}, RateLimit: -1, ExtractionDelay: delay, ProcessingDelay: -1,
		Buckets:        map[string]string{"s3://pub": dir, "s3://priv": dir},
		PrivateBuckets: map[string]emulator.BucketCredentials{"s3://priv": {AWSAccessKeyID: awsID, AWSSecretAccessKey: awsSecret}},
	}
	if useClock {
		e.clock = emutest.NewClock()
		opts.Now = e.clock.Now
	}
	emu, err := emulator.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	c, err := client.New(client.Config{Tuning: client.Tuning{RateLimit: -1, MaxAttempts: 1}, Connection: client.Connection{Base: "http://" + emu.Addr(), PAT: testPAT, UserID: testUser, AppID: testApp}})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last in, first out: the client closes before the server.
	t.Cleanup(func() { _ = c.Close() })
	e.emu, e.client = emu, c
	return e
}
