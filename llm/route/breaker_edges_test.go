package route

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// lockedBuffer is a log sink safe for the router's goroutines.
type lockedBuffer struct{ syncbuf.Buffer }

// lines returns the logged lines that contain s.
func (l *lockedBuffer) lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// slogTo is a logger of text lines into w, Info and above.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// breakerRig is a router of "flaky" (tried first) and "backup", on a fake
// clock, logging to a buffer. flaky fails with fail until healthy is set.
type breakerRig struct {
	t   *testing.T
	r   *Router
	log *lockedBuffer

	mu      sync.Mutex
	now     time.Time
	calls   int  // requests flaky got
	healthy bool // flaky answers
	fail    error
	// onCall, when set, runs inside flaky's request (with the lock held).
	onCall func()
}

func newBreakerRig(t *testing.T, opts Options) *breakerRig {
	g := &breakerRig{t: t, log: &lockedBuffer{}, now: time.Unix(1000, 0), fail: &llm.Error{StatusCode: 502, Message: "bad gateway"}}
	flaky := &fake{chat: func(context.Context) (*http.Response, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.calls++
		if g.onCall != nil {
			g.onCall()
		}
		if g.healthy {
			return ok("x").chat(context.Background())
		}
		return nil, g.fail
	}}
	opts.Upstreams = []Upstream{{Name: "flaky", Client: flaky}, {Name: "backup", Client: ok("y"), Priority: 2}}
	opts.Logger = slogTo(g.log)
	opts.now = func() time.Time { g.mu.Lock(); defer g.mu.Unlock(); return g.now }
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	return g
}

// send routes one request and returns who answered.
func (g *breakerRig) send() string {
	g.t.Helper()
	_, a, err := g.r.Send(context.Background(), Request{Model: "m", Body: body})
	if err != nil {
		g.t.Fatal(err)
	}
	return a.Name
}

func (g *breakerRig) advance(d time.Duration) {
	g.mu.Lock()
	g.now = g.now.Add(d)
	g.mu.Unlock()
}

func (g *breakerRig) setHealthy(h bool) {
	g.mu.Lock()
	g.healthy = h
	g.mu.Unlock()
}

// flakyCalls returns how many requests flaky got.
func (g *breakerRig) flakyCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// TestBreakerLogsOpeningAndClosingOnce: the breaker opens at exactly
// BreakerFailures failures in a row (not before), and the probe that
// closes it again (with the failures still at the threshold) is logged
// once; an ordinary success, of the backup or of flaky afterwards, logs
// nothing. The operator reads these lines to know an upstream's state.
func TestBreakerLogsOpeningAndClosingOnce(t *testing.T) {
	g := newBreakerRig(t, Options{BreakerFailures: 3, BreakerCooldown: time.Minute})
	for i := range 2 {
		g.send()
		if open := g.log.lines("circuit open"); len(open) != 0 {
			t.Fatalf("after %d failures: %q", i+1, open)
		}
	}
	g.send()
	if open := g.log.lines("circuit open"); len(open) != 1 || !strings.Contains(open[0], "upstream=flaky") {
		t.Fatalf("after 3 failures: %q", open)
	}
	if closed := g.log.lines("circuit closed"); len(closed) != 0 {
		t.Fatalf("the backup's answers logged %q", closed)
	}
	g.advance(61 * time.Second)
	g.setHealthy(true)
	if got := g.send(); got != "flaky" {
		t.Fatalf("the probe went to %s", got)
	}
	if got := g.send(); got != "flaky" {
		t.Fatalf("after the probe: %s", got)
	}
	if closed := g.log.lines("circuit closed"); len(closed) != 1 || !strings.Contains(closed[0], "upstream=flaky") {
		t.Errorf("closing logged %q, want one line for flaky", closed)
	}
}

// TestBreakerFailedProbeReopens: a probe that fails opens the breaker for
// another cool-down, rather than letting every next request probe again.
func TestBreakerFailedProbeReopens(t *testing.T) {
	g := newBreakerRig(t, Options{BreakerFailures: 1, BreakerCooldown: time.Minute})
	g.send()
	g.send()
	if n := g.flakyCalls(); n != 1 {
		t.Fatalf("flaky got %d requests with its breaker open, want 1", n)
	}
	g.advance(61 * time.Second)
	if got := g.send(); got != "backup" || g.flakyCalls() != 2 {
		t.Fatalf("the failed probe: answered by %s, flaky got %d", got, g.flakyCalls())
	}
	g.advance(59 * time.Second)
	g.send()
	if n := g.flakyCalls(); n != 2 {
		t.Errorf("flaky got %d requests within the cool-down after its failed probe, want 2", n)
	}
	g.advance(2 * time.Second)
	g.send()
	if n := g.flakyCalls(); n != 3 {
		t.Errorf("flaky got %d requests after the second cool-down, want 3", n)
	}
	if open := g.log.lines("circuit open"); len(open) != 3 {
		t.Errorf("open logged %d times, want 3 (the failure and both probes): %q", len(open), open)
	}
}

// TestBreakerNegativeNeverOpens: with a negative BreakerFailures every
// request goes to flaky however often it fails, and no breaker line is
// logged, not even when it answers again.
func TestBreakerNegativeNeverOpens(t *testing.T) {
	g := newBreakerRig(t, Options{BreakerFailures: -1})
	for range 4 {
		g.send()
	}
	g.setHealthy(true)
	if got := g.send(); got != "flaky" {
		t.Fatalf("answered by %s", got)
	}
	if n := g.flakyCalls(); n != 5 {
		t.Errorf("flaky got %d requests, want 5", n)
	}
	if l := append(g.log.lines("circuit open"), g.log.lines("circuit closed")...); len(l) != 0 {
		t.Errorf("breaker lines logged: %q", l)
	}
}

