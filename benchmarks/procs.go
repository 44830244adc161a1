package main

import (
	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The emulator and the ingest command run as separate processes, built from
// this module, so that what is measured is what users run: the ingest
// binary's startup, checkpoint, logging and exit included.

// benchPAT is the key the emulator accepts in every run.
const benchPAT = "bench-pat"

// benchUser is the user of every app; each measured run uses its own app.
const benchUser = "bench"

// usage is what the kernel accounted to a finished process.
type usage struct {
	CPU     time.Duration // user + system
	MaxRSS  int64         // bytes
	Elapsed time.Duration // from start to exit, as the harness saw it
}

// usageOf reads the rusage of a process that has exited. Its MaxRSS is
// only meaningful for a process started by the launcher (see launch.go).
func usageOf(ps *os.ProcessState, elapsed time.Duration) usage {
	return usage{CPU: ps.UserTime() + ps.SystemTime(), MaxRSS: maxRSSBytes(ps), Elapsed: elapsed}
}

// emulatorOptions are the flags of one emulator process.
type emulatorOptions struct {
	RateLimit float64       // requests/s per app; 0 disables
	Latency   time.Duration // added to every call
	// Port is the gRPC port; 0 picks a free one. An ingest rerun against a
	// restarted emulator needs the same port: the API base is part of the
	// job's fingerprint, which its checkpoint checks.
	Port int
	// StateDir, when set, is where the emulator loads its state from at
	// start and saves it to at exit (-state). It saves only at exit
	// (-save-interval 0): a periodic save of a large app holds the app's
	// lock for seconds and would stall the run being measured.
	StateDir string
}

// Bounds on an emulator's start and stop. Loading or saving the state of a
// million inputs takes seconds to tens of seconds on a shared machine.
const (
	emulatorStartTimeout      = 15 * time.Second
	emulatorStopTimeout       = 10 * time.Second
	emulatorStateStartTimeout = 5 * time.Minute
	emulatorStateStopTimeout  = 5 * time.Minute
)

// args returns the emulator's command line for o, with its inspection API
// on admin.
func (o emulatorOptions) args(admin string) []string {
	args := []string{"-port", strconv.Itoa(o.Port), "-pat", benchPAT, "-admin", admin,
		"-rate-limit", fmt.Sprint(o.RateLimit), "-latency", o.Latency.String()}
	if o.StateDir != "" {
		args = append(args, "-state", o.StateDir, "-save-interval", "0")
	}
	return args
}

// emulator is a running clarifai-emulator process.
type emulator struct {
	cmd   *exec.Cmd
	addr  string // gRPC, host:port
	admin string // inspection API, host:port
	start time.Time
	done  chan error
	log   *os.File
	// stopTimeout bounds stop's wait before it kills the process.
	stopTimeout time.Duration
	// state is the emulator's state directory, "" without one.
	state string
}

// startEmulator starts the emulator binary and waits for its "listening on"
// line. Its logs go to logPath. Stop it with stop.
func startEmulator(ctx context.Context, bin, logPath string, o emulatorOptions) (*emulator, error) {
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	args := o.args(admin)
	startTimeout, stopTimeout := emulatorStartTimeout, emulatorStopTimeout
	if o.StateDir != "" {
		startTimeout, stopTimeout = emulatorStateStartTimeout, emulatorStateStopTimeout
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the harness stops the emulator itself, with
	// SIGINT, so that it exits cleanly.
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	e := &emulator{cmd: cmd, admin: admin, start: time.Now(), done: make(chan error, 1), log: logf, stopTimeout: stopTimeout, state: o.StateDir}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		// Keep draining so the emulator never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, out)
		e.done <- cmd.Wait()
	}()
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening on ")
		if !ok || !found {
			e.kill()
			return nil, fmt.Errorf("emulator did not say where it listens (got %q); see %s", line, logPath)
		}
		e.addr = addr
	case <-timeout.C:
		e.kill()
		return nil, fmt.Errorf("emulator did not start within %s; see %s", startTimeout, logPath)
	case <-ctx.Done():
		e.kill()
		return nil, ctx.Err()
	}
	if err := e.waitAdmin(ctx); err != nil {
		e.kill()
		return nil, err
	}
	return e, nil
}

