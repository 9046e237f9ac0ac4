package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)} }

func limited(t *testing.T, c PolicyConfig) *Principal {
	return &Principal{Name: "alice", Source: SourceKey, Policy: mustPolicy(t, "limited", c)}
}

func TestRequestRate(t *testing.T) {
	clk := newClock()
	l := &Limits{Limiter: NewMemoryLimiter(&MemoryOptions{Now: clk.Now})}
	alice := limited(t, PolicyConfig{Rate: Rate{Requests: 60, Per: time.Minute, Burst: 10}})
	ctx := context.Background()
	for i := range 10 {
		d, err := l.Request(ctx, alice)
		if err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
		if d.Limit != 10 || d.Remaining != int64(9-i) {
			t.Errorf("request %d: limit %d remaining %d, want 10 and %d", i+1, d.Limit, d.Remaining, 9-i)
		}
	}
	d, err := l.Request(ctx, alice)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Type != TypeRateLimit || e.Code != CodeRateLimitExceeded {
		t.Fatalf("the 11th request: %v, want a 429 rate_limit_exceeded", err)
	}
	if d.Allowed || d.RetryAfter != time.Second {
		t.Errorf("refusal: %+v, want a retry after 1s (60 per minute)", d)
	}
	for h, want := range map[string]string{
		"Retry-After": "1", "X-Ratelimit-Limit-Requests": "10", "X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "10s",
	} {
		if got := e.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// Another identity has its own bucket.
	bob := &Principal{Name: "bob", Source: SourceKey, Policy: alice.Policy}
	if _, err := l.Request(ctx, bob); err != nil {
		t.Errorf("bob refused by alice's bucket: %v", err)
	}
	// A JWT subject named alice is not the key alice.
	jwtAlice := &Principal{Name: "alice", Source: SourceJWT, Policy: alice.Policy}
	if _, err := l.Request(ctx, jwtAlice); err != nil {
		t.Errorf("the JWT alice refused by the key alice's bucket: %v", err)
	}
	// The next second serves one more; the next window serves the burst.
	clk.Add(time.Second)
	if _, err := l.Request(ctx, alice); err != nil {
		t.Errorf("a second later: %v", err)
	}
	if _, err := l.Request(ctx, alice); err == nil {
		t.Error("two requests a second later were both served")
	}
	clk.Add(time.Minute)
	for i := range 10 {
		if _, err := l.Request(ctx, alice); err != nil {
			t.Fatalf("next window, request %d: %v", i+1, err)
		}
	}
}

func TestToolCallRateDefaultBurst(t *testing.T) {
	clk := newClock()
	l := &Limits{Limiter: NewMemoryLimiter(&MemoryOptions{Now: clk.Now})}
	p := limited(t, PolicyConfig{ToolCalls: Rate{Requests: 3, Per: time.Minute}})
	allowed := 0
	for range 5 {
		if _, err := l.ToolCall(context.Background(), p); err == nil {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("%d of 5 tool calls allowed, want 3 (burst defaults to requests)", allowed)
	}
	// Tool calls do not use the request rate, which is unlimited here.
	for range 10 {
		if _, err := l.Request(context.Background(), p); err != nil {
			t.Fatalf("request with no rate: %v", err)
		}
	}
}

func TestTokenBudget(t *testing.T) {
	clk := newClock()
	l := &Limits{Limiter: NewMemoryLimiter(&MemoryOptions{Now: clk.Now})}
	p := limited(t, PolicyConfig{Tokens: Budget{Limit: 1000, Per: time.Hour}})
	ctx := context.Background()
	if d, err := l.Tokens(ctx, p); err != nil || d.Remaining != 1000 {
		t.Fatalf("fresh budget: %+v, %v", d, err)
	}
	if err := l.Spend(ctx, p, 600); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Tokens(ctx, p); err != nil || d.Remaining != 400 {
		t.Fatalf("after 600: %+v, %v; want 400 left", d, err)
	}
	// The request that crosses the budget is not cut short; the next is refused.
	if err := l.Spend(ctx, p, 500); err != nil {
		t.Fatal(err)
	}
	d, err := l.Tokens(ctx, p)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Code != CodeInsufficientQuota || e.Type != TypeInsufficientQuota {
		t.Fatalf("spent budget: %v, want a 429 insufficient_quota", err)
	}
	if d.Remaining != 0 || d.Reset != time.Hour || e.Header.Get("Retry-After") != "3600" {
		t.Errorf("spent budget: %+v, Retry-After %q; want 0 left, reset in 1h", d, e.Header.Get("Retry-After"))
	}
	clk.Add(time.Hour)
	if d, err := l.Tokens(ctx, p); err != nil || d.Remaining != 1000 {
		t.Errorf("next window: %+v, %v; want the whole budget", d, err)
	}
}

func TestStreams(t *testing.T) {
	l := &Limits{Limiter: NewMemoryLimiter(nil)}
	p := limited(t, PolicyConfig{MaxStreams: 2})
	ctx := context.Background()
	r1, err1 := l.Stream(ctx, p)
	r2, err2 := l.Stream(ctx, p)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := l.Stream(ctx, p)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Code != CodeTooManyStreams {
		t.Fatalf("third stream: %v, want a 429 too_many_streams", err)
	}
	r1()
	r1() // a second release gives nothing back twice
	r3, err := l.Stream(ctx, p)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.Stream(ctx, p); err == nil {
		t.Error("a double release freed two slots")
	}
	r2()
	r3()
	if _, _, n := l.Limiter.(*MemoryLimiter).Len(); n != 0 {
		t.Errorf("%d stream counts left after every release, want 0", n)
	}
}

func TestUnlimited(t *testing.T) {
	full := &Principal{Name: "root", Source: SourceKey}
	for _, l := range []*Limits{nil, {}, {Limiter: NewMemoryLimiter(nil)}} {
		for range 100 {
			if _, err := l.Request(context.Background(), full); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Tokens(context.Background(), full); err != nil {
				t.Fatal(err)
			}
			rel, err := l.Stream(context.Background(), full)
			if err != nil || rel == nil {
				t.Fatal(err)
			}
		}
	}
	if h := RateHeaders(unlimited); len(h) != 0 {
		t.Errorf("headers of an unlimited decision: %v", h)
	}
}

// failing is a Limiter whose store cannot be reached.
type failing struct{ MemoryLimiter }

func (*failing) Allow(context.Context, string, Rate) (Decision, error) {
	return Decision{}, errors.New("redis: connection refused")
}

func TestLimiterDown(t *testing.T) {
	l := &Limits{Limiter: &failing{}}
	_, err := l.Request(context.Background(), limited(t, PolicyConfig{Rate: Rate{Requests: 1}}))
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Errorf("limiter down: %v, want a 503", err)
	}
}

func TestMemoryLimiterBounded(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now, MaxKeys: 100})
	r := Rate{Requests: 10, Per: time.Second}
	ctx := context.Background()
	for i := range 1000 {
		if _, err := m.Allow(ctx, fmt.Sprint("k", i), r); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Spend(ctx, fmt.Sprint("k", i), Budget{Limit: 10, Per: time.Hour}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if b, w, _ := m.Len(); b > 100 || w > 100 {
		t.Errorf("%d buckets and %d windows held, want at most 100 each", b, w)
	}
	// A bucket that refilled is forgotten first, and that changes nothing.
	clk.Add(time.Second)
	for i := range 100 {
		d, _ := m.Allow(ctx, fmt.Sprint("new", i), r)
		if !d.Allowed {
			t.Fatal("a new key refused")
		}
	}
	if b, _, _ := m.Len(); b > 100 {
		t.Errorf("%d buckets, want at most 100", b)
	}
}

// TestMemoryLimiterEvictsTheLeastRecentlyUsed: past MaxKeys, with no
// bucket full again, the least recently used go and a bucket used since
// keeps what it used.
func TestMemoryLimiterEvictsTheLeastRecentlyUsed(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now, MaxKeys: 10})
	r := Rate{Requests: 10, Per: time.Hour}
	ctx := context.Background()
	allow := func(key string) Decision {
		clk.Add(time.Second)
		d, err := m.Allow(ctx, key, r)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := range 10 {
		allow(fmt.Sprint("k", i))
	}
	allow("k0") // now the most recently used: 8 left
	allow("new")
	if b, _, _ := m.Len(); b != 9 {
		t.Errorf("%d buckets after the eviction, want 9 (two of ten went, one came)", b)
	}
	if d := allow("k0"); d.Remaining != 7 {
		t.Errorf("k0, used since: %d left, want 7 (kept)", d.Remaining)
	}
	if d := allow("k1"); d.Remaining != 9 {
		t.Errorf("k1, the least recently used: %d left, want 9 (a new bucket)", d.Remaining)
	}
}

