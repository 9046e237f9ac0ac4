package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is an httptest server that counts requests and keeps the last
// one.
type upstream struct {
	*httptest.Server
	count atomic.Int32
	mu    sync.Mutex
	last  *http.Request // a copy of the last request, Body read into body
	body  []byte
}

func (u *upstream) lastRequest() (*http.Request, []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.body
}

func newUpstream(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.body = r.Clone(context.Background()), body
		u.mu.Unlock()
		handle(int(u.count.Add(1)), w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// statuses answers the nth request with the nth status (the last one
// repeats) and an OpenAI error body for non-2xx statuses.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		code := codes[min(n, len(codes))-1]
		if code/100 == 2 {
			w.WriteHeader(code)
			io.WriteString(w, `{"ok":true}`)
			return
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"error":{"message":"status `+http.StatusText(code)+`","type":"t"}}`)
	}
}

func newTestClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.RetryBaseDelay == 0 {
		opts.RetryBaseDelay = time.Millisecond
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClient(t *testing.T) {
	for _, bad := range []string{"", "::", "ftp://host/v1", "http://", "localhost:11434/v1", "/v1"} {
		if _, err := NewClient(Options{BaseURL: bad}); err == nil {
			t.Errorf("NewClient(%q): no error", bad)
		}
	}
	tests := []struct {
		base, chat, models string
	}{
		{"http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1/chat/completions", "http://127.0.0.1:11434/v1/models"},
		{"http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1/chat/completions", "http://127.0.0.1:11434/v1/models"},
		{"https://api.example.com", "https://api.example.com/chat/completions", "https://api.example.com/models"},
		{"https://h/openai/v1?api-version=1", "https://h/openai/v1/chat/completions?api-version=1", "https://h/openai/v1/models?api-version=1"},
	}
	for _, tt := range tests {
		c, err := NewClient(Options{BaseURL: tt.base})
		if err != nil {
			t.Errorf("NewClient(%q): %v", tt.base, err)
			continue
		}
		if c.chatURL != tt.chat || c.modelsURL != tt.models {
			t.Errorf("NewClient(%q): urls %q, %q; want %q, %q", tt.base, c.chatURL, c.modelsURL, tt.chat, tt.models)
		}
	}
}

func TestChatCompletionsPassesRequestThrough(t *testing.T) {
	u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: [DONE]\n\n")
	})
	body := []byte(`{"model":"m","temperature":0,"top_k":1,"stop":"\n","messages":[]}`)
	c := newTestClient(t, Options{
		BaseURL: u.URL + "/v1/",
		APIKey:  "sk-test",
		Headers: map[string]string{"X-Extra": "1", "host": "upstream.example"},
	})
	resp, err := c.ChatCompletions(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "data: [DONE]\n\n" {
		t.Errorf("response body %q", got)
	}
	r, gotBody := u.lastRequest()
	checks := map[string][2]string{
		"method":        {r.Method, "POST"},
		"path":          {r.URL.Path, "/v1/chat/completions"},
		"body":          {string(gotBody), string(body)},
		"content type":  {r.Header.Get("Content-Type"), "application/json"},
		"authorization": {r.Header.Get("Authorization"), "Bearer sk-test"},
		"extra header":  {r.Header.Get("X-Extra"), "1"},
		"host":          {r.Host, "upstream.example"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}

	c = newTestClient(t, Options{BaseURL: u.URL})
	resp, err = c.ChatCompletions(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r, _ := u.lastRequest(); r.Header.Get("Authorization") != "" {
		t.Error("Authorization sent without an API key")
	}
}

func TestChatCompletionsRetriesStatuses(t *testing.T) {
	for _, status := range []int{429, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			u := newUpstream(t, statuses(status, 200))
			c := newTestClient(t, Options{BaseURL: u.URL})
			resp, err := c.ChatCompletions(context.Background(), []byte(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if n := u.count.Load(); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
			if _, body := u.lastRequest(); string(body) != `{"a":1}` {
				t.Errorf("retried body %q", body)
			}
		})
	}
}

func TestChatCompletionsDoesNotRetry(t *testing.T) {
	for _, status := range []int{400, 401, 404, 500} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			u := newUpstream(t, statuses(status, 200))
			c := newTestClient(t, Options{BaseURL: u.URL})
			_, err := c.ChatCompletions(context.Background(), []byte(`{}`))
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != status || e.Message != "status "+http.StatusText(status) || e.Type != "t" {
				t.Fatalf("error %#v", err)
			}
			if n := u.count.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestChatCompletionsRetryLimit(t *testing.T) {
	tests := []struct {
		maxRetries int
		requests   int32
	}{
		{0, 3}, {1, 2}, {-1, 1}, {4, 5},
	}
	for _, tt := range tests {
		u := newUpstream(t, statuses(503))
		c := newTestClient(t, Options{BaseURL: u.URL, MaxRetries: tt.maxRetries})
		_, err := c.ChatCompletions(context.Background(), []byte(`{}`))
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != 503 {
			t.Errorf("MaxRetries %d: error %v", tt.maxRetries, err)
		}
		if n := u.count.Load(); n != tt.requests {
			t.Errorf("MaxRetries %d: %d requests, want %d", tt.maxRetries, n, tt.requests)
		}
	}
}

func TestChatCompletionsRetryAfter(t *testing.T) {
	retryAfter := func(value string) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", value)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, `{}`)
		}
	}
	t.Run("zero", func(t *testing.T) {
		u := newUpstream(t, retryAfter("0"))
		// A base delay far beyond the test's time shows that Retry-After
		// replaced the backoff.
		c := newTestClient(t, Options{BaseURL: u.URL, RetryBaseDelay: time.Hour, MaxRetryDelay: time.Hour})
		resp, err := c.ChatCompletions(context.Background(), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n := u.count.Load(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("capped", func(t *testing.T) {
		u := newUpstream(t, retryAfter("1"))
		const limit = 50 * time.Millisecond
		c := newTestClient(t, Options{BaseURL: u.URL, RetryBaseDelay: time.Hour, MaxRetryDelay: limit})
		start := time.Now()
		resp, err := c.ChatCompletions(context.Background(), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(start); d < limit || d >= time.Second {
			t.Errorf("retried after %v, want between %v and 1s", d, limit)
		}
	})
}

func TestChatCompletionsRetriesConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var dials atomic.Int32
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, address)
		},
	}}
	c := newTestClient(t, Options{BaseURL: "http://" + addr + "/v1", HTTPClient: hc, APIKey: "sk-never-shown"})
	_, err = c.ChatCompletions(context.Background(), []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 0 || e.Message != "upstream unreachable" {
		t.Fatalf("error %#v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("transport error not reachable: %v", err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3", n)
	}
	if strings.Contains(err.Error(), "sk-never-shown") {
		t.Errorf("error shows the key: %v", err)
	}
}

// signalHandler is a slog.Handler that reports each message on a channel.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

func TestChatCompletionsCancelDuringBackoff(t *testing.T) {
	u := newUpstream(t, statuses(503))
	logs := signalHandler{msgs: make(chan string, 10)}
	c := newTestClient(t, Options{
		BaseURL: u.URL, RetryBaseDelay: time.Hour, MaxRetryDelay: time.Hour, Logger: slog.New(logs),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.ChatCompletions(ctx, []byte(`{}`))
		errc <- err
	}()
	for msg := range logs.msgs {
		if strings.Contains(msg, "retrying") {
			break
		}
	}
	cancel()
	select {
	case err := <-errc:
		var e *Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Message != "request canceled" {
			t.Fatalf("error %#v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ChatCompletions did not return after cancellation")
	}
	if n := u.count.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestChatCompletionsCanceledBeforeStart(t *testing.T) {
	u := newUpstream(t, statuses(200))
	c := newTestClient(t, Options{BaseURL: u.URL})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.ChatCompletions(ctx, []byte(`{}`))
	var e *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &e) {
		t.Fatalf("error %#v", err)
	}
}

func TestChatCompletionsKeyNotInErrors(t *testing.T) {
	const key = "sk-very-secret-key"
	u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"bad key `+key+`","type":"`+key+`","code":"`+key+`"}}`)
	})
	c := newTestClient(t, Options{BaseURL: u.URL, APIKey: key})
	_, err := c.ChatCompletions(context.Background(), []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%#v", e), e.Message, e.Type, e.Code} {
		if strings.Contains(s, key) {
			t.Errorf("the key appears in %q", s)
		}
	}
	if e.Message != "bad key [redacted]" {
		t.Errorf("Message %q", e.Message)
	}
}

