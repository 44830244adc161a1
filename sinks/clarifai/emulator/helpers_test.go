package emulator

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testUser = "user1"
	testApp  = "app1"
	testPAT  = "pat-secret"
)

// start runs an emulator on 127.0.0.1 and returns it with a client; both
// are closed when the test ends.
func start(t testing.TB, opts Options) (*Server, pb.V2Client) {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dial(t, s.Addr())
}

func dial(t testing.TB, addr string) pb.V2Client {
	t.Helper()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(MaxRecvMsgSize), grpc.MaxCallRecvMsgSize(MaxRecvMsgSize)))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	// Cleanups run last-in first-out: the connection closes before the server.
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewV2Client(conn)
}

// authCtx is a context with a PAT and a generous deadline.
func authCtx(t testing.TB) context.Context {
	return keyCtx(t, "Key "+testPAT)
}

func keyCtx(t testing.TB, auth string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if auth == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", auth)
}

func uai() *pb.UserAppIDSet { return &pb.UserAppIDSet{UserId: testUser, AppId: testApp} }

func urlInput(id string) *pb.Input {
	return &pb.Input{Id: id, Data: &pb.Data{Image: &pb.Image{Url: "https://example.com/" + id + ".jpg"}}}
}

func imageInput(id string, b []byte) *pb.Input {
	return &pb.Input{Id: id, Data: &pb.Data{Image: &pb.Image{Base64: b}}}
}

func labeledInput(id string) *pb.Input {
	in := urlInput(id)
	md, _ := structpb.NewStruct(map[string]any{"filename": id + ".jpg", "n": 1.0})
	in.Data.Concepts = []*pb.Concept{{Id: "cat", Name: "cat", Value: 1}}
	in.Data.Metadata = md
	return in
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	return img
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func bmpBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tiffBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is a hand-built lossless WEBP header of a 1x1 image: enough for
// DecodeConfig, which reads only the header.
func webpBytes() []byte {
	vp8l := []byte{0x2f, 0, 0, 0, 0}
	b := []byte("RIFF\x00\x00\x00\x00WEBPVP8L")
	b = append(b, byte(len(vp8l)), 0, 0, 0)
	b = append(b, vp8l...)
	b = append(b, 0) // chunk padding to an even length
	size := len(b) - 8
	b[4], b[5] = byte(size), byte(size>>8)
	return b
}

var (
	mp4Bytes  = []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
	aviBytes  = []byte("RIFF\x24\x00\x00\x00AVI LIST\x00\x00\x00\x00")
	wmvBytes  = append(append([]byte(nil), asfHeaderGUID...), 0, 0, 0, 0)
	wavBytes  = []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
	mp3ID3    = []byte("ID3\x03\x00\x00\x00\x00\x00\x00")
	mp3Frame  = []byte{0xFF, 0xFB, 0x90, 0x64, 0, 0}
	flacBytes = []byte("fLaC\x00\x00\x00\x22")
	oggBytes  = []byte("OggS\x00\x02\x00\x00")
	garbage   = []byte("this is not a media file at all")
)

// code returns a status's code, for compact assertions.
func code(st *statuspb.Status) statuspb.StatusCode { return st.GetCode() }

// post posts inputs and fails the test on a transport error.
func post(t testing.TB, c pb.V2Client, req *pb.PostInputsRequest) *pb.MultiInputResponse {
	t.Helper()
	if req.UserAppId == nil {
		req.UserAppId = uai()
	}
	resp, err := c.PostInputs(authCtx(t), req)
	if err != nil {
		t.Fatalf("PostInputs: %v", err)
	}
	return resp
}

// getInput fetches one input and fails the test on a transport error.
func getInput(t testing.TB, c pb.V2Client, id string) *pb.SingleInputResponse {
	t.Helper()
	resp, err := c.GetInput(authCtx(t), &pb.GetInputRequest{UserAppId: uai(), InputId: id})
	if err != nil {
		t.Fatalf("GetInput: %v", err)
	}
	return resp
}
