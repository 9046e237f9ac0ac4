package llm

// A reference decoder built on encoding/json, used to check the
// single-pass decoder of decode.go: both must accept the same inputs and,
// for inputs whose member names are unique and lower-case (encoding/json
// matches names case-insensitively and merges repeated members), decode
// them to the same values.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func refParseChunk(data []byte) (*Chunk, error) {
	var w wireEnvelope[wireChunkChoice]
	if err := decodeTolerant(data, &w); err != nil {
		return nil, err
	}
	c := &Chunk{
		ID: string(w.ID), Object: string(w.Object), Created: int64(w.Created), Model: string(w.Model),
		Usage: w.Usage.u, Error: json.RawMessage(w.Error),
	}
	for i := range w.Choices {
		wc := &w.Choices[i]
		c.Choices = append(c.Choices, ChunkChoice{
			Index: int(wc.Index), Delta: Delta(wc.Delta.message()), FinishReason: string(wc.FinishReason),
		})
	}
	return c, nil
}

func refParseCompletion(data []byte) (*Completion, error) {
	var w wireEnvelope[wireCompletionChoice]
	if err := decodeTolerant(data, &w); err != nil {
		return nil, err
	}
	c := &Completion{
		ID: string(w.ID), Object: string(w.Object), Created: int64(w.Created), Model: string(w.Model),
		Usage: w.Usage.u, Error: json.RawMessage(w.Error),
	}
	for i := range w.Choices {
		wc := &w.Choices[i]
		c.Choices = append(c.Choices, CompletionChoice{
			Index: int(wc.Index), Message: wc.Message.message(), FinishReason: string(wc.FinishReason),
		})
	}
	return c, nil
}

// wireEnvelope is the top level shared by chunks and completions.
type wireEnvelope[C any] struct {
	ID      refString    `json:"id"`
	Object  refString    `json:"object"`
	Created lenientInt64 `json:"created"`
	Model   refString    `json:"model"`
	Choices []C          `json:"choices"`
	Usage   optUsage     `json:"usage"`
	Error   rawValue     `json:"error"`
}

type wireChunkChoice struct {
	Index        lenientInt64 `json:"index"`
	Delta        wireMessage  `json:"delta"`
	FinishReason refString    `json:"finish_reason"`
}

type wireCompletionChoice struct {
	Index        lenientInt64 `json:"index"`
	Message      wireMessage  `json:"message"`
	FinishReason refString    `json:"finish_reason"`
}

type wireMessage struct {
	Role             refString      `json:"role"`
	Content          optString      `json:"content"`
	ReasoningContent refString      `json:"reasoning_content"`
	Reasoning        refString      `json:"reasoning"`
	Thinking         refString      `json:"thinking"`
	Refusal          refString      `json:"refusal"`
	ToolCalls        []wireToolCall `json:"tool_calls"`
}

type wireToolCall struct {
	Index    optInt    `json:"index"`
	ID       refString `json:"id"`
	Type     refString `json:"type"`
	Function struct {
		Name      refString `json:"name"`
		Arguments arguments `json:"arguments"`
	} `json:"function"`
}

func (w *wireMessage) message() Message {
	m := Message{
		Role:             string(w.Role),
		Content:          w.Content.s,
		HasContent:       w.Content.ok,
		ReasoningContent: string(w.ReasoningContent),
		Reasoning:        string(w.Reasoning),
		Thinking:         string(w.Thinking),
		Refusal:          string(w.Refusal),
	}
	if len(w.ToolCalls) > 0 {
		m.ToolCalls = make([]ToolCallDelta, len(w.ToolCalls))
		for i := range w.ToolCalls {
			tc := &w.ToolCalls[i]
			m.ToolCalls[i] = ToolCallDelta{
				Index:              int(tc.Index.n),
				HasIndex:           tc.Index.ok,
				ID:                 string(tc.ID),
				Type:               string(tc.Type),
				Name:               string(tc.Function.Name),
				Arguments:          tc.Function.Arguments.text,
				ArgumentsWasObject: tc.Function.Arguments.object,
			}
		}
	}
	return m
}

// refString keeps a JSON string; any other value leaves it unchanged.
type refString string

func (s *refString) UnmarshalJSON(data []byte) error {
	if v, ok := refUnquote(data); ok {
		*s = refString(v)
	}
	return nil
}

// refUnquote decodes a JSON string with encoding/json.
func refUnquote(data []byte) (string, bool) {
	var s string
	if len(data) == 0 || data[0] != '"' || json.Unmarshal(data, &s) != nil {
		return "", false
	}
	return s, true
}

