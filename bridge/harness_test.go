package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestMain(m *testing.M) {
	mcptest.ServeStdioIfRequested()
	os.Exit(m.Run())
}

// recorded is one call a recording server received.
type recorded struct {
	Tool string
	Args map[string]any
}

// lockedList is a list that goroutines append to while a test reads it.
type lockedList[T any] struct {
	mu    sync.Mutex
	items []T
}

func (l *lockedList[T]) add(x T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, x)
}

// all returns a copy of the list, in the order added.
func (l *lockedList[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

// callLog collects the calls of recording servers. Safe for concurrent use.
type callLog struct{ lockedList[recorded] }

// recordingServer is a real MCP server with the named tools; each records
// its arguments and answers "<tool> got <args>".
func recordingServer(log *callLog, tools ...string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "recorder", Version: "1"}, nil)
	for _, name := range tools {
		s.AddTool(&mcp.Tool{Name: name, Description: "records " + name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				var args map[string]any
				_ = json.Unmarshal(req.Params.Arguments, &args)
				if args == nil {
					args = map[string]any{}
				}
				log.add(recorded{Tool: name, Args: args})
				b, _ := json.Marshal(args)
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " got " + string(b)}}}, nil
			})
	}
	return s
}

// harness is a bridge between a scripted upstream and real MCP servers.
type harness struct {
	t   *testing.T
	up  *llmtest.Server
	reg *mcpclient.Registry
	srv *httptest.Server
	b   *Server
}

