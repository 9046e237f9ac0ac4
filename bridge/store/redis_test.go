package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/store/storetest"
	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
)

// replicas opens n clients of one Redis, as n replicas would.
func replicas(t *testing.T, url string, n int, o Options) []*Redis {
	t.Helper()
	var out []*Redis
	for range n {
		o.URL = url
		r, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		out = append(out, r)
	}
	return out
}

// TestRateSharedByReplicas checks a burst split between two replicas is
// counted once: the sixth request of a 5-per-minute rate is refused,
// whichever replica it reaches, with a retry time.
func TestRateSharedByReplicas(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{})
	a, b := rs[0].Limiter(), rs[1].Limiter()
	ctx := context.Background()
	rate := auth.Rate{Requests: 5, Per: time.Minute}
	allowed := 0
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Allow(ctx, "req:key:alice", rate)
		if err != nil {
			t.Fatal(err)
		}
		if d.Limit != 5 {
			t.Errorf("request %d: limit %d", i, d.Limit)
		}
		if d.Allowed {
			allowed++
			if d.Remaining != int64(5-allowed) {
				t.Errorf("request %d: remaining %d, want %d", i, d.Remaining, 5-allowed)
			}
		} else if d.RetryAfter <= 0 || d.RetryAfter > 12*time.Second || d.Reset <= 0 {
			t.Errorf("request %d refused with retry after %v, reset %v", i, d.RetryAfter, d.Reset)
		}
	}
	if allowed != 5 {
		t.Errorf("%d of 8 requests allowed across two replicas, want 5", allowed)
	}
	// Another identity has its own bucket.
	if d, err := b.Allow(ctx, "req:key:bob", rate); err != nil || !d.Allowed {
		t.Errorf("another key: %+v %v", d, err)
	}
}

// TestBudgetSharedByReplicas checks tokens spent on two replicas add up.
func TestBudgetSharedByReplicas(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{})
	a, b := rs[0].Limiter(), rs[1].Limiter()
	ctx := context.Background()
	budget := auth.Budget{Limit: 100, Per: time.Hour}
	if d, err := a.Remaining(ctx, "tok:key:alice", budget); err != nil || !d.Allowed || d.Remaining != 100 || d.Reset <= 0 || d.Reset > time.Hour {
		t.Fatalf("fresh budget: %+v %v", d, err)
	}
	if d, err := a.Spend(ctx, "tok:key:alice", budget, 60); err != nil || !d.Allowed || d.Remaining != 40 {
		t.Fatalf("after 60 on A: %+v %v", d, err)
	}
	if d, err := b.Spend(ctx, "tok:key:alice", budget, 50); err != nil || d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 50 more on B: %+v %v", d, err)
	}
	if d, err := a.Remaining(ctx, "tok:key:alice", budget); err != nil || d.Allowed {
		t.Errorf("A after B spent the rest: %+v %v", d, err)
	}
}

// TestStreamsSharedByReplicas checks concurrent stream slots are counted
// across replicas and given back by Release.
func TestStreamsSharedByReplicas(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{})
	a, b := rs[0].Limiter(), rs[1].Limiter()
	ctx := context.Background()
	for i, l := range []auth.Limiter{a, b} {
		if d, err := l.Acquire(ctx, "stream:key:alice", 2); err != nil || !d.Allowed {
			t.Fatalf("slot %d: %+v %v", i, d, err)
		}
	}
	if d, err := a.Acquire(ctx, "stream:key:alice", 2); err != nil || d.Allowed {
		t.Fatalf("third slot across replicas: %+v %v", d, err)
	}
	if err := b.Release(ctx, "stream:key:alice"); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Acquire(ctx, "stream:key:alice", 2); err != nil || !d.Allowed {
		t.Fatalf("slot after a release on the other replica: %+v %v", d, err)
	}
}

