package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var listening = regexp.MustCompile(`^listening on (127\.0\.0\.1:\d+)\n`)

// waitListening polls out for the first line, for at most 30 seconds.
func waitListening(t *testing.T, out *emutest.LogBuffer, stderr fmt.Stringer) string {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no listening line; stdout %q, stderr %q", out.String(), stderr.String())
	return ""
}

func TestRunFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"dump without state", []string{"-dump"}, "-dump needs -state"},
		{"admin not loopback", []string{"-admin", "0.0.0.0:9999"}, "not a loopback"},
		{"admin without port", []string{"-admin", "127.0.0.1"}, "-admin"},
		{"port out of range", []string{"-port", "70000"}, "out of range"},
		{"unknown flag", []string{"-nope"}, "not defined"},
		{"extra argument", []string{"extra"}, "unexpected arguments"},
		{"bad fault rate", []string{"-throttle-rate", "2"}, "throttle rate"},
		{"bad app", []string{"-app", "noslash"}, "user/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Fatalf("run(%q) = %v (stderr %q), want an error mentioning %q", tc.args, err, stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q on error", stdout.String())
			}
		})
	}
}

// TestRunInProcess serves with run() and stops it by cancelling its context,
// as SIGINT does.
func TestRunInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr emutest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-pat", "p1", "-processing-delay", "0", "-rate-limit", "0"}, &stdout, &stderr)
	}()
	addr := waitListening(t, &stdout, &stderr)

	c := client(t, addr)
	resp, err := c.PostInputs(keyCtx(t, "p1"), &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("x")}})
	if err != nil || resp.Status.GetCode() != statuspb.StatusCode_SUCCESS {
		t.Fatalf("PostInputs: %v %v", resp.GetStatus(), err)
	}
	// -processing-delay 0 means at once on the command line.
	if resp.Inputs[0].Status.GetCode() != statuspb.StatusCode_INPUT_SUCCESS {
		t.Errorf("input status %v, want INPUT_SUCCESS at once", resp.Inputs[0].Status)
	}
	// -rate-limit 0 disables the limit.
	for i := 0; i < 40; i++ {
		r, err := c.ListInputs(keyCtx(t, "p1"), &pb.ListInputsRequest{UserAppId: uai()})
		if err != nil || r.Status.GetCode() != statuspb.StatusCode_SUCCESS {
			t.Fatalf("call %d: %v %v", i, r.GetStatus(), err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout has more than the listening line: %q", stdout.String())
	}
}

// TestBinary builds the command and runs it as a subprocess: serve with
// state and the inspection API, stop with SIGTERM, dump, restart, and stop
// with SIGINT.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "clarifai-emulator")
	build := exec.CommandContext(ctx, goTool(t), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := t.TempDir()
	adminAddr := freeAddr(t)

	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *emutest.LogBuffer
		addr           string
	}
	startProc := func(args ...string) *proc {
		t.Helper()
		p := &proc{stdout: &emutest.LogBuffer{}, stderr: &emutest.LogBuffer{}}
		p.cmd = exec.CommandContext(ctx, bin, args...)
		p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.addr = waitListening(t, p.stdout, p.stderr)
		return p
	}
	stop := func(p *proc, sig syscall.Signal) {
		t.Helper()
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("exit after %v: %v; stderr:\n%s", sig, err, p.stderr.String())
		}
		if !strings.HasPrefix(p.stdout.String(), "listening on ") || strings.Count(p.stdout.String(), "\n") != 1 {
			t.Errorf("stdout %q, want exactly the listening line", p.stdout.String())
		}
		if strings.Contains(p.stderr.String(), "secret-pat") {
			t.Error("a PAT was logged")
		}
	}

	p := startProc("-pat", "secret-pat", "-state", state, "-admin", adminAddr, "-save-interval", "0")
	c := client(t, p.addr)
	resp, err := c.PostInputs(keyCtx(t, "secret-pat"), &pb.PostInputsRequest{UserAppId: uai(), Inputs: []*pb.Input{urlInput("one"), urlInput("two")}})
	if err != nil || resp.Status.GetCode() != statuspb.StatusCode_SUCCESS {
		t.Fatalf("PostInputs: %v %v", resp.GetStatus(), err)
	}
	bad, err := c.ListInputs(keyCtx(t, "wrong"), &pb.ListInputsRequest{UserAppId: uai()})
	if err != nil || bad.Status.GetCode() != statuspb.StatusCode_CONN_KEY_INVALID {
		t.Errorf("wrong PAT: %v %v", bad.GetStatus(), err)
	}
	var counts map[string]struct{ Inputs int }
	getJSON(t, ctx, "http://"+adminAddr+"/counts", &counts)
	if counts["user1/app1"].Inputs != 2 {
		t.Errorf("/counts = %v", counts)
	}
	stop(p, syscall.SIGTERM)

	dump := exec.CommandContext(ctx, bin, "-state", state, "-dump")
	out, err := dump.Output()
	if err != nil {
		t.Fatalf("-dump: %v", err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			User, App string
			Input     struct{ ID string }
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("dump line %q: %v", sc.Text(), err)
		}
		ids = append(ids, line.User+"/"+line.App+"/"+line.Input.ID)
	}
	if strings.Join(ids, " ") != "user1/app1/one user1/app1/two" {
		t.Errorf("dump ids %v", ids)
	}

	p = startProc("-state", state)
	c = client(t, p.addr)
	got, err := c.GetInput(keyCtx(t, "any"), &pb.GetInputRequest{UserAppId: uai(), InputId: "two"})
	if err != nil || got.Status.GetCode() != statuspb.StatusCode_SUCCESS {
		t.Errorf("GetInput after restart: %v %v", got.GetStatus(), err)
	}
	stop(p, syscall.SIGINT)
}

func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(p); err != nil {
		t.Skip("no go tool to build the binary")
	}
	return p
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func getJSON(t *testing.T, ctx context.Context, url string, into any) {
	t.Helper()
	var lastErr error
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				if err := json.Unmarshal(body, into); err != nil {
					t.Fatalf("GET %s: %v", url, err)
				}
				http.DefaultClient.CloseIdleConnections()
				return
			}
			err = errors.Join(rerr, errors.New(resp.Status))
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
}

func client(t *testing.T, addr string) pb.V2Client {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewV2Client(conn)
}

func keyCtx(t *testing.T, pat string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Key "+pat)
}

func uai() *pb.UserAppIDSet { return &pb.UserAppIDSet{UserId: "user1", AppId: "app1"} }

func urlInput(id string) *pb.Input {
	return &pb.Input{Id: id, Data: &pb.Data{Image: &pb.Image{Url: "https://example.com/" + id + ".jpg"}}}
}
