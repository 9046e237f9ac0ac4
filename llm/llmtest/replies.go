package llmtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Reply answers one chat-completion request. It may do anything a handler
// does; req is the recorded request. The builders below cover the usual
// answers. Whether a reply streams is decided by the builder, not by the
// request's "stream" field.
type Reply func(w http.ResponseWriter, r *http.Request, req Request)

// Call is a tool call for ToolCallStream and ToolCallCompletion. An empty
// ID is left out of the answer.
type Call struct {
	ID, Name, Arguments string
}

// Fixed values of built answers.
const (
	answerID      = "chatcmpl-llmtest"
	answerCreated = 1700000000
	defaultModel  = "test-model"
)

// usage returns the usage every built answer reports.
func usage() map[string]int {
	return map[string]int{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
}

// SSE replays body as a raw event stream, flushing after every blank line
// (every event). Lines starting with '#' are left out, so a transcript file
// can be replayed as it is.
func SSE(body []byte) Reply {
	body = StripComments(body)
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		startStream(w)
		rc := http.NewResponseController(w)
		for _, line := range bytes.SplitAfter(body, []byte("\n")) {
			if _, err := w.Write(line); err != nil {
				return
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				rc.Flush()
			}
		}
		rc.Flush()
	}
}

// Stream sends each chunk as the payload of one "data:" event, then
// "data: [DONE]".
func Stream(chunks ...string) Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		startStream(w)
		for _, c := range chunks {
			if !writeEvent(w, []byte(c)) {
				return
			}
		}
		writeEvent(w, []byte("[DONE]"))
	}
}

// TextStream streams a plain answer: a role chunk, one content chunk per
// piece of text, a chunk with finish_reason "stop", a usage chunk with
// empty choices, and [DONE]. The model is the request's.
func TextStream(text ...string) Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		model := requestModel(req)
		chunks := [][]byte{chunk(model, map[string]any{"role": "assistant", "content": ""}, nil)}
		for _, t := range text {
			chunks = append(chunks, chunk(model, map[string]any{"content": t}, nil))
		}
		stop := "stop"
		chunks = append(chunks, chunk(model, map[string]any{}, &stop), usageChunk(model))
		streamChunks(w, chunks)
	}
}

// ToolCallStream streams tool calls the way OpenAI does: a role chunk,
// then per call a header delta (index, id, type, name, empty arguments)
// followed by the arguments in up to three fragments, a chunk with
// finish_reason "tool_calls", a usage chunk and [DONE].
func ToolCallStream(calls ...Call) Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		model := requestModel(req)
		chunks := [][]byte{chunk(model, map[string]any{"role": "assistant", "content": nil}, nil)}
		for i, c := range calls {
			header := map[string]any{
				"index":    i,
				"type":     "function",
				"function": map[string]any{"name": c.Name, "arguments": ""},
			}
			if c.ID != "" {
				header["id"] = c.ID
			}
			chunks = append(chunks, chunk(model, map[string]any{"tool_calls": []any{header}}, nil))
			for _, frag := range fragments(c.Arguments, 3) {
				d := map[string]any{"index": i, "function": map[string]any{"arguments": frag}}
				chunks = append(chunks, chunk(model, map[string]any{"tool_calls": []any{d}}, nil))
			}
		}
		reason := "tool_calls"
		chunks = append(chunks, chunk(model, map[string]any{}, &reason), usageChunk(model))
		streamChunks(w, chunks)
	}
}

// JSON answers status with v as a JSON body. v may be raw JSON as
// []byte, json.RawMessage or string; anything else is marshalled.
func JSON(status int, v any) Reply {
	var body []byte
	switch b := v.(type) {
	case []byte:
		body = b
	case json.RawMessage:
		body = b
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			panic("llmtest.JSON: " + err.Error())
		}
	}
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

// Error answers status with an OpenAI error body carrying message.
func Error(status int, message string) Reply {
	typ := "server_error"
	if status >= 400 && status < 500 {
		typ = "invalid_request_error"
	}
	return JSON(status, map[string]any{
		"error": map[string]any{"message": message, "type": typ, "param": nil, "code": nil},
	})
}