func TestRateChangeKeepsUse(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now})
	ctx := context.Background()
	for range 5 {
		_, _ = m.Allow(ctx, "k", Rate{Requests: 5, Per: time.Minute})
	}
	d, _ := m.Allow(ctx, "k", Rate{Requests: 10, Per: time.Minute})
	if !d.Allowed || d.Limit != 10 || d.Remaining != 4 {
		t.Errorf("after a reload to 10: %+v, want allowed with 4 left", d)
	}
}

func TestRateHeadersFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 20 * time.Millisecond: "20ms", time.Second: "1s", 1500 * time.Millisecond: "2s", 6 * time.Minute: "6m0s"} {
		if got := formatReset(d); got != want {
			t.Errorf("formatReset(%s) = %s, want %s", d, got, want)
		}
	}
	h := RateHeaders(Decision{Allowed: false, Limit: 5, Remaining: 0, Reset: 3 * time.Second, RetryAfter: 200 * time.Millisecond})
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After of 200ms = %q, want 1", h.Get("Retry-After"))
	}
}

func TestErrorsOfModelsAndTools(t *testing.T) {
	if e := ModelNotPermitted("gpt-4o"); e.Status != 403 || e.Type != TypePermission || e.Code != CodeModelNotPermitted {
		t.Errorf("ModelNotPermitted = %+v", e)
	}
	if e := ToolNotPermitted("fs__write_file"); e.Status != 403 || e.Type != TypePermission || e.Code != CodeToolNotPermitted {
		t.Errorf("ToolNotPermitted = %+v", e)
	}
}

