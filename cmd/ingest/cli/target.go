package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// Embedded target defaults: the app the local emulator stores inputs in
// when the job names none.
const (
	embeddedUser = "local"
	embeddedApp  = "ingest"
)

// target is where a run uploads: a client, and the in-process emulator
// behind it for target "embedded".
type target struct {
	client *client.Client
	emu    *emulator.Server
	userID string
	appID  string
}

// openTarget dials the job's target. For "embedded" it first starts the
// emulator on 127.0.0.1 with the job's emulator state directory, and says
// so plainly on w.
// onCall, if set, observes every API call (metrics).
func openTarget(job *configs.Job, counters *pipeline.Counters, log *zap.Logger, w io.Writer,
	onCall func(method, code string, latency time.Duration)) (*target, error) {
	rate := shardRate(job)
	cfg := client.Config{
		Base: job.Clarifai.Base, PAT: client.Secret(job.Clarifai.PAT),
		UserID: job.Clarifai.UserID, AppID: job.Clarifai.AppID,
		RootCertificatesPath: job.Clarifai.RootCertificatesPath,
		RateLimit:            rate, MaxAttempts: job.Upload.MaxAttempts,
		MaxElapsed: time.Duration(job.Upload.MaxElapsed), Counters: counters, Logger: log, OnCall: onCall,
	}
	t := &target{}
	if job.Target == configs.TargetEmbedded {
		pat := randomPAT()
		emuRate := job.Embedded.RateLimit
		if emuRate == 0 {
			emuRate = -1 // no server-side limit locally; the client still paces itself
		}
		buckets := make(map[string]string, len(job.Embedded.Buckets))
		for url, path := range job.Embedded.Buckets {
			buckets[url] = job.Path(path)
		}
		emu, err := emulator.Start("127.0.0.1:0", emulator.Options{
			Buckets: buckets,
			PATs:    []string{pat}, StateDir: job.Embedded.StateDir,
			ProcessingDelay: time.Duration(job.Embedded.ProcessingDelay), RateLimit: emuRate,
			// The emulator's own info lines would drown the run's.
			Logger: log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
		})
		if err != nil {
			return nil, fmt.Errorf("start the embedded emulator: %w", err)
		}
		t.emu = emu
		cfg.Base, cfg.PAT, cfg.RootCertificatesPath = "http://"+emu.Addr(), client.Secret(pat), ""
		if cfg.UserID == "" {
			cfg.UserID = embeddedUser
		}
		if cfg.AppID == "" {
			cfg.AppID = embeddedApp
		}
		fmt.Fprintf(w, "Target: embedded Clarifai emulator on %s (local only: nothing is sent to Clarifai)\n", emu.Addr())
		fmt.Fprintf(w, "        app %s/%s, emulator state in %s\n", cfg.UserID, cfg.AppID, job.Embedded.StateDir)
	}
	client, err := client.New(cfg)
	if err != nil {
		t.close()
		return nil, err
	}
	t.client, t.userID, t.appID = client, cfg.UserID, cfg.AppID
	if job.Target != configs.TargetEmbedded {
		fmt.Fprintf(w, "Target: Clarifai API at %s, app %s/%s\n", client.Endpoint().Addr, cfg.UserID, cfg.AppID)
	}
	return t, nil
}

// close closes the client, then stops the emulator (persisting its state).
func (t *target) close() error {
	var err error
	if t.client != nil {
		err = t.client.Close()
	}
	if t.emu != nil {
		if e := t.emu.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// randomPAT is the key the embedded emulator accepts for this run only.
func randomPAT() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "local-" + hex.EncodeToString(b)
}
