package bridge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// emitter receives what the tool loop produces for the client, in order.
// Exactly one goroutine (the request's) calls it. Methods return an error
// only when the client can no longer be written to.
type emitter interface {
	// setModel records the model name shown in the answer; it is used
	// from the next write on.
	setModel(model string)
	// content adds answer text.
	content(s string) error
	// reasoning adds reasoning text under the delta field it arrived in
	// (reasoning_content, reasoning or thinking).
	reasoning(field, s string) error
	// refusal adds refusal text.
	refusal(s string) error
	// status shows tool activity (display mode "status").
	status(desc string, done bool) error
	// finish ends the answer. calls are client tool calls returned to the
	// client, usage the sum over every round.
	finish(reason string, calls []llm.ToolCall, usage llm.Usage) error
	// fail ends the answer with an error.
	fail(e *apiError) error
	// started reports whether any byte has reached the client, after which
	// an HTTP status can no longer be chosen.
	started() bool
	// startBatch holds back flushing until endBatch, which flushes what
	// was written since: events that arrived together leave together.
	startBatch()
	endBatch() error
}

// outChunk is one chat.completion.chunk as the bridge writes it. Every field
// the OpenAI SDKs require is always present: choices is [] rather than
// absent on usage and status chunks.
type outChunk struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	Model   string      `json:"model"`
	Choices []outChoice `json:"choices"`
	Usage   *llm.Usage  `json:"usage,omitempty"`
	// Event is an Open WebUI status event; other clients ignore it.
	Event *statusEvent `json:"event,omitempty"`
}

type outChoice struct {
	Index int      `json:"index"`
	Delta outDelta `json:"delta"`
	// FinishReason is null on every chunk but the last choice chunk.
	FinishReason *string `json:"finish_reason"`
}