// freePort returns a loopback host:port that was free a moment ago. The
// emulator's -admin flag needs a port up front.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// freePortNumber returns a loopback TCP port that was free a moment ago.
func freePortNumber() (int, error) {
	addr, err := freePort()
	if err != nil {
		return 0, err
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// waitAdmin waits until the inspection API answers.
func (e *emulator) waitAdmin(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.calls(ctx); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("emulator inspection API on %s: %w", e.admin, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// calls returns how many times each RPC was called, from GET /calls.
func (e *emulator) calls(ctx context.Context) (map[string]int64, error) {
	var m map[string]int64
	err := e.getJSON(ctx, 5*time.Second, "/calls", &m)
	return m, err
}

// getJSON decodes into v the answer of the inspection API to GET path
// (with its query), waiting at most timeout.
func (e *emulator) getJSON(ctx context.Context, timeout time.Duration, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// inspectedInput is the part of an input the harness reads from the
// inspection API's GET /input (protojson field names).
type inspectedInput struct {
	Input struct {
		ID   string `json:"id"`
		Data struct {
			Image struct {
				URL string `json:"url"`
			} `json:"image"`
			Concepts []struct {
				ID    string  `json:"id"`
				Value float64 `json:"value"` // absent (0) for a negative label
			} `json:"concepts"`
		} `json:"data"`
	} `json:"input"`
}

// input returns input id of the harness's user's app, from GET /input.
func (e *emulator) input(ctx context.Context, app, id string) (inspectedInput, error) {
	var in inspectedInput
	q := url.Values{"user": {benchUser}, "app": {app}, "id": {id}}
	err := e.getJSON(ctx, 10*time.Second, "/input?"+q.Encode(), &in)
	return in, err
}

// stop interrupts the emulator and waits for it to exit (with a state
// directory, the emulator saves its state first); it kills it if it takes
// longer than its stop timeout, which is an error with a state directory
// (a killed emulator saved nothing). It returns the emulator's resource
// usage.
func (e *emulator) stop() (usage, error) {
	defer e.log.Close()
	_ = e.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-e.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return usage{}, err
		}
	case <-time.After(e.stopTimeout):
		_ = e.cmd.Process.Kill()
		<-e.done
		if e.state != "" {
			return usageOf(e.cmd.ProcessState, time.Since(e.start)),
				fmt.Errorf("emulator did not save its state to %s within %s: killed", e.state, e.stopTimeout)
		}
	}
	return usageOf(e.cmd.ProcessState, time.Since(e.start)), nil
}

// kill ends the emulator at once (startup failures).
func (e *emulator) kill() {
	_ = e.cmd.Process.Kill()
	<-e.done
	e.log.Close()
}

// runReport is the ingest command's run report (<state dir>/report.json),
// which the harness reads for counts.
type runReport = cli.RunReport

// ingestRun is one `ingest run` invocation.
type ingestRun struct {
	Bin  string
	Dir  string // job file, logs, state
	Job  string // YAML job document
	Addr string // emulator gRPC address
	App  string
	Args []string // extra flags (--no-checkpoint, --rate-limit -1, ...)
	Env  []string // extra environment (profiling)
}

// run writes the job file, runs the ingest command to the end and returns
// its run report and resource usage. A non-zero exit is an error that names
// the log files.
func (r ingestRun) run(ctx context.Context) (runReport, usage, error) {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return runReport{}, usage{}, err
	}
	jobPath := filepath.Join(r.Dir, "job.yaml")
	if err := os.WriteFile(jobPath, []byte(r.Job), 0o644); err != nil {
		return runReport{}, usage{}, err
	}
	state := filepath.Join(r.Dir, "state")
	reportPath := filepath.Join(state, "report.json")
	// The previous report must not be mistaken for this run's.
	_ = os.Remove(reportPath)
	args := append([]string{"run", "--config", jobPath, "--target", "clarifai", "--state-dir", state,
		"--log-level", "warn", "--log-format", "json"}, r.Args...)
	self, err := os.Executable()
	if err != nil {
		return runReport{}, usage{}, err
	}
	usagePath := filepath.Join(r.Dir, "usage.json")
	_ = os.Remove(usagePath)
	cmd := exec.CommandContext(ctx, self, append([]string{r.Bin}, args...)...)
	cmd.Env = append(os.Environ(), launchEnv+"="+usagePath,
		"CLARIFAI_API_BASE=http://"+r.Addr, "CLARIFAI_PAT="+benchPAT,
		"CLARIFAI_USER_ID="+benchUser, "CLARIFAI_APP_ID="+r.App)
	cmd.Env = append(cmd.Env, r.Env...)
	stdout, err := os.Create(filepath.Join(r.Dir, "stdout.txt"))
	if err != nil {
		return runReport{}, usage{}, err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(r.Dir, "stderr.txt"))
	if err != nil {
		return runReport{}, usage{}, err
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	if cmd.ProcessState == nil {
		return runReport{}, usage{}, fmt.Errorf("ingest run: %w", runErr)
	}
	u, uerr := readLaunchedUsage(usagePath, elapsed)
	var rep runReport
	b, err := os.ReadFile(reportPath)
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if runErr != nil {
		return rep, u, fmt.Errorf("ingest run in %s: %w (see stdout.txt and stderr.txt)", r.Dir, runErr)
	}
	if err != nil {
		return rep, u, fmt.Errorf("ingest run in %s: read the run report: %w", r.Dir, err)
	}
	return rep, u, uerr
}
