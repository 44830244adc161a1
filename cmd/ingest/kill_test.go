package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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
	addr := startEmulator(t, bin, "-latency", "40ms", "-processing-delay", "40ms").addr

	data := t.TempDir()
	want := make(map[string]wantInput, items)
	for i := range items {
		body := fmt.Sprintf("item %05d of the kill test\n", i)
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%05d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		id := ids.DeriveID(&pipeline.Item{Kind: pipeline.KindText, Blob: pipeline.BytesBlob([]byte(body))}, []byte(body))
		want[id] = wantInput{}
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
	addr := startEmulator(t, bin, "-latency", "40ms", "-processing-delay", "40ms").addr
	manifest := filepath.Join(t.TempDir(), "m.csv")
	var b strings.Builder
	b.WriteString("id,text,concepts,metadata\n")
	want := make(map[string]wantInput, items)
	for i := range items {
		id := fmt.Sprintf("m-%05d", i)
		fmt.Fprintf(&b, "%s,item %05d of the kill test,c%d,\"{\"\"row\"\": %d}\"\n", id, i, i%7, i)
		want[id] = wantInput{}
	}
	if err := os.WriteFile(manifest, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	killAndRerun(t, bin, addr, want, "run", "--csv", manifest, "--state-dir", t.TempDir(),
		"--concurrency", "2", "--batch-size", "16", "--rate-limit", "-1", "--log-level", "warn")
}

// killAndRerun runs the ingest binary with args against the emulator at
// addr, kills it with SIGKILL at random times, reruns until a run
// finishes with exit 0, and then checks the emulator holds exactly the
// inputs of want (checkApp).
func killAndRerun(t *testing.T, bin, addr string, want map[string]wantInput, args ...string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	kills := rerunUntilDone(t, func() *exec.Cmd { return ingestCmd(bin, addr, args...) },
		func(_, kills int, _ <-chan struct{}) <-chan struct{} {
			if kills >= 5 {
				return nil
			}
			return after(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		})
	if kills < 2 {
		t.Fatalf("only %d runs were killed: the test proved too little", kills)
	}
	checkApp(t, addr, want)
}

// rerunUntilDone starts the process newCmd makes again and again until one
// exits 0, and returns how many were killed. Each attempt is killed with
// SIGKILL when the channel kill returns for it fires (nil: never); kill is
// given the attempt's number, the kills so far and a channel closed when
// the attempt's process has ended. A run that fails otherwise, hangs or
// does not come in 20 attempts fails the test.
func rerunUntilDone(t *testing.T, newCmd func() *exec.Cmd, kill func(attempt, kills int, ended <-chan struct{}) <-chan struct{}) int {
	t.Helper()
	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt == 20 { // bounded: a run that never finishes is a failure
			t.Fatalf("no run finished in %d attempts", attempt)
		}
		cmd := newCmd()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		ended := make(chan struct{})
		trigger := kill(attempt, kills, ended)
		if err := cmd.Start(); err != nil {
			close(ended)
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait(); close(ended) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", attempt, err, out.String())
			}
			t.Logf("run %d finished after %d kills:\n%s", attempt, kills, out.String())
			return kills
		case <-trigger:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		case <-time.After(3 * time.Minute): // generous: only a hang gets here
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("run %d hung:\n%s", attempt, out.String())
		}
	}
}