// optString is a string that remembers whether a string was present.
// null, absent and non-string values all leave ok false.
type optString struct {
	s  string
	ok bool
}

func (o *optString) UnmarshalJSON(data []byte) error {
	o.s, o.ok = refUnquote(data)
	return nil
}

// optInt keeps a JSON number that is an integer (1 and 1.0 alike); any
// other value leaves ok false.
type optInt struct {
	n  int64
	ok bool
}

func (o *optInt) UnmarshalJSON(data []byte) error {
	o.n, o.ok = parseInt(data)
	return nil
}

// arguments holds function arguments: the text of a JSON string as sent,
// or the compact JSON text of an object or array. Other values leave it
// empty.
type arguments struct {
	text   string
	object bool
}

func (a *arguments) UnmarshalJSON(data []byte) error {
	*a = arguments{}
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case '"':
		a.text, _ = refUnquote(data)
	case '{', '[':
		a.text = compactText(data)
		a.object = data[0] == '{'
	}
	return nil
}

// optUsage keeps a usage object; any other value leaves it nil.
type optUsage struct {
	u *Usage
}

func (o *optUsage) UnmarshalJSON(data []byte) error {
	o.u = nil
	if len(data) == 0 || data[0] != '{' {
		return nil
	}
	var w struct {
		PromptTokens     lenientInt64 `json:"prompt_tokens"`
		CompletionTokens lenientInt64 `json:"completion_tokens"`
		TotalTokens      lenientInt64 `json:"total_tokens"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil
	}
	o.u = &Usage{
		PromptTokens:     int(w.PromptTokens),
		CompletionTokens: int(w.CompletionTokens),
		TotalTokens:      int(w.TotalTokens),
	}
	return nil
}

// rawValue keeps any JSON value except null, copied.
type rawValue json.RawMessage

func (r *rawValue) UnmarshalJSON(data []byte) error {
	if len(data) == 0 || data[0] == 'n' {
		*r = nil
		return nil
	}
	*r = append((*r)[:0], data...)
	return nil
}

// referenceComparable reports whether the reference decoder's extra leniencies
// (case-insensitive and repeated member names) stay out of the way for
// data, which must be valid JSON.
func referenceComparable(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			for _, c := range []byte(k) {
				if c >= 'A' && c <= 'Z' || c >= 0x80 {
					return false
				}
			}
			if top.keys[k] {
				return false
			}
			top.keys[k] = true
			top.expect = false
			continue
		}
		if top != nil && top.object {
			top.expect = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// checkAgainstReference fails t when ParseChunk and ParseCompletion
// disagree with the reference decoder on data.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	got, err := ParseChunk(data)
	valid := json.Valid(data)
	if (err == nil) != valid {
		t.Fatalf("ParseChunk(%q) error = %v, but json.Valid = %v", data, err, valid)
	}
	gotC, errC := ParseCompletion(data)
	if (errC == nil) != valid {
		t.Fatalf("ParseCompletion(%q) error = %v, but json.Valid = %v", data, errC, valid)
	}
	if !valid || !referenceComparable(data) {
		return
	}
	want, err := refParseChunk(data)
	if err != nil {
		t.Fatalf("reference decoder failed on valid %q: %v", data, err)
	}
	if len(want.Choices) == 0 {
		want.Choices = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseChunk(%q)\n got %+v\nwant %+v", data, got, want)
	}
	wantC, err := refParseCompletion(data)
	if err != nil {
		t.Fatalf("reference decoder failed on valid %q: %v", data, err)
	}
	if len(wantC.Choices) == 0 {
		wantC.Choices = nil
	}
	if !reflect.DeepEqual(gotC, wantC) {
		t.Errorf("ParseCompletion(%q)\n got %+v\nwant %+v", data, gotC, wantC)
	}
}

// referenceCorpus returns every event of the upstream transcripts and a
// set of hand-written bodies.
func referenceCorpus(t testing.TB) [][]byte {
	corpus := [][]byte{
		[]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"x","tool_calls":[{"id":"a","function":{"name":"f","arguments":{"k":[1,{"z":null}]}}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3}}`),
		[]byte(`{"choices":[{"delta":{"content":"\u00e9\ud83d\ude00 \"q\"","tool_calls":[{"index":1e0,"id":5,"function":{"arguments":"{\"a\": 1}"}}]}}]}`),
		[]byte(`{"\u0069d":"escaped key","choices":[true,null,"x",{"index":-1,"finish_reason":7}]}`),
		[]byte(` { "id" : "spaces" , "choices" : [ { "delta" : { "content" : null } } ] } `),
		[]byte(`{"error":{"message":"boom","code":"x"},"choices":null,"usage":[1]}`),
		[]byte(`{"created":-12,"model":"","object":"chat.completion"}`),
		[]byte(`{"created":12345678901234567890}`),
		[]byte(`{"created":1.5}`),
		[]byte(`{"a":[[[[{}]]]],"b":{"c":{"d":[true,false,null,-0.5e-3,"s"]}}}`),
		[]byte(`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":[ 1 , 2 ]}},{"function":{"arguments":{ }}}]}}]}`),
		[]byte("{\"choices\":[{\"delta\":{\"content\":\"bad \xff utf8\"}}]}"),
		[]byte(`"just a string"`),
		[]byte(`42`),
		[]byte(`[]`),
		[]byte(`{}`),
		[]byte(`{"id":"a"`),
		[]byte(`{"id":"a",}`),
		[]byte(`{"id" "a"}`),
		[]byte(`{"id":"a"}}`),
		[]byte(`{"id":01}`),
		[]byte(`{"id":1.}`),
		[]byte(`{"id":1e}`),
		[]byte(`{"id":-}`),
		[]byte(`{"id":"\x"}`),
		[]byte(`{"id":"\u12"}`),
		[]byte("{\"id\":\"a\tb\"}"),
		[]byte("{\"id\":\"a\x1fb\"}"),
		[]byte("{\"id\":\"a\x00b\"}"),
		[]byte("{\"id\":\"a\x7fb\"}"),
		[]byte(`{"id":"\u00e9\/\b\f\n\r\t\\"}`),
		[]byte(`{"id":tru}`),
		[]byte(`{"id":nul}`),
		[]byte(`[1,]`),
		[]byte(`[,1]`),
		[]byte(`{,}`),
		[]byte(``),
		[]byte(`   `),
		[]byte("\xef\xbb\xbf{}"),
		[]byte("\"\"\x00"),
		[]byte("{\"id\":\"a\"}\x00"),
		[]byte("{\x00}"),
	}
	files, err := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok && data != "[DONE]" {
				corpus = append(corpus, []byte(data))
			}
		}
	}
	return corpus
}

