package emulator

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator/emutest"
)

func TestSniffers(t *testing.T) {
	hugePNG := func() []byte {
		// A PNG signature and IHDR chunk of a 10000x9000 (90 megapixel)
		// image: DecodeConfig reads nothing more.
		ihdr := []byte("IHDR\x00\x00\x27\x10\x00\x00\x23\x28\x08\x00\x00\x00\x00")
		b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
		b = append(b, ihdr...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
	}
	tests := []struct {
		name string
		kind MediaKind
		b    []byte
		want failReason
	}{
		{"png", KindImage, pngBytes(t), failNone},
		{"jpeg", KindImage, jpegBytes(t), failNone},
		{"gif", KindImage, gifBytes(t), failNone},
		{"bmp", KindImage, bmpBytes(t), failNone},
		{"tiff", KindImage, tiffBytes(t), failNone},
		{"webp", KindImage, webpBytes(), failNone},
		{"garbage image", KindImage, garbage, failImageDecode},
		{"truncated png", KindImage, pngBytes(t)[:10], failImageDecode},
		{"over 85 megapixels", KindImage, hugePNG(), failImagePixels},
		{"mp4", KindVideo, mp4Bytes, failNone},
		{"avi", KindVideo, aviBytes, failNone},
		{"wmv", KindVideo, wmvBytes, failNone},
		{"wav as video", KindVideo, wavBytes, failVideoFormat},
		{"garbage video", KindVideo, garbage, failVideoFormat},
		{"wav", KindAudio, wavBytes, failNone},
		{"mp3 id3", KindAudio, mp3ID3, failNone},
		{"mp3 frame", KindAudio, mp3Frame, failNone},
		{"flac", KindAudio, flacBytes, failNone},
		{"ogg", KindAudio, oggBytes, failNone},
		{"avi as audio", KindAudio, aviBytes, failAudioFormat},
		{"bad mp3 sync", KindAudio, []byte{0xFF, 0xE0, 0xF0, 0}, failAudioFormat},
		{"utf-8 text", KindText, []byte("héllo"), failNone},
		{"invalid utf-8 text", KindText, []byte{0xff, 0xfe, 'a'}, failTextEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got failReason
			switch tc.kind {
			case KindImage:
				_, got = sniffImage(tc.b)
			case KindVideo:
				got = sniffVideo(tc.b)
			case KindAudio:
				got = sniffAudio(tc.b)
			case KindText:
				// Invalid UTF-8 cannot travel in a proto3 string, so the text
				// check is exercised here rather than over gRPC.
				var c dataCheck
				d := &pb.Data{Text: &pb.Text{Raw: string(tc.b)}}
				if st := checkData(d, "", 0, &c); st != nil {
					t.Fatalf("checkData: %v", st)
				}
				got = c.fail
			}
			if got != tc.want {
				t.Fatalf("got %v (%q), want %v (%q)", got, failDetails[got], tc.want, failDetails[tc.want])
			}
		})
	}
}

