// Package llm is the client of the upstream OpenAI-compatible LLM server:
// it sends chat-completion requests byte for byte, retries the failures
// that are safe to retry, reads server-sent event streams, decodes
// chunks tolerantly, assembles streamed tool calls and lists models.
package llm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configures a Client. Only BaseURL is required.
type Options struct {
	// BaseURL is the upstream's API root, e.g. http://127.0.0.1:11434/v1.
	// A trailing slash is tolerated; a query string is kept on every
	// request.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY". "" sends no
	// Authorization header. It is never logged and never part of an error.
	APIKey string
	// Headers are added to every request, after Authorization (so an
	// "Authorization" entry here replaces the API key's). A "Host" entry
	// sets the request's host. nil adds none.
	Headers map[string]string
	// HTTPClient sends the requests. nil means a client whose connections
	// are dialled with a 10 s timeout and that has no overall timeout,
	// since streamed answers can last minutes.
	HTTPClient *http.Client
	// MaxRetries is how many times a failed attempt is retried. 0 means
	// 2; a negative value means no retries.
	MaxRetries int
	// RetryBaseDelay is the delay before the first retry, doubled for
	// each further one (with jitter). 0 means 200 ms.
	RetryBaseDelay time.Duration
	// MaxRetryDelay caps every delay between attempts, including one asked
	// for by a Retry-After header. 0 means 10 s.
	MaxRetryDelay time.Duration
	// ModelsTTL is how long a model list is cached. 0 means 10 s.
	ModelsTTL time.Duration
	// FirstByteTimeout bounds the wait, from sending a request, for the
	// first byte of the answer's body (a streamed answer's first event or
	// comment, or the first byte of a JSON one); the response's header
	// alone does not end it. The request then fails with an *Error
	// matching ErrFirstByteTimeout, and is not retried. 0 means 2 minutes,
	// which leaves a local server time to load its model; a negative value
	// means no limit.
	FirstByteTimeout time.Duration
	// StallTimeout bounds how long a Read of an answer's body, once the
	// body has begun, waits for the next byte: the Read then fails with an
	// *Error matching ErrStallTimeout. Any byte, an SSE comment included,
	// counts, and only time spent waiting in Read does, so a caller busy
	// between reads is not taken for a silent upstream. 0 means 2 minutes;
	// a negative value means no limit.
	StallTimeout time.Duration
	// Logger receives retry and failure reports. nil discards them.
	Logger *slog.Logger
	// Propagate, when set, adds trace context headers (traceparent) to
	// every request from the request's context, after all other headers.
	// nil adds none.
	Propagate func(ctx context.Context, h http.Header)
}

// Client is a client of one upstream. It is safe for concurrent use.
type Client struct {
	chatURL    string
	modelsURL  string
	auth       string // "Bearer KEY" or ""
	apiKey     string
	headers    http.Header
	host       string
	hc         *http.Client
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration
	modelsTTL  time.Duration
	firstByte  time.Duration // <= 0: none
	stall      time.Duration // <= 0: none
	where      string        // the base URL without credentials
	log        *slog.Logger
	propagate  func(context.Context, http.Header) // nil: none

	models modelsCache
}

// Operation names used in errors and logs.
const (
	opChat   = "POST /chat/completions"
	opModels = "GET /models"
)

