package main_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSigintDrainsSavesAndResumes sends SIGINT to a running ingest process:
// it must stop reading, deliver and save what it read, print the summary
// and exit 1; the rerun finishes the job with nothing sent twice.
func TestSigintDrainsSavesAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	bin := binaries(t)
	addr := startEmulator(t, bin, "-latency", "40ms", "-processing-delay", "30ms").addr
	data, state := t.TempDir(), t.TempDir()
	const items = 1500
	for i := range items {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%05d.txt", i)), []byte(fmt.Sprintf("signal test %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"run", "--dir", data, "--state-dir", state, "--concurrency", "2", "--batch-size", "16",
		"--rate-limit", "-1", "--log-level", "warn"}

	cmd := ingestCmd(bin, addr, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the run needs ~4s; interrupt it early
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1 (interrupted)\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "finishing in-flight batches") || !strings.Contains(stdout.String(), "Interrupted: rerun") {
		t.Errorf("interrupted run output:\n%s\n%s", stdout.String(), stderr.String())
	}
	first := count(t, stdout.String(), "uploaded")
	if read := count(t, stdout.String(), "items read"); read >= items || first != read {
		t.Errorf("read %d and uploaded %d of %d: a drained run delivers everything it read, and stops reading", read, first, items)
	}

	cmd = ingestCmd(bin, addr, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if resumed := count(t, string(out), "already done"); resumed != first {
		t.Errorf("rerun: %d already done, want the %d the first run saved\n%s", resumed, first, out)
	}
	if second := count(t, string(out), "uploaded"); first+second != items {
		t.Errorf("uploaded %d + %d, want %d in all\n%s", first, second, items, out)
	}
}

// count reads "<label>  N" from a summary.
func count(t *testing.T, summary, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +(\d+)`).FindStringSubmatch(summary)
	if m == nil {
		if label == "already done" {
			return 0
		}
		t.Fatalf("no %q in the summary:\n%s", label, summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
