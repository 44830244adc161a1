package client

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the client-side request rate shared by every call of a run. It
// is safe for concurrent use and starts no goroutine.
//
// It adapts to the server (AIMD): each throttling answer halves the rate
// (multiplicative decrease, at most once per decreaseGap so that a burst of
// throttled answers to calls already in flight counts once), never below
// minRate; after each quiet period without throttling it adds recoverStep
// back (additive increase), up to the configured rate. Recovery is computed
// lazily when the budget is used, so it needs no timer.
type Budget struct {
	mu      sync.Mutex
	lim     *rate.Limiter // nil: unlimited
	max     rate.Limit
	changed time.Time // last decrease or recovery step
	lastCut time.Time // last decrease
}

// Adaptation constants of Budget.
const (
	minRate     rate.Limit = 1               // floor after repeated throttling, req/s
	recoverStep rate.Limit = 1               // added back per quiet period, req/s
	quietPeriod            = 5 * time.Second // without throttling before each step
	decreaseGap            = time.Second     // throttles closer than this count once
)

// NewBudget returns a budget of perSecond requests per second, with a burst
// of one request (so requests are evenly spaced and the server's per-second
// window never sees a burst). perSecond < 0 or +Inf means unlimited: Wait
// never waits and Throttled does nothing. perSecond == 0 means the default.
func NewBudget(perSecond float64) *Budget {
	if perSecond == 0 {
		perSecond = DefaultRateLimit
	}
	if perSecond < 0 || math.IsInf(perSecond, 1) {
		return &Budget{}
	}
	l := rate.Limit(perSecond)
	return &Budget{lim: rate.NewLimiter(l, 1), max: l, changed: time.Now()}
}

// Wait blocks until the budget allows one request or ctx is done, in which
// case it returns ctx.Err().
func (b *Budget) Wait(ctx context.Context) error {
	if b == nil || b.lim == nil {
		return ctx.Err()
	}
	b.mu.Lock()
	b.recover(time.Now())
	b.mu.Unlock()
	return b.lim.Wait(ctx)
}

// Throttled tells the budget that the server asked to slow down: it halves
// the rate, down to the floor of 1 request per second.
func (b *Budget) Throttled() {
	if b == nil || b.lim == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !b.lastCut.IsZero() && now.Sub(b.lastCut) < decreaseGap {
		b.changed = now // still throttled: postpone recovery
		return
	}
	next := max(b.lim.Limit()/2, min(minRate, b.max))
	b.lim.SetLimitAt(now, next)
	b.lastCut, b.changed = now, now
}

// Limit returns the current rate in requests per second; rate.Inf when
// unlimited.
func (b *Budget) Limit() rate.Limit {
	if b == nil || b.lim == nil {
		return rate.Inf
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recover(time.Now())
	return b.lim.Limit()
}

// recover adds recoverStep for every full quiet period since the last
// change. b.mu must be held.
func (b *Budget) recover(now time.Time) {
	cur := b.lim.Limit()
	if cur >= b.max {
		return
	}
	periods := int64(now.Sub(b.changed) / quietPeriod)
	if periods <= 0 {
		return
	}
	b.lim.SetLimitAt(now, min(b.max, cur+rate.Limit(periods)*recoverStep))
	b.changed = b.changed.Add(time.Duration(periods) * quietPeriod)
}
