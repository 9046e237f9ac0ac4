package llm

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name                string
		body                string
		msg, typ, errorCode string
	}{
		{"openai", `{"error":{"message":"Invalid API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, "Invalid API key", "invalid_request_error", "invalid_api_key"},
		{"numeric code", `{"error":{"message":"Rate limited","type":"rate_limit","code":429}}`, "Rate limited", "rate_limit", "429"},
		{"code null", `{"error":{"message":"x","code":null}}`, "x", "", ""},
		{"error string", `{"error":"model 'llama9' not found"}`, "model 'llama9' not found", "", ""},
		{"detail string", `{"detail":"Not Found"}`, "Not Found", "", ""},
		{"detail list", `{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}`,
			`[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]`, "", ""},
		{"top-level message", `{"object":"error","message":"maximum context length is 4096","type":"BadRequestError","param":null,"code":400}`,
			"maximum context length is 4096", "BadRequestError", "400"},
		{"error object without message", `{"error":{"type":"server_error","code":"overloaded"}}`, "", "server_error", "overloaded"},
		{"error object without message, detail", `{"error":{"code":"x"},"detail":"d"}`, "d", "", ""},
		{"message trimmed", `{"error":{"message":"  spaced \n"}}`, "spaced", "", ""},
		{"html", `<html><body>502 Bad Gateway</body></html>`, "", "", ""},
		{"empty", ``, "", "", ""},
		{"unrelated json", `{"ok":false}`, "", "", ""},
		{"error null", `{"error":null}`, "", "", ""},
		{"error of other type", `{"error":true,"message":"fallback"}`, "fallback", "", ""},
		{"detail object", `{"detail":{"msg":"field required"}}`, `{"msg":"field required"}`, "", ""},
		{"detail number", `{"detail":42,"message":"fallback"}`, "fallback", "", ""},
		{"code 0", `{"error":{"message":"x","code":0}}`, "x", "", "0"},
		{"code 9", `{"error":{"message":"x","code":9}}`, "x", "", "9"},
		{"code -1", `{"error":{"message":"x","code":-1}}`, "x", "", "-1"},
		{"code true", `{"error":{"message":"x","code":true}}`, "x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, typ, code := parseErrorBody([]byte(tt.body))
			if msg != tt.msg || typ != tt.typ || code != tt.errorCode {
				t.Errorf("parseErrorBody(%s) = %q, %q, %q; want %q, %q, %q", tt.body, msg, typ, code, tt.msg, tt.typ, tt.errorCode)
			}
		})
	}
}

func TestParseErrorBodyShortens(t *testing.T) {
	long := strings.Repeat("é", maxMessage)
	msg, _, _ := parseErrorBody([]byte(`{"error":"` + long + `"}`))
	if len(msg) > maxMessage+3 || !strings.HasSuffix(msg, "...") || !strings.HasPrefix(long, strings.TrimSuffix(msg, "...")) {
		t.Errorf("long message shortened to %d bytes: %q...", len(msg), msg[:20])
	}
}

// TestShortenBounds checks a message of exactly maxMessage bytes is kept
// whole and a longer one is cut before, not inside, the UTF-8 sequence
// that straddles the bound.
func TestShortenBounds(t *testing.T) {
	exact := strings.Repeat("a", maxMessage)
	if got := shorten(exact); got != exact {
		t.Errorf("a message of exactly %d bytes became %d bytes", maxMessage, len(got))
	}
	straddling := strings.Repeat("a", maxMessage-1) + "é" + "tail"
	if got, want := shorten(straddling), strings.Repeat("a", maxMessage-1)+"..."; got != want {
		t.Errorf("shortened to %q, want the %d bytes before the é and ...", got[max(0, len(got)-8):], maxMessage-1)
	}
	on := strings.Repeat("a", maxMessage) + "é"
	if got, want := shorten(on), strings.Repeat("a", maxMessage)+"..."; got != want {
		t.Errorf("shortened to %q, want %d bytes and ...", got[max(0, len(got)-8):], maxMessage)
	}
}

func TestStatusError(t *testing.T) {
	const key = "sk-secret-1234567890"
	tests := []struct {
		name    string
		status  int
		body    string
		message string
		text    string
	}{
		{"upstream message", 401, `{"error":{"message":"Incorrect API key provided: sk-secret-1234567890","code":"invalid_api_key"}}`,
			"Incorrect API key provided: [redacted]", "upstream POST /chat/completions: HTTP 401: Incorrect API key provided: [redacted]"},
		{"no usable body", 502, `<html>bad gateway</html>`,
			"upstream returned HTTP 502 Bad Gateway", "upstream POST /chat/completions: HTTP 502: upstream returned HTTP 502 Bad Gateway"},
		{"unknown status", 599, ``, "upstream returned HTTP 599", "upstream POST /chat/completions: HTTP 599: upstream returned HTTP 599"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := statusError(opChat, tt.status, []byte(tt.body), key)
			if e.StatusCode != tt.status || e.Message != tt.message {
				t.Errorf("got status %d message %q, want %d %q", e.StatusCode, e.Message, tt.status, tt.message)
			}
			if e.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", e.Error(), tt.text)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"transport", &Error{Message: "upstream unreachable", Err: &url.Error{Op: "Post", URL: "http://h/v1/chat/completions", Err: dial}, op: opChat},
			"upstream POST /chat/completions: upstream unreachable: dial tcp: connection refused"},
		{"canceled", &Error{Message: "request canceled", Err: context.Canceled, op: opModels},
			"upstream GET /models: request canceled: context canceled"},
		{"bare", &Error{StatusCode: 500}, "upstream: HTTP 500"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s: Error() = %q, want %q", tt.name, got, tt.want)
		}
	}
	e := &Error{Err: dial}
	var op *net.OpError
	if !errors.As(e, &op) {
		t.Error("errors.As cannot reach the transport error")
	}
}