// newHarness starts a bridge. opts' Upstream and Tools are filled in.
func newHarness(t *testing.T, opts Options, servers []mcpclient.ServerConfig, replies ...llmtest.Reply) *harness {
	t.Helper()
	up := llmtest.NewServer(t, replies...)
	client, err := llm.NewClient(llm.Options{BaseURL: up.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The bridge is made after the registry; events reach it once it exists.
	var bp atomic.Pointer[Server]
	reg := mcpclient.NewRegistry(servers, &mcpclient.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, CallTimeout: 5 * time.Second,
		OnEvent: func(ev mcpclient.Event) {
			if b := bp.Load(); b != nil {
				b.Publish(ev)
			}
		},
		OnResourceUpdated: func(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
			if b := bp.Load(); b != nil {
				b.ResourceUpdated(ctx, p)
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	reg.Start(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := reg.WaitReady(wctx); err != nil {
		t.Fatalf("registry not ready: %v", err)
	}
	opts.Upstream, opts.Tools = client, reg
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	bp.Store(b)
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() {
		srv.Close()
		b.Close()
		cancel()
		_ = reg.Close()
	})
	return &harness{t: t, up: up, reg: reg, srv: srv, b: b}
}

// post sends a chat request and returns the response.
func (h *harness) post(body string) *http.Response {
	h.t.Helper()
	resp, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// postJSON sends a non-streaming request and decodes the answer.
func (h *harness) postJSON(body string) (int, map[string]any) {
	h.t.Helper()
	resp := h.post(body)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		h.t.Fatalf("answer is not JSON (%d): %s", resp.StatusCode, data)
	}
	return resp.StatusCode, v
}

// frame is one SSE event of a bridge answer.
type frame struct {
	raw     string         // the whole frame as written
	comment bool           // a ": ..." comment
	done    bool           // data: [DONE]
	data    map[string]any // decoded data
}

// readFrames splits an SSE body into frames, failing on anything that is
// not a comment or a single data line.
func readFrames(t *testing.T, body io.Reader) []frame {
	t.Helper()
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	var out []frame
	for _, raw := range strings.Split(strings.TrimSuffix(string(data), "\n\n"), "\n\n") {
		if raw == "" {
			continue
		}
		f := frame{raw: raw}
		switch {
		case strings.HasPrefix(raw, ":"):
			f.comment = true
		case raw == "data: [DONE]":
			f.done = true
		case strings.HasPrefix(raw, "data: ") && !strings.Contains(raw, "\n"):
			if err := json.Unmarshal([]byte(raw[6:]), &f.data); err != nil {
				t.Fatalf("frame is not JSON: %q", raw)
			}
		default:
			t.Fatalf("unexpected frame %q", raw)
		}
		out = append(out, f)
	}
	return out
}

// answer sums up a streamed answer.
type answer struct {
	frames    []frame
	content   string
	reasoning string
	finish    string
	roles     int
	statuses  []map[string]any
	toolCalls []any
	usage     map[string]any
	errEvent  map[string]any
	done      bool
	ids       map[string]bool
}

// collect reads a streamed answer and checks the wire rules every stream
// must keep: one id, one created, object and model on every chunk, role
// once, nothing after [DONE].
func collect(t *testing.T, body io.Reader) answer {
	t.Helper()
	a := answer{frames: readFrames(t, body), ids: map[string]bool{}}
	var created any
	for i, f := range a.frames {
		if a.done {
			t.Fatalf("frame after [DONE]: %q", f.raw)
		}
		if f.done {
			a.done = true
			continue
		}
		if f.comment {
			continue
		}
		if e, ok := f.data["error"]; ok {
			a.errEvent = e.(map[string]any)
			if i != len(a.frames)-1 {
				t.Fatalf("error event is not the last frame")
			}
			continue
		}
		a.ids[fmt.Sprint(f.data["id"])] = true
		if created == nil {
			created = f.data["created"]
		} else if f.data["created"] != created {
			t.Fatalf("created changed: %v then %v", created, f.data["created"])
		}
		if f.data["object"] != "chat.completion.chunk" {
			t.Fatalf("object = %v in %q", f.data["object"], f.raw)
		}
		if _, ok := f.data["model"].(string); !ok {
			t.Fatalf("no model in %q", f.raw)
		}
		choices, ok := f.data["choices"].([]any)
		if !ok {
			t.Fatalf("choices missing or not an array in %q", f.raw)
		}
		if ev, ok := f.data["event"].(map[string]any); ok {
			a.statuses = append(a.statuses, ev)
		}
		if u, ok := f.data["usage"].(map[string]any); ok {
			a.usage = u
		}
		for _, c := range choices {
			ch := c.(map[string]any)
			if _, ok := ch["index"]; !ok {
				t.Fatalf("choice without index in %q", f.raw)
			}
			d := ch["delta"].(map[string]any)
			if d["role"] != nil {
				a.roles++
			}
			if s, ok := d["content"].(string); ok {
				a.content += s
			}
			if s, ok := d["reasoning_content"].(string); ok {
				a.reasoning += s
			}
			if tc, ok := d["tool_calls"].([]any); ok {
				a.toolCalls = append(a.toolCalls, tc...)
			}
			if fr, ok := ch["finish_reason"].(string); ok {
				if a.finish != "" {
					t.Fatalf("second finish_reason %q", fr)
				}
				a.finish = fr
			}
		}
	}
	if len(a.ids) > 1 {
		t.Fatalf("chunk ids differ: %v", a.ids)
	}
	if a.errEvent == nil {
		if a.roles != 1 {
			t.Fatalf("role sent %d times, want once", a.roles)
		}
		if !a.done {
			t.Fatalf("stream did not end with [DONE]")
		}
		if a.finish == "" {
			t.Fatalf("no finish_reason")
		}
	}
	return a
}

// stream posts a streaming request and collects the answer.
func (h *harness) stream(body string) answer {
	h.t.Helper()
	resp := h.post(body)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		h.t.Fatalf("Content-Type = %q", ct)
	}
	return collect(h.t, resp.Body)
}

// inMemory is a registry entry for a real in-memory MCP server.
func inMemory(name string, s *mcp.Server) mcpclient.ServerConfig {
	return mcptest.InMemory(name, s)
}