// admitting is a MemoryLimiter that is also an Admitter, counting the
// exchanges it is asked for.
type admitting struct {
	*MemoryLimiter
	admits, allows int
}

func (a *admitting) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	a.allows++
	return a.MemoryLimiter.Allow(ctx, key, r)
}

func (a *admitting) Admit(ctx context.Context, rateKey string, r Rate, budgetKey string, b Budget) (Decision, Decision, error, error) {
	a.admits++
	rd, rerr := a.MemoryLimiter.Allow(ctx, rateKey, r)
	bd, berr := a.MemoryLimiter.Remaining(ctx, budgetKey, b)
	return rd, bd, rerr, berr
}

// TestAdmit: Admit answers as Request then Tokens do, in one exchange
// with an Admitter when both limits apply, and in two with any other
// Limiter.
func TestAdmit(t *testing.T) {
	ctx := context.Background()
	alice := limited(t, PolicyConfig{Rate: Rate{Requests: 2, Per: time.Minute}, Tokens: Budget{Limit: 100, Per: time.Hour}})
	for _, name := range []string{"admitter", "limiter"} {
		clk := newClock()
		mem := NewMemoryLimiter(&MemoryOptions{Now: clk.Now})
		ad := &admitting{MemoryLimiter: mem}
		l := &Limits{Limiter: mem}
		if name == "admitter" {
			l.Limiter = ad
		}
		for i := range 2 {
			if d, err := l.Admit(ctx, alice); err != nil || !d.Allowed || d.Limit != 2 {
				t.Fatalf("%s: request %d: %+v %v", name, i, d, err)
			}
		}
		var ae *Error
		if _, err := l.Admit(ctx, alice); !errors.As(err, &ae) || ae.Code != CodeRateLimitExceeded {
			t.Errorf("%s: third request: %v", name, err)
		}
		clk.Add(time.Minute)
		if err := l.Spend(ctx, alice, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Admit(ctx, alice); !errors.As(err, &ae) || ae.Code != CodeInsufficientQuota {
			t.Errorf("%s: budget spent: %v", name, err)
		}
		if name == "admitter" && (ad.admits != 4 || ad.allows != 0) {
			t.Errorf("admitter asked %d admits and %d allows, want 4 and 0", ad.admits, ad.allows)
		}
	}
	// Without a budget, Admit is Request.
	bob := limited(t, PolicyConfig{Rate: Rate{Requests: 1, Per: time.Minute}})
	ad := &admitting{MemoryLimiter: NewMemoryLimiter(nil)}
	l := &Limits{Limiter: ad}
	if _, err := l.Admit(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(ctx, bob); err == nil || ad.admits != 0 || ad.allows != 2 {
		t.Errorf("bob: %v, %d admits, %d allows", err, ad.admits, ad.allows)
	}
}
