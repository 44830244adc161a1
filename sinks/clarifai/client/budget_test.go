package client

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
)

func TestBudgetAdapts(t *testing.T) {
	type step struct {
		wait      time.Duration // advance the fake clock first
		throttled bool
		want      rate.Limit
	}
	for _, tc := range []struct {
		name  string
		rate  float64
		steps []step
	}{
		{"halves once per burst", 15, []step{
			{0, true, 7.5},
			{100 * time.Millisecond, true, 7.5}, // within decreaseGap: same event
			{time.Second, true, 3.75},
			{time.Second, true, 1.875},
			{time.Second, true, 1}, // floor
			{time.Second, true, 1},
		}},
		{"recovers additively after quiet periods", 15, []step{
			{0, true, 7.5},
			{4 * time.Second, false, 7.5},
			{time.Second, false, 8.5},
			{10 * time.Second, false, 10.5},
			{time.Hour, false, 15}, // capped at the configured rate
		}},
		{"throttling postpones recovery", 15, []step{
			{0, true, 7.5},
			{500 * time.Millisecond, true, 7.5},
			{4600 * time.Millisecond, false, 7.5}, // quiet counts from the last throttle
			{time.Second, false, 8.5},
		}},
		{"floor below 1 req/s configured", 0.5, []step{
			{0, true, 0.5},
		}},
		{"unlimited", -1, []step{
			{0, true, rate.Inf},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBudget(tc.rate)
				for i, s := range tc.steps {
					time.Sleep(s.wait)
					if s.throttled {
						b.Throttled()
					}
					if got := b.Limit(); got != s.want {
						t.Fatalf("step %d: Limit = %v, want %v", i, got, s.want)
					}
				}
			})
		})
	}
}

func TestBudgetPacesRequests(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate      float64
		throttle  bool
		calls     int
		wantTotal time.Duration // fake time for calls
	}{
		{"15 per second", 15, false, 16, time.Second},            // the first is free, 15 more at 1/15 s
		{"halved after throttle", 10, true, 11, 2 * time.Second}, // 10 more at 1/5 s
		{"unlimited does not wait", -1, false, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBudget(tc.rate)
				if tc.throttle {
					b.Throttled()
				}
				start := time.Now()
				for range tc.calls {
					if err := b.Wait(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				if got := time.Since(start); got < tc.wantTotal-time.Millisecond || got > tc.wantTotal+time.Millisecond {
					t.Errorf("%d calls took %v, want %v", tc.calls, got, tc.wantTotal)
				}
			})
		})
	}
}

func TestBudgetWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(0.001) // one request per 1000 s
		if err := b.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.Wait(ctx) }()
		time.Sleep(time.Second)
		cancel()
		if err := <-done; err == nil {
			t.Error("Wait returned nil after cancel")
		}
	})
}