func TestProcessingOutcome(t *testing.T) {
	tests := []struct {
		name   string
		data   *pb.Data
		want   statuspb.StatusCode
		detail string
	}{
		{"png bytes", &pb.Data{Image: &pb.Image{Base64: pngBytes(t)}}, statuspb.StatusCode_INPUT_SUCCESS, ""},
		{"garbage image", &pb.Data{Image: &pb.Image{Base64: garbage}}, statuspb.StatusCode_INPUT_FAILED, "not a decodable"},
		{"image url", &pb.Data{Image: &pb.Image{Url: "https://example.com/cat.jpg"}}, statuspb.StatusCode_INPUT_SUCCESS, ""},
		{"mp4 video", &pb.Data{Video: &pb.Video{Base64: mp4Bytes}}, statuspb.StatusCode_INPUT_SUCCESS, ""},
		{"garbage video", &pb.Data{Video: &pb.Video{Base64: garbage}}, statuspb.StatusCode_INPUT_FAILED, "video"},
		{"wav audio", &pb.Data{Audio: &pb.Audio{Base64: wavBytes}}, statuspb.StatusCode_INPUT_SUCCESS, ""},
		{"garbage audio", &pb.Data{Audio: &pb.Audio{Base64: garbage}}, statuspb.StatusCode_INPUT_FAILED, "audio"},
		{"text", &pb.Data{Text: &pb.Text{Raw: "some text"}}, statuspb.StatusCode_INPUT_SUCCESS, ""},
		{"multimodal with bad image", &pb.Data{Image: &pb.Image{Base64: garbage}, Text: &pb.Text{Raw: "caption"}}, statuspb.StatusCode_INPUT_FAILED, "image"},
		{"parts with bad audio", &pb.Data{Parts: []*pb.Part{{Data: &pb.Data{Text: &pb.Text{Raw: "x"}}}, {Data: &pb.Data{Audio: &pb.Audio{Base64: garbage}}}}}, statuspb.StatusCode_INPUT_FAILED, "audio"},
	}
	clk := emutest.NewClock()
	_, c := start(t, Options{RateLimit: -1, Now: clk.Now, ProcessingDelay: 4 * time.Second})
	// One input per request: a request may carry only one video.
	for i, tc := range tests {
		resp := post(t, c, &pb.PostInputsRequest{Inputs: []*pb.Input{{Id: fmt.Sprintf("in%d", i), Data: tc.data}}})
		if code(resp.Status) != statuspb.StatusCode_SUCCESS {
			t.Fatalf("%s: PostInputs %v", tc.name, resp.Status)
		}
	}
	phases := []struct {
		after time.Duration
		want  func(final statuspb.StatusCode) statuspb.StatusCode
	}{
		{0, func(statuspb.StatusCode) statuspb.StatusCode { return statuspb.StatusCode_INPUT_PENDING }},
		{1999 * time.Millisecond, func(statuspb.StatusCode) statuspb.StatusCode { return statuspb.StatusCode_INPUT_PENDING }},
		{2 * time.Second, func(statuspb.StatusCode) statuspb.StatusCode { return statuspb.StatusCode_INPUT_IN_PROGRESS }},
		{4 * time.Second, func(f statuspb.StatusCode) statuspb.StatusCode { return f }},
	}
	start := clk.Now()
	for _, ph := range phases {
		clk.Advance(start.Add(ph.after).Sub(clk.Now()))
		for i, tc := range tests {
			t.Run(fmt.Sprintf("%s after %v", tc.name, ph.after), func(t *testing.T) {
				st := getInput(t, c, fmt.Sprintf("in%d", i)).Input.GetStatus()
				want := ph.want(tc.want)
				if code(st) != want {
					t.Fatalf("status %v, want %v", st, want)
				}
				if want == statuspb.StatusCode_INPUT_FAILED && !strings.Contains(st.Details, tc.detail) {
					t.Errorf("details %q do not name the reason %q", st.Details, tc.detail)
				}
			})
		}
	}
}

