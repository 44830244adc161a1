package configs

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/units"
	"github.com/ingestkit/clarifai-ingest/sinks"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// setting is one numeric setting of the job file: its key and its field.
type setting struct {
	key   string
	field func(j *Job) reflect.Value
}

// numericSettings walks the job's composed structs and returns every
// numeric setting a job file can set, with its dotted key.
func numericSettings(t *testing.T) []setting {
	t.Helper()
	var out []setting
	var walk func(typ reflect.Type, key string, path []int)
	walk = func(typ reflect.Type, key string, path []int) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			p := append(append([]int(nil), path...), i)
			if f.IsExported() && opts == "inline" {
				// A library's settings composed into a section: its keys
				// are the section's.
				walk(f.Type, key, p)
				continue
			}
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			k := name
			if key != "" {
				k = key + "." + name
			}
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, k, p)
			case reflect.Int, reflect.Int64, reflect.Float64:
				out = append(out, setting{k, func(j *Job) reflect.Value { return reflect.ValueOf(j).Elem().FieldByIndex(p) }})
			}
		}
	}
	walk(reflect.TypeFor[Job](), "", nil)
	return out
}

// candidates are the values tried for a numeric setting: the boundaries of
// every range the owners declare, and values that are not numbers.
func candidates(v reflect.Value) []any {
	switch v.Interface().(type) {
	case units.Duration:
		return []any{units.Duration(-time.Second), units.Duration(0), units.Duration(1), units.Duration(time.Second), units.Duration(time.Hour)}
	case units.ByteSize:
		return []any{units.ByteSize(-1), units.ByteSize(0), units.ByteSize(1), units.ByteSize(1 << 20), units.ByteSize(120_000_000),
			units.ByteSize(120_000_001), units.ByteSize(125_000_000), units.ByteSize(128_000_000), units.ByteSize(1 << 40)}
	case float64:
		return []any{math.NaN(), math.Inf(1), math.Inf(-1), -1.0, -0.5, 0.0, 0.001, 15.0, 1e9}
	case int:
		return []any{-1, 0, 1, 2, 63, 64, 65, 127, 128, 129, 1 << 20}
	}
	panic("no candidates for " + v.Type().String())
}

// jobOwned are the settings no library config holds: the job checks them
// itself and hands them to the pipeline as they are.
var jobOwned = map[string]bool{"upload.workers": true}