// TestBreakerCooldownDefaultsTo30s: a BreakerCooldown of 0 means 30 s.
func TestBreakerCooldownDefaultsTo30s(t *testing.T) {
	g := newBreakerRig(t, Options{BreakerFailures: 1})
	g.send()
	g.advance(29 * time.Second)
	g.send()
	if n := g.flakyCalls(); n != 1 {
		t.Errorf("flaky got %d requests 29 s after its breaker opened, want 1", n)
	}
	g.advance(2 * time.Second)
	g.send()
	if n := g.flakyCalls(); n != 2 {
		t.Errorf("flaky got %d requests 31 s after its breaker opened, want 2 (the probe)", n)
	}
}

// TestBreakerProbeGivenUpIsReleased: a probe whose caller went away tells
// nothing of the upstream; the next request probes it again instead of
// finding the probe still under way and skipping the upstream for good.
func TestBreakerProbeGivenUpIsReleased(t *testing.T) {
	g := newBreakerRig(t, Options{BreakerFailures: 1, BreakerCooldown: time.Minute})
	g.send()
	g.advance(61 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.mu.Lock()
	g.onCall = func() { cancel(); g.fail = context.Canceled }
	g.mu.Unlock()
	if _, a, err := g.r.Send(ctx, Request{Model: "m", Body: body}); err == nil || a.Name != "flaky" {
		t.Fatalf("the given-up probe: %s, %v", a.Name, err)
	}
	g.mu.Lock()
	g.onCall = nil
	g.mu.Unlock()
	g.setHealthy(true)
	if got := g.send(); got != "flaky" || g.flakyCalls() != 3 {
		t.Errorf("after a given-up probe: answered by %s, flaky got %d requests, want 3", got, g.flakyCalls())
	}
}

// TestRateLimitCoolDown: a 429 without Retry-After leaves the upstream
// alone for 1 s; one with Retry-After for as long as it asks.
func TestRateLimitCoolDown(t *testing.T) {
	for _, c := range []struct {
		retryAfter, within, after time.Duration
	}{
		{0, 0, 2 * time.Second},
		{time.Minute, 2 * time.Second, 59 * time.Second},
	} {
		g := newBreakerRig(t, Options{})
		g.fail = &llm.Error{StatusCode: http.StatusTooManyRequests, Message: "slow down", RetryAfter: c.retryAfter}
		g.send()
		g.advance(c.within)
		g.send()
		if n := g.flakyCalls(); n != 1 {
			t.Errorf("Retry-After %v: flaky got %d requests %v after its 429, want 1", c.retryAfter, n, c.within)
		}
		g.advance(c.after)
		g.send()
		if n := g.flakyCalls(); n != 2 {
			t.Errorf("Retry-After %v: flaky got %d requests %v after its 429, want 2", c.retryAfter, n, c.within+c.after)
		}
	}
}

// TestRateLimitFailoverOnlyWithSomewhereElse: a lone upstream's 429 is
// waited for and retried by its client; with another candidate, the 429
// comes back at once and the other answers.
func TestRateLimitFailoverOnlyWithSomewhereElse(t *testing.T) {
	client := func(s *llmtest.Server) *llm.Client {
		c, err := llm.NewClient(llm.Options{BaseURL: s.URL, MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lone := llmtest.NewServer(t, llmtest.RateLimited(0), llmtest.TextStream("hi"))
	r, _ := New(Options{Upstreams: []Upstream{{Name: "lone", Client: client(lone)}}})
	if _, a, err := r.Send(context.Background(), Request{Model: "m", Body: body}); err != nil || a.Name != "lone" || len(lone.Requests()) != 2 {
		t.Errorf("lone upstream: %s, %v, %d requests; want its retry to answer", a.Name, err, len(lone.Requests()))
	}

	first := llmtest.NewServer(t, llmtest.RateLimited(0), llmtest.TextStream("retried"))
	second := llmtest.NewServer(t, llmtest.TextStream("hi"))
	r, _ = New(Options{Upstreams: []Upstream{{Name: "first", Client: client(first)}, {Name: "second", Client: client(second), Priority: 2}}})
	if _, a, err := r.Send(context.Background(), Request{Model: "m", Body: body}); err != nil || a.Name != "second" || len(first.Requests()) != 1 {
		t.Errorf("two upstreams: %s, %v, first got %d requests; want second to answer", a.Name, err, len(first.Requests()))
	}
}

// TestFailureLogSaysWhetherAnotherIsTried: a failed upstream's log line
// says the next one is tried only when there is one.
func TestFailureLogSaysWhetherAnotherIsTried(t *testing.T) {
	g := newBreakerRig(t, Options{})
	if got := g.send(); got != "backup" {
		t.Fatalf("answered by %q, want backup", got)
	}
	if l := g.log.lines("failed before answering"); len(l) != 1 || !strings.Contains(l[0], "trying the next one") {
		t.Errorf("with a backup: %q, want one line saying the next one is tried", l)
	}

	logs := &lockedBuffer{}
	down := &fake{chat: func(context.Context) (*http.Response, error) {
		return nil, &llm.Error{StatusCode: 502, Message: "bad gateway"}
	}}
	r, err := New(Options{Upstreams: []Upstream{{Name: "lone", Client: down}}, Logger: slogTo(logs)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Send(context.Background(), Request{Model: "m", Body: body}); err == nil {
		t.Fatal("a lone failing upstream answered")
	}
	if l := logs.lines("failed before answering"); len(l) != 1 || strings.Contains(l[0], "next") {
		t.Errorf("alone: %q, want one line that names no next upstream", l)
	}
}
