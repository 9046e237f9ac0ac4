package bridge

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// quietUpstream is an upstream that sends what send writes and then
// nothing, until the bridge gives up on it. Each request signals on sent
// once send returned, and on gaveUp when the bridge gave up.
type quietUpstream struct {
	*httptest.Server
	sent, gaveUp chan struct{}
}

func newQuietUpstream(t *testing.T, send func(w http.ResponseWriter)) *quietUpstream {
	t.Helper()
	q := &quietUpstream{sent: make(chan struct{}, 16), gaveUp: make(chan struct{}, 16)}
	release := make(chan struct{})
	q.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		send(w)
		q.sent <- struct{}{}
		select {
		case <-r.Context().Done():
			q.gaveUp <- struct{}{}
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		q.Close()
	})
	return q
}

// nothing sends nothing at all, not even a header.
func nothing(http.ResponseWriter) {}

// headerOnly sends a stream's header and no byte of the body.
func headerOnly(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
}

// partialStream sends a stream's first chunks: the answer begins "Hello".
func partialStream(w http.ResponseWriter) {
	headerOnly(w)
	for _, d := range []string{`{"role":"assistant","content":""}`, `{"content":"Hello"}`} {
		fmt.Fprintf(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", d)
	}
	_ = http.NewResponseController(w).Flush()
}

// partialJSON sends the start of a chat.completion object.
func partialJSON(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,`)
	_ = http.NewResponseController(w).Flush()
}

// newTimeoutHarness starts a bridge, configured by opts, in front of
// baseURL, reached with up's timeouts and no retries.
func newTimeoutHarness(t *testing.T, baseURL string, up llm.Options, opts Options) *harness {
	t.Helper()
	up.BaseURL, up.MaxRetries = baseURL, -1
	client, err := llm.NewClient(up)
	if err != nil {
		t.Fatal(err)
	}
	opts.Upstream, opts.Tools = client, mcpclient.NewRegistry(nil, nil)
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	return &harness{t: t, srv: srv, b: b}
}

// credentialed returns the /v1 base URL of u with credentials in it that
// must never show.
func credentialed(u string) string {
	return strings.Replace(u, "http://", "http://user:secret@", 1) + "/v1?key=secret"
}

// checkErrorBody checks an OpenAI error object: code, and a message that
// contains each of subs and no credential.
func checkErrorBody(t *testing.T, e map[string]any, code string, subs ...string) {
	t.Helper()
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e[k]; !ok {
			t.Errorf("error %v has no %q", e, k)
		}
	}
	if e["code"] != code {
		t.Errorf("code %v, want %q", e["code"], code)
	}
	msg, _ := e["message"].(string)
	for _, s := range subs {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q does not contain %q", msg, s)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("message %q shows credentials", msg)
	}
}

// waitGaveUp waits until the upstream request was cancelled.
func (q *quietUpstream) waitGaveUp(t *testing.T) {
	t.Helper()
	select {
	case <-q.gaveUp:
	case <-time.After(10 * time.Second):
		t.Error("the bridge never gave up on the upstream request")
	}
}

// TestUpstreamFirstByteTimeout checks that an upstream that sends nothing,
// or a header and nothing, is answered 504 before any byte went to the
// client, streaming or not.
func TestUpstreamFirstByteTimeout(t *testing.T) {
	for _, send := range []struct {
		name string
		fn   func(http.ResponseWriter)
	}{{"nothing", nothing}, {"header only", headerOnly}} {
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%v", send.name, stream), func(t *testing.T) {
				q := newQuietUpstream(t, send.fn)
				h := newTimeoutHarness(t, credentialed(q.URL), llm.Options{FirstByteTimeout: 100 * time.Millisecond}, Options{})
				status, v := h.postJSON(fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"x"}]}`, stream))
				if status != http.StatusGatewayTimeout {
					t.Fatalf("status %d, want 504: %v", status, v)
				}
				e, _ := v["error"].(map[string]any)
				checkErrorBody(t, e, "upstream_timeout", "upstream.first_byte_timeout", q.URL+"/v1", "100ms")
				q.waitGaveUp(t)
			})
		}
	}
}

// TestUpstreamStallMidStream checks that an upstream going silent in the
// middle of a streamed answer ends the client's stream with an error
// event, after what was already forwarded and without [DONE].
func TestUpstreamStallMidStream(t *testing.T) {
	q := newQuietUpstream(t, partialStream)
	h := newTimeoutHarness(t, credentialed(q.URL), llm.Options{StallTimeout: 100 * time.Millisecond}, Options{})
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	a := collect(t, resp.Body)
	if a.content != "Hello" {
		t.Errorf("content %q, want what came before the stall", a.content)
	}
	if a.done || a.finish != "" {
		t.Errorf("stream ended with [DONE] %v, finish %q: a cut answer passes for a whole one", a.done, a.finish)
	}
	if a.errEvent == nil {
		t.Fatalf("no error event: %v", a.frames)
	}
	checkErrorBody(t, a.errEvent, "upstream_timeout", "upstream.stall_timeout", q.URL+"/v1", "100ms")
	q.waitGaveUp(t)
}

