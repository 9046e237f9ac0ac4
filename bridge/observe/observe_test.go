package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

func TestRedactArguments(t *testing.T) {
	secrets := []string{"sk-configured-secret-1234"}
	long := strings.Repeat("é", 3000)
	args := json.RawMessage(`{"query":"find sk-configured-secret-1234 now","api_key":"abc","nested":{"Password":"p","list":[{"token":"t"},"ok"],"apiKey":"x"},"keyword":"visible","monkey":"visible","url":"https://user:pw@example.com/x?token=zz","long":"` + long + `","n":3}`)
	got := RedactArguments(args, secrets)
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	s := string(got)
	for _, leak := range []string{"sk-configured-secret-1234", `"abc"`, `"p"`, `"t"`, `"x"`, "pw@", "zz"} {
		if strings.Contains(s, leak) {
			t.Errorf("%q leaked in %s", leak, s)
		}
	}
	if v["keyword"] != "visible" || v["monkey"] != "visible" || v["n"] != float64(3) {
		t.Errorf("harmless values changed: %s", s)
	}
	if l := v["long"].(string); len(l) > maxValueBytes+16 || !strings.HasSuffix(l, "[cut]") {
		t.Errorf("long value not cut: %d bytes", len(l))
	}
	if got := RedactArguments(json.RawMessage(`not json password`), nil); !json.Valid(got) {
		t.Errorf("non-JSON arguments give %s", got)
	}
}

// failingWriter fails every write once broken is set.
type failingWriter struct {
	mu     sync.Mutex
	broken bool
	buf    bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return 0, errors.New("no space left on device")
	}
	return w.buf.Write(p)
}

func TestAuditWriteErrorIsUnhealthy(t *testing.T) {
	w := &failingWriter{}
	a, err := NewAudit(AuditOptions{Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	a.Denied(context.Background(), &Denial{Status: 401, Reason: "no key"})
	if err := Healthy(Multi(Nop{}, a)); err != nil {
		t.Fatalf("healthy audit reports %v", err)
	}
	w.broken = true
	a.Denied(context.Background(), &Denial{Status: 401, Reason: "no key"})
	if err := Healthy(Multi(Nop{}, a)); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Healthy = %v after a failed write", err)
	}
	w.broken = false
	a.Denied(context.Background(), &Denial{Status: 401, Reason: "no key"})
	if err := a.Healthy(); err != nil {
		t.Fatalf("Healthy = %v after a write succeeded again", err)
	}
}

func TestAuditLinesAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, err := NewAudit(AuditOptions{File: path, Secrets: []string{"hunter2-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == n/2 {
				if err := os.Rename(path, path+".1"); err != nil {
					t.Error(err)
				}
				if err := a.Reopen(); err != nil {
					t.Error(err)
				}
			}
			a.ToolCallFinished(ctx, &ToolCallRecord{ToolCallStart: ToolCallStart{RequestID: "r", Identity: "alice", Face: FaceMCP,
				Server: "s", Tool: "s__t", Arguments: json.RawMessage(`{"password":"hunter2-secret","q":"hunter2-secret"}`)},
				Duration: time.Millisecond, Outcome: OutcomeOK, ResultBytes: 5})
		}()
	}
	wg.Wait()
	a.ConfigReload(ctx, false, "line 3: bad")
	total := 0
	for _, p := range []string{path + ".1", path} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("hunter2")) {
			t.Fatalf("secret in %s", p)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("line is not JSON: %s", sc.Bytes())
			}
			ts, _ := v["time"].(string)
			if tm, err := time.Parse(time.RFC3339, ts); err != nil || tm.Location() != time.UTC {
				t.Fatalf("time %q is not RFC 3339 UTC", ts)
			}
			if v["event"] == "tool_call" {
				total++
				for _, k := range []string{"request_id", "identity", "face", "server", "tool", "arguments", "duration_ms", "outcome", "result_bytes"} {
					if _, ok := v[k]; !ok {
						t.Fatalf("no %s in %s", k, sc.Bytes())
					}
				}
			} else if v["event"] != "config" || v["result"] != "rejected" {
				t.Fatalf("unexpected line %s", sc.Bytes())
			}
		}
	}
	if total != n {
		t.Fatalf("%d tool_call lines across both files, want %d", total, n)
	}
}

func TestAuditArgumentsNone(t *testing.T) {
	var buf bytes.Buffer
	a, _ := NewAudit(AuditOptions{Writer: &buf, Arguments: ArgumentsNone})
	a.ToolCallFinished(context.Background(), &ToolCallRecord{ToolCallStart: ToolCallStart{Tool: "t", Arguments: json.RawMessage(`{"q":"x"}`)}})
	if strings.Contains(buf.String(), "arguments") {
		t.Fatalf("arguments written with none: %s", buf.String())
	}
	if _, err := NewAudit(AuditOptions{Writer: &buf, Arguments: "some"}); err == nil {
		t.Fatal("bad arguments setting accepted")
	}
}

func TestMetricsScrape(t *testing.T) {
	m := NewMetrics(nil)
	ctx := context.Background()
	o := Multi(Nop{}, m)
	o.ToolCallFinished(ctx, &ToolCallRecord{ToolCallStart: ToolCallStart{Face: FaceChat, Server: "s", Tool: "s__t"}, Outcome: OutcomeOK})
	o.ToolCallFinished(ctx, &ToolCallRecord{ToolCallStart: ToolCallStart{Face: FaceChat, Tool: "made_up_name"}, Outcome: OutcomeDenied})
	o.ChatFinished(ctx, &ChatRecord{PromptTokens: 10, CompletionTokens: 3})
	o.ServerState(ctx, mcpclient.Event{Server: "s", Kind: mcpclient.EventUp, Tools: 4})
	o.ConfigReload(ctx, true, "")
	o.ActiveStreams(ctx, 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("Go or process collector missing")
	}
	for _, mt := range fams["mcp_bridge_tool_calls_total"].GetMetric() {
		for _, l := range mt.GetLabel() {
			if l.GetValue() == "made_up_name" {
				t.Error("an unknown tool name became a label value")
			}
		}
	}
	if n := len(fams["mcp_bridge_tool_calls_total"].GetMetric()); n != 2 {
		t.Errorf("%d tool call series, want 2", n)
	}
	if v := fams["mcp_bridge_tools"].GetMetric()[0].GetGauge().GetValue(); v != 4 {
		t.Errorf("tools = %v", v)
	}
	if v := fams["mcp_bridge_active_streams"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("active_streams = %v", v)
	}
}

func TestOutcomeOf(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		ctx     context.Context
		err     error
		isError bool
		want    string
	}{
		{ctx, nil, false, OutcomeOK},
		{ctx, nil, true, OutcomeToolError},
		{ctx, &mcpclient.TimeoutError{Tool: "t"}, false, OutcomeTimeout},
		{ctx, mcpclient.ErrServerNotConnected, false, OutcomeFailed},
		{cancelled, context.Canceled, false, OutcomeCancelled},
	} {
		if got := OutcomeOf(c.ctx, c.err, c.isError); got != c.want {
			t.Errorf("OutcomeOf(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
