package store

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/store/storetest"
)

// TestLimiterTimesInTheirUnits checks the times Redis gives (a rate's
// retry and reset in microseconds, a budget's reset in milliseconds) come
// back as durations of their size: a refused 1-per-hour request waits
// minutes, not microseconds.
func TestLimiterTimesInTheirUnits(t *testing.T) {
	srv := storetest.Start(t)
	l := replicas(t, srv.URL, 1, Options{})[0].Limiter()
	ctx := context.Background()
	rate := auth.Rate{Requests: 1, Per: time.Hour}
	if d, err := l.Allow(ctx, "req:key:units", rate); err != nil || !d.Allowed {
		t.Fatalf("first request: %+v %v", d, err)
	}
	d, err := l.Allow(ctx, "req:key:units", rate)
	if err != nil || d.Allowed || d.RetryAfter < time.Minute || d.RetryAfter > time.Hour || d.Reset < time.Minute || d.Reset > time.Hour {
		t.Errorf("second request: %+v %v, want refused with retry and reset within the hour, past a minute", d, err)
	}
	b, err := l.Remaining(ctx, "tok:key:units", auth.Budget{Limit: 10, Per: 365 * 24 * time.Hour})
	if err != nil || b.Reset < time.Millisecond || b.Reset%time.Millisecond != 0 {
		t.Errorf("budget: %+v %v, want a reset of whole milliseconds", b, err)
	}
}

// TestAcquireSlots checks a limit of 0 takes no slot and is allowed, the
// slots left are counted, and every slot taken is given back by its
// Release, also when a key holds several.
func TestAcquireSlots(t *testing.T) {
	srv := storetest.Start(t)
	l := replicas(t, srv.URL, 1, Options{})[0].Limiter()
	ctx := context.Background()
	if d, err := l.Acquire(ctx, "stream:zero", 0); err != nil || !d.Allowed {
		t.Errorf("limit 0: %+v %v, want allowed", d, err)
	}
	for round := range 2 {
		for i := range 3 {
			d, err := l.Acquire(ctx, "stream:k", 3)
			if err != nil || !d.Allowed || d.Remaining != int64(2-i) {
				t.Fatalf("round %d, slot %d: %+v %v, want allowed with %d left", round, i, d, err, 2-i)
			}
		}
		if d, err := l.Acquire(ctx, "stream:k", 3); err != nil || d.Allowed {
			t.Fatalf("round %d, a fourth slot: %+v %v", round, d, err)
		}
		for range 3 {
			if err := l.Release(ctx, "stream:k"); err != nil {
				t.Fatal(err)
			}
		}
	}
}