func TestJobs(t *testing.T) {
	clk := emutest.NewClock()
	_, c := start(t, Options{RateLimit: -1, Now: clk.Now, ProcessingDelay: 10 * time.Second})
	getJob := func(id string) *pb.SingleInputsAddJobResponse {
		t.Helper()
		resp, err := c.GetInputsAddJob(authCtx(t), &pb.GetInputsAddJobRequest{UserAppId: uai(), Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	type progress struct{ pending, inProgress, success, failed uint64 }
	check := func(j *pb.InputsAddJob, want progress, wantCode statuspb.StatusCode) {
		t.Helper()
		if j.GetProgress() == nil {
			t.Fatal("job progress is nil")
		}
		p := j.Progress
		got := progress{p.PendingCount, p.InProgressCount, p.SuccessCount, p.FailedCount}
		if got != want || code(j.Status) != wantCode {
			t.Fatalf("job %s: progress %+v status %v, want %+v %v", j.Id, got, j.Status.GetCode(), want, wantCode)
		}
	}

	resp := post(t, c, &pb.PostInputsRequest{InputsAddJobId: "job1", Inputs: []*pb.Input{urlInput("a"), imageInput("b", garbage), {Id: "rejected"}}})
	if resp.InputsAddJob.GetId() != "job1" {
		t.Fatalf("response job %v", resp.InputsAddJob)
	}
	check(resp.InputsAddJob, progress{pending: 2}, statuspb.StatusCode_JOB_RUNNING)
	clk.Advance(5 * time.Second)
	check(getJob("job1").InputsAddJob, progress{inProgress: 2}, statuspb.StatusCode_JOB_RUNNING)
	// A second post with the same job id merges into it.
	resp = post(t, c, &pb.PostInputsRequest{InputsAddJobId: "job1", Inputs: []*pb.Input{urlInput("c")}})
	check(resp.InputsAddJob, progress{pending: 1, inProgress: 2}, statuspb.StatusCode_JOB_RUNNING)
	clk.Advance(5 * time.Second)
	check(getJob("job1").InputsAddJob, progress{inProgress: 1, success: 1, failed: 1}, statuspb.StatusCode_JOB_RUNNING)
	clk.Advance(5 * time.Second)
	check(getJob("job1").InputsAddJob, progress{success: 2, failed: 1}, statuspb.StatusCode_JOB_COMPLETED)

	// A job whose inputs all failed validation exists and is complete.
	resp = post(t, c, &pb.PostInputsRequest{InputsAddJobId: "job2", Inputs: []*pb.Input{{Id: "x"}}})
	check(resp.InputsAddJob, progress{}, statuspb.StatusCode_JOB_COMPLETED)

	list, err := c.ListInputsAddJobs(authCtx(t), &pb.ListInputsAddJobsRequest{UserAppId: uai()})
	if err != nil || len(list.InputsAddJobs) != 2 || list.InputsAddJobs[0].Id != "job1" || list.InputsAddJobs[1].Id != "job2" {
		t.Fatalf("ListInputsAddJobs: %v %v", list, err)
	}
	for _, j := range list.InputsAddJobs {
		if j.Progress == nil {
			t.Errorf("listed job %s has nil progress", j.Id)
		}
	}

	cancel, err := c.CancelInputsAddJob(authCtx(t), &pb.CancelInputsAddJobRequest{UserAppId: uai(), Id: "job1"})
	if err != nil {
		t.Fatal(err)
	}
	check(cancel.InputsAddJob, progress{success: 2, failed: 1}, statuspb.StatusCode_JOB_CANCELLED)
	check(getJob("job1").InputsAddJob, progress{success: 2, failed: 1}, statuspb.StatusCode_JOB_CANCELLED)

	if got := getJob("nope"); code(got.Status) != statuspb.StatusCode_CONN_DOES_NOT_EXIST || got.InputsAddJob != nil {
		t.Errorf("missing job: %v", got)
	}
	missing, err := c.CancelInputsAddJob(authCtx(t), &pb.CancelInputsAddJobRequest{UserAppId: uai(), Id: "nope"})
	if err != nil || code(missing.Status) != statuspb.StatusCode_CONN_DOES_NOT_EXIST {
		t.Errorf("cancel missing job: %v %v", missing, err)
	}
}

func TestJobProgressSurvivesClockSteppingBack(t *testing.T) {
	j := &job{id: "j"}
	for i := int64(0); i < 4; i++ {
		j.add(jobEntry{created: i * 10, delay: 10, failed: i == 3})
	}
	if p := j.progress(100); p.SuccessCount != 3 || p.FailedCount != 1 {
		t.Fatalf("at 100: %v", p)
	}
	if p := j.progress(15); p.SuccessCount != 1 || p.InProgressCount != 1 || p.PendingCount != 2 {
		t.Fatalf("back at 15: %v", p)
	}
	// An entry arriving out of order is placed by completion time.
	j.add(jobEntry{created: 0, delay: 5})
	if p := j.progress(16); p.SuccessCount != 2 {
		t.Fatalf("after out-of-order add: %v", p)
	}
}
