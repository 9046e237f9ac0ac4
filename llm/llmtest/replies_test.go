package llmtest

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// streamOf sends one request and parses the streamed answer.
func streamOf(t *testing.T, reply Reply) (events []string, chunks []*llm.Chunk) {
	t.Helper()
	s := NewServer(t, reply)
	resp, err := newClient(t, s).ChatCompletions(context.Background(), []byte(`{"model":"my-model","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	er := llm.NewEventReader(resp.Body)
	for {
		ev, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, string(ev.Data))
		if string(ev.Data) == "[DONE]" {
			continue
		}
		c, err := llm.ParseChunk(ev.Data)
		if err != nil {
			t.Fatalf("event %q: %v", ev.Data, err)
		}
		chunks = append(chunks, c)
	}
	if len(events) == 0 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", events)
	}
	return events, chunks
}

func TestTextStream(t *testing.T) {
	_, chunks := streamOf(t, TextStream("Hello", ", world"))
	if len(chunks) != 5 {
		t.Fatalf("%d chunks", len(chunks))
	}
	var text string
	var finish []string
	var usage llm.Usage
	for i, c := range chunks {
		if c.ID != "chatcmpl-llmtest" || c.Model != "my-model" || c.Object != "chat.completion.chunk" {
			t.Errorf("chunk %d: %+v", i, c)
		}
		for _, ch := range c.Choices {
			text += ch.Delta.Content
			if ch.FinishReason != "" {
				finish = append(finish, ch.FinishReason)
			}
			if (ch.Delta.Role != "") != (i == 0) {
				t.Errorf("chunk %d: role %q", i, ch.Delta.Role)
			}
		}
		usage.Add(c.Usage)
	}
	if text != "Hello, world" || !reflect.DeepEqual(finish, []string{"stop"}) {
		t.Errorf("text %q, finish %v", text, finish)
	}
	if usage != (llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}) {
		t.Errorf("usage %+v", usage)
	}
	if last := chunks[len(chunks)-1]; last.Choices != nil || last.Usage == nil {
		t.Errorf("last chunk %+v", last)
	}
}

func TestToolCallStream(t *testing.T) {
	calls := []Call{
		{ID: "call_1", Name: "fs__read", Arguments: `{"path":"/tmp/é文件.txt"}`},
		{Name: "time__now"},
		{ID: "call_3", Name: "calc__add", Arguments: `{"a":1,"b":2}`},
	}
	_, chunks := streamOf(t, ToolCallStream(calls...))
	var acc llm.Accumulator
	var finish string
	for _, c := range chunks {
		for _, ch := range c.Choices {
			acc.Add(ch.Delta.ToolCalls)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	got := acc.Calls()
	if len(got) != 3 || finish != "tool_calls" {
		t.Fatalf("calls %+v, finish %q", got, finish)
	}
	want := []llm.ToolCall{
		{ID: "call_1", Name: "fs__read", Arguments: calls[0].Arguments},
		{ID: got[1].ID, Name: "time__now", Arguments: "{}"},
		{ID: "call_3", Name: "calc__add", Arguments: calls[2].Arguments},
	}
	if !reflect.DeepEqual(got, want) || !strings.HasPrefix(got[1].ID, "call_") {
		t.Errorf("calls\n got %+v\nwant %+v", got, want)
	}
	// Arguments are streamed in fragments, not whole.
	fragments := 0
	for _, c := range chunks {
		for _, ch := range c.Choices {
			for _, d := range ch.Delta.ToolCalls {
				if d.Arguments != "" && d.Arguments != calls[d.Index].Arguments {
					fragments++
				}
			}
		}
	}
	if fragments < 4 {
		t.Errorf("%d argument fragments", fragments)
	}
}

func TestStream(t *testing.T) {
	events, chunks := streamOf(t, Stream(`{"id":"x","choices":null}`, `{"id":"y","choices":[]}`))
	if !reflect.DeepEqual(events, []string{`{"id":"x","choices":null}`, `{"id":"y","choices":[]}`, "[DONE]"}) {
		t.Errorf("events %q", events)
	}
	if len(chunks) != 2 || chunks[1].ID != "y" {
		t.Errorf("chunks %+v", chunks)
	}
}

func TestSSE(t *testing.T) {
	body := "# want: []\ndata: {\"id\":\"a\"}\r\n\r\n# note\nevent: x\ndata: {\"id\":\"b\"}\n\ndata: [DONE]\n\n"
	events, _ := streamOf(t, SSE([]byte(body)))
	if !reflect.DeepEqual(events, []string{`{"id":"a"}`, `{"id":"b"}`, "[DONE]"}) {
		t.Errorf("events %q", events)
	}
}

func TestCompletions(t *testing.T) {
	s := NewServer(t,
		Completion("Hi there"),
		ToolCallCompletion(Call{ID: "c1", Name: "f", Arguments: `{"x":1}`}, Call{Name: "g", Arguments: `{}`}),
	)
	c := newClient(t, s)

	body, err := post(t, c, `{"model":"m"}`)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := llm.ParseCompletion([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := &llm.Completion{
		ID: "chatcmpl-llmtest", Object: "chat.completion", Created: 1700000000, Model: "m",
		Choices: []llm.CompletionChoice{{Message: llm.Message{Role: "assistant", Content: "Hi there", HasContent: true}, FinishReason: "stop"}},
		Usage:   &llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
	}
	if !reflect.DeepEqual(comp, want) {
		t.Errorf("completion\n got %+v\nwant %+v", comp, want)
	}

	body, err = post(t, c, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if comp, err = llm.ParseCompletion([]byte(body)); err != nil {
		t.Fatal(err)
	}
	msg := comp.Choices[0].Message
	wantCalls := []llm.ToolCallDelta{
		{ID: "c1", Type: "function", Name: "f", Arguments: `{"x":1}`},
		{Type: "function", Name: "g", Arguments: `{}`},
	}
	if comp.Model != "test-model" || comp.Choices[0].FinishReason != "tool_calls" || msg.HasContent || !reflect.DeepEqual(msg.ToolCalls, wantCalls) {
		t.Errorf("tool call completion %+v", comp)
	}
}

func TestJSONAndError(t *testing.T) {
	s := NewServer(t,
		JSON(201, map[string]int{"a": 1}),
		JSON(200, []byte(`raw`)),
		Error(429, "slow down"),
	)
	c := newClient(t, s)
	if body, err := post(t, c, `{}`); err != nil || body != `{"a":1}` {
		t.Errorf("JSON value: %q, %v", body, err)
	}
	if body, err := post(t, c, `{}`); err != nil || body != `raw` {
		t.Errorf("JSON raw: %q, %v", body, err)
	}
	_, err := post(t, c, `{}`)
	var e *llm.Error
	if !errors.As(err, &e) || e.StatusCode != 429 || e.Message != "slow down" || e.Type != "invalid_request_error" {
		t.Errorf("Error: %#v", err)
	}
}

func TestFragments(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"ab", 3, []string{"a", "b"}},
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"abcdefg", 3, []string{"abc", "de", "fg"}},
		{"éé", 3, []string{"é", "é"}},
		{"a文b", 2, []string{"a文", "b"}},
		{"abc", 1, []string{"abc"}},
	}
	for _, tt := range tests {
		got := fragments(tt.s, tt.n)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("fragments(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
		if strings.Join(got, "") != tt.s {
			t.Errorf("fragments(%q, %d) lost bytes", tt.s, tt.n)
		}
	}
	// No pieces asked for, none given (and no division by zero).
	if got := fragments("abc", 0); got != nil {
		t.Errorf("fragments(%q, 0) = %q, want none", "abc", got)
	}
}
