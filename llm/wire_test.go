package llm

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseChunk(t *testing.T) {
	one := func(d Delta) []ChunkChoice { return []ChunkChoice{{Delta: d}} }
	tests := []struct {
		name string
		data string
		want *Chunk
	}{
		{
			name: "content",
			data: `{"id":"c1","object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`,
			want: &Chunk{ID: "c1", Object: "chat.completion.chunk", Created: 1760000000, Model: "m",
				Choices: one(Delta{Role: "assistant", Content: "Hi", HasContent: true})},
		},
		{
			name: "content null",
			data: `{"choices":[{"delta":{"content":null}}]}`,
			want: &Chunk{Choices: one(Delta{})},
		},
		{
			name: "content empty string",
			data: `{"choices":[{"delta":{"content":""}}]}`,
			want: &Chunk{Choices: one(Delta{HasContent: true})},
		},
		{
			name: "content not a string",
			data: `{"choices":[{"delta":{"content":[{"type":"text","text":"x"}]}}]}`,
			want: &Chunk{Choices: one(Delta{})},
		},
		{
			name: "escapes and unicode",
			data: `{"choices":[{"delta":{"content":"a\"b\\c\u00e9\n\ud83d\ude00 é"}}]}`,
			want: &Chunk{Choices: one(Delta{Content: "a\"b\\cé\n😀 é", HasContent: true})},
		},
		{
			name: "invalid UTF-8 replaced",
			data: "{\"choices\":[{\"delta\":{\"content\":\"a\xffb\"}}]}",
			want: &Chunk{Choices: one(Delta{Content: "a\uFFFDb", HasContent: true})},
		},
		{
			name: "choices null with usage",
			data: `{"id":"c","choices":null,"usage":{"prompt_tokens":88,"completion_tokens":19,"total_tokens":107}}`,
			want: &Chunk{ID: "c", Usage: &Usage{PromptTokens: 88, CompletionTokens: 19, TotalTokens: 107}},
		},
		{
			name: "choices empty",
			data: `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"completion_tokens_details":{"reasoning_tokens":1}}}`,
			want: &Chunk{Usage: &Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}},
		},
		{
			name: "choices absent",
			data: `{"id":"c"}`,
			want: &Chunk{ID: "c"},
		},
		{
			name: "choices an object",
			data: `{"id":"c","choices":{"index":0},"model":"m"}`,
			want: &Chunk{ID: "c", Model: "m"},
		},
		{
			name: "choice not an object",
			data: `{"choices":[1,{"index":1,"delta":{"content":"x"}}]}`,
			want: &Chunk{Choices: []ChunkChoice{{}, {Index: 1, Delta: Delta{Content: "x", HasContent: true}}}},
		},
		{
			name: "delta a string",
			data: `{"choices":[{"index":0,"delta":"x","finish_reason":"stop"}]}`,
			want: &Chunk{Choices: []ChunkChoice{{FinishReason: "stop"}}},
		},
		{
			name: "usage null",
			data: `{"usage":null}`,
			want: &Chunk{},
		},
		{
			name: "usage not an object",
			data: `{"usage":"lots"}`,
			want: &Chunk{},
		},
		{
			name: "usage with odd counts",
			data: `{"usage":{"prompt_tokens":"5","completion_tokens":2.0,"total_tokens":null}}`,
			want: &Chunk{Usage: &Usage{CompletionTokens: 2}},
		},
		{
			name: "top-level scalars of other types",
			data: `{"id":7,"object":null,"created":"yesterday","model":{"name":"m"}}`,
			want: &Chunk{},
		},
		{
			name: "created as float",
			data: `{"created":1.7e9}`,
			want: &Chunk{Created: 1700000000},
		},
		{
			name: "reasoning fields",
			data: `{"choices":[{"delta":{"reasoning_content":"a","reasoning":"b","thinking":"c","refusal":"d"}}]}`,
			want: &Chunk{Choices: one(Delta{ReasoningContent: "a", Reasoning: "b", Thinking: "c", Refusal: "d"})},
		},
		{
			name: "reasoning as objects",
			data: `{"choices":[{"delta":{"reasoning":{"text":"b"},"reasoning_content":null,"thinking":["c"]}}]}`,
			want: &Chunk{Choices: one(Delta{})},
		},
		{
			name: "error member",
			data: `{"error":{"message":"overloaded","code":529}}`,
			want: &Chunk{Error: json.RawMessage(`{"message":"overloaded","code":529}`)},
		},
		{
			name: "error null",
			data: `{"error":null,"id":"c"}`,
			want: &Chunk{ID: "c"},
		},
		{
			name: "tool call header",
			data: `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a1","type":"function","function":{"name":"fs__read","arguments":""}}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{
				{HasIndex: true, ID: "call_a1", Type: "function", Name: "fs__read"}}})},
		},
		{
			name: "tool call fragment without index",
			data: `{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"pa"}}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{{Arguments: `{"pa`}}})},
		},
		{
			name: "tool call index forms",
			data: `{"choices":[{"delta":{"tool_calls":[{"index":2},{"index":"1"},{"index":1.0},{"index":null},{"index":1.5}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{
				{Index: 2, HasIndex: true}, {}, {Index: 1, HasIndex: true}, {}, {}}})},
		},
		{
			name: "tool call id forms",
			data: `{"choices":[{"delta":{"tool_calls":[{"id":814890118},{"id":""},{"id":null},{"id":"814890118"},{"id":{"x":1}}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{
				{}, {}, {}, {ID: "814890118"}, {}}})},
		},
		{
			name: "arguments as object",
			data: `{"choices":[{"delta":{"tool_calls":[{"id":"x","function":{"name":"f","arguments":{ "a" : 2, "b": [1, 2] }}}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{
				{ID: "x", Name: "f", Arguments: `{"a":2,"b":[1,2]}`, ArgumentsWasObject: true}}})},
		},
		{
			name: "arguments as array",
			data: `{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":[1, 2]}}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{{Arguments: `[1,2]`}}})},
		},
		{
			name: "arguments null, number, absent function",
			data: `{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":null}},{"function":{"arguments":3}},{"function":null},{}]}}]}`,
			want: &Chunk{Choices: one(Delta{ToolCalls: []ToolCallDelta{{}, {}, {}, {}}})},
		},
		{
			name: "tool_calls not an array",
			data: `{"choices":[{"delta":{"content":"x","tool_calls":{"index":0}}}]}`,
			want: &Chunk{Choices: one(Delta{Content: "x", HasContent: true})},
		},
		{
			name: "top-level array",
			data: `[1,2]`,
			want: &Chunk{},
		},
		{
			name: "top-level null",
			data: `null`,
			want: &Chunk{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChunk([]byte(tt.data))
			if err != nil {
				t.Fatalf("ParseChunk: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseChunk(%s)\n got %+v\nwant %+v", tt.data, got, tt.want)
			}
		})
	}
}

func TestParseChunkInvalidJSON(t *testing.T) {
	for _, data := range []string{
		``,
		`{`,
		`{"choices":[{"delta":{"content":"x"}}]`,
		`{"id":"a",}`,
		`data: {}`,
		`[DONE]`,
		`{"id":"a"} {"id":"b"}`,
	} {
		if c, err := ParseChunk([]byte(data)); err == nil {
			t.Errorf("ParseChunk(%q) = %+v, want an error", data, c)
		}
	}
}

func TestParseChunkDoesNotRetainInput(t *testing.T) {
	data := []byte(`{"id":"abc","choices":[{"delta":{"content":"hello","tool_calls":[{"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}],"error":{"m":1}}`)
	c, err := ParseChunk(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	d := c.Choices[0].Delta
	if c.ID != "abc" || d.Content != "hello" || d.ToolCalls[0].ID != "call_1" || d.ToolCalls[0].Arguments != "{}" || string(c.Error) != `{"m":1}` {
		t.Errorf("chunk changed with its input: %+v", c)
	}
}

func TestParseCompletion(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *Completion
	}{
		{
			name: "text",
			data: `{"id":"c","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`,
			want: &Completion{ID: "c", Object: "chat.completion", Created: 5, Model: "m",
				Choices: []CompletionChoice{{Message: Message{Role: "assistant", Content: "Hello", HasContent: true}, FinishReason: "stop"}},
				Usage:   &Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}},
		},
		{
			name: "tool calls",
			data: `{"choices":[{"message":{"role":"assistant","content":null,"reasoning_content":"hm","tool_calls":[{"id":"call_1","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},{"id":2,"type":"function","function":{"name":"b","arguments":{"y":2}}}]},"finish_reason":"tool_calls"}]}`,
			want: &Completion{Choices: []CompletionChoice{{
				Message: Message{Role: "assistant", ReasoningContent: "hm", ToolCalls: []ToolCallDelta{
					{ID: "call_1", Type: "function", Name: "a", Arguments: `{"x":1}`},
					{Type: "function", Name: "b", Arguments: `{"y":2}`, ArgumentsWasObject: true},
				}},
				FinishReason: "tool_calls",
			}}},
		},
		{
			name: "error body",
			data: `{"error":{"message":"bad"}}`,
			want: &Completion{Error: json.RawMessage(`{"message":"bad"}`)},
		},
		{
			name: "message not an object",
			data: `{"choices":[{"index":1,"message":"hi"}]}`,
			want: &Completion{Choices: []CompletionChoice{{Index: 1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCompletion([]byte(tt.data))
			if err != nil {
				t.Fatalf("ParseCompletion: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCompletion(%s)\n got %+v\nwant %+v", tt.data, got, tt.want)
			}
		})
	}
	if _, err := ParseCompletion([]byte(`{"choices":`)); err == nil {
		t.Error("ParseCompletion of invalid JSON: no error")
	}
}

func TestUsageAdd(t *testing.T) {
	tests := []struct {
		name   string
		u      Usage
		o      *Usage
		expect Usage
	}{
		{"nil", Usage{1, 2, 3}, nil, Usage{1, 2, 3}},
		{"zero", Usage{1, 2, 3}, &Usage{}, Usage{1, 2, 3}},
		{"sum", Usage{1, 2, 3}, &Usage{10, 5, 15}, Usage{11, 7, 18}},
		{"into zero", Usage{}, &Usage{10, 5, 15}, Usage{10, 5, 15}},
	}
	for _, tt := range tests {
		u := tt.u
		u.Add(tt.o)
		if u != tt.expect {
			t.Errorf("%s: got %+v, want %+v", tt.name, u, tt.expect)
		}
	}
}

var benchChunks = map[string]string{
	"content":  `{"id":"chatcmpl-9x1","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}`,
	"toolcall": `{"id":"chatcmpl-9x1","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\": \"/a.txt\"}"}}]},"finish_reason":null}]}`,
	"usage":    `{"id":"chatcmpl-9x1","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160}}`,
}

func BenchmarkParseChunk(b *testing.B) {
	for name, data := range benchChunks {
		b.Run(name, func(b *testing.B) {
			buf := []byte(data)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := ParseChunk(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
