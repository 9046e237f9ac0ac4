package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

const (
	obsKey          = "bridge-key-0123456789abcdef"
	obsUpstreamKey  = "sk-upstream-secret-value-42"
	obsSecretArg    = "hunter2-password-xyz"
	obsWrongKey     = "wrong-key-secret-abcdef0123"
	obsChatCalls    = 200
	obsFaceCalls    = 150
	obsOpenAPICalls = 150
)

// keyed sends a request with the bridge's key.
func keyed(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+obsKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readAuditLines decodes every line of the files, failing on one that is
// not a JSON object, and fails if any secret appears in them.
func readAuditLines(t *testing.T, secrets []string, paths ...string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Fatalf("%q appears in %s", s, p)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("audit line is not a JSON object: %s", sc.Bytes())
			}
			lines = append(lines, v)
		}
	}
	return lines
}

// Tool calls over chat, the MCP face and /tools, all at once, give one
// audit line each, across a logrotate-style rename and reopen, and no
// secret (a key, a configured secret, a secret-looking argument) is
// written anywhere.
func TestAuditToolCallsOnEveryFace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	secrets := []string{obsKey, obsUpstreamKey}
	audit, err := observe.NewAudit(observe.AuditOptions{File: path, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	log := &callLog{}
	args := `{"password":"` + obsSecretArg + `","q":"` + obsUpstreamKey + `"}`
	calls := make([]llmtest.Call, obsChatCalls)
	for i := range calls {
		calls[i] = llmtest.Call{ID: fmt.Sprintf("call_%d", i), Name: "rec__echo", Arguments: args}
	}
	h := newHarness(t, Options{APIKeys: []string{obsKey}, Secrets: secrets, Observer: audit, MaxParallel: 16},
		[]mcpclient.ServerConfig{inMemory("rec", recordingServer(log, "echo"))},
		llmtest.ToolCallCompletion(calls...), llmtest.Completion("done"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := keyedFaceClient(t, h, obsKey, nil)
	var wg sync.WaitGroup
	errs := make(chan error, obsFaceCalls+obsOpenAPICalls+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp := keyed(t, "POST", h.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"go"}]}`)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			errs <- fmt.Errorf("chat: %d %s", resp.StatusCode, b)
		}
	}()
	for range obsFaceCalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "rec__echo", Arguments: json.RawMessage(args)})
			if err == nil && res.IsError {
				err = errors.New("tool error")
			}
			if err != nil {
				errs <- fmt.Errorf("mcp: %w", err)
			}
		}()
	}
	for i := range obsOpenAPICalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == obsOpenAPICalls/2 {
				// logrotate: rename, then HUP.
				if err := os.Rename(path, path+".1"); err != nil {
					errs <- err
				}
				if err := audit.Reopen(); err != nil {
					errs <- err
				}
			}
			resp := keyed(t, "POST", h.srv.URL+"/tools/rec__echo", args)
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("openapi: %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A refusal is audited without the key that was tried.
	req, _ := http.NewRequest("GET", h.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+obsWrongKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The chat line is written once the answer has gone.
	var lines []map[string]any
	for range 200 {
		lines = readAuditLines(t, append(secrets, obsSecretArg, obsWrongKey), path+".1", path)
		if len(lines) >= obsChatCalls+obsFaceCalls+obsOpenAPICalls+2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	faces := map[string]int{}
	var chats, denied int
	for _, l := range lines {
		ts, _ := l["time"].(string)
		if tm, err := time.Parse(time.RFC3339, ts); err != nil || tm.Location() != time.UTC {
			t.Fatalf("time %q is not RFC 3339 UTC", ts)
		}
		for _, k := range []string{"event", "request_id", "identity"} {
			if _, ok := l[k]; !ok {
				t.Fatalf("no %s in %v", k, l)
			}
		}
		switch l["event"] {
		case "tool_call":
			for _, k := range []string{"face", "server", "tool", "arguments", "duration_ms", "outcome", "result_bytes"} {
				if _, ok := l[k]; !ok {
					t.Fatalf("no %s in %v", k, l)
				}
			}
			if l["outcome"] != "ok" || l["server"] != "rec" || l["tool"] != "rec__echo" || l["identity"] != "key-1" {
				t.Fatalf("unexpected tool_call line %v", l)
			}
			if a := l["arguments"].(map[string]any); a["password"] != "[redacted]" || a["q"] != "[redacted]" {
				t.Fatalf("arguments not redacted: %v", a)
			}
			faces[l["face"].(string)]++
		case "chat":
			chats++
			if l["tool_calls"] != float64(obsChatCalls) || l["rounds"] != float64(2) || l["outcome"] != "ok" || l["prompt_tokens"] != float64(20) {
				t.Fatalf("unexpected chat line %v", l)
			}
		case "denied":
			denied++
			if l["status"] != float64(http.StatusUnauthorized) || l["identity"] != "anonymous" {
				t.Fatalf("unexpected denied line %v", l)
			}
		}
	}
	if faces["chat"] != obsChatCalls || faces["mcp"] != obsFaceCalls || faces["openapi"] != obsOpenAPICalls {
		t.Fatalf("tool_call lines by face = %v, want %d chat, %d mcp, %d openapi", faces, obsChatCalls, obsFaceCalls, obsOpenAPICalls)
	}
	if chats != 1 || denied != 1 {
		for _, l := range lines {
			if l["event"] != "tool_call" {
				t.Log(l)
			}
		}
		t.Fatalf("%d chat and %d denied lines, want 1 and 1", chats, denied)
	}
	if n := len(log.all()); n != obsChatCalls+obsFaceCalls+obsOpenAPICalls {
		t.Fatalf("the server got %d calls", n)
	}
}

// scrape reads the bridge's /metrics with the key.
func scrape(t *testing.T, h *harness) map[string]*dto.MetricFamily {
	t.Helper()
	resp := keyed(t, "GET", h.srv.URL+"/metrics", "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the series of fam with the labels, -1 when
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range fams[name].GetMetric() {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if match {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// After known traffic, /metrics counts it: tool calls by outcome, tokens
// by direction, upstream answers by code, HTTP requests by route and
// code, servers up with their tools.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	metrics := observe.NewMetrics(nil)
	log := &callLog{}
	h := newHarness(t, Options{APIKeys: []string{obsKey}, Observer: metrics},
		[]mcpclient.ServerConfig{inMemory("rec", recordingServer(log, "echo", "other"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "a", Name: "rec__echo", Arguments: `{}`}, llmtest.Call{ID: "b", Name: "no_such_tool", Arguments: `{}`}),
		llmtest.Completion("done"),
		llmtest.Error(http.StatusInternalServerError, "boom"))
	for range 2 {
		resp := keyed(t, "POST", h.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"go"}]}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp := keyed(t, "POST", h.srv.URL+"/tools/rec__other", `{}`)
	resp.Body.Close()
	unkeyed, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	unkeyed.Body.Close()
	if unkeyed.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without a key: %d", unkeyed.StatusCode)
	}

	// A request is counted once its answer has gone.
	fams := scrape(t, h)
	for i := 0; i < 200 && value(fams, "mcp_bridge_http_requests_total", map[string]string{"route": "/v1/chat/completions", "code": "502"}) != 1; i++ {
		time.Sleep(20 * time.Millisecond)
		fams = scrape(t, h)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mcp_bridge_tool_calls_total", map[string]string{"server": "rec", "tool": "rec__echo", "face": "chat", "outcome": "ok"}, 1},
		{"mcp_bridge_tool_calls_total", map[string]string{"server": "unknown", "tool": "unknown", "face": "chat", "outcome": "failed"}, 1},
		{"mcp_bridge_tool_calls_total", map[string]string{"server": "rec", "tool": "rec__other", "face": "openapi", "outcome": "ok"}, 1},
		{"mcp_bridge_tool_call_duration_seconds", map[string]string{"server": "rec"}, 2},
		{"mcp_bridge_tokens_total", map[string]string{"direction": "prompt"}, 20},
		{"mcp_bridge_tokens_total", map[string]string{"direction": "completion"}, 10},
		{"mcp_bridge_upstream_requests_total", map[string]string{"upstream": h.up.URL, "code": "200"}, 2},
		{"mcp_bridge_upstream_requests_total", map[string]string{"upstream": h.up.URL, "code": "500"}, 1},
		{"mcp_bridge_upstream_request_duration_seconds", map[string]string{"upstream": h.up.URL}, 3},
		{"mcp_bridge_http_requests_total", map[string]string{"route": "/v1/chat/completions", "code": "200"}, 1},
		{"mcp_bridge_http_requests_total", map[string]string{"route": "/v1/chat/completions", "code": "502"}, 1},
		{"mcp_bridge_http_requests_total", map[string]string{"route": "/tools/:name", "code": "200"}, 1},
		{"mcp_bridge_http_requests_total", map[string]string{"route": "/metrics", "code": "401"}, 1},
		{"mcp_bridge_mcp_server_up", map[string]string{"server": "rec"}, 1},
		{"mcp_bridge_tools", map[string]string{"server": "rec"}, 2},
		{"mcp_bridge_active_streams", nil, 0},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, m := range fams["mcp_bridge_tool_calls_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetValue() == "no_such_tool" {
				t.Errorf("an unknown tool name is a label value")
			}
		}
	}
}

// brokenWriter fails every write, like a full disk.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// An audit log that cannot write turns /readyz 503 with the reason.
func TestReadyzNotReadyWhenAuditFails(t *testing.T) {
	audit, err := observe.NewAudit(observe.AuditOptions{Writer: brokenWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{APIKeys: []string{obsKey}, Observer: observe.Multi(observe.NewMetrics(nil), audit)},
		[]mcpclient.ServerConfig{inMemory("rec", recordingServer(&callLog{}, "echo"))})
	ready := func() (int, string) {
		resp := keyed(t, "GET", h.srv.URL+"/readyz", "")
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("before any write: %d %s", code, body)
	}
	resp := keyed(t, "POST", h.srv.URL+"/tools/rec__echo", `{}`) // one audited call
	resp.Body.Close()
	code, body := ready()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "audit log: no space left on device") {
		t.Fatalf("after a failed write: %d %s", code, body)
	}
	plain, err := http.Get(h.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("without a key: %d", plain.StatusCode)
	}
}
