package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// result is what a stream assembles into.
type result struct {
	calls     []llm.ToolCall
	content   string
	reasoning string
	usage     llm.Usage
}

// consume reads a stream the way the bridge does: events until [DONE],
// chunks parsed, tool-call deltas accumulated, finish reasons ignored.
func consume(t *testing.T, r io.Reader) result {
	t.Helper()
	var (
		res result
		acc llm.Accumulator
		er  = llm.NewEventReader(r)
	)
	for {
		ev, err := er.Next()
		if err == io.EOF {
			t.Fatal("stream ended without [DONE]")
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Data) == "[DONE]" {
			break
		}
		c, err := llm.ParseChunk(ev.Data)
		if err != nil {
			t.Fatalf("chunk %q: %v", ev.Data, err)
		}
		for _, ch := range c.Choices {
			res.content += ch.Delta.Content
			res.reasoning += ch.Delta.ReasoningContent + ch.Delta.Reasoning + ch.Delta.Thinking
			acc.Add(ch.Delta.ToolCalls)
		}
		res.usage.Add(c.Usage)
	}
	res.calls = acc.Calls()
	return res
}

var callID = regexp.MustCompile(`^call_[0-9a-zA-Z]{24}$`)

func checkTranscriptCalls(t *testing.T, got, want []llm.ToolCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d calls %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.ID != "" && g.ID != w.ID {
			t.Errorf("call %d: id %q, want %q", i, g.ID, w.ID)
		}
		if w.ID == "" && !callID.MatchString(g.ID) {
			t.Errorf("call %d: id %q, want a synthesised one", i, g.ID)
		}
		if g.Name != w.Name {
			t.Errorf("call %d: name %q, want %q", i, g.Name, w.Name)
		}
		var ga, wa any
		if err := json.Unmarshal([]byte(g.Arguments), &ga); err != nil {
			t.Errorf("call %d: arguments %q are not JSON: %v", i, g.Arguments, err)
		}
		if err := json.Unmarshal([]byte(w.Arguments), &wa); err != nil {
			t.Fatalf("call %d: wanted arguments %q: %v", i, w.Arguments, err)
		}
		if !reflect.DeepEqual(ga, wa) {
			t.Errorf("call %d: arguments %s, want %s", i, g.Arguments, w.Arguments)
		}
	}
}

// extra holds what the transcripts show beyond their want lines.
var extra = map[string]struct {
	content, reasoning string
	total              int
}{
	"llamacpp-jinja.sse":      {total: 161},
	"openai-parallel.sse":     {total: 160},
	"vllm-resend.sse":         {total: 107},
	"reasoning-then-text.sse": {content: "Hello!", reasoning: "The user wants a greeting."},
}

func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	if err != nil || len(files) < 7 {
		t.Fatalf("transcripts: %v, %v", files, err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			body, want, err := llmtest.LoadTranscript(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(body, []byte("\n#")) || bytes.HasPrefix(body, []byte("#")) {
				t.Fatal("comment lines left in the body")
			}
			check := func(t *testing.T, res result) {
				checkTranscriptCalls(t, res.calls, want)
				x := extra[name]
				if res.content != x.content || res.reasoning != x.reasoning || res.usage.TotalTokens != x.total {
					t.Errorf("content %q, reasoning %q, total tokens %d; want %q, %q, %d",
						res.content, res.reasoning, res.usage.TotalTokens, x.content, x.reasoning, x.total)
				}
			}
			t.Run("bytes", func(t *testing.T) {
				check(t, consume(t, bytes.NewReader(body)))
			})
			t.Run("CRLF", func(t *testing.T) {
				check(t, consume(t, strings.NewReader(strings.ReplaceAll(string(body), "\n", "\r\n"))))
			})
			t.Run("upstream", func(t *testing.T) {
				srv := llmtest.NewServer(t, llmtest.SSE(body))
				c, err := llm.NewClient(llm.Options{BaseURL: srv.URL})
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.ChatCompletions(context.Background(), []byte(`{"model":"m","stream":true}`))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				check(t, consume(t, resp.Body))
			})
		})
	}
}