// NewClient returns a client for opts.BaseURL. It returns an error when
// BaseURL is missing, unparseable or not an http or https URL.
func NewClient(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("llm: base URL is required")
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("llm: parsing base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL %q: want an http:// or https:// URL with a host", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	shown := *u
	shown.User, shown.RawQuery, shown.ForceQuery, shown.Fragment, shown.RawFragment = nil, "", false, "", ""
	c := &Client{
		chatURL:    u.JoinPath("chat/completions").String(),
		modelsURL:  u.JoinPath("models").String(),
		apiKey:     opts.APIKey,
		headers:    make(http.Header, len(opts.Headers)),
		hc:         opts.HTTPClient,
		maxRetries: opts.MaxRetries,
		baseDelay:  opts.RetryBaseDelay,
		maxDelay:   opts.MaxRetryDelay,
		modelsTTL:  opts.ModelsTTL,
		firstByte:  cmp.Or(opts.FirstByteTimeout, defaultFirstByteTimeout),
		stall:      cmp.Or(opts.StallTimeout, defaultStallTimeout),
		where:      shown.String(),
		log:        opts.Logger,
		propagate:  opts.Propagate,
	}
	if opts.APIKey != "" {
		c.auth = "Bearer " + opts.APIKey
	}
	for k, v := range opts.Headers {
		if strings.EqualFold(k, "Host") {
			c.host = v
			continue
		}
		c.headers.Set(k, v)
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = 2
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.baseDelay <= 0 {
		c.baseDelay = 200 * time.Millisecond
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 10 * time.Second
	}
	if c.modelsTTL <= 0 {
		c.modelsTTL = 10 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// BaseURL returns the upstream's API root as Options.BaseURL gave it, but
// without user information, query or fragment, which may carry
// credentials: an address fit for logs and messages.
func (c *Client) BaseURL() string { return c.where }

// defaultHTTPClient returns the client used when Options.HTTPClient is
// nil: the standard transport's settings, a 10 s dial timeout, and enough
// idle connections per host for many concurrent requests to one upstream.
func defaultHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ForceAttemptHTTP2:     true,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	t.DialContext = dialer.DialContext
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// ChatCompletions POSTs body unchanged, as application/json, to
// {BaseURL}/chat/completions.
//
// Connection failures and HTTP 429, 502, 503 and 504 are retried (up to
// Options.MaxRetries times, waiting as a 429 or 503 Retry-After header
// asks, capped at Options.MaxRetryDelay, else with exponential backoff)
// before it returns, so before the caller has written anything to its own
// client. Other statuses, 500 included, are not retried. Ending ctx stops
// the retries and the request.
//
// On a 2xx status it returns the response, whose Body the caller must
// close. Otherwise it returns an *Error; the error response's body has
// been read (up to 64 KiB) and closed. Options.FirstByteTimeout and
// Options.StallTimeout bound an upstream that goes silent, before or
// during the answer; such a timeout is not retried.
func (c *Client) ChatCompletions(ctx context.Context, body []byte) (*http.Response, error) {
	return c.do(ctx, http.MethodPost, c.chatURL, opChat, net.Buffers{body})
}

// ChatCompletionsBuffers is ChatCompletions with the body given as the
// concatenation of parts, which are sent as they are (vectored where the
// connection allows) and never copied into one slice: a body made of
// shared pieces, such as a tool list reused by every request, costs no
// allocation of its size. The parts are not modified.
func (c *Client) ChatCompletionsBuffers(ctx context.Context, parts net.Buffers) (*http.Response, error) {
	return c.do(ctx, http.MethodPost, c.chatURL, opChat, parts)
}

// do sends a request with retries. body nil means no body.
func (c *Client) do(ctx context.Context, method, target, op string, body net.Buffers) (*http.Response, error) {
	size := int64(0)
	for _, p := range body {
		size += int64(len(p))
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			// Reading a net.Buffers consumes its slice headers, so each
			// attempt gets its own copy of them.
			b := append(net.Buffers(nil), body...)
			rd = &b
		}
		wd := c.newWatchdog(ctx, op)
		req, err := http.NewRequestWithContext(wd.ctx, method, target, rd)
		if err != nil {
			wd.stop()
			return nil, newError(op, "invalid request", err)
		}
		if body != nil {
			req.ContentLength = size
			if size == 0 {
				req.Body = http.NoBody
			}
		}
		c.setHeaders(req, body != nil)

		resp, err := c.hc.Do(req)
		if err != nil {
			te := wd.err()
			wd.stop()
			if ctx.Err() != nil {
				return nil, ctxError(ctx, op, err)
			}
			if te != nil {
				// The upstream may be busy with the request: sending it
				// again would only add to its load.
				return nil, te
			}
			msg := "upstream request failed"
			retry := false
			if isConnectError(err) {
				msg, retry = "upstream unreachable", true
			}
			e := newError(op, msg, err)
			if !retry || attempt >= c.maxRetries {
				return nil, e
			}
			if err := c.wait(ctx, op, attempt, backoff(attempt, c.baseDelay, c.maxDelay), e); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			resp.Body = &watchedBody{rc: resp.Body, w: wd}
			return resp, nil
		}

		errBody, readErr := io.ReadAll(io.LimitReader(&watchedBody{rc: resp.Body, w: wd}, maxErrorBody))
		resp.Body.Close()
		wd.stop()
		if readErr != nil && ctx.Err() != nil {
			return nil, ctxError(ctx, op, readErr)
		}
		e := statusError(op, resp.StatusCode, errBody, c.apiKey)
		delay, ok := time.Duration(0), false
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			var d time.Duration
			d, ok = retryAfter(resp.Header.Get("Retry-After"), time.Now(), max(c.maxDelay, maxRetryAfter))
			delay, e.RetryAfter = min(d, c.maxDelay), min(d, maxRetryAfter)
		}
		elsewhere := hasFailover(ctx) && (resp.StatusCode == http.StatusTooManyRequests || ok)
		if !retryableStatus(resp.StatusCode) || attempt >= c.maxRetries || elsewhere {
			c.log.LogAttrs(ctx, slog.LevelDebug, "upstream error response",
				slog.String("op", op), slog.Int("status", resp.StatusCode), slog.String("message", e.Message))
			return nil, e
		}
		if !ok {
			delay = backoff(attempt, c.baseDelay, c.maxDelay)
		}
		if err := c.wait(ctx, op, attempt, delay, e); err != nil {
			return nil, err
		}
	}
}

func (c *Client) setHeaders(req *http.Request, hasBody bool) {
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for k, vs := range c.headers {
		req.Header[k] = vs
	}
	for k, vs := range headersFrom(req.Context()) {
		req.Header[k] = vs
	}
	if c.propagate != nil {
		c.propagate(req.Context(), req.Header)
	}
	if c.host != "" {
		req.Host = c.host
	}
}

// maxRetryAfter caps Error.RetryAfter.
const maxRetryAfter = time.Hour

type failoverKey struct{}

// WithFailover returns ctx telling the client that its caller has another
// upstream to send the request to: a 429 answer, and a 503 one with a
// Retry-After header, are returned at once (Error.RetryAfter says how
// long the upstream asked to be left alone) instead of being waited for
// and retried here. Other failures are retried as usual.
func WithFailover(ctx context.Context) context.Context {
	return context.WithValue(ctx, failoverKey{}, true)
}

func hasFailover(ctx context.Context) bool {
	v, _ := ctx.Value(failoverKey{}).(bool)
	return v
}

type headersKey struct{}

// WithHeaders returns ctx carrying headers that every upstream request
// made with it sends, after and over the client's own (an
// "Authorization" entry replaces the configured key): a caller's own
// upstream key, or its identity for the upstream to see.
func WithHeaders(ctx context.Context, h http.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return context.WithValue(ctx, headersKey{}, h)
}

func headersFrom(ctx context.Context) http.Header {
	h, _ := ctx.Value(headersKey{}).(http.Header)
	return h
}

// wait logs the failed attempt and sleeps for d, or returns an *Error if
// ctx ends first.
func (c *Client) wait(ctx context.Context, op string, attempt int, d time.Duration, cause *Error) error {
	c.log.LogAttrs(ctx, slog.LevelWarn, "upstream request failed, retrying",
		slog.String("op", op), slog.Int("attempt", attempt+1), slog.Int("status", cause.StatusCode),
		slog.Duration("delay", d), slog.String("error", cause.Error()))
	if d <= 0 {
		if ctx.Err() != nil {
			return ctxError(ctx, op, ctx.Err())
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, op, ctx.Err())
	}
}

func newError(op, msg string, err error) *Error {
	return &Error{Message: msg, Err: err, op: op}
}

// ctxError reports a request given up because ctx ended. err is the error
// that surfaced; the result matches ctx.Err() with errors.Is either way.
func ctxError(ctx context.Context, op string, err error) *Error {
	if !errors.Is(err, ctx.Err()) {
		err = ctx.Err()
	}
	msg := "request canceled"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "request timed out"
	}
	return newError(op, msg, err)
}