func TestChatCompletionsStreamsBeforeBodyEnds(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"a\"}\n\n")
		http.NewResponseController(w).Flush()
		<-release
	})
	defer close(release)
	c := newTestClient(t, Options{BaseURL: u.URL})
	resp, err := c.ChatCompletions(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ev, err := NewEventReader(resp.Body).Next()
	if err != nil || string(ev.Data) != `{"id":"a"}` {
		t.Fatalf("first event %q, %v", ev.Data, err)
	}
}

// TestChatCompletionsBuffers checks a body given in parts arrives whole,
// with its length, on every attempt.
func TestChatCompletionsBuffers(t *testing.T) {
	var got []string
	var lengths []int64
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		lengths = append(lengths, r.ContentLength)
		attempts++
		if attempts == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := NewClient(Options{BaseURL: srv.URL, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	shared := []byte(`[{"type":"function"}]`)
	parts := net.Buffers{[]byte(`{"model":"m","tools":`), shared, []byte(`}`)}
	resp, err := c.ChatCompletionsBuffers(context.Background(), parts)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `{"model":"m","tools":[{"type":"function"}]}`
	if len(got) != 2 || got[0] != want || got[1] != want || lengths[1] != int64(len(want)) {
		t.Errorf("bodies %q, lengths %v", got, lengths)
	}
	if len(parts) != 3 || string(parts[1]) != string(shared) {
		t.Errorf("parts were consumed: %q", parts)
	}
}

type traceKey struct{}

// TestPropagateSetsTraceHeaders: the Propagate hook sees each request's
// context and its headers reach the upstream, after configured ones.
func TestPropagateSetsTraceHeaders(t *testing.T) {
	u := newUpstream(t, statuses(200))
	c := newTestClient(t, Options{
		BaseURL: u.URL + "/v1",
		Headers: map[string]string{"Traceparent": "configured"},
		Propagate: func(ctx context.Context, h http.Header) {
			if v, ok := ctx.Value(traceKey{}).(string); ok {
				h.Set("Traceparent", v)
			}
		},
	})
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	resp, err := c.ChatCompletions(context.WithValue(context.Background(), traceKey{}, tp), []byte(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r, _ := u.lastRequest()
	if got := r.Header.Get("Traceparent"); got != tp {
		t.Errorf("traceparent %q, want %q", got, tp)
	}
}

func TestWithFailoverReturnsRateLimitsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		status   int
		header   string
		requests int32
		after    time.Duration
	}{
		{"429 with Retry-After", 429, "7", 1, 7 * time.Second},
		{"429 without", 429, "", 1, 0},
		{"503 with Retry-After", 503, "120", 1, 2 * time.Minute},
		{"503 without is retried", 503, "", 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
			})
			c := newTestClient(t, Options{BaseURL: u.URL, RetryBaseDelay: time.Millisecond, MaxRetryDelay: time.Millisecond})
			_, err := c.ChatCompletions(WithFailover(context.Background()), []byte(`{}`))
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tt.status {
				t.Fatalf("error %v", err)
			}
			if n := u.count.Load(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if e.RetryAfter != tt.after {
				t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tt.after)
			}
		})
	}
}
