package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusOf returns the HTTP status of a chat completion's outcome: the
// response's when err is nil, the upstream's when err is an *Error that
// has one, else 0 (no answer).
func StatusOf(resp *http.Response, err error) int {
	var ue *Error
	switch {
	case err == nil && resp != nil:
		return resp.StatusCode
	case errors.As(err, &ue):
		return ue.StatusCode
	}
	return 0
}

// Error is an upstream failure: an HTTP status other than 2xx, an upstream
// that could not be reached, or a request given up because its context
// ended. Every error returned by Client methods is an *Error.
type Error struct {
	// StatusCode is the upstream's HTTP status, 0 when no response was
	// received.
	StatusCode int
	// Message is the upstream's error message when its body had one of
	// the usual error shapes ({"error":{"message":...}}, {"error":"..."},
	// {"detail":...}, {"message":...}), else a short description. It never
	// contains the API key, and it is safe to show to a client.
	Message string
	// Type and Code are the upstream's error type and code when its body
	// had them ("" otherwise). A numeric code is kept as its decimal text.
	Type, Code string
	// Err is the underlying transport or context error, nil for an HTTP
	// status.
	Err error
	// RetryAfter is how long a 429 or 503 answer's Retry-After header
	// asked to wait (at most an hour); 0 when it had none.
	RetryAfter time.Duration

	op string // e.g. "POST /chat/completions"
}

// Error describes the failure with the operation that failed.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("upstream")
	if e.op != "" {
		b.WriteString(" ")
		b.WriteString(e.op)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		err := e.Err
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the operation is already named
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying transport or context error.
func (e *Error) Unwrap() error { return e.Err }

// maxErrorBody is how much of an error response body is read.
const maxErrorBody = 64 << 10

// statusError builds the Error for a non-2xx response body, with apiKey
// removed from what the upstream said. The key itself is not kept: an
// error may be printed with all its fields.
func statusError(op string, status int, body []byte, apiKey string) *Error {
	msg, typ, code := parseErrorBody(body)
	if msg == "" {
		msg = "upstream returned HTTP " + strconv.Itoa(status)
		if t := http.StatusText(status); t != "" {
			msg += " " + t
		}
	}
	return &Error{
		StatusCode: status,
		Message:    redact(msg, apiKey),
		Type:       redact(typ, apiKey),
		Code:       redact(code, apiKey),
		op:         op,
	}
}

// parseErrorBody extracts message, type and code from an error body in one
// of the shapes OpenAI-compatible servers use:
//
//	{"error": {"message": "...", "type": "...", "code": "..." or 123}}  OpenAI, most
//	{"error": "..."}                                                     Ollama, llama.cpp variants
//	{"detail": "..." or [...]}                                           FastAPI-based servers
//	{"message": "...", "type": "...", "code": ...}                       vLLM
//
// msg is "" when the body has none of them.
func parseErrorBody(body []byte) (msg, typ, code string) {
	var w struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message lenientString   `json:"message"`
		Type    lenientString   `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if decodeTolerant(body, &w) != nil {
		return "", "", ""
	}
	if len(w.Error) > 0 {
		switch w.Error[0] {
		case '"':
			msg, _ = unquote(w.Error)
			return shorten(msg), "", ""
		case '{':
			var e struct {
				Message lenientString   `json:"message"`
				Type    lenientString   `json:"type"`
				Code    json.RawMessage `json:"code"`
			}
			if decodeTolerant(w.Error, &e) == nil {
				if e.Message != "" {
					return shorten(string(e.Message)), string(e.Type), scalarText(e.Code)
				}
				typ, code = string(e.Type), scalarText(e.Code)
			}
		}
	}
	if len(w.Detail) > 0 {
		if s, ok := unquote(w.Detail); ok {
			return shorten(s), "", ""
		}
		if w.Detail[0] == '{' || w.Detail[0] == '[' {
			return shorten(compactText(w.Detail)), "", ""
		}
	}
	if w.Message != "" {
		return shorten(string(w.Message)), string(w.Type), scalarText(w.Code)
	}
	return "", typ, code
}

// scalarText returns a JSON string's value or a number's text, else "".
func scalarText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if s, ok := unquote(raw); ok {
		return s
	}
	if c := raw[0]; c == '-' || (c >= '0' && c <= '9') {
		return string(raw)
	}
	return ""
}

// maxMessage bounds Error.Message.
const maxMessage = 2048

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && s[cut]&0xc0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}

// redact removes every occurrence of key from s.
func redact(s, key string) string {
	if key == "" || !strings.Contains(s, key) {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}
