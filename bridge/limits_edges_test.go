package bridge

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// TestBodyDeadlineLiftedAfterBody: the body read timeout bounds the body
// only. An answer that takes longer than it, once the body is read, is
// not cut: a read deadline left on the connection would make the server's
// background read fail and cancel the request while its upstream thinks.
func TestBodyDeadlineLiftedAfterBody(t *testing.T) {
	const timeout = 100 * time.Millisecond
	slow := func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
		// Answer only once the body read timeout is long past (or when
		// the bridge gives up on this request).
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * timeout):
		}
		llmtest.TextStream("late but whole")(w, r, req)
	}
	h := newHarness(t, Options{BodyReadTimeout: timeout}, nil, slow)
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v (status %d, %q so far)", err, resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "late but whole") || !strings.HasSuffix(strings.TrimSpace(string(body)), "data: [DONE]") {
		t.Errorf("status %d, answer %q", resp.StatusCode, body)
	}
}