// Completion answers with a non-streamed chat.completion whose message
// content is text, finish_reason "stop" and usage.
func Completion(text string) Reply {
	return completion(map[string]any{"role": "assistant", "content": text}, "stop")
}

// ToolCallCompletion answers with a non-streamed chat.completion whose
// message carries calls as tool_calls, finish_reason "tool_calls".
func ToolCallCompletion(calls ...Call) Reply {
	tcs := make([]any, 0, len(calls))
	for _, c := range calls {
		tc := map[string]any{
			"type":     "function",
			"function": map[string]any{"name": c.Name, "arguments": c.Arguments},
		}
		if c.ID != "" {
			tc["id"] = c.ID
		}
		tcs = append(tcs, tc)
	}
	return completion(map[string]any{"role": "assistant", "content": nil, "tool_calls": tcs}, "tool_calls")
}

// Hang starts a stream, sends a role chunk, then blocks until the client
// goes away (which the request records in Canceled) or the server closes.
func Hang() Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		startStream(w)
		writeEvent(w, chunk(requestModel(req), map[string]any{"role": "assistant", "content": ""}, nil))
		select {
		case <-r.Context().Done():
		case <-req.serverClosed:
		}
	}
}

func completion(message map[string]any, finish string) Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		JSON(http.StatusOK, map[string]any{
			"id":      answerID,
			"object":  "chat.completion",
			"created": answerCreated,
			"model":   requestModel(req),
			"choices": []any{map[string]any{"index": 0, "message": message, "finish_reason": finish}},
			"usage":   usage(),
		})(w, r, req)
	}
}

// requestModel returns the request's model, or "test-model".
func requestModel(req Request) string {
	var m string
	if json.Unmarshal(req.Fields["model"], &m) != nil || m == "" {
		return defaultModel
	}
	return m
}

func chunk(model string, delta map[string]any, finish *string) []byte {
	return mustMarshal(map[string]any{
		"id":      answerID,
		"object":  "chat.completion.chunk",
		"created": answerCreated,
		"model":   model,
		"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
	})
}

func usageChunk(model string) []byte {
	return mustMarshal(map[string]any{
		"id":      answerID,
		"object":  "chat.completion.chunk",
		"created": answerCreated,
		"model":   model,
		"choices": []any{},
		"usage":   usage(),
	})
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("llmtest: " + err.Error())
	}
	return b
}

// fragments splits s into at most n pieces of similar size, on rune
// boundaries. An empty s gives no pieces.
func fragments(s string, n int) []string {
	var out []string
	for n > 0 && s != "" {
		size := (len(s) + n - 1) / n
		for size < len(s) && !utf8.RuneStart(s[size]) {
			size++
		}
		out = append(out, s[:size])
		s = s[size:]
		n--
	}
	return out
}

func startStream(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// writeEvent writes one data event and flushes it. It reports false when
// the client is gone.
func writeEvent(w http.ResponseWriter, data []byte) bool {
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := w.Write(buf); err != nil {
		return false
	}
	return http.NewResponseController(w).Flush() == nil
}

func streamChunks(w http.ResponseWriter, chunks [][]byte) {
	startStream(w)
	for _, c := range chunks {
		if !writeEvent(w, c) {
			return
		}
	}
	writeEvent(w, []byte("[DONE]"))
}

// Silent sends nothing, not even the response's header, until the client
// goes away or the server closes: an upstream busy before its first byte.
func Silent() Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		select {
		case <-r.Context().Done():
		case <-req.serverClosed:
		}
	}
}

// RateLimited answers 429 with a Retry-After header of seconds and an
// OpenAI error body.
func RateLimited(seconds int) Reply {
	return func(w http.ResponseWriter, r *http.Request, req Request) {
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		Error(http.StatusTooManyRequests, "rate limited")(w, r, req)
	}
}
