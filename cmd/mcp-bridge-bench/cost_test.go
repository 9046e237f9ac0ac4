package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestLabelledQueries: at least 100 labelled queries, none twice.
func TestLabelledQueries(t *testing.T) {
	qs, err := parseQueries(queriesTSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 100 {
		t.Errorf("%d labelled queries, want at least 100", len(qs))
	}
	seen := map[string]bool{}
	for _, q := range qs {
		if seen[q.query] {
			t.Errorf("query %q twice", q.query)
		}
		seen[q.query] = true
		if !strings.Contains(q.want, "__") {
			t.Errorf("%q: %q is not an exposed tool name", q.query, q.want)
		}
	}
	if _, err := parseQueries("no tab here\n"); err == nil {
		t.Error("a line without a tab was accepted")
	}
}

// TestAgentScript: the agent model calls the tool first, streaming or not,
// and counts a second round as a real tool result only when it carries
// the echo's output.
func TestAgentScript(t *testing.T) {
	up, _ := startChain(t)
	tg := newTarget("direct", up.URL, 0)
	br := bufio.NewReader(nil)
	first := `{"model":"` + agentModel + `","messages":[{"role":"user","content":"x"}]}`
	second := func(content string) string {
		return `{"model":"` + agentModel + `","messages":[{"role":"user","content":"x"},{"role":"tool","content":"` + content + `","tool_call_id":"c"}]}`
	}
	// Non-streaming: the first answer is a tool call of the echo tool.
	resp, err := http.Post(tg.url, "application/json", strings.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					Function struct{ Name, Arguments string } `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if len(c.Choices) != 1 || len(c.Choices[0].Message.ToolCalls) != 1 || c.Choices[0].Message.ToolCalls[0].Function.Name != echoToolName {
		t.Fatalf("first round: %+v", c)
	}
	for _, rq := range []*request{
		{body: []byte(second(agentEcho))},
		{body: []byte(strings.Replace(second(agentEcho), `]}`, `],"stream":true}`, 1)), stream: true, chunks: toolAnswerChunks},
		{body: []byte(second("something else"))},
	} {
		if _, err := tg.send(t.Context(), rq, br); err != nil {
			t.Fatal(err)
		}
	}
	s, err := tg.send(t.Context(), &request{body: []byte(strings.Replace(first, `]}`, `],"stream":true}`, 1)), stream: true}, br)
	if err != nil || s.chunks != 0 {
		t.Errorf("streamed first round: %d content chunks, %v", s.chunks, err)
	}
	if calls, results := up.agentCalls.Load(), up.agentResults.Load(); calls != 5 || results != 2 {
		t.Errorf("%d calls and %d real tool results, want 5 and 2", calls, results)
	}
}

func TestWithExposure(t *testing.T) {
	e := &env{upstream: &upstream{URL: "http://127.0.0.1:1/v1"}}
	all := e.bridgeConfig("127.0.0.1:1", 0)
	if strings.Count(all, "exposure:") != 1 || !strings.Contains(all, "tools:\n  exposure: all\n") {
		t.Errorf("the scenarios' config does not inject every tool:\n%s", all)
	}
	cfg := withExposure(all, "search")
	if strings.Count(cfg, "exposure:") != 1 || !strings.Contains(cfg, "tools:\n  exposure: search\n  display: status\n") {
		t.Errorf("config:\n%s", cfg)
	}
}