// TestUpstreamStallNonStreaming checks that a stall in the middle of an
// answer the client will get whole is a 504, whether the upstream was
// streaming or sending JSON.
func TestUpstreamStallNonStreaming(t *testing.T) {
	for _, send := range []struct {
		name string
		fn   func(http.ResponseWriter)
	}{{"stream", partialStream}, {"json", partialJSON}} {
		t.Run(send.name, func(t *testing.T) {
			q := newQuietUpstream(t, send.fn)
			h := newTimeoutHarness(t, q.URL+"/v1", llm.Options{StallTimeout: 100 * time.Millisecond}, Options{})
			status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
			if status != http.StatusGatewayTimeout {
				t.Fatalf("status %d, want 504: %v", status, v)
			}
			e, _ := v["error"].(map[string]any)
			checkErrorBody(t, e, "upstream_timeout", "upstream.stall_timeout")
			q.waitGaveUp(t)
		})
	}
}

// TestDeadlineDuringUpstreamRound checks that the tool loop's deadline
// passing while the upstream is still answering is a failure (504 before
// the first byte, an error event after it), never a 200 answer that
// passes for the model's.
func TestDeadlineDuringUpstreamRound(t *testing.T) {
	t.Run("stream=false", func(t *testing.T) {
		q := newQuietUpstream(t, partialStream)
		h := newTimeoutHarness(t, q.URL+"/v1", llm.Options{}, Options{Deadline: 200 * time.Millisecond})
		status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		if status != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504: %v", status, v)
		}
		e, _ := v["error"].(map[string]any)
		checkErrorBody(t, e, "deadline_exceeded", "tools.deadline", "200ms")
		q.waitGaveUp(t)
	})
	t.Run("stream=true", func(t *testing.T) {
		q := newQuietUpstream(t, partialStream)
		h := newTimeoutHarness(t, q.URL+"/v1", llm.Options{}, Options{Deadline: 200 * time.Millisecond})
		resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
		defer resp.Body.Close()
		a := collect(t, resp.Body)
		if a.content != "Hello" || a.done || a.finish != "" {
			t.Errorf("content %q, [DONE] %v, finish %q: want Hello, then an error", a.content, a.done, a.finish)
		}
		if a.errEvent == nil {
			t.Fatalf("no error event: %v", a.frames)
		}
		checkErrorBody(t, a.errEvent, "deadline_exceeded", "tools.deadline")
		q.waitGaveUp(t)
	})
}

// TestSilentUpstreamThenRecovery checks that a request cut by a timeout
// leaves the bridge serving the next one.
func TestSilentUpstreamThenRecovery(t *testing.T) {
	up := llmtest.NewServer(t, func(w http.ResponseWriter, r *http.Request, _ llmtest.Request) {
		headerOnly(w)
		<-r.Context().Done()
	}, llmtest.Completion("fine"))
	h := newTimeoutHarness(t, up.URL, llm.Options{FirstByteTimeout: 100 * time.Millisecond}, Options{})
	if status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504: %v", status, v)
	}
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK {
		t.Fatalf("after a timeout: status %d: %v", status, v)
	}
	select {
	case <-up.Requests()[0].Canceled:
	case <-time.After(10 * time.Second):
		t.Error("the timed-out upstream request was not cancelled")
	}
}

// TestUpstreamTimeoutNamesTheUpstream: with an upstreams list, a timeout
// names the setting of the upstream that timed out, before the first byte
// (504) and mid-stream (the error event), not the single upstream block's.
func TestUpstreamTimeoutNamesTheUpstream(t *testing.T) {
	for _, c := range []struct {
		name string
		send func(http.ResponseWriter)
		want string
	}{
		{"first byte", nothing, `first_byte_timeout of the upstream "gpu" in upstreams`},
		{"stall", partialStream, `stall_timeout of the upstream "gpu" in upstreams`},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := newQuietUpstream(t, c.send)
			r := newRouter(t, route.Options{Upstreams: []route.Upstream{
				{Name: "gpu", Client: upstreamClient(t, q.URL+"/v1", 100*time.Millisecond, 100*time.Millisecond)}}})
			h := newHarness(t, Options{Router: r}, nil)
			resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
			defer resp.Body.Close()
			var e map[string]any
			if resp.StatusCode == http.StatusOK {
				e = collect(t, resp.Body).errEvent
			} else {
				var v map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&v)
				e, _ = v["error"].(map[string]any)
			}
			checkErrorBody(t, e, "upstream_timeout", c.want)
			if msg, _ := e["message"].(string); strings.Contains(msg, "upstream.") {
				t.Errorf("the message names the single upstream block's setting: %q", msg)
			}
			q.waitGaveUp(t)
		})
	}
}
