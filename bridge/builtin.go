package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// BuiltinModel is the model the bridge answers itself, with no upstream at
// all: a user message "/NAME {json}" makes it call tool NAME with those
// arguments, through the same tool loop as any model (policies, display,
// streaming, usage), and it answers with the tool's result; any other
// message gets a help text listing the tools. It lets a user watch a tool
// round, and try a client, before an LLM is set up.
const BuiltinModel = "mcp-bridge/tools"

// builtinCreated is the "created" time /v1/models gives BuiltinModel.
const builtinCreated = 1767225600 // 2026-01-01

// maxHelpTools bounds the tools the help text lists.
const maxHelpTools = 50

// builtinModel is the Upstream that answers BuiltinModel. It reads the
// request the bridge would send upstream (the client's body with the
// bridge's tools) and answers as an OpenAI-compatible server would. It
// holds no state: the zero value is ready and safe for concurrent use.
type builtinModel struct{}

var _ Upstream = builtinModel{}

// ChatCompletionsBuffers answers the request in parts with a tool call, the
// result of the last tool call, or a help text: SSE chunks when the
// request streams, a chat.completion otherwise. Its token counts are
// estimates (a token per 4 bytes).
func (builtinModel) ChatCompletionsBuffers(ctx context.Context, parts net.Buffers) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	body := bytes.Join(parts, nil)
	var req builtinRequest
	if err := json.Unmarshal(body, &req); err != nil {
		// The bridge validated the request; this is not expected.
		return nil, &llm.Error{StatusCode: http.StatusBadRequest, Message: "the built-in model cannot read the request: " + err.Error()}
	}
	ans := req.answer()
	usage := llm.Usage{PromptTokens: estimateTokens(len(body)), CompletionTokens: estimateTokens(ans.size())}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	w := builtinWriter{id: "chatcmpl-" + rand.Text(), created: time.Now().Unix()}
	resp := &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}}
	var out []byte
	if req.Stream {
		resp.Header.Set("Content-Type", "text/event-stream")
		out = w.stream(ans, usage, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	} else {
		resp.Header.Set("Content-Type", "application/json")
		out = w.completion(ans, usage)
	}
	resp.ContentLength = int64(len(out))
	resp.Body = io.NopCloser(bytes.NewReader(out))
	return resp, nil
}

// Models lists BuiltinModel.
func (builtinModel) Models(context.Context) (*llm.ModelList, error) {
	return &llm.ModelList{Object: "list", Data: []llm.Model{builtinModelEntry()}}, nil
}

func builtinModelEntry() llm.Model {
	return llm.Model{ID: BuiltinModel, Object: "model", Created: builtinCreated, OwnedBy: "mcp-bridge"}
}

// withBuiltinModel returns list (nil for none) with BuiltinModel added at
// its end, unless it has it already. list is modified.
func withBuiltinModel(list *llm.ModelList) *llm.ModelList {
	if list == nil {
		list = &llm.ModelList{Object: "list"}
	}
	if list.Object == "" {
		list.Object = "list"
	}
	if !slices.ContainsFunc(list.Data, func(m llm.Model) bool { return m.ID == BuiltinModel }) {
		list.Data = append(list.Data, builtinModelEntry())
	}
	return list
}

// estimateTokens is the token estimate of n bytes: n/4, at least 1.
func estimateTokens(n int) int {
	return max(1, n/4)
}

// builtinRequest is what the built-in model reads of a request.
type builtinRequest struct {
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []json.RawMessage `json:"messages"`
	Tools    []json.RawMessage `json:"tools"`
}

// builtinMessage is what the built-in model reads of a message.
type builtinMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// builtinTool is what the built-in model reads of a tool definition.
type builtinTool struct {
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// builtinAnswer is the built-in model's answer: text, or one tool call.
type builtinAnswer struct {
	text string
	call *llm.ToolCall
}

// size is the length of what the answer says, for its token estimate.
func (a builtinAnswer) size() int {
	if a.call != nil {
		return len(a.call.Name) + len(a.call.Arguments)
	}
	return len(a.text)
}

// answer decides the built-in model's answer to r:
//   - after a tool round (the last message is a tool message), the tool
//     results of that round;
//   - for a last user message "/NAME {json}" naming one of r's tools, a
//     call of it with those arguments ({} when none), or an explanation
//     when they are not a JSON object;
//   - else a help text listing r's tools.
func (r *builtinRequest) answer() builtinAnswer {
	msgs := make([]builtinMessage, 0, len(r.Messages))
	for _, raw := range r.Messages {
		var m builtinMessage
		if json.Unmarshal(raw, &m) == nil {
			msgs = append(msgs, m)
		}
	}
	tools := r.tools()
	if len(msgs) > 0 && msgs[len(msgs)-1].Role == "tool" {
		return builtinAnswer{text: toolResults(msgs)}
	}
	var said string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			said = messageText(msgs[i].Content)
			break
		}
	}
	name, args, ok := parseCommand(said)
	if !ok {
		return builtinAnswer{text: helpText(tools, "")}
	}
	t, note := findTool(tools, name)
	if t == nil {
		if name == "help" {
			note = ""
		}
		return builtinAnswer{text: helpText(tools, note)}
	}
	if args == "" {
		args = "{}"
	}
	if err := checkArguments(args); err != "" {
		return builtinAnswer{text: argumentsHelp(t, args, err)}
	}
	return builtinAnswer{call: &llm.ToolCall{ID: llm.NewCallID(), Name: t.Function.Name, Arguments: args}}
}