// TestSlotLeaseEnds checks a slot never released (its replica died) is
// free again once its lease ends.
func TestSlotLeaseEnds(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{SlotLease: 50 * time.Millisecond})
	ctx := context.Background()
	if d, err := rs[0].Limiter().Acquire(ctx, "stream:k", 1); err != nil || !d.Allowed {
		t.Fatalf("%+v %v", d, err)
	}
	l := rs[1].Limiter()
	for i := 0; ; i++ {
		d, err := l.Acquire(ctx, "stream:k", 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			break
		}
		if i == 200 {
			t.Fatal("a dead replica's slot was never freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutagePolicies kills Redis: fail_open lets checks through,
// counted; fail_closed returns errors (the routes answer 503); both
// report it in Healthy and log it once; once Redis is back, limits are
// shared again without anything being restarted.
func TestOutagePolicies(t *testing.T) {
	srv := storetest.Start(t)
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	open := replicas(t, srv.URL, 1, Options{OnDown: FailOpen, Logger: log})[0]
	closed := replicas(t, srv.URL, 1, Options{OnDown: FailClosed, Logger: log})[0]
	lo, lc := open.Limiter(), closed.Limiter()
	ctx := context.Background()
	rate := auth.Rate{Requests: 2, Per: time.Hour}
	budget := auth.Budget{Limit: 10}

	srv.Stop()
	for range 3 {
		if d, err := lo.Allow(ctx, "r", rate); err != nil || !d.Allowed || d.Limit != 0 {
			t.Fatalf("fail_open during the outage: %+v %v", d, err)
		}
	}
	if d, err := lo.Remaining(ctx, "b", budget); err != nil || !d.Allowed {
		t.Errorf("fail_open budget: %+v %v", d, err)
	}
	if d, err := lo.Acquire(ctx, "s", 1); err != nil || !d.Allowed {
		t.Errorf("fail_open stream: %+v %v", d, err)
	}
	if err := lo.Release(ctx, "s"); err != nil {
		t.Errorf("release of a slot taken failing open: %v", err)
	}
	if n := testutil.ToFloat64(open.failOpen.WithLabelValues("rate")); n != 3 {
		t.Errorf("fail_open counted %v rate checks, want 3", n)
	}
	if _, err := lc.Allow(ctx, "r", rate); err == nil {
		t.Error("fail_closed allowed a request with Redis down")
	}
	if _, err := lc.Acquire(ctx, "s", 1); err == nil {
		t.Error("fail_closed gave a stream slot with Redis down")
	}
	lim := &auth.Limits{Limiter: lc}
	p := &auth.Principal{Name: "alice", Source: "key", Policy: mustPolicy(t, auth.PolicyConfig{Rate: rate})}
	var ae *auth.Error
	if _, err := lim.Request(ctx, p); !errors.As(err, &ae) || ae.Status != 503 {
		t.Errorf("fail_closed through auth.Limits: %v", err)
	}
	for _, r := range []*Redis{open, closed} {
		if err := r.Healthy(ctx); err == nil {
			t.Errorf("%s: healthy with Redis down", r.onDown)
		}
		if n := testutil.ToFloat64(r.up); n != 0 {
			t.Errorf("%s: up gauge %v during the outage", r.onDown, n)
		}
		if n := testutil.ToFloat64(r.errs.WithLabelValues("rate")); n == 0 {
			t.Errorf("%s: failures not counted", r.onDown)
		}
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 2 {
		t.Errorf("the outage logged %d times by two clients, want 2:\n%s", n, logs.String())
	}

	srv.Start()
	// A readiness probe finds Redis back at once (calls would within a
	// second).
	for _, r := range []*Redis{open, closed} {
		if err := r.Healthy(ctx); err != nil {
			t.Fatalf("%s: Redis back but not healthy: %v", r.onDown, err)
		}
	}
	other := replicas(t, srv.URL, 1, Options{})[0].Limiter()
	allowed := 0
	for i := range 4 {
		l := lo
		if i%2 == 1 {
			l = other
		}
		d, err := l.Allow(ctx, "r2", rate)
		if err != nil {
			t.Fatalf("after Redis came back: %v", err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("after Redis came back, %d of 4 allowed across replicas, want 2 (shared again)", allowed)
	}
	if _, err := lc.Allow(ctx, "r3", rate); err != nil {
		t.Errorf("fail_closed after Redis came back: %v", err)
	}
	if err := open.Healthy(ctx); err != nil {
		t.Errorf("not healthy after Redis came back: %v", err)
	}
	if n := strings.Count(logs.String(), "redis reachable again"); n != 2 {
		t.Errorf("the recovery logged %d times, want 2:\n%s", n, logs.String())
	}
}

// TestStalledRedisTimesOut checks a Redis that accepts nothing (stopped,
// connections open) does not hold a check: it ends with a timeout.
func TestStalledRedisTimesOut(t *testing.T) {
	srv := storetest.Start(t)
	r := replicas(t, srv.URL, 1, Options{OnDown: FailClosed, Timeout: 100 * time.Millisecond, RetryEvery: time.Hour})[0]
	l := r.Limiter()
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k", auth.Rate{Requests: 1}); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	_, err := l.Allow(ctx, "k", auth.Rate{Requests: 1})
	if err == nil || !isTimeout(err) {
		t.Errorf("a stalled Redis gave %v, want a timeout", err)
	}
	// The next calls do not each wait: they fail at once until the next
	// attempt is due.
	for range 5 {
		if _, err := l.Allow(ctx, "k", auth.Rate{Requests: 1}); !errors.Is(err, ErrUnavailable) {
			t.Errorf("a call during the outage: %v, want ErrUnavailable", err)
		}
	}
	if n := testutil.ToFloat64(r.errs.WithLabelValues("rate")); n != 6 {
		t.Errorf("%v failures counted, want 6", n)
	}
	srv.Resume()
	if err := r.Healthy(ctx); err != nil {
		t.Fatalf("healthy after the stall: %v", err)
	}
	if _, err := l.Allow(ctx, "k2", auth.Rate{Requests: 1}); err != nil {
		t.Errorf("after the stall: %v", err)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}

// TestTurnsShared checks a turn stored by one replica is read by another
// under the same key, with its time to live, and not under another key.
func TestTurnsShared(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{Prefix: "test:"})
	ctx := context.Background()
	if err := rs[0].Turns().Put(ctx, []string{"id:alice\x00call_1", "id:alice\x00call_2"}, []byte(`turn`), time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id:alice\x00call_1", "id:alice\x00call_2"} {
		if b, err := rs[1].Turns().Get(ctx, k); err != nil || string(b) != "turn" {
			t.Errorf("%q on the other replica: %q %v", k, b, err)
		}
	}
	if b, err := rs[1].Turns().Get(ctx, "id:bob\x00call_1"); err != nil || b != nil {
		t.Errorf("another caller's key: %q %v", b, err)
	}
	keys, err := rs[0].client.Keys(ctx, "test:turn:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, "alice") {
			t.Errorf("key %q shows the caller", k)
		}
		if ttl := rs[0].client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q ttl %v", k, ttl)
		}
	}
	// Take gives what a key held to one replica only.
	if b, err := rs[1].Turns().Take(ctx, "id:alice\x00call_1"); err != nil || string(b) != "turn" {
		t.Errorf("take: %q %v", b, err)
	}
	if b, err := rs[0].Turns().Take(ctx, "id:alice\x00call_1"); err != nil || b != nil {
		t.Errorf("taken twice: %q %v", b, err)
	}
}

// TestFeedReachesEveryReplica checks an event published by one replica
// reaches the subscribers of both.
func TestFeedReachesEveryReplica(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 4)
	for i, r := range rs {
		r.Subscribe(ctx, func(b []byte) { got <- string(rune('A'+i)) + string(b) })
	}
	// A subscription is up once it sees its own events.
	deadline := time.After(10 * time.Second)
	seen := map[string]bool{}
	for len(seen) < 2 {
		if err := rs[0].Publish(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			seen[m] = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("events seen: %v", seen)
		}
	}
	if !seen["Ax"] || !seen["Bx"] {
		t.Errorf("seen %v", seen)
	}
}

// TestCredentialsNeverShown checks the URL's password appears in no
// error, no log and not in Shown.
func TestCredentialsNeverShown(t *testing.T) {
	const secret = "s3cr3t-pass"
	for _, u := range []string{"ftp://u:" + secret + "@h/", "redis://u:" + secret + "@h:x:y/0", "redis://u:" + secret + "@h/notadb",
		"redis://u:" + secret + "@127.0.0.1:1/0", "rediss://:" + secret + "@127.0.0.1:1/0", "redis://\x7f:" + secret + "@h/"} {
		var logs syncbuf.Buffer
		r, err := Open(Options{URL: u, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Timeout: 100 * time.Millisecond})
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%q: error shows the password: %v", u, err)
			}
			continue
		}
		if strings.Contains(r.Shown(), secret) {
			t.Errorf("shown %q", r.Shown())
		}
		err = r.Healthy(context.Background())
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("%q: healthy %v, log %s", u, err, logs.String())
		}
		r.Close()
	}
	if _, err := Open(Options{URL: "redis://h/0", OnDown: "maybe"}); err == nil || !strings.Contains(err.Error(), "on_redis_down") {
		t.Errorf("bad policy: %v", err)
	}
}

