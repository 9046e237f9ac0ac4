package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
)

// countingTransport counts the requests sent through it.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestJWTOptionsAreUsed: the HTTP client and the clock given in Options
// are the ones the JWKS is fetched with and tokens are checked against.
func TestJWTOptionsAreUsed(t *testing.T) {
	d := newIDP(t)
	tr := &countingTransport{}
	then := time.Now().Add(-3 * time.Hour)
	a, err := New(Config{JWT: &JWTConfig{JWKS: d.srv.URL + "/jwks.json", Issuer: testIssuer, Audience: testAudience}},
		&Options{HTTPClient: &http.Client{Transport: tr}, Now: func() time.Time { return then }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// Valid by the given clock, expired two hours ago by the wall clock.
	tok := d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) {
		c["exp"], c["iat"] = then.Add(time.Hour).Unix(), then.Unix()
	}))
	if p, err := a.Authenticate(request("Authorization", "Bearer "+tok)); err != nil || p.Name != "carol" {
		t.Errorf("a token valid by the given clock: %v, %v", p, err)
	}
	if tr.n.Load() == 0 {
		t.Error("the JWKS was not fetched with the given HTTP client")
	}
}

// TestJWKSFailureLogged: a JWKS that cannot be fetched is logged to the
// logger given in Options.
func TestJWKSFailureLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	var logs syncbuf.Buffer
	a, err := New(Config{JWT: &JWTConfig{JWKS: srv.URL + "/jwks.json", Issuer: testIssuer, Audience: testAudience}},
		&Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	out := logs.String()
	if !strings.Contains(out, "fetching the JWKS failed") {
		t.Errorf("log %q, want the JWKS failure", out)
	}
}

// TestCloseOfNoAuthenticator: a nil Authenticator closes as one that
// refreshes nothing.
func TestCloseOfNoAuthenticator(t *testing.T) {
	var a *Authenticator
	if err := a.Close(); err != nil {
		t.Errorf("Close of a nil Authenticator: %v", err)
	}
}

// TestPresentedBearerWithoutValue: "Bearer " with nothing after it is no
// credential, not an empty bearer one.
func TestPresentedBearerWithoutValue(t *testing.T) {
	for _, v := range []string{"Bearer ", "Bearer", "bearer "} {
		if cred, bearer := Presented(request("Authorization", v)); cred != "" || bearer {
			t.Errorf("Presented(Authorization: %q) = %q, %v; want \"\", false", v, cred, bearer)
		}
	}
	if cred, bearer := Presented(request("Authorization", "Bearer x")); cred != "x" || !bearer {
		t.Errorf("Presented(Bearer x) = %q, %v", cred, bearer)
	}
}

// TestInvalidKeyMentionsJWTOnlyWhenConfigured: the 401 of an unknown key
// suggests a JWT only when JWTs are accepted.
func TestInvalidKeyMentionsJWTOnlyWhenConfigured(t *testing.T) {
	keys, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	withJWT := jwtAuthenticator(t, newIDP(t), nil)
	for _, tc := range []struct {
		name string
		a    *Authenticator
		want bool
	}{{"keys only", keys, false}, {"keys and JWT", withJWT, true}} {
		_, err := tc.a.Authenticate(request("Authorization", "Bearer nope-0123456789abcdef"))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("%s: %v, want a 401", tc.name, err)
		}
		if got := strings.Contains(e.Message, "JWT"); got != tc.want {
			t.Errorf("%s: message %q mentions a JWT: %v, want %v", tc.name, e.Message, got, tc.want)
		}
	}
}

// TestJWTKnownKidWrongAlgorithm: a token naming a key of the JWKS that
// cannot verify it is refused naming that key id.
func TestJWTKnownKidWrongAlgorithm(t *testing.T) {
	d := newIDP(t)
	a := jwtAuthenticator(t, d, nil)
	tok := d.sign(t, jwt.SigningMethodES256, "rsa-1", d.ec, claims(nil))
	_, err := a.Authenticate(request("Authorization", "Bearer "+tok))
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !strings.Contains(e.Message, `no usable key for key id "rsa-1"`) {
		t.Errorf("Authenticate = %v, want a 401 naming the key id rsa-1", err)
	}
}

