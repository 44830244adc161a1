package emulator

import (
	"strings"
	"testing"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

func TestAuthAndApps(t *testing.T) {
	s, c := start(t, Options{
		PATs:             []string{testPAT},
		ReadOnlyPATs:     []string{"reader"},
		Apps:             []string{testUser + "/" + testApp},
		NoAutoCreateApps: true,
		RateLimit:        -1,
	})
	tests := []struct {
		name  string
		auth  string
		ids   *pb.UserAppIDSet
		write bool
		want  statuspb.StatusCode
	}{
		{"no metadata", "", uai(), false, statuspb.StatusCode_CONN_KEY_INVALID},
		{"not Key scheme", "Bearer " + testPAT, uai(), false, statuspb.StatusCode_CONN_KEY_INVALID},
		{"empty key", "Key ", uai(), false, statuspb.StatusCode_CONN_KEY_INVALID},
		{"unknown key", "Key other", uai(), false, statuspb.StatusCode_CONN_KEY_INVALID},
		{"valid read", "Key " + testPAT, uai(), false, statuspb.StatusCode_SUCCESS},
		{"valid write", "Key " + testPAT, uai(), true, statuspb.StatusCode_SUCCESS},
		{"read-only key reads", "Key reader", uai(), false, statuspb.StatusCode_SUCCESS},
		{"read-only key writes", "Key reader", uai(), true, statuspb.StatusCode_CONN_INSUFFICIENT_SCOPES},
		{"no user_app_id", "Key " + testPAT, nil, false, statuspb.StatusCode_FAILURE},
		{"empty app id", "Key " + testPAT, &pb.UserAppIDSet{UserId: testUser}, false, statuspb.StatusCode_FAILURE},
		{"unknown app", "Key " + testPAT, &pb.UserAppIDSet{UserId: testUser, AppId: "nope"}, false, statuspb.StatusCode_CONN_DOES_NOT_EXIST},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := keyCtx(t, tc.auth)
			var st *statuspb.Status
			if tc.write {
				resp, err := c.PostInputs(ctx, &pb.PostInputsRequest{UserAppId: tc.ids, Inputs: []*pb.Input{urlInput("w" + string(rune('a'+i)))}})
				if err != nil {
					t.Fatal(err)
				}
				st = resp.Status
			} else {
				resp, err := c.ListInputs(ctx, &pb.ListInputsRequest{UserAppId: tc.ids})
				if err != nil {
					t.Fatal(err)
				}
				st = resp.Status
			}
			if code(st) != tc.want {
				t.Fatalf("status %v (%s), want %v", st.GetCode(), st.GetDetails(), tc.want)
			}
			if tc.want != statuspb.StatusCode_SUCCESS && st.GetDescription() == "" {
				t.Errorf("refusal has no description: %v", st)
			}
		})
	}
	if got := s.Counts(); len(got) != 1 || got[testUser+"/"+testApp].Inputs != 1 {
		t.Errorf("Counts = %+v, want one app holding only the valid write", got)
	}
	if got := s.Calls(); got["ListInputs"] != 9 || got["PostInputs"] != 2 {
		t.Errorf("Calls = %v, want 9 ListInputs and 2 PostInputs", got)
	}
}

func TestAnyKeyAcceptedByDefaultAndAppsAutoCreated(t *testing.T) {
	s, c := start(t, Options{RateLimit: -1})
	ctx := keyCtx(t, "Key whatever")
	resp, err := c.PostInputs(ctx, &pb.PostInputsRequest{
		UserAppId: &pb.UserAppIDSet{UserId: "u9", AppId: "fresh"},
		Inputs:    []*pb.Input{{Id: "x", DatasetIds: []string{"ds1"}, Data: &pb.Data{Image: &pb.Image{Url: "http://example.com/x.png"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code(resp.Status) != statuspb.StatusCode_SUCCESS {
		t.Fatalf("status %v", resp.Status)
	}
	got := s.Counts()["u9/fresh"]
	if got.Inputs != 1 || got.Datasets != 1 {
		t.Errorf("Counts = %+v, want 1 input and the auto-created dataset", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" means valid
	}{
		{"zero", Options{}, ""},
		{"bad app", Options{Apps: []string{"noslash"}}, "user/app"},
		{"empty pat", Options{PATs: []string{" "}}, "empty PAT"},
		{"rate over 1", Options{Faults: Faults{ThrottleRate: 1.5}}, "throttle rate"},
		{"negative rate", Options{Faults: Faults{DropConnRate: -0.1}}, "drop connection rate"},
		{"negative latency", Options{Faults: Faults{Latency: -1}}, "latency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
			if _, err := Start("127.0.0.1:0", tc.opts); err == nil {
				t.Fatal("Start accepted invalid options")
			}
		})
	}
}
