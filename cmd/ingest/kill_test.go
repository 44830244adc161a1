package main_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// TestKillAndRerunLosesAndDuplicatesNothing runs the ingest binary as a
// subprocess against an emulator in another process, kills it with SIGKILL
// at random points of a run of thousands of items, reruns until a run
// finishes, and then checks the emulator holds exactly the expected inputs:
// none missing, none twice.
func TestKillAndRerunLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs them several times")
	}
	const items = 2000
	bin := binaries(t)
	addr := startEmulator(t, bin, "-latency", "40ms", "-processing-delay", "40ms")

	data := t.TempDir()
	want := make(map[string]string, items) // input ID -> content sha256
	for i := range items {
		body := fmt.Sprintf("item %05d of the kill test\n", i)
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%05d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		id := ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte(body))}, []byte(body))
		sum := sha256.Sum256([]byte(body))
		want[id] = hex.EncodeToString(sum[:])
	}
	state := t.TempDir()
	killAndRerun(t, bin, addr, want, "run", "--dir", data, "--state-dir", state,
		"--concurrency", "2", "--batch-size", "16", "--rate-limit", "-1", "--log-level", "warn")
}

// TestKillAndRerunWithGivenIDs is the kill test with a manifest whose rows
// give their input IDs: a rerun after SIGKILL meets inputs the killed run
// sent but did not record, reads them back and adopts them.
func TestKillAndRerunWithGivenIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs them several times")
	}
	const items = 2000
	bin := binaries(t)
	addr := startEmulator(t, bin, "-latency", "40ms", "-processing-delay", "40ms")
	manifest := filepath.Join(t.TempDir(), "m.csv")
	var b strings.Builder
	b.WriteString("id,text,concepts,metadata\n")
	want := make(map[string]string, items)
	for i := range items {
		id := fmt.Sprintf("m-%05d", i)
		fmt.Fprintf(&b, "%s,item %05d of the kill test,c%d,\"{\"\"row\"\": %d}\"\n", id, i, i%7, i)
		want[id] = ""
	}
	if err := os.WriteFile(manifest, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	killAndRerun(t, bin, addr, want, "run", "--csv", manifest, "--state-dir", t.TempDir(),
		"--concurrency", "2", "--batch-size", "16", "--rate-limit", "-1", "--log-level", "warn")
}

// killAndRerun runs the ingest binary with args against the emulator at
// addr, kills it with SIGKILL at random points, reruns until a run
// finishes with exit 0, and then checks the emulator holds exactly the
// inputs of want: none missing, none twice, nothing else.
func killAndRerun(t *testing.T, bin, addr string, want map[string]string, args ...string) {
	t.Helper()
	items := len(want)
	ingest := func() *exec.Cmd { return ingestCmd(bin, addr, args...) }
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt == 20 { // bounded: a run that never finishes is a failure
			t.Fatalf("no run finished in %d attempts", attempt)
		}
		cmd := ingest()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer <-chan time.Time
		if kills < 5 {
			timer = time.After(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", attempt, err, out.String())
			}
			t.Logf("run %d finished after %d kills:\n%s", attempt, kills, out.String())
		case <-timer:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
			continue
		case <-time.After(3 * time.Minute): // generous: only a hang gets here
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("run %d hung:\n%s", attempt, out.String())
		}
		break
	}
	if kills < 2 {
		t.Fatalf("only %d runs were killed: the test proved too little", kills)
	}

	c, err := client.New(client.Config{Tuning: client.Tuning{RateLimit: -1}, Connection: client.Connection{Base: "http://" + addr, PAT: "kill-test-pat", UserID: "killer", AppID: "kill"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]bool{}
	for page := uint32(1); ; page++ {
		resp, err := c.ListInputs(context.Background(), &pb.ListInputsRequest{Page: page, PerPage: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range resp.GetInputs() {
			if got[in.GetId()] {
				t.Errorf("input %s listed twice", in.GetId())
			}
			got[in.GetId()] = true
		}
		if len(resp.GetInputs()) < 1000 {
			break
		}
	}
	if len(got) != items {
		t.Errorf("emulator holds %d inputs, want exactly %d", len(got), items)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("input %s is missing", id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected input %s (a second copy under another ID?)", id)
		}
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the ingest and emulator binaries once for the package's
// tests and returns their folder.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "ingest-bin-")
		if buildErr != nil {
			return
		}
		for name, pkg := range map[string]string{"ingest": ".", "clarifai-emulator": "../clarifai-emulator"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// startEmulator runs the emulator binary with the test PAT and extra flags
// until the test ends, and returns its address.
func startEmulator(t *testing.T, bin string, flags ...string) string {
	t.Helper()
	emu := exec.Command(filepath.Join(bin, "clarifai-emulator"), append([]string{"-pat", "kill-test-pat", "-rate-limit", "0"}, flags...)...)
	stdout, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	emu.Stderr = os.Stderr
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = emu.Process.Signal(syscall.SIGTERM)
		_ = emu.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("emulator said %q, %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// ingestCmd is the ingest binary running args against the emulator at addr.
func ingestCmd(bin, addr string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "ingest"), args...)
	cmd.Env = append(os.Environ(), "CLARIFAI_API_BASE=http://"+addr, "CLARIFAI_PAT=kill-test-pat",
		"CLARIFAI_USER_ID=killer", "CLARIFAI_APP_ID=kill")
	return cmd
}
