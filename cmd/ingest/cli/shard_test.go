package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// childArgsEnv, when set, makes TestShardChildProcess act as the ingest
// binary: it holds the CLI arguments as a JSON list.
const childArgsEnv = "INGEST_E2E_CHILD_ARGS"

// TestShardChildProcess is not a test on its own. Started by
// TestE2EFourShardProcesses as a child process (this test binary, run with
// -test.run and childArgsEnv), it runs the CLI with the process's real
// environment, as cmd/ingest's main does, and exits with its code. Re-running
// the test binary gives real processes without building the ingest binary
// (and under -race, race-checked ones).
func TestShardChildProcess(t *testing.T) {
	raw := os.Getenv(childArgsEnv)
	if raw == "" {
		t.Skip("only runs as a child process of TestE2EFourShardProcesses")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // only a hang ends here
	code := cli.Run(ctx, args)
	cancel()
	os.Exit(code)
}

// TestE2EFourShardProcesses runs `ingest run --shard i/4` for i = 0..3 as
// four concurrent processes of the same job against one emulator, over a
// mixed dataset (files, a URL list, CSV rows of text, URLs and files). The
// union of the shards must be the whole dataset, no input may be sent
// twice (counted on the wire by a proxy in front of the emulator), and each
// shard keeps its own checkpoint.
func TestE2EFourShardProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	f := newFixture(t, emulator.Options{})
	proxy := startCountingProxy(t, f.srv.Addr())

	root := t.TempDir()
	want := map[string]string{} // input ID → what it is, for messages
	for i := range 40 {
		p := filepath.Join(root, "data", "texts", fmt.Sprintf("t%02d.txt", i))
		writeFile(t, p, fmt.Sprintf("dir text %d\n", i))
		want[idOfFile(t, pipeline.KindText, p)] = p
	}
	for _, name := range []string{"img.png", "img.jpg", "img.gif", "img.webp", "img.bmp", "img.tiff"} {
		p := filepath.Join(root, "data", "images", name)
		copyFile(t, filepath.Join(media, name), p)
		want[idOfFile(t, pipeline.KindImage, p)] = p
	}
	var urls strings.Builder
	urls.WriteString("# thirty images\n")
	for i := range 30 {
		u := fmt.Sprintf("https://example.com/list/%02d.jpg", i)
		fmt.Fprintf(&urls, "%s\tlabel%d\n", u, i%3)
		want[idOfURL(pipeline.KindImage, u)] = u
	}
	writeFile(t, filepath.Join(root, "urls.txt"), urls.String())
	rows := [][]string{{"url", "path", "text", "concepts"}}
	for i := range 15 {
		text := fmt.Sprintf("csv text %d", i)
		rows = append(rows, []string{"", "", text, "csv"})
		want[idOfText(text)] = text
	}
	for i := range 10 {
		u := fmt.Sprintf("https://example.com/csv/%02d.png", i)
		rows = append(rows, []string{u, "", "", "csv"})
		want[idOfURL(pipeline.KindImage, u)] = u
	}
	for i := range 5 {
		p := filepath.Join(root, "files", fmt.Sprintf("p%d.txt", i))
		writeFile(t, p, fmt.Sprintf("csv file %d\n", i))
		rows = append(rows, []string{"", "files/" + filepath.Base(p), "", "csv"})
		want[idOfFile(t, pipeline.KindText, p)] = p
	}
	writeCSV(t, filepath.Join(root, "manifest.csv"), rows)
	const total = 40 + 6 + 30 + 30
	if len(want) != total {
		t.Fatalf("the dataset has %d distinct inputs, want %d", len(want), total)
	}
	job := filepath.Join(root, "job.yaml")
	writeFile(t, job, `
target: clarifai
sources:
  - dir: {path: data}
  - urls: {path: urls.txt}
  - csv: {path: manifest.csv}
upload: {batch_size: 8, rate_limit: -1}
log: {level: warn}
`)
	state := t.TempDir()
	env := append(os.Environ(), "CLARIFAI_API_BASE=http://"+proxy.addr, "CLARIFAI_PAT="+testPAT,
		"CLARIFAI_USER_ID="+testUser, "CLARIFAI_APP_ID="+testApp)

	// Four processes at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		args, _ := json.Marshal([]string{"run", "--config", job, "--state-dir", state, "--shard", fmt.Sprintf("%d/4", i)})
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestShardChildProcess$")
		cmd.Env = append(env, childArgsEnv+"="+string(args))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			if err != nil && code == 0 {
				code = -1
			}
			results[i] = result{code, stdout.String(), stderr.String()}
		})
	}
	wg.Wait()

	sum := 0
	for i, res := range results {
		if res.code != cli.ExitOK {
			t.Errorf("shard %d/4: exit %d, want 0:\n%s", i, res.code, res)
			continue
		}
		s := summary(t, res.stdout)
		// Each shard reads only its own items, and does them all.
		if s["uploaded"] == 0 || s["items read"] != s["uploaded"] || s["failed"] != 0 || s["skipped"] != 0 {
			t.Errorf("shard %d/4: summary %v, want a non-empty share, all uploaded", i, s)
		}
		sum += s["uploaded"]
		dir := filepath.Join(state, fmt.Sprintf("shard-%d-of-4", i))
		if !strings.Contains(res.stdout, "checkpoint     "+dir+"\n") {
			t.Errorf("shard %d/4 does not name its checkpoint %s:\n%s", i, dir, res.stdout)
		}
		if logs, _ := filepath.Glob(filepath.Join(dir, "log-*.ckpt")); len(logs) == 0 {
			t.Errorf("shard %d/4: no checkpoint log in %s", i, dir)
		}
		var rep cli.RunReport
		if b, err := os.ReadFile(filepath.Join(dir, "report.json")); err != nil || json.Unmarshal(b, &rep) != nil || rep.Done != int64(s["uploaded"]) {
			t.Errorf("shard %d/4: report.json in its own state dir: %+v, %v", i, rep, err)
		}
	}
	if sum != total {
		t.Errorf("the shards uploaded %d inputs together, want %d", sum, total)
	}

	// The union is the whole dataset, each input stored once...
	stored := storedByID(t, f)
	for id, what := range want {
		if _, ok := stored[id]; !ok {
			t.Errorf("%s (input %s) is not stored", what, id)
		}
	}
	if len(stored) != total {
		t.Errorf("emulator holds %d inputs, want %d", len(stored), total)
	}
	// ... and was sent once: no shard sent another's input, none retried.
	sent := proxy.counts()
	for id, what := range want {
		if sent[id] != 1 {
			t.Errorf("%s (input %s) was sent %d times, want once", what, id, sent[id])
		}
	}
	if len(sent) != total {
		t.Errorf("PostInputs carried %d distinct inputs, want %d", len(sent), total)
	}

	// A shard rerun resumes from its own checkpoint and sends nothing.
	rerun := mustRun(t, cli.ExitOK, &fixture{env: map[string]string{
		"CLARIFAI_API_BASE": "http://" + proxy.addr, "CLARIFAI_PAT": testPAT,
		"CLARIFAI_USER_ID": testUser, "CLARIFAI_APP_ID": testApp,
	}}, nil, "run", "--config", job, "--state-dir", state, "--shard", "2/4")
	if s := summary(t, rerun.stdout); s["uploaded"] != 0 || !strings.Contains(rerun.stdout, "already done") {
		t.Errorf("rerun of shard 2/4: %v\n%s", s, rerun.stdout)
	}
	if again := proxy.counts(); len(again) != len(sent) {
		t.Errorf("the rerun sent inputs again: %d distinct, was %d", len(again), len(sent))
	}
}