func mustPolicy(t *testing.T, c auth.PolicyConfig) *auth.Policy {
	t.Helper()
	p, err := auth.NewPolicy("p", c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPassword checks a Redis that requires a password is used with the
// URL's, refused without it, and that neither error shows it.
func TestPassword(t *testing.T) {
	const pw = "redis-pw-0123456789"
	srv := storetest.Start(t, "--requirepass", pw)
	ctx := context.Background()
	good := replicas(t, "redis://:"+pw+"@"+srv.Addr+"/0", 1, Options{OnDown: FailClosed})[0]
	if d, err := good.Limiter().Allow(ctx, "k", auth.Rate{Requests: 1}); err != nil || !d.Allowed {
		t.Fatalf("with the password: %+v %v", d, err)
	}
	for _, u := range []string{srv.URL, "redis://:wrong-" + pw + "@" + srv.Addr + "/0"} {
		bad := replicas(t, u, 1, Options{OnDown: FailClosed})[0]
		_, err := bad.Limiter().Allow(ctx, "k", auth.Rate{Requests: 1})
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: %v", bad.Shown(), err)
		}
		if err := bad.Healthy(ctx); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("%s healthy: %v", bad.Shown(), err)
		}
	}
}

// trips counts what a client sends Redis: commands and pipelines, each
// one round trip.
type trips struct{ n atomic.Int64 }