// tools returns the request's function tools that have a name.
func (r *builtinRequest) tools() []*builtinTool {
	out := make([]*builtinTool, 0, len(r.Tools))
	for _, raw := range r.Tools {
		t := &builtinTool{}
		if json.Unmarshal(raw, t) == nil && t.Function.Name != "" {
			out = append(out, t)
		}
	}
	return out
}

// toolResults joins the tool messages after the last assistant message.
func toolResults(msgs []builtinMessage) string {
	start := len(msgs)
	for start > 0 && msgs[start-1].Role != "assistant" {
		start--
	}
	var results []string
	for _, m := range msgs[start:] {
		if m.Role == "tool" {
			if t := messageText(m.Content); t != "" {
				results = append(results, t)
			}
		}
	}
	if len(results) == 0 {
		return "(the tool returned no output)"
	}
	return strings.Join(results, "\n\n")
}

// messageText is the text of a message's content: the string, or its
// text parts joined by newlines.
func messageText(content json.RawMessage) string {
	if s, ok := stringValue(bytes.TrimSpace(content)); ok {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(content, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" || (p.Type == "" && p.Text != "") {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// parseCommand splits "/NAME args" into NAME and the trimmed args; ok is
// false when text is not such a command. NAME ends at white space or at
// the "{" or "[" that opens the arguments.
func parseCommand(text string) (name, args string, ok bool) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	text = text[1:]
	end := strings.IndexAny(text, " \t\r\n{[")
	if end < 0 {
		end = len(text)
	}
	if end == 0 {
		return "", "", false
	}
	return text[:end], strings.TrimSpace(text[end:]), true
}

// findTool returns the tool named name: the one with that exact name, else
// the only one whose name ends in "__"+name. When there is none, note says
// why, for the help text.
func findTool(tools []*builtinTool, name string) (*builtinTool, string) {
	for _, t := range tools {
		if t.Function.Name == name {
			return t, ""
		}
	}
	var matches []*builtinTool
	for _, t := range tools {
		if _, short, ok := strings.Cut(t.Function.Name, "__"); ok && short == name {
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], ""
	case 0:
		return nil, fmt.Sprintf("There is no tool named `%s`.", name)
	}
	names := make([]string, len(matches))
	for i, t := range matches {
		names[i] = "`" + t.Function.Name + "`"
	}
	return nil, fmt.Sprintf("`%s` could be any of %s: give the whole name.", name, strings.Join(names, ", "))
}

// checkArguments returns why args are not a JSON object, "" when they are.
func checkArguments(args string) string {
	var v any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return "they are not valid JSON: " + err.Error()
	}
	if _, ok := v.(map[string]any); !ok {
		return "they must be a JSON object, got " + jsonKind([]byte(args))
	}
	return ""
}

// maxSchemaInHelp bounds the input schema shown when arguments are wrong.
const maxSchemaInHelp = 2000

// argumentsHelp explains the syntax of a call of t whose arguments were
// wrong.
func argumentsHelp(t *builtinTool, args, why string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The arguments of `%s` were not used: %s.\n\n", t.Function.Name, why)
	fmt.Fprintf(&b, "Write the tool's name, a space, then its arguments as one JSON object (or nothing for `{}`), for example:\n\n    /%s {\"name\": \"value\"}\n", t.Function.Name)
	if s := bytes.TrimSpace(t.Function.Parameters); len(s) > 0 && len(s) <= maxSchemaInHelp {
		var compact bytes.Buffer
		if json.Compact(&compact, s) == nil {
			fmt.Fprintf(&b, "\nIts input schema:\n\n    %s\n", compact.String())
		}
	}
	return b.String()
}

// maxDescriptionInHelp bounds, in characters, the description of a tool
// in the help text.
const maxDescriptionInHelp = 120

// helpText says what the built-in model is, its syntax and the tools it
// can call, after note (a line, or "").
func helpText(tools []*builtinTool, note string) string {
	var b strings.Builder
	if note != "" {
		b.WriteString(note)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "This is `%s`, a model built into mcp-bridge: it calls the tool you name, with no LLM, and answers with the tool's result.\n\n", BuiltinModel)
	example := `everything__echo {"message":"hi"}` // a tool of the server suggested below
	if len(tools) > 0 {
		example = tools[0].Function.Name + " {}"
	}
	fmt.Fprintf(&b, "Send `/TOOL {JSON arguments}`, for example `/%s`. The arguments are one JSON object; none means `{}`. "+
		"A tool's short name (after `__`) is enough when no other tool has it.\n\n", example)
	if len(tools) == 0 {
		b.WriteString("No tools are configured: add an MCP server under `mcpServers` in mcp-bridge.yaml, for example\n\n" +
			"    mcpServers:\n      everything:\n        command: npx\n        args: [\"-y\", \"@modelcontextprotocol/server-everything\"]\n\n" +
			"then restart the bridge.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "Tools (%d):\n\n", len(tools))
	for i, t := range tools {
		if i == maxHelpTools {
			fmt.Fprintf(&b, "- ... and %d more\n", len(tools)-maxHelpTools)
			break
		}
		fmt.Fprintf(&b, "- `%s`", t.Function.Name)
		if d := firstLine(t.Function.Description, maxDescriptionInHelp); d != "" {
			b.WriteString(": ")
			b.WriteString(d)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// firstLine returns the first non-empty line of s, cut to max characters.
func firstLine(s string, max int) string {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > max {
			r := []rune(line)
			line = strings.TrimSpace(string(r[:max])) + "..."
		}
		return line
	}
	return ""
}

// builtinWriter encodes the built-in model's answers on the wire.
type builtinWriter struct {
	id      string
	created int64
}

// The wire types of the built-in model's answers. Every member of a
// message is omitempty so that a finish chunk has a truly empty delta {}.
type (
	builtinChunk struct {
		ID      string          `json:"id"`
		Object  string          `json:"object"`
		Created int64           `json:"created"`
		Model   string          `json:"model"`
		Choices []builtinChoice `json:"choices"`
		Usage   *llm.Usage      `json:"usage,omitempty"`
	}
	builtinChoice struct {
		Index        int                `json:"index"`
		Delta        *builtinMessageOut `json:"delta,omitempty"`
		Message      *builtinMessageOut `json:"message,omitempty"`
		FinishReason *string            `json:"finish_reason"`
	}
	builtinMessageOut struct {
		Role      string            `json:"role,omitempty"`
		Content   *string           `json:"content,omitempty"`
		ToolCalls []builtinToolCall `json:"tool_calls,omitempty"`
	}
	builtinToolCall struct {
		Index    *int   `json:"index,omitempty"`
		ID       string `json:"id,omitempty"`
		Type     string `json:"type,omitempty"`
		Function struct {
			Name      string `json:"name,omitempty"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
)

func (a builtinAnswer) finish() string {
	if a.call != nil {
		return "tool_calls"
	}
	return "stop"
}

// stream encodes a as SSE: the role, the text or the tool call (its id and
// name, then its arguments), the finish reason, usage when asked, [DONE].
func (w builtinWriter) stream(a builtinAnswer, usage llm.Usage, includeUsage bool) []byte {
	var buf bytes.Buffer
	event := func(choices []builtinChoice, u *llm.Usage) {
		b, _ := json.Marshal(builtinChunk{ID: w.id, Object: "chat.completion.chunk", Created: w.created, Model: BuiltinModel,
			Choices: choices, Usage: u})
		buf.WriteString("data: ")
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	delta := func(m builtinMessageOut) {
		event([]builtinChoice{{Delta: &m}}, nil)
	}
	delta(builtinMessageOut{Role: "assistant"})
	if a.call != nil {
		zero := 0
		head := builtinToolCall{Index: &zero, ID: a.call.ID, Type: "function"}
		head.Function.Name = a.call.Name
		delta(builtinMessageOut{ToolCalls: []builtinToolCall{head}})
		args := builtinToolCall{Index: &zero}
		args.Function.Arguments = a.call.Arguments
		delta(builtinMessageOut{ToolCalls: []builtinToolCall{args}})
	} else {
		delta(builtinMessageOut{Content: &a.text})
	}
	reason := a.finish()
	event([]builtinChoice{{Delta: &builtinMessageOut{}, FinishReason: &reason}}, nil)
	if includeUsage {
		event([]builtinChoice{}, &usage)
	}
	buf.WriteString("data: [DONE]\n\n")
	return buf.Bytes()
}

// completion encodes a as a chat.completion.
func (w builtinWriter) completion(a builtinAnswer, usage llm.Usage) []byte {
	m := builtinMessageOut{Role: "assistant"}
	if a.call != nil {
		c := builtinToolCall{ID: a.call.ID, Type: "function"}
		c.Function.Name, c.Function.Arguments = a.call.Name, a.call.Arguments
		m.ToolCalls = []builtinToolCall{c}
	} else {
		m.Content = &a.text
	}
	reason := a.finish()
	b, _ := json.Marshal(builtinChunk{ID: w.id, Object: "chat.completion", Created: w.created, Model: BuiltinModel,
		Choices: []builtinChoice{{Message: &m, FinishReason: &reason}}, Usage: &usage})
	return b
}