// countingProxy is a gRPC proxy on 127.0.0.1 in front of the emulator. It
// forwards every call of the V2 service unchanged (request, response,
// status and the authorization header) and counts, per input ID, how many
// PostInputs requests carried it.
type countingProxy struct {
	addr string
	mu   sync.Mutex
	sent map[string]int
}

func startCountingProxy(t *testing.T, backend string) *countingProxy {
	t.Helper()
	desc, err := protoregistry.GlobalFiles.FindDescriptorByName("clarifai.api.V2")
	if err != nil {
		t.Fatal(err)
	}
	svc := desc.(protoreflect.ServiceDescriptor)
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{addr: lis.Addr().String(), sent: map[string]int{}}
	newMsg := func(name protoreflect.FullName) (proto.Message, error) {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
		if err != nil {
			return nil, err
		}
		return mt.New().Interface(), nil
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(64<<20), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		full, _ := grpc.MethodFromServerStream(ss)
		m := svc.Methods().ByName(protoreflect.Name(path.Base(full)))
		if m == nil || !strings.HasPrefix(full, "/clarifai.api.V2/") {
			return status.Errorf(codes.Unimplemented, "proxy: unknown method %s", full)
		}
		req, err := newMsg(m.Input().FullName())
		if err != nil {
			return err
		}
		resp, err := newMsg(m.Output().FullName())
		if err != nil {
			return err
		}
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		if r, ok := req.(*pb.PostInputsRequest); ok {
			p.mu.Lock()
			for _, in := range r.GetInputs() {
				p.sent[in.GetId()]++
			}
			p.mu.Unlock()
		}
		in, _ := metadata.FromIncomingContext(ss.Context())
		out := metadata.MD{}
		for _, k := range []string{"authorization", "x-clarifai-request-id-prefix"} {
			if v := in.Get(k); len(v) > 0 {
				out.Set(k, v...)
			}
		}
		if err := conn.Invoke(metadata.NewOutgoingContext(ss.Context(), out), full, req, resp); err != nil {
			return err
		}
		return ss.SendMsg(resp)
	}))
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
		_ = conn.Close()
	})
	return p
}

// counts returns a copy of the per-input-ID counts.
func (p *countingProxy) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.sent))
	for k, v := range p.sent {
		out[k] = v
	}
	return out
}