func (t *trips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (t *trips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { t.n.Add(1); return next(ctx, cmd) }
}
func (t *trips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { t.n.Add(1); return next(ctx, cmds) }
}

// TestAdmitInOneTrip: Admit takes from the rate and reads the budget as
// Allow and Remaining would, across replicas, in one round trip.
func TestAdmitInOneTrip(t *testing.T) {
	srv := storetest.Start(t)
	rs := replicas(t, srv.URL, 2, Options{})
	tr := &trips{}
	rs[0].client.AddHook(tr)
	ctx := context.Background()
	// A new connection says hello first: count from a warm one.
	if err := rs[0].client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	a := rs[0].Limiter().(auth.Admitter)
	b := rs[1].Limiter()
	rate := auth.Rate{Requests: 3, Per: time.Minute}
	budget := auth.Budget{Limit: 100, Per: time.Hour}
	for i := range 3 {
		before := tr.n.Load()
		rd, bd, rerr, berr := a.Admit(ctx, "req:key:alice", rate, "tok:key:alice", budget)
		if rerr != nil || berr != nil || !rd.Allowed || rd.Remaining != int64(2-i) || !bd.Allowed || bd.Remaining != 100 {
			t.Fatalf("admit %d: %+v %+v %v %v", i, rd, bd, rerr, berr)
		}
		if n := tr.n.Load() - before; n != 1 {
			t.Errorf("admit %d took %d round trips", i, n)
		}
	}
	if d, err := b.Allow(ctx, "req:key:alice", rate); err != nil || d.Allowed {
		t.Errorf("the other replica's fourth request: %+v %v", d, err)
	}
	if _, err := b.Spend(ctx, "tok:key:bob", budget, 100); err != nil {
		t.Fatal(err)
	}
	rd, bd, rerr, berr := a.Admit(ctx, "req:key:bob", rate, "tok:key:bob", budget)
	if rerr != nil || berr != nil || !rd.Allowed || bd.Allowed || bd.Remaining != 0 {
		t.Errorf("bob with his budget spent: %+v %+v %v %v", rd, bd, rerr, berr)
	}
}