// buildRun constructs what Run constructs for j, without sending anything:
// the client (dialing is lazy), the sink on it, the emulator's options,
// the sources and the transforms.
func buildRun(j *Job) error {
	cc := j.clientConfig()
	cc.PAT, cc.UserID, cc.AppID = "pat", "user", "app"
	if j.Target == TargetEmbedded {
		cc.Base = "http://127.0.0.1:9" // where the emulator would listen
	}
	c, err := client.New(cc)
	if err != nil {
		return err
	}
	defer c.Close()
	var errs []error
	if _, err := clarifai.NewSink(c, j.sinkConfig(nil, nil)); err != nil {
		errs = append(errs, err)
	}
	if j.Target == TargetEmbedded {
		errs = append(errs, j.emulatorOptions("pat").Validate())
	}
	if _, err := j.buildSources(zap.NewNop(), nil, func(*CloudSource) (pipeline.Source, error) { return nil, nil }); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := j.buildTransforms(transforms.NewRegistry(), nil, zap.NewNop()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// TestValidateAndRunAcceptTheSameValues walks every numeric setting of the
// job file and checks, for each boundary value and each non-number, that
// `ingest validate` (ValidateOffline) accepts it exactly when the run can
// be built with it, and that a rejection names the key.
func TestValidateAndRunAcceptTheSameValues(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	settings := numericSettings(t)
	found := map[string]bool{}
	for _, s := range settings {
		found[s.key] = true
	}
	for _, k := range []string{"upload.batch_size", "upload.max_request_bytes", "upload.concurrency", "upload.rate_limit",
		"upload.max_attempts", "upload.max_elapsed", "upload.workers", "embedded.processing_delay", "embedded.rate_limit"} {
		if !found[k] {
			t.Fatalf("the walk misses %s (found %d numeric settings)", k, len(settings))
		}
	}
	for _, target := range []string{TargetClarifai, TargetEmbedded} {
		for _, s := range settings {
			if jobOwned[s.key] {
				continue
			}
			for _, v := range candidates(s.field(&Job{})) {
				j := &Job{Target: target, Sources: []Source{{Dir: nil}}}
				j.Sources[0] = mustSource(t, data)
				s.field(j).Set(reflect.ValueOf(v))
				j.WithDefaults()
				verr := j.ValidateOffline()
				rerr := buildRun(j)
				if (verr == nil) != (rerr == nil) {
					t.Errorf("%s %s = %v: validate says %v, building the run says %v", target, s.key, v, verr, rerr)
				}
				if verr != nil && !strings.Contains(verr.Error(), s.key+": ") {
					t.Errorf("%s = %v: %v does not name the key", s.key, v, verr)
				}
			}
		}
	}
}

// TestValidateAndRunAgreeOnStrings does for the string settings that a
// library parses (the endpoint, the shard) what the test above does for
// numbers.
func TestValidateAndRunAgreeOnStrings(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		key    string
		set    func(j *Job, v string)
		values []string
	}{
		{"clarifai.base", func(j *Job, v string) { j.Clarifai.Base = v },
			[]string{"https://api.clarifai.com", "http://127.0.0.1:1", "127.0.0.1:8080", "ftp://x", "http://", "https://[::1", "http://h:99999"}},
		{"shard", func(j *Job, v string) { j.Shard = v }, []string{"0/1", "1/4", "3/4", "4/4", "-1/4", "1/0", "x", "1/2/3"}},
	} {
		for _, v := range tc.values {
			j := &Job{Target: TargetClarifai, Sources: []Source{mustSource(t, data)}}
			tc.set(j, v)
			j.WithDefaults()
			verr, rerr := j.ValidateOffline(), buildRun(j)
			if (verr == nil) != (rerr == nil) {
				t.Errorf("%s = %q: validate says %v, building the run says %v", tc.key, v, verr, rerr)
			}
			if verr != nil && !strings.Contains(verr.Error(), tc.key+": ") {
				t.Errorf("%s = %q: %v does not name the key", tc.key, v, verr)
			}
		}
	}
}

// TestNonFiniteNumbersAreRejected: NaN and ±Inf never pass, whatever the
// setting (the documented -1 of rate_limit stays).
func TestNonFiniteNumbersAreRejected(t *testing.T) {
	for _, doc := range []string{"upload: {rate_limit: .nan}", "upload: {rate_limit: .inf}", "upload: {rate_limit: -.inf}",
		"embedded: {rate_limit: .nan}"} {
		j, err := Parse([]byte("target: embedded\nsources: [{urls: {path: u.txt}}]\n" + doc + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		j.WithDefaults()
		if err := j.ValidateOffline(); err == nil || !strings.Contains(err.Error(), "rate_limit: ") {
			t.Errorf("%s: err = %v, want a rejection naming rate_limit", doc, err)
		}
	}
	j, _ := Parse([]byte("target: embedded\nsources: [{urls: {path: u.txt}}]\nupload: {rate_limit: -1}\n"))
	j.WithDefaults()
	if err := j.ValidateOffline(); err != nil {
		t.Errorf("rate_limit -1 (disabled): %v", err)
	}
}

// TestRunRefusesWhatValidateRefuses: the case, end to end. A
// request budget of 125MB is refused by validate and by Run alike, before
// anything starts; the largest accepted value runs.
func TestRunRefusesWhatValidateRefuses(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	newJob := func(size units.ByteSize) *Job {
		state := t.TempDir()
		return &Job{Name: "limits", Target: TargetEmbedded, Sources: []Source{mustSource(t, data)},
			Upload:   Upload{Settings: clarifai.Settings{Batch: sinks.BatchPolicy{MaxBytes: size}}},
			Embedded: Embedded{StateDir: filepath.Join(state, "emu"), ProcessingDelay: units.Duration(time.Millisecond)},
			State:    State{Dir: filepath.Join(state, "job")}}
	}
	j := newJob(125_000_000)
	j.WithDefaults()
	if err := j.ValidateOffline(); err == nil || !strings.Contains(err.Error(), "upload.max_request_bytes: ") {
		t.Errorf("validate 125MB: %v", err)
	}
	_, err := newJob(125_000_000).Run(context.Background())
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "upload.max_request_bytes: ") {
		t.Errorf("Run 125MB: err = %v, want a ConfigError naming the key", err)
	}
	rep, err := newJob(120_000_000).Run(context.Background())
	if err != nil || rep.Stats.Done != 1 {
		t.Errorf("Run 120MB: %+v, %v; want the item done", rep, err)
	}
}

func mustSource(t *testing.T, path string) Source {
	t.Helper()
	j, err := Parse([]byte("sources: [{dir: {path: " + path + "}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return j.Sources[0]
}
