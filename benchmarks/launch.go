package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Peak RSS needs a launcher. On Linux a child's ru_maxrss is the maximum of
// its own peak and that of the memory it replaced at exec; os/exec starts a
// child with vfork semantics (CLONE_VM), so the memory replaced is the
// parent's: every ingest process would report at least the harness's own
// RSS, which holds the ceiling's prebuilt requests (hundreds of MB). So the
// harness re-executes itself as a small launcher (a fresh process of a few
// MB), which starts the ingest command and reports its usage, as
// /usr/bin/time does. The launcher's own few MB are the floor of the
// measurement, far below any ingest process's RSS.

// launchEnv, when set, makes this binary a launcher: it runs its arguments
// as a command, and writes the command's usage as JSON to the file named by
// the variable.
const launchEnv = "BENCHMARKS_LAUNCH_USAGE"

// launchedUsage is what the launcher writes.
type launchedUsage struct {
	UserNanos   int64 `json:"user_ns"`
	SystemNanos int64 `json:"system_ns"`
	MaxRSS      int64 `json:"max_rss_bytes"`
	ExitCode    int   `json:"exit_code"`
}

// launch runs args[0] with args[1:], its output going to stdout and
// stderr, forwards SIGINT/SIGTERM to it, writes its usage to usagePath, and
// returns its exit code.
func launch(usagePath string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "launcher: no command")
		return 1
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	env := os.Environ()
	for i, kv := range env {
		if len(kv) > len(launchEnv) && kv[:len(launchEnv)+1] == launchEnv+"=" {
			env = append(env[:i], env[i+1:]...)
			break
		}
	}
	cmd.Env = env
	// The command must not outlive the launcher (the harness kills the
	// launcher when it is interrupted).
	cmd.SysProcAttr = childProcAttr()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "launcher:", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(stderr, "launcher:", err)
		return 1
	}
	ps := cmd.ProcessState
	u := launchedUsage{UserNanos: int64(ps.UserTime()), SystemNanos: int64(ps.SystemTime()),
		MaxRSS: maxRSSBytes(ps), ExitCode: ps.ExitCode()}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(usagePath, b, 0o644); err != nil {
		fmt.Fprintln(stderr, "launcher:", err)
		return 1
	}
	return ps.ExitCode()
}

// readLaunchedUsage reads what the launcher wrote.
func readLaunchedUsage(path string, elapsed time.Duration) (usage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return usage{}, fmt.Errorf("the launcher wrote no usage: %w", err)
	}
	var lu launchedUsage
	if err := json.Unmarshal(b, &lu); err != nil {
		return usage{}, err
	}
	return usage{CPU: time.Duration(lu.UserNanos + lu.SystemNanos), MaxRSS: lu.MaxRSS, Elapsed: elapsed}, nil
}
