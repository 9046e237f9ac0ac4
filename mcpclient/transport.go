package mcpclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stderrTailBytes is how much of a stdio server's stderr is kept for crash
// logs.
const stderrTailBytes = 4 << 10

// waitDelay bounds how long closing a stdio session waits for the ends of
// the server's stdout and stderr after the process exited and its group
// was stopped (a process that left the group may hold them open).
const waitDelay = 2 * time.Second

// attempt is one connection attempt's transport, with what is needed to
// explain its end.
type attempt struct {
	transport mcp.Transport
	stdio     *stdioTransport // stdio only
	stderr    *ringBuffer     // stdio only
	kind      string          // TransportType
	// notes counts the connection's progress and log notifications; nil
	// for a custom transport, whose connections cannot be counted.
	notes *noteCounter
}

// exitInfo describes how a stdio server's process ended ("exit status 3",
// "signal: killed"), or "" when unknown or not a process.
func (a *attempt) exitInfo() string {
	if a.stdio == nil {
		return ""
	}
	return a.stdio.exitInfo()
}

// stderrTail returns the last few KiB of a stdio server's stderr.
func (a *attempt) stderrTail() string {
	if a.stderr == nil {
		return ""
	}
	return a.stderr.String()
}

// newAttempt builds the transport for one connection attempt. ctx is the
// lifetime of the session to be (it is passed to ServerConfig.Transport).
// opts has its defaults applied: closing a stdio session waits
// opts.TerminateTimeout for the process to exit after stdin is closed,
// before SIGTERM and then SIGKILL. httpClient is used by remote transports
// (for WebSocket, only for the handshake, which carries c.Headers itself).
func newAttempt(ctx context.Context, c ServerConfig, opts *Options, log *slog.Logger, httpClient *http.Client) (*attempt, error) {
	kind := c.TransportType()
	switch kind {
	case TransportCustom:
		t, err := c.Transport(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating transport: %w", err)
		}
		if t == nil {
			return nil, errors.New("creating transport: nil transport")
		}
		return &attempt{transport: t, kind: kind}, nil
	case TransportStdio:
		cmd := exec.Command(c.Command, c.Args...)
		cmd.Env = stdioEnv(os.Environ(), c)
		cmd.Dir = c.Cwd
		ring := newRingBuffer(stderrTailBytes)
		t := &stdioTransport{
			cmd:       cmd,
			stderr:    ring,
			terminate: opts.TerminateTimeout,
			maxFrame:  cmpOr(opts.MaxFrameBytes, defaultMaxFrameBytes),
			log:       log,
		}
		notes := newNoteCounter()
		return &attempt{transport: countingTransport{t, notes}, stdio: t, stderr: ring, kind: kind, notes: notes}, nil
	case TransportHTTP:
		notes := newNoteCounter()
		return &attempt{
			transport: &mcp.StreamableClientTransport{Endpoint: c.URL, HTTPClient: guardHTTPClient(httpClient, notes)},
			kind:      kind,
			notes:     notes,
		}, nil
	case TransportSSE:
		notes := newNoteCounter()
		return &attempt{
			transport: &mcp.SSEClientTransport{Endpoint: c.URL, HTTPClient: guardHTTPClient(httpClient, notes)},
			kind:      kind,
			notes:     notes,
		}, nil
	case TransportWS:
		notes := newNoteCounter()
		return &attempt{
			transport: countingTransport{&WebSocketTransport{URL: c.URL, Header: headerOf(c.Headers), HTTPClient: httpClient}, notes},
			kind:      kind,
			notes:     notes,
		}, nil
	default:
		return nil, fmt.Errorf("unknown transport type %q", c.Type)
	}
}

// newHTTPClient returns a client for a remote MCP server: it sends headers
// with every request, dials with a timeout and has no overall timeout,
// since event streams live long.
// identityHeader, when set, carries the name of the caller of each
// request's call (WithIdentity); propagate, when set, adds each request's
// trace context (Options.Propagate).
func newHTTPClient(headers map[string]string, identityHeader string, propagate func(context.Context, http.Header)) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	var rt http.RoundTripper = base
	if len(headers) > 0 || identityHeader != "" || propagate != nil {
		rt = &headerRoundTripper{base: base, headers: maps.Clone(headers), identity: identityHeader, propagate: propagate}
	}
	return &http.Client{Transport: rt}
}

type identityKey struct{}

// WithIdentity returns ctx carrying the name of the caller on whose
// behalf calls made with it run; remote servers configured with
// ServerConfig.ForwardIdentityHeader receive it in that header (over
// streamable HTTP and SSE, whose requests carry the call's context).
func WithIdentity(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, identityKey{}, name)
}

// headerOf returns headers as an http.Header, keys canonicalised; nil when
// there are none.
func headerOf(headers map[string]string) http.Header {
	if len(headers) == 0 {
		return nil
	}
	h := make(http.Header, len(headers))
	for k, v := range headers {
		h.Set(k, v)
	}
	return h
}

// headerRoundTripper adds configured headers to every request. It is safe
// for concurrent use.
type headerRoundTripper struct {
	base     http.RoundTripper
	headers  map[string]string
	identity string // the header of the caller's name, "" for none
	// propagate adds the trace context of the request's context; nil for none.
	propagate func(context.Context, http.Header)
}

// RoundTrip implements http.RoundTripper. It does not modify req: the
// headers go on a clone.
func (t *headerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	for k, v := range t.headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	if t.identity != "" {
		if name := IdentityOf(req.Context()); name != "" {
			r.Header.Set(t.identity, name)
		} else {
			r.Header.Del(t.identity) // never a name the caller did not have
		}
	}
	if t.propagate != nil {
		t.propagate(req.Context(), r.Header)
	}
	return t.base.RoundTrip(r)
}

// CloseIdleConnections closes the base transport's idle connections, so
// that http.Client.CloseIdleConnections reaches them through the wrapper.
func (t *headerRoundTripper) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ringBuffer is an io.Writer keeping the last size bytes written. It is
// safe for concurrent use.
type ringBuffer struct {
	mu    sync.Mutex
	buf   []byte
	size  int
	total int64
}

func newRingBuffer(size int) *ringBuffer {
	return &ringBuffer{size: size, buf: make([]byte, 0, size)}
}

// Write implements io.Writer; it never fails.
func (b *ringBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if n >= b.size {
		b.buf = append(b.buf[:0], p[n-b.size:]...)
		return n, nil
	}
	if over := len(b.buf) + n - b.size; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String returns the kept bytes. When earlier output was dropped, the text
// starts at the first complete line (or at least at a UTF-8 boundary).
func (b *ringBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if b.total > int64(len(s)) {
		if i := slices.Index(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		} else {
			for len(s) > 0 && !utf8.RuneStart(s[0]) {
				s = s[1:]
			}
		}
	}
	return string(s)
}

// setTraceMeta puts the trace context of ctx in params' _meta under
// lower-case keys ("traceparent", "tracestate"), as MCP tracing proposals
// do; it leaves _meta alone when ctx has none.
func setTraceMeta(ctx context.Context, params *mcp.CallToolParams, propagate func(context.Context, http.Header)) {
	h := make(http.Header, 2)
	propagate(ctx, h)
	if len(h) == 0 {
		return
	}
	meta := params.GetMeta()
	if meta == nil {
		meta = make(map[string]any, len(h))
	}
	for k, vs := range h {
		if len(vs) > 0 {
			meta[strings.ToLower(k)] = vs[0]
		}
	}
	params.SetMeta(meta)
}
