package bridge

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

var jsonStringSeeds = []string{"", "plain", `q"uo\te`, "line\nbreak\r\ttab", "\x00\x01\x1f\x7f", "é ü 日本 🙂",
	"bad \xff utf8 \xc3", "sep \u2028 \u2029", "<html> & </html>"}

func checkJSONString(t *testing.T, s string) {
	b := appendJSONString(nil, s)
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
	}
	want := strings.ToValidUTF8(s, "\ufffd")
	if !utf8.ValidString(s) {
		// encoding/json replaces each invalid byte; compare with it.
		wb, _ := json.Marshal(s)
		_ = json.Unmarshal(wb, &want)
	}
	if back != want {
		t.Fatalf("%q round-trips to %q, want %q", s, back, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStringSeeds {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

// TestTextDeltaMatchesStruct checks the chunks written by appending
// decode to what the struct encoding gives.
func TestTextDeltaMatchesStruct(t *testing.T) {
	for _, field := range []string{"content", "reasoning_content", "reasoning", "thinking"} {
		for _, text := range jsonStringSeeds[1:] {
			w := httptest.NewRecorder()
			s := newSSEWriter(w, "chatcmpl-1", 1700000000, "m\"odel", false)
			s.roleSent = true
			var d outDelta
			if field == "content" {
				d = outDelta{Content: text}
			} else {
				d = reasoningDelta(field, text)
			}
			if err := s.textDelta(field, text, d); err != nil {
				t.Fatal(err)
			}
			fast := w.Body.String()
			w.Body.Reset()
			if err := s.delta(d); err != nil {
				t.Fatal(err)
			}
			slow := w.Body.String()
			var a, b map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(fast, "data: "), "\n\n")), &a); err != nil {
				t.Fatalf("fast chunk %q: %v", fast, err)
			}
			_ = json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(slow, "data: "), "\n\n")), &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s %q:\nfast %s\nslow %s", field, text, fast, slow)
			}
		}
	}
}

// TestFinishIsOneWrite: the last choice chunk, the usage chunk and [DONE]
// reach the client with one flush.
func TestFinishIsOneWrite(t *testing.T) {
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	s := newSSEWriter(w, "chatcmpl-1", 1, "m", true)
	if err := s.content("hi"); err != nil {
		t.Fatal(err)
	}
	before := len(w.flushedAt)
	if err := s.finish("stop", nil, llm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}); err != nil {
		t.Fatal(err)
	}
	if n := len(w.flushedAt) - before; n != 1 {
		t.Errorf("finish flushed %d times, want once", n)
	}
	body := w.Body.String()
	if !strings.Contains(body, `"finish_reason":"stop"`) || !strings.Contains(body, `"total_tokens":3`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream:\n%s", body)
	}
}
