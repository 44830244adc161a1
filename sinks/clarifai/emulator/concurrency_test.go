package emulator

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// TestConcurrentClients posts from many goroutines into two apps while
// others read, inspect and delete, and background saves run, then checks
// the totals exactly. Run with -race.
func TestConcurrentClients(t *testing.T) {
	dir := t.TempDir()
	s, c := start(t, Options{RateLimit: -1, StateDir: dir, SaveInterval: 5 * time.Millisecond, ProcessingDelay: time.Millisecond})
	const writers, posts, perPost = 6, 15, 32
	apps := []string{"app-a", "app-b"}
	var g errgroup.Group
	for w := 0; w < writers; w++ {
		app := apps[w%len(apps)]
		g.Go(func() error {
			ids := &pb.UserAppIDSet{UserId: testUser, AppId: app}
			for p := 0; p < posts; p++ {
				var ins []*pb.Input
				for i := 0; i < perPost; i++ {
					ins = append(ins, labeledInput(fmt.Sprintf("w%d-p%d-i%d", w, p, i)))
				}
				resp, err := c.PostInputs(authCtx(t), &pb.PostInputsRequest{UserAppId: ids, Inputs: ins, InputsAddJobId: fmt.Sprintf("w%d", w)})
				if err != nil {
					return err
				}
				if code(resp.Status) != statuspb.StatusCode_SUCCESS {
					return fmt.Errorf("post: %v", resp.Status)
				}
				// Delete the first input of every post again.
				del, err := c.DeleteInputs(authCtx(t), &pb.DeleteInputsRequest{UserAppId: ids, Ids: []string{ins[0].Id}})
				if err != nil || code(del.Status) != statuspb.StatusCode_SUCCESS {
					return fmt.Errorf("delete: %v %v", del.GetStatus(), err)
				}
			}
			return nil
		})
	}
	for r := 0; r < 2; r++ {
		g.Go(func() error {
			for i := 0; i < 30; i++ {
				if _, err := c.ListInputs(authCtx(t), &pb.ListInputsRequest{UserAppId: &pb.UserAppIDSet{UserId: testUser, AppId: apps[i%2]}, PerPage: 50}); err != nil {
					return err
				}
				if _, err := c.GetInputCount(authCtx(t), &pb.GetInputCountRequest{UserAppId: &pb.UserAppIDSet{UserId: testUser, AppId: apps[i%2]}}); err != nil {
					return err
				}
				_ = s.Counts()
				_ = s.Inputs(testUser, apps[i%2])
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	want := writers / len(apps) * posts * (perPost - 1)
	for _, app := range apps {
		if got := len(s.Inputs(testUser, app)); got != want {
			t.Errorf("%s holds %d inputs, want %d", app, got, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Start("", Options{StateDir: dir, SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, app := range apps {
		if got := s2.Counts()[testUser+"/"+app].Inputs; got != want {
			t.Errorf("%s reloaded with %d inputs, want %d", app, got, want)
		}
	}
}
