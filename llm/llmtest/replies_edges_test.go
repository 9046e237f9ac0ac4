package llmtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestErrorType: a 4xx answer is the client's fault (type
// "invalid_request_error"), anything else the server's ("server_error"),
// as OpenAI words them.
func TestErrorType(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error",
		499: "invalid_request_error",
		500: "server_error",
		503: "server_error",
	} {
		rec := httptest.NewRecorder()
		Error(status, "x")(rec, httptest.NewRequest("POST", "/v1/chat/completions", nil), Request{})
		var body struct {
			Error struct{ Type string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != status || body.Error.Type != want {
			t.Errorf("Error(%d): status %d, body %s, %v; want type %q", status, rec.Code, rec.Body.Bytes(), err, want)
		}
	}
}

// flushRecorder records what was written between flushes.
type flushRecorder struct {
	*httptest.ResponseRecorder
	pending []byte
	flushed []string
}

func (f *flushRecorder) Write(p []byte) (int, error) {
	f.pending = append(f.pending, p...)
	return f.ResponseRecorder.Write(p)
}

func (f *flushRecorder) Flush() {
	if len(f.pending) > 0 {
		f.flushed = append(f.flushed, string(f.pending))
		f.pending = nil
	}
	f.ResponseRecorder.Flush()
}

// TestSSEFlushesWholeEvents: a replayed stream is flushed after each blank
// line, so that the client gets every event whole and at once, never a
// part of one waiting for the rest.
func TestSSEFlushesWholeEvents(t *testing.T) {
	body := "data: {\"id\":\"a\"}\r\n\r\nevent: x\ndata: {\"id\":\"b\"}\n\ndata: [DONE]\n\n"
	f := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	SSE([]byte(body))(f, httptest.NewRequest("POST", "/v1/chat/completions", nil), Request{})
	want := []string{"data: {\"id\":\"a\"}\r\n\r\n", "event: x\ndata: {\"id\":\"b\"}\n\n", "data: [DONE]\n\n"}
	if !reflect.DeepEqual(f.flushed, want) || len(f.pending) != 0 || f.Code != http.StatusOK {
		t.Errorf("flushed %q, left %q, status %d; want %q", f.flushed, f.pending, f.Code, want)
	}
}
