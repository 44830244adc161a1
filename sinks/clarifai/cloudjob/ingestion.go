package cloudjob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/checkpoint/durable"
)

// IngestionConfig configures an Ingestion.
type IngestionConfig struct {
	// Spec is the ingestion. Its JobID must be empty: the Ingestion
	// derives it (see Ingestion).
	Spec Spec
	// JobName is the name of the ingest job the ingestion belongs to; it is
	// part of the derived job ID, so that two job files ingesting the same
	// URL do not share a server job.
	JobName string
	// StateDir is the ingest job's state directory; the ingestion keeps a
	// small JSON file there (no credential in it). Empty means no file:
	// the derived job ID alone finds the first attempt.
	StateDir string
	// Client returns the API to call. It is called once, when Run
	// starts (the CLI opens its target after building its sources).
	// Required.
	Client func() API
	// Restart starts a new server job even if an earlier run's job exists.
	Restart bool
	// Wait tunes the polling; its OnProgress is not used.
	Wait WaitOptions
	// Logger receives the start, progress (at each change) and outcome.
	// Nil means zap.NewNop().
	Logger *zap.Logger
}

// Ingestion is the resumable server-side ingestion of a `cloud:` entry of a
// job file (sources/cloud runs it as a pipeline source): the server ingests
// the URL itself. Run starts the server job, follows it to the end, logging
// progress, and returns nil when it completed (partial failures, such as an
// archive that could not be extracted, are logged as a warning) or an error
// when it failed or was cancelled.
//
// Resume semantics. The server job's ID (inputs_add_job_id) is derived
// from the job name, the URLs, the template and the conflict setting, plus
// an attempt number: "cloud-<24 hex>-<attempt>". The attempt is kept in
// StateDir/cloud-<24 hex>.json, written (atomically) before the job is
// posted. On a rerun the ingestion looks that job up:
//
//   - not found (the earlier run stopped before posting): post it;
//   - queued or running (the earlier run was interrupted; the server went
//     on): follow it, posting nothing;
//   - completed: nothing to do;
//   - failed or cancelled: start the next attempt, a new server job. With
//     conflict skip, inputs the earlier attempt created are skipped
//     (Clarifai gives an object the same input ID each time; the emulator
//     does).
//
// Restart starts the next attempt whatever the state. Interrupting a run
// (SIGINT) stops the polling, not the server job. Changing the URL or the
// template makes a new ingestion with its own jobs.
type Ingestion struct {
	cfg  IngestionConfig
	log  *zap.Logger
	key  string // identifies the ingestion: 24 hex characters
	name string

	mu   sync.Mutex
	last Job
	have bool
}

// maxAttempts bounds the attempts an Ingestion looks through on a rerun.
const maxAttempts = 1000

// NewIngestion validates cfg and returns an Ingestion. It does no I/O.
func NewIngestion(cfg IngestionConfig) (*Ingestion, error) {
	if cfg.Spec.JobID != "" {
		return nil, errors.New("cloud source: the job ID is derived; leave Spec.JobID empty")
	}
	if err := cfg.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("cloud source: %w", err)
	}
	if cfg.Client == nil {
		return nil, errors.New("cloud source: no client")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Ingestion{cfg: cfg, key: ingestionKey(cfg.JobName, cfg.Spec)}
	urls := make([]string, len(cfg.Spec.URLs))
	for i, u := range cfg.Spec.URLs {
		urls[i] = RedactURL(u)
	}
	s.name = "cloud " + strings.Join(urls, " ")
	s.log = cfg.Logger.With(zap.String("source", s.name))
	return s, nil
}