// TestClip: values of a token's header are shown up to 64 bytes.
func TestClip(t *testing.T) {
	at := strings.Repeat("k", 64)
	if got := clip(at); got != at {
		t.Errorf("clip of 64 bytes = %q, want it whole", got)
	}
	if got := clip(at + "x"); got != at+"..." {
		t.Errorf("clip of 65 bytes = %q, want 64 and ...", got)
	}
}

// TestTokenHeaderAlgNotAString: an alg that is not a string is shown as
// written (and refused); an absent one is "".
func TestTokenHeaderAlgNotAString(t *testing.T) {
	head := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) + ".e30.x" }
	for h, want := range map[string]string{`{"alg":5}`: "5", `{"alg":true}`: "true", `{"kid":"a"}`: "", `{"alg":"RS256"}`: "RS256"} {
		if alg, _ := tokenHeader(head(h)); alg != want {
			t.Errorf("alg of %s = %q, want %q", h, alg, want)
		}
	}
	d := newIDP(t)
	a := jwtAuthenticator(t, d, nil)
	_, err := a.Authenticate(request("Authorization", "Bearer "+head(`{"alg":5,"kid":"rsa-1"}`)))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, `algorithm "5" is not accepted`) {
		t.Errorf("a numeric alg: %v, want it refused by name", err)
	}
}

// TestRateChangeKeepsPartialUse: after a reload, what was used of the
// old burst stays used, not more.
func TestRateChangeKeepsPartialUse(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now})
	ctx := context.Background()
	for range 2 {
		_, _ = m.Allow(ctx, "k", Rate{Requests: 5, Per: time.Minute})
	}
	d, _ := m.Allow(ctx, "k", Rate{Requests: 10, Per: time.Minute})
	if !d.Allowed || d.Remaining != 7 {
		t.Errorf("2 of 5 used, then a reload to 10: %+v, want allowed with 7 left", d)
	}
}

// TestRateResetAndRetryAfter: Reset is when the bucket is full again and
// RetryAfter when the next token comes, counted from the tokens left.
func TestRateResetAndRetryAfter(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now})
	r := Rate{Requests: 60, Per: time.Minute, Burst: 2} // a token a second
	ctx := context.Background()
	d, _ := m.Allow(ctx, "k", r)
	if d.Reset != time.Second {
		t.Errorf("one of 2 used: reset in %s, want 1s", d.Reset)
	}
	_, _ = m.Allow(ctx, "k", r)
	clk.Add(500 * time.Millisecond)
	d, _ = m.Allow(ctx, "k", r)
	if d.Allowed || d.RetryAfter != 500*time.Millisecond || d.Reset != 1500*time.Millisecond {
		t.Errorf("half a token left: %+v, want refused, retry after 500ms, reset in 1.5s", d)
	}
}

// TestEvictionDropsFullBucketsFirst: past MaxKeys, a bucket full again
// goes, however recently used, and the others keep what they used.
func TestEvictionDropsFullBucketsFirst(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now, MaxKeys: 10})
	slow := Rate{Requests: 10, Per: time.Hour}
	ctx := context.Background()
	for i := range 9 {
		clk.Add(time.Second)
		_, _ = m.Allow(ctx, fmt.Sprint("k", i), slow)
	}
	clk.Add(time.Second)
	_, _ = m.Allow(ctx, "fast", Rate{Requests: 1000, Per: time.Second})
	clk.Add(time.Second) // fast is full again; the slow ones are not
	_, _ = m.Allow(ctx, "new", slow)
	if b, _, _ := m.Len(); b != 10 {
		t.Errorf("%d buckets, want 10 (the full one went, one came)", b)
	}
	if d, _ := m.Allow(ctx, "k0", slow); d.Remaining != 8 {
		t.Errorf("k0, the least recently used: %d left, want 8 (kept)", d.Remaining)
	}
}

