package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// agentUpstream answers like a model that calls t__echo once and then
// answers, streaming or not as asked.
func agentUpstream() http.HandlerFunc {
	const head = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
	call := head + `{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"t__echo","arguments":""}}]},"finish_reason":null}]}` + "\n\n" +
		head + `{"tool_calls":[{"index":0,"function":{"arguments":"{\"text\":\"hello\"}"}}]},"finish_reason":null}]}` + "\n\n" +
		head + `{},"finish_reason":"tool_calls"}]}` + "\n\n" + "data: [DONE]\n\n"
	var answer strings.Builder
	for i, w := range []string{"The", " tool", " said", " hello", "."} {
		role := ""
		if i == 0 {
			role = `"role":"assistant",`
		}
		answer.WriteString(head + `{` + role + `"content":"` + w + `"},"finish_reason":null}]}` + "\n\n")
	}
	answer.WriteString(head + `{},"finish_reason":"stop"}]}` + "\n\n" + "data: [DONE]\n\n")
	callJSON := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"t__echo","arguments":"{\"text\":\"hello\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}`
	answerJSON := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The tool said hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}`
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		second := bytes.Contains(body, []byte(`"role":"tool"`))
		if bytes.Contains(body, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			if second {
				_, _ = io.WriteString(w, answer.String())
			} else {
				_, _ = io.WriteString(w, call)
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if second {
			_, _ = io.WriteString(w, answerJSON)
		} else {
			_, _ = io.WriteString(w, callJSON)
		}
	}
}

// BenchmarkAgentRound is one agent round through the bridge's HTTP
// handler: two upstream calls and one call of a stdio MCP server's echo
// tool, not streamed and streamed.
func BenchmarkAgentRound(b *testing.B) {
	up := httptest.NewServer(agentUpstream())
	defer up.Close()
	client, err := llm.NewClient(llm.Options{BaseURL: up.URL, MaxRetries: -1})
	if err != nil {
		b.Fatal(err)
	}
	reg := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.StdioServer("t")}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg.Start(ctx)
	defer reg.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := reg.WaitReady(wctx); err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Upstream: client, Tools: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, stream := range []bool{false, true} {
		name, body := "json", `{"model":"m","messages":[{"role":"user","content":"Say hello through the echo tool."}]}`
		if stream {
			name, body = "stream", `{"model":"m","messages":[{"role":"user","content":"Say hello through the echo tool."}],"stream":true}`
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte("hello")) {
					b.Fatalf("%d %s", resp.StatusCode, out)
				}
			}
		})
	}
}