// outDelta uses omitempty throughout so that a finish chunk carries a truly
// empty delta {}.
type outDelta struct {
	Role             string            `json:"role,omitempty"`
	Content          string            `json:"content,omitempty"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	Reasoning        string            `json:"reasoning,omitempty"`
	Thinking         string            `json:"thinking,omitempty"`
	Refusal          string            `json:"refusal,omitempty"`
	ToolCalls        []openai.ToolCall `json:"tool_calls,omitempty"`
}

type statusEvent struct {
	Type string     `json:"type"`
	Data statusData `json:"data"`
}

type statusData struct {
	Description string `json:"description"`
	Done        bool   `json:"done"`
}

// clientToolCalls converts accumulated calls into the wire form returned to
// the client, indexed from 0.
func clientToolCalls(calls []llm.ToolCall) []openai.ToolCall {
	out := make([]openai.ToolCall, len(calls))
	for i, c := range calls {
		idx := i
		out[i] = openai.ToolCall{Index: &idx, ID: c.ID, Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Name: c.Name, Arguments: c.Arguments}}
	}
	return out
}

// sseWriter writes the answer as server-sent events, one chunk per event,
// flushing after each (or after each batch). While the answer is open, a
// timer sends ": keepalive" comments whenever nothing was written for the
// keepalive interval, as httputil.ReverseProxy flushes from a timer: mu
// keeps the timer's writes and the request's apart.
type sseWriter struct {
	mu       sync.Mutex
	interval time.Duration // keepalive interval; 0 for none
	timer    *time.Timer
	closed   bool // the answer ended: the timer writes nothing more

	w       http.ResponseWriter
	rc      *http.ResponseController
	id      string
	created int64
	model   string
	usage   bool // the client asked for a usage chunk

	wrote    bool // headers and at least one byte sent
	roleSent bool
	lastSend time.Time
	buf      []byte
	prefix   []byte // the start of every chunk, up to "choices":[ ; nil until built
	batching bool   // writes are not flushed until endBatch
	pending  bool   // written but not flushed
}

func newSSEWriter(w http.ResponseWriter, id string, created int64, model string, includeUsage bool) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), id: id, created: created, model: model, usage: includeUsage, lastSend: time.Now()}
}

func (s *sseWriter) setModel(m string) {
	if m != "" && m != s.model {
		s.model = m
		s.prefix = nil
	}
}

func (s *sseWriter) startBatch() {
	s.mu.Lock()
	s.batching = true
	s.mu.Unlock()
}

func (s *sseWriter) endBatch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batching = false
	if !s.pending {
		return nil
	}
	s.pending = false
	return s.rc.Flush()
}

// startKeepalive starts the keepalive timer; interval <= 0 starts none.
func (s *sseWriter) startKeepalive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interval = interval
	s.timer = time.AfterFunc(interval, s.keepalive)
}

// keepalive runs on the timer: it writes a comment if the answer was idle
// for a whole interval, and sets the timer for the next check.
func (s *sseWriter) keepalive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	idle := time.Since(s.lastSend)
	if idle >= s.interval {
		if s.writeLocked([]byte(": keepalive\n\n")) != nil {
			return // the client is gone; the request will notice
		}
		idle = 0
	}
	s.timer.Reset(s.interval - idle)
}

// close ends the answer for the timer. It is safe to call more than once.
func (s *sseWriter) close() {
	s.mu.Lock()
	s.closed = true
	t := s.timer
	s.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

func (s *sseWriter) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote
}

func (s *sseWriter) start() {
	if s.wrote {
		return
	}
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	s.wrote = true
}

// raw writes b (one whole event) and flushes, unless a batch is open. The
// first bytes of an answer are flushed at once, batch or not.
func (s *sseWriter) raw(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(b)
}

func (s *sseWriter) writeLocked(b []byte) error {
	first := !s.wrote
	s.start()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.lastSend = time.Now()
	if s.batching && !first {
		s.pending = true
		return nil
	}
	return s.rc.Flush()
}

func (s *sseWriter) chunk(c *outChunk) error {
	c.ID, c.Object, c.Created, c.Model = s.id, "chat.completion.chunk", s.created, s.model
	if len(c.Choices) > 0 && !s.roleSent {
		c.Choices[0].Delta.Role = "assistant"
		s.roleSent = true
	}
	if c.Choices == nil {
		c.Choices = []outChoice{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	s.buf = append(s.buf[:0], "data: "...)
	s.buf = append(s.buf, b...)
	s.buf = append(s.buf, '\n', '\n')
	return s.raw(s.buf)
}

func (s *sseWriter) delta(d outDelta) error {
	return s.chunk(&outChunk{Choices: []outChoice{{Delta: d}}})
}

func (s *sseWriter) content(t string) error { return s.textDelta("content", t, outDelta{Content: t}) }
func (s *sseWriter) refusal(t string) error { return s.delta(outDelta{Refusal: t}) }
func (s *sseWriter) reasoning(field, t string) error {
	return s.textDelta(field, t, reasoningDelta(field, t))
}

// textDelta writes a chunk whose delta is one text field: the bulk of every
// answer. It appends the chunk's bytes rather than encoding a struct; the
// first chunk, which carries the role, goes through delta.
func (s *sseWriter) textDelta(field, t string, d outDelta) error {
	if !s.roleSent {
		return s.delta(d)
	}
	if s.prefix == nil {
		s.prefix = append(s.prefix, `data: {"id":`...)
		s.prefix = appendJSONString(s.prefix, s.id)
		s.prefix = append(s.prefix, `,"object":"chat.completion.chunk","created":`...)
		s.prefix = strconv.AppendInt(s.prefix, s.created, 10)
		s.prefix = append(s.prefix, `,"model":`...)
		s.prefix = appendJSONString(s.prefix, s.model)
		s.prefix = append(s.prefix, `,"choices":[{"index":0,"delta":{"`...)
	}
	b := append(s.buf[:0], s.prefix...)
	b = append(b, field...)
	b = append(b, `":`...)
	b = appendJSONString(b, t)
	b = append(b, "},\"finish_reason\":null}]}\n\n"...)
	s.buf = b
	return s.raw(b)
}

// appendJSONString appends s as a JSON string. Control characters, quotes
// and backslashes are escaped, as are U+2028 and U+2029 (for JavaScript
// readers); invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func reasoningDelta(field, t string) outDelta {
	switch field {
	case "reasoning":
		return outDelta{Reasoning: t}
	case "thinking":
		return outDelta{Thinking: t}
	default:
		return outDelta{ReasoningContent: t}
	}
}

func (s *sseWriter) status(desc string, done bool) error {
	return s.chunk(&outChunk{Event: &statusEvent{Type: "status", Data: statusData{Description: desc, Done: done}}})
}

// finish writes the last choice chunk, the usage chunk when asked for and
// [DONE], with one flush: they are one write to the client, not three.
func (s *sseWriter) finish(reason string, calls []llm.ToolCall, usage llm.Usage) error {
	s.startBatch()
	err := s.finishBatch(reason, calls, usage)
	if ferr := s.endBatch(); err == nil {
		err = ferr
	}
	return err
}

func (s *sseWriter) finishBatch(reason string, calls []llm.ToolCall, usage llm.Usage) error {
	d := outDelta{}
	if len(calls) > 0 {
		d.ToolCalls = clientToolCalls(calls)
	}
	if err := s.chunk(&outChunk{Choices: []outChoice{{Delta: d, FinishReason: &reason}}}); err != nil {
		return err
	}
	if s.usage {
		if err := s.chunk(&outChunk{Usage: &usage}); err != nil {
			return err
		}
	}
	s.close()
	return s.raw([]byte("data: [DONE]\n\n"))
}

// fail sends an error event and ends the stream; no [DONE] follows, so
// that clients do not take a cut-off answer for a whole one.
func (s *sseWriter) fail(e *apiError) error {
	s.close()
	b := append([]byte("data: "), e.body()...)
	return s.raw(append(b, '\n', '\n'))
}

// collector gathers the answer for a non-streaming response.
type collector struct {
	id      string
	created int64
	model   string

	text     strings.Builder
	thoughts map[string]*strings.Builder
	refusalT strings.Builder
	reason   string
	calls    []llm.ToolCall
	usage    llm.Usage
	done     bool
}

func (c *collector) setModel(m string) {
	if m != "" {
		c.model = m
	}
}
func (c *collector) started() bool          { return false }
func (c *collector) content(s string) error { c.text.WriteString(s); return nil }
func (c *collector) refusal(s string) error { c.refusalT.WriteString(s); return nil }
func (c *collector) reasoning(field, s string) error {
	if c.thoughts == nil {
		c.thoughts = map[string]*strings.Builder{}
	}
	b := c.thoughts[field]
	if b == nil {
		b = &strings.Builder{}
		c.thoughts[field] = b
	}
	b.WriteString(s)
	return nil
}
func (c *collector) status(string, bool) error { return nil }
func (c *collector) startBatch()               {}
func (c *collector) endBatch() error           { return nil }
func (c *collector) fail(*apiError) error      { return nil }
func (c *collector) finish(reason string, calls []llm.ToolCall, usage llm.Usage) error {
	c.reason, c.calls, c.usage, c.done = reason, calls, usage, true
	return nil
}

// toolRecord is one executed bridge tool call, reported in the
// non-streaming answer's mcp_tool_calls.
type toolRecord struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Server     string          `json:"server,omitempty"`
	Arguments  json.RawMessage `json:"arguments"`
	IsError    bool            `json:"is_error"`
	DurationMS int64           `json:"duration_ms"`
}

// completion encodes the non-streaming answer.
func (c *collector) completion(records []toolRecord) []byte {
	type message struct {
		Role             string            `json:"role"`
		Content          *string           `json:"content"`
		ReasoningContent string            `json:"reasoning_content,omitempty"`
		Reasoning        string            `json:"reasoning,omitempty"`
		Thinking         string            `json:"thinking,omitempty"`
		Refusal          *string           `json:"refusal"`
		ToolCalls        []openai.ToolCall `json:"tool_calls,omitempty"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
		Logprobs     any     `json:"logprobs"`
	}
	m := message{Role: "assistant"}
	if c.text.Len() > 0 || len(c.calls) == 0 {
		t := c.text.String()
		m.Content = &t
	}
	if c.refusalT.Len() > 0 {
		r := c.refusalT.String()
		m.Refusal = &r
	}
	for field, b := range c.thoughts {
		switch field {
		case "reasoning":
			m.Reasoning = b.String()
		case "thinking":
			m.Thinking = b.String()
		default:
			m.ReasoningContent = b.String()
		}
	}
	if len(c.calls) > 0 {
		m.ToolCalls = clientToolCalls(c.calls)
		for i := range m.ToolCalls {
			m.ToolCalls[i].Index = nil
		}
	}
	if records == nil {
		records = []toolRecord{}
	}
	b, _ := json.Marshal(struct {
		ID           string       `json:"id"`
		Object       string       `json:"object"`
		Created      int64        `json:"created"`
		Model        string       `json:"model"`
		Choices      []choice     `json:"choices"`
		Usage        llm.Usage    `json:"usage"`
		MCPToolCalls []toolRecord `json:"mcp_tool_calls"`
	}{c.id, "chat.completion", c.created, c.model, []choice{{Message: m, FinishReason: c.reason}}, c.usage, records})
	return b
}