func TestDecoderMatchesReference(t *testing.T) {
	for _, data := range referenceCorpus(t) {
		checkAgainstReference(t, data)
	}
}

func TestDecoderDepthLimit(t *testing.T) {
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		data := []byte(`{"x":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
		_, err := ParseChunk(data)
		wantOK := depth <= maxDepth
		if (err == nil) != wantOK || json.Valid(data) != wantOK {
			t.Errorf("depth %d: ParseChunk error = %v, json.Valid = %v, want valid = %v", depth, err, json.Valid(data), wantOK)
		}
	}
}

func TestUnquote(t *testing.T) {
	for _, lit := range []string{
		`""`, `"plain"`, `"é文😀"`, `"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u6587"`,
		`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
		`"\ud83d\ud83d\ude00"`, `"a\ud83d\\"`, "\"bad \xff\xfe utf8\"", "\"cut \xe6\x96\"", "\"\xed\xa0\x80\"",
		`"{\"path\": \"/a.txt\"}"`,
	} {
		want, wantOK := refUnquote([]byte(lit))
		if !wantOK {
			t.Fatalf("test literal %q is not valid", lit)
		}
		got, ok := unquote([]byte(lit))
		if !ok || got != want {
			t.Errorf("unquote(%q) = %q, %v; want %q", lit, got, ok, want)
		}
	}
	for _, notString := range []string{``, `1`, `null`, `{}`, `"`} {
		if _, ok := unquote([]byte(notString)); ok {
			t.Errorf("unquote(%q) reported a string", notString)
		}
	}
}

func FuzzUnquote(f *testing.F) {
	f.Add("plain")
	f.Add("\\u00e9\\ud83d\\ude00\\n\\\"")
	f.Add("\xff\\ud800\\u0041")
	f.Fuzz(func(t *testing.T, inner string) {
		lit := []byte(`"` + inner + `"`)
		if !json.Valid(lit) {
			return
		}
		want, _ := refUnquote(lit)
		got, ok := unquote(lit)
		if !ok || got != want {
			t.Errorf("unquote(%q) = %q, %v; want %q", lit, got, ok, want)
		}
	})
}

func FuzzParseChunk(f *testing.F) {
	for _, data := range referenceCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstReference(t, data)
	})
}