// ingestionKey hashes what identifies an ingestion. Credentials are not
// part of it: new keys for the same bucket are the same ingestion.
func ingestionKey(jobName string, spec Spec) string {
	b, _ := json.Marshal(struct {
		Job        string
		URLs       []string
		Concepts   []string
		DatasetIDs []string
		Metadata   map[string]any // encoding/json sorts map keys
		Conflict   string
	}{jobName, spec.URLs, spec.Concepts, spec.DatasetIDs, spec.Metadata, spec.Conflict.String()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:24]
}

// Name returns "cloud " and the URLs (queries redacted).
func (s *Ingestion) Name() string { return s.name }

// JobID returns the server job ID of an attempt (1, 2, ...).
func (s *Ingestion) JobID(attempt int) string { return "cloud-" + s.key + "-" + strconv.Itoa(attempt) }

// Last returns the last snapshot of the server job seen by Run, if any.
// It is safe for concurrent use.
func (s *Ingestion) Last() (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.have
}

func (s *Ingestion) setLast(j Job) {
	s.mu.Lock()
	s.last, s.have = j, true
	s.mu.Unlock()
}

// Run starts or finds the server job (see Ingestion), follows it to its end
// and returns. It blocks; it returns ctx.Err() (wrapped)
// promptly when ctx is done, an API or state-file error, or an error when
// the job failed or was cancelled.
func (s *Ingestion) Run(ctx context.Context) error {
	api := s.cfg.Client()
	if api == nil {
		return fmt.Errorf("%s: no client", s.name)
	}
	st, err := s.loadState()
	if err != nil {
		return err
	}
	attempt := max(st.Attempt, 1)
	if s.cfg.Restart && st.Attempt > 0 {
		attempt = st.Attempt + 1
	}
	var id string
	for tries := 0; ; tries++ {
		if tries == maxAttempts {
			return fmt.Errorf("%s: %d earlier attempts exist; use a new job name", s.name, maxAttempts)
		}
		id = s.JobID(attempt)
		job, err := Status(ctx, api, id)
		switch {
		case errors.Is(err, ErrNotFound):
			if err := s.saveState(state{Attempt: attempt, JobID: id}); err != nil {
				return err
			}
			spec := s.cfg.Spec
			spec.JobID = id
			job, err = Start(ctx, api, spec)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			s.log.Info("cloud ingestion started", zap.String("job", id), zap.Int("attempt", attempt), zap.Int("extraction_jobs", len(job.Extractions)))
		case err != nil:
			return fmt.Errorf("%s: %w", s.name, err)
		case s.cfg.Restart, job.State() == StateFailed, job.State() == StateCancelled:
			s.log.Info("an earlier attempt exists; starting a new one", zap.String("job", id), zap.Stringer("state", job.State()))
			attempt++
			continue
		default:
			if st.Attempt != attempt {
				if err := s.saveState(state{Attempt: attempt, JobID: id}); err != nil {
					return err
				}
			}
			s.log.Info("following the cloud ingestion an earlier run started", zap.String("job", id), zap.Stringer("state", job.State()))
		}
		s.setLast(job)
		break
	}

	opts := s.cfg.Wait
	var last changeKey
	opts.OnProgress = func(j Job) {
		s.setLast(j)
		if k := j.changeKey(); k != last {
			last = k
			p := j.Progress()
			s.log.Info("cloud ingestion progress", zap.String("job", id), zap.Stringer("state", j.State()),
				zap.Uint64("images", p.Images), zap.Uint64("videos", p.Videos), zap.Uint64("audio", p.Audio), zap.Uint64("text", p.Text),
				zap.Uint64("archives_pending", p.ArchivesPending), zap.Uint64("archives_in_progress", p.ArchivesInProgress),
				zap.Uint64("archives_completed", p.ArchivesCompleted), zap.Uint64("archives_failed", p.ArchivesFailed),
				zap.Uint64("inputs_succeeded", j.Inputs.Succeeded), zap.Uint64("inputs_failed", j.Inputs.Failed))
		}
	}
	final, err := Wait(ctx, api, id, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	switch final.State() {
	case StateFailed:
		return fmt.Errorf("%s: job %s failed: %s", s.name, id, final.Reason())
	case StateCancelled:
		return fmt.Errorf("%s: job %s was cancelled; rerun to start it again", s.name, id)
	}
	if final.HasFailures() {
		s.log.Warn("cloud ingestion completed with failures", zap.String("job", id),
			zap.Uint64("archives_failed", final.Progress().ArchivesFailed), zap.Uint64("inputs_failed", final.Inputs.Failed))
	} else {
		s.log.Info("cloud ingestion completed", zap.String("job", id), zap.Uint64("inputs", final.Progress().Inputs()))
	}
	return nil
}

// state is the ingestion's file in the state directory.
type state struct {
	Version int       `json:"version"`
	URLs    []string  `json:"urls"` // redacted
	JobID   string    `json:"inputs_add_job_id"`
	Attempt int       `json:"attempt"`
	Updated time.Time `json:"updated_at"`
}

func (s *Ingestion) statePath() string {
	if s.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(s.cfg.StateDir, "cloud-"+s.key+".json")
}

// loadState reads the state file; a missing file is the zero state.
func (s *Ingestion) loadState() (state, error) {
	p := s.statePath()
	if p == "" {
		return state{}, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("%s: read state: %w", s.name, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil || st.Attempt < 0 {
		return state{}, fmt.Errorf("%s: state file %s is damaged; remove it to start the ingestion again", s.name, p)
	}
	return st, nil
}

// saveState writes the state file atomically (durable.WriteFile).
func (s *Ingestion) saveState(st state) error {
	p := s.statePath()
	if p == "" {
		return nil
	}
	st.Version, st.Updated = 1, time.Now().UTC()
	for _, u := range s.cfg.Spec.URLs {
		st.URLs = append(st.URLs, RedactURL(u))
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("%s: save state: %w", s.name, err)
	}
	err = durable.WriteFile(p, 0o644, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: save state: %w", s.name, err)
	}
	return nil
}