// after returns a channel closed d from now.
func after(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// wantInput is what checkApp expects of one input. With fields false only
// its presence is checked; with fields true also its concepts (ID ->
// value), metadata (as Struct.AsMap gives it; nil is no metadata) and
// datasets (sorted; nil is none), both in the input's dataset_ids and in
// ListDatasetInputs of every dataset of the app.
type wantInput struct {
	fields   bool
	concepts map[string]float32
	metadata map[string]any
	datasets []string
}

// checkApp checks, through the client's list calls, that the app of the
// emulator at addr holds exactly the inputs of want: none missing, none
// twice, nothing else; and, for those whose fields want says, exactly
// those concepts, metadata and datasets.
func checkApp(t *testing.T, addr string, want map[string]wantInput) {
	t.Helper()
	c, err := client.New(client.Config{Tuning: client.Tuning{RateLimit: -1}, Connection: client.Connection{Base: "http://" + addr, PAT: "kill-test-pat", UserID: "killer", AppID: "kill"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	const perPage = 1000
	got := map[string]*pb.Input{}
	for page := uint32(1); ; page++ {
		if page > 1000 {
			t.Fatal("ListInputs never ended")
		}
		resp, err := c.ListInputs(ctx, &pb.ListInputsRequest{Page: page, PerPage: perPage})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range resp.GetInputs() {
			if got[in.GetId()] != nil {
				t.Errorf("input %s listed twice", in.GetId())
			}
			got[in.GetId()] = in
		}
		if len(resp.GetInputs()) < perPage {
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("emulator holds %d inputs, want exactly %d", len(got), len(want))
	}
	for id := range want {
		if got[id] == nil {
			t.Errorf("input %s is missing", id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected input %s (a second copy under another ID, or one that should be gone?)", id)
		}
	}

	// The datasets as ListDatasetInputs sees them: input ID -> its datasets.
	member := map[string][]string{}
	dsResp, err := c.ListDatasets(ctx, &pb.ListDatasetsRequest{PerPage: perPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range dsResp.GetDatasets() {
		for page := uint32(1); ; page++ {
			if page > 1000 {
				t.Fatalf("ListDatasetInputs of %s never ended", ds.GetId())
			}
			resp, err := c.ListDatasetInputs(ctx, &pb.ListDatasetInputsRequest{DatasetId: ds.GetId(), Page: page, PerPage: perPage})
			if err != nil {
				t.Fatal(err)
			}
			for _, di := range resp.GetDatasetInputs() {
				id := di.GetInput().GetId()
				member[id] = append(member[id], ds.GetId())
			}
			if len(resp.GetDatasetInputs()) < perPage {
				break
			}
		}
	}

	for id, w := range want {
		in := got[id]
		if in == nil || !w.fields {
			continue
		}
		concepts := map[string]float32{}
		for _, cn := range in.GetData().GetConcepts() {
			concepts[cn.GetId()] = cn.GetValue()
		}
		if !maps.Equal(concepts, w.concepts) {
			t.Errorf("input %s: concepts %v, want %v", id, concepts, w.concepts)
		}
		var md map[string]any
		if m := in.GetData().GetMetadata(); m != nil && len(m.GetFields()) > 0 {
			md = m.AsMap()
		}
		if len(md)+len(w.metadata) > 0 && !reflect.DeepEqual(md, w.metadata) {
			t.Errorf("input %s: metadata %v, want %v", id, md, w.metadata)
		}
		ds := slices.Sorted(slices.Values(in.GetDatasetIds()))
		if !slices.Equal(ds, w.datasets) {
			t.Errorf("input %s: dataset_ids %v, want %v", id, ds, w.datasets)
		}
		if m := slices.Sorted(slices.Values(member[id])); !slices.Equal(m, w.datasets) {
			t.Errorf("input %s: ListDatasetInputs has it in %v, want %v", id, m, w.datasets)
		}
	}
	for id, ds := range member {
		if _, ok := want[id]; !ok {
			t.Errorf("datasets %v list input %s, which should not be there", ds, id)
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

// emulatorProc is an emulator running in another process.
type emulatorProc struct {
	addr  string // its gRPC API, host:port
	admin string // its JSON inspection API, host:port
}

// startEmulator runs the emulator binary with the test PAT, its inspection
// API on a free loopback port and extra flags until the test ends. Its logs
// go to the test's stderr.
func startEmulator(t *testing.T, bin string, flags ...string) emulatorProc {
	t.Helper()
	emu := exec.Command(filepath.Join(bin, "clarifai-emulator"),
		append([]string{"-pat", "kill-test-pat", "-rate-limit", "0", "-admin", "127.0.0.1:0"}, flags...)...)
	stdout, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &adminWatcher{w: os.Stderr, addr: make(chan string, 1)}
	emu.Stderr = logs
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
	p := emulatorProc{addr: strings.TrimSpace(strings.TrimPrefix(line, "listening on "))}
	select {
	case p.admin = <-logs.addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the emulator did not log the address of its inspection API")
	}
	return p
}

// adminWatcher passes the emulator's logs on to w and sends the address of
// its inspection API, once logged, on addr.
type adminWatcher struct {
	w    io.Writer
	line []byte // the start of a line not ended yet, until addr is sent
	addr chan string
	sent bool
}

var adminLine = regexp.MustCompile(`inspection API listening.*"addr": "([^"]+)"`)

func (a *adminWatcher) Write(p []byte) (int, error) {
	if !a.sent {
		a.line = append(a.line, p...)
		for {
			i := bytes.IndexByte(a.line, '\n')
			if i < 0 {
				break
			}
			if m := adminLine.FindSubmatch(a.line[:i]); m != nil {
				a.addr <- string(m[1])
				a.sent, a.line = true, nil
				break
			}
			a.line = a.line[i+1:]
		}
	}
	return a.w.Write(p)
}

// calls returns how many calls of the methods named the emulator has
// received (counted on arrival, before its latency).
func (p emulatorProc) calls(methods ...string) (int64, error) {
	resp, err := http.Get("http://" + p.admin + "/calls")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var counts map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		return 0, err
	}
	var n int64
	for _, m := range methods {
		n += counts[m]
	}
	return n, nil
}

// afterCalls returns a channel closed delay after the emulator has
// received n more calls of the methods named than it had when afterCalls
// was called. It watches until then, or until ended is closed.
func (p emulatorProc) afterCalls(n int64, delay time.Duration, ended <-chan struct{}, methods ...string) <-chan struct{} {
	fire := make(chan struct{})
	base, err := p.calls(methods...)
	if err != nil {
		return nil // the run fails or finishes unkilled, and the test says so
	}
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ended:
				return
			case <-tick.C:
			}
			if got, err := p.calls(methods...); err != nil || got-base < n {
				continue
			}
			select {
			case <-ended:
			case <-time.After(delay):
				close(fire)
			}
			return
		}
	}()
	return fire
}

// waitDeletes waits until the emulator has carried out every deletion
// DeleteInputs asked for (its -delete-delay), for at most a minute.
func (p emulatorProc) waitDeletes(t *testing.T) {
	t.Helper()
	for range 600 {
		resp, err := http.Get("http://" + p.admin + "/pending-deletes?user=killer&app=kill")
		if err != nil {
			t.Fatal(err)
		}
		var pending []string
		err = json.NewDecoder(resp.Body).Decode(&pending)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the emulator's deletions did not end in a minute")
}

// ingestCmd is the ingest binary running args against the emulator at addr.
func ingestCmd(bin, addr string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "ingest"), args...)
	cmd.Env = append(os.Environ(), "CLARIFAI_API_BASE=http://"+addr, "CLARIFAI_PAT=kill-test-pat",
		"CLARIFAI_USER_ID=killer", "CLARIFAI_APP_ID=kill")
	return cmd
}
