package llm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// retryLog is a slog.Handler that keeps the attributes of the first
// "retrying" record and then runs onRetry (once).
type retryLog struct {
	mu      *sync.Mutex
	attrs   map[string]slog.Value
	onRetry func()
}

func (h retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (h retryLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "retrying") {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.attrs) > 0 {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		h.attrs[a.Key] = a.Value
		return true
	})
	h.onRetry()
	return nil
}
func (h retryLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h retryLog) WithGroup(string) slog.Handler      { return h }

// TestRetryDefaultsAndLog checks, with the retry options left zero, that
// the first retry waits a jittered 100-200 ms (RetryBaseDelay's 200 ms
// default, under MaxRetryDelay's 10 s one), and that the retry report
// numbers the failed attempt from 1. The wait itself is cut short by
// cancelling the request as soon as the report is logged.
func TestRetryDefaultsAndLog(t *testing.T) {
	u := newUpstream(t, statuses(503))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := retryLog{mu: new(sync.Mutex), attrs: map[string]slog.Value{}, onRetry: cancel}
	c, err := NewClient(Options{BaseURL: u.URL, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ChatCompletions(ctx, []byte(`{}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the cancellation during the wait", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if got := h.attrs["attempt"]; got.Kind() != slog.KindInt64 || got.Int64() != 1 {
		t.Errorf("attempt = %v, want 1", got)
	}
	if got := h.attrs["status"]; got.Kind() != slog.KindInt64 || got.Int64() != 503 {
		t.Errorf("status = %v, want 503", got)
	}
	d := h.attrs["delay"]
	if d.Kind() != slog.KindDuration || d.Duration() < 100*time.Millisecond || d.Duration() > 200*time.Millisecond {
		t.Errorf("delay = %v, want within [100ms, 200ms]", d)
	}
}

// TestNonPositiveDelaysMeanDefaults checks a negative RetryBaseDelay,
// MaxRetryDelay or ModelsTTL means the default, as 0 does, and a positive
// one is kept.
func TestNonPositiveDelaysMeanDefaults(t *testing.T) {
	for _, tt := range []struct{ in, base, max, ttl time.Duration }{
		{0, 200 * time.Millisecond, 10 * time.Second, 10 * time.Second},
		{-1, 200 * time.Millisecond, 10 * time.Second, 10 * time.Second},
		{time.Nanosecond, time.Nanosecond, time.Nanosecond, time.Nanosecond},
	} {
		c, err := NewClient(Options{BaseURL: "http://127.0.0.1:1/v1", RetryBaseDelay: tt.in, MaxRetryDelay: tt.in, ModelsTTL: tt.in})
		if err != nil {
			t.Fatal(err)
		}
		if c.baseDelay != tt.base || c.maxDelay != tt.max || c.modelsTTL != tt.ttl {
			t.Errorf("options %v: base delay %v, max delay %v, models TTL %v; want %v, %v, %v",
				tt.in, c.baseDelay, c.maxDelay, c.modelsTTL, tt.base, tt.max, tt.ttl)
		}
	}
}

// TestModelsCachedByDefault checks that with ModelsTTL left zero a second
// call within the default 10 s is answered from the cache.
func TestModelsCachedByDefault(t *testing.T) {
	u := modelsUpstream(t, `{"data":[{"id":"a"}]}`)
	c := newTestClient(t, Options{BaseURL: u.URL + "/v1"})
	for range 2 {
		if l, err := c.Models(context.Background()); err != nil || len(l.Data) != 1 {
			t.Fatalf("models %+v, %v", l, err)
		}
	}
	if n := u.count.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestStatus300IsAnError checks 300 Multiple Choices, which the HTTP
// client does not follow, is an error and not an answer.
func TestStatus300IsAnError(t *testing.T) {
	u := newUpstream(t, statuses(300))
	c := newTestClient(t, Options{BaseURL: u.URL})
	resp, err := c.ChatCompletions(context.Background(), []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 300 || resp != nil {
		t.Fatalf("response %v, error %#v; want an *Error for HTTP 300", resp, err)
	}
	if n := u.count.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// scriptedBody returns its reads in turn, then io.EOF.
type scriptedBody struct {
	reads []func(p []byte) (int, error)
}

func (b *scriptedBody) Read(p []byte) (int, error) {
	if len(b.reads) == 0 {
		return 0, io.EOF
	}
	f := b.reads[0]
	b.reads = b.reads[1:]
	return f(p)
}
func (b *scriptedBody) Close() error { return nil }

// answering returns an HTTP client whose every request gets status and
// body.
func answering(status int, body io.ReadCloser) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: body, Request: r}, nil
	})}
}

// TestErrorBodyCut checks an error response whose body breaks off is still
// reported with its status, not as a cancellation the caller never asked
// for.
func TestErrorBodyCut(t *testing.T) {
	body := &scriptedBody{reads: []func([]byte) (int, error){
		func(p []byte) (int, error) { return copy(p, `{"error":`), nil },
		func([]byte) (int, error) { return 0, io.ErrUnexpectedEOF },
	}}
	c := newTestClient(t, Options{BaseURL: "http://upstream.invalid/v1", HTTPClient: answering(400, body)})
	_, err := c.ChatCompletions(context.Background(), []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 400 || errors.Is(err, context.Canceled) {
		t.Fatalf("error %#v, want the upstream's HTTP 400", err)
	}
}

// TestErrorBodyCanceled checks a caller that leaves while an error
// response's body is being read gets a cancellation, not the upstream's
// half-read error: a client that left is not an upstream fault.
func TestErrorBodyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reqCtx context.Context
	body := &scriptedBody{reads: []func([]byte) (int, error){
		func(p []byte) (int, error) { return copy(p, `{"error":`), nil },
		func([]byte) (int, error) {
			cancel()
			<-reqCtx.Done()
			return 0, reqCtx.Err()
		},
	}}
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		reqCtx = r.Context()
		return &http.Response{StatusCode: 400, Header: http.Header{}, Body: body, Request: r}, nil
	})}
	c := newTestClient(t, Options{BaseURL: "http://upstream.invalid/v1", HTTPClient: hc})
	_, err := c.ChatCompletions(ctx, []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) || e.StatusCode != 0 || e.Message != "request canceled" {
		t.Fatalf("error %#v, want a cancellation", err)
	}
}