// TestBudgetWindowsBounded: past MaxKeys, windows that are over go
// first, else the oldest tenth, so no more than MaxKeys are held.
func TestBudgetWindowsBounded(t *testing.T) {
	clk := newClock()
	m := NewMemoryLimiter(&MemoryOptions{Now: clk.Now, MaxKeys: 10})
	b := Budget{Limit: 100, Per: time.Hour}
	ctx := context.Background()
	for i := range 10 {
		_, _ = m.Spend(ctx, fmt.Sprint("k", i), b, 1)
	}
	_, _ = m.Spend(ctx, "new", b, 1)
	if _, w, _ := m.Len(); w != 9 {
		t.Errorf("%d windows, want 9 (two of ten went, one came)", w)
	}
	clk.Add(time.Hour)
	_, _ = m.Spend(ctx, "k0", b, 1) // k0's window was over: a new one
	_, _ = m.Spend(ctx, "more0", b, 1)
	_, _ = m.Spend(ctx, "more1", b, 1)
	if _, w, _ := m.Len(); w != 3 {
		t.Errorf("%d windows, want 3 (the eight over went)", w)
	}
}

// TestAcquireCounts: Acquire counts down what is left, and a limit of
// zero limits nothing.
func TestAcquireCounts(t *testing.T) {
	m := NewMemoryLimiter(nil)
	ctx := context.Background()
	for i, want := range []int64{2, 1, 0} {
		d, _ := m.Acquire(ctx, "s", 3)
		if !d.Allowed || d.Limit != 3 || d.Remaining != want {
			t.Errorf("stream %d: %+v, want allowed with %d left", i+1, d, want)
		}
	}
	for range 3 {
		if d, _ := m.Acquire(ctx, "z", 0); !d.Allowed {
			t.Fatalf("a limit of 0: %+v, want allowed", d)
		}
	}
}

// countingLimiter counts the calls that reach the store.
type countingLimiter struct {
	*MemoryLimiter
	calls atomic.Int32
}

func (c *countingLimiter) Spend(ctx context.Context, key string, b Budget, tokens int64) (Decision, error) {
	c.calls.Add(1)
	return c.MemoryLimiter.Spend(ctx, key, b, tokens)
}

func (c *countingLimiter) Acquire(ctx context.Context, key string, limit int) (Decision, error) {
	c.calls.Add(1)
	return c.MemoryLimiter.Acquire(ctx, key, limit)
}

// TestNothingToCountReachesNoStore: spending no tokens, or a stream with
// no stream limit, asks the limiter's store nothing.
func TestNothingToCountReachesNoStore(t *testing.T) {
	c := &countingLimiter{MemoryLimiter: NewMemoryLimiter(nil)}
	l := &Limits{Limiter: c}
	p := limited(t, PolicyConfig{Tokens: Budget{Limit: 100}, Rate: Rate{Requests: 5}})
	if err := l.Spend(context.Background(), p, 0); err != nil {
		t.Fatal(err)
	}
	release, err := l.Stream(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if n := c.calls.Load(); n != 0 {
		t.Errorf("%d calls to the limiter, want none", n)
	}
	if err := l.Spend(context.Background(), p, 1); err != nil || c.calls.Load() != 1 {
		t.Errorf("spending a token: %v, %d calls, want 1", err, c.calls.Load())
	}
}

// TestWindowDefaults: a rate with no Per counts per minute, a budget with
// no Per per day.
func TestWindowDefaults(t *testing.T) {
	if w := (Rate{Requests: 5}).Window(); w != time.Minute {
		t.Errorf("rate window %s, want 1m", w)
	}
	if w := (Rate{Requests: 5, Per: time.Second}).Window(); w != time.Second {
		t.Errorf("rate window %s, want 1s", w)
	}
	if w := (Budget{Limit: 5}).Window(); w != 24*time.Hour {
		t.Errorf("budget window %s, want 24h", w)
	}
	if w := (Budget{Limit: 5, Per: time.Hour}).Window(); w != time.Hour {
		t.Errorf("budget window %s, want 1h", w)
	}
}
