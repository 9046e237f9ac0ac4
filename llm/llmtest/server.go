// Package llmtest provides a scripted OpenAI-compatible upstream for tests:
// an httptest server that answers successive chat-completion requests from
// a list of replies and records what it was sent.
package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Server is an httptest OpenAI-compatible upstream. It answers successive
// POST /v1/chat/completions requests with the replies of its script, in
// order, records every request, and serves GET /v1/models. When the script
// has run out it answers 500 with an OpenAI error body whose message is
// "no scripted reply", so that a test sees the surplus request. Its methods
// are safe for concurrent use.
type Server struct {
	// URL is the base URL of the API, ending in /v1.
	URL string

	ts     *httptest.Server
	closed chan struct{}

	mu       sync.Mutex
	replies  []Reply
	requests []Request
	changed  chan struct{} // closed and replaced when a request arrives
	models   []string
}

// Request is a recorded chat-completion request.
type Request struct {
	// Body is the request body as received.
	Body []byte
	// Header is a copy of the request's header.
	Header http.Header
	// Fields is Body decoded as a JSON object, nil when it is not one.
	Fields map[string]json.RawMessage
	// Canceled is closed when the client went away before the reply was
	// complete.
	Canceled <-chan struct{}

	serverClosed <-chan struct{}
}

// NewServer starts a server that answers with replies, in order. The
// server is closed by t.Cleanup; replies still blocked in Hang are released
// then. Its model list is "test-model" until SetModels changes it.
func NewServer(t testing.TB, replies ...Reply) *Server {
	t.Helper()
	s := &Server{
		closed:  make(chan struct{}),
		replies: slices.Clone(replies),
		changed: make(chan struct{}),
		models:  []string{"test-model"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.listModels)
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL + "/v1"
	t.Cleanup(func() {
		close(s.closed)
		s.ts.Close()
	})
	return s
}

// Add appends replies to the script.
func (s *Server) Add(replies ...Reply) {
	s.mu.Lock()
	s.replies = append(s.replies, replies...)
	s.mu.Unlock()
}

// SetModels sets the ids GET /v1/models lists. The entries carry only id
// and object, as some upstreams send them.
func (s *Server) SetModels(ids ...string) {
	s.mu.Lock()
	s.models = slices.Clone(ids)
	s.mu.Unlock()
}

// Requests returns the chat-completion requests received so far, in
// order. The slice is a copy.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// WaitRequests waits until at least n chat-completion requests have
// arrived or timeout has passed, and returns the requests received by
// then (fewer than n after a timeout).
func (s *Server) WaitRequests(n int, timeout time.Duration) []Request {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.requests) >= n {
			reqs := slices.Clone(s.requests)
			s.mu.Unlock()
			return reqs
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return s.Requests()
		}
	}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		fields = nil
	}
	canceled := make(chan struct{})
	req := Request{
		Body:         body,
		Header:       r.Header.Clone(),
		Fields:       fields,
		Canceled:     canceled,
		serverClosed: s.closed,
	}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	close(s.changed)
	s.changed = make(chan struct{})
	var reply Reply
	if len(s.replies) > 0 {
		reply = s.replies[0]
		s.replies = s.replies[1:]
	}
	s.mu.Unlock()

	// The request's context ends when the client goes away, and also
	// after every reply; only the first counts as a cancellation.
	var once sync.Once
	markCanceled := func() { once.Do(func() { close(canceled) }) }
	finished := make(chan struct{})
	go func() {
		select {
		case <-r.Context().Done():
			select {
			case <-finished:
			default:
				markCanceled()
			}
		case <-finished:
		}
	}()
	defer func() {
		if r.Context().Err() != nil {
			markCanceled()
		}
		close(finished)
	}()

	if reply == nil {
		Error(http.StatusInternalServerError, "no scripted reply")(w, r, req)
		return
	}
	reply(w, r, req)
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := slices.Clone(s.models)
	s.mu.Unlock()
	type model struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, id := range ids {
		list.Data = append(list.Data, model{ID: id, Object: "model"})
	}
	JSON(http.StatusOK, list)(w, r, Request{})
}

// Messages returns the request's "messages", decoded; nil when absent or
// not an array of objects.
func (r Request) Messages() []map[string]any {
	var msgs []map[string]any
	if json.Unmarshal(r.Fields["messages"], &msgs) != nil {
		return nil
	}
	return msgs
}

// ToolMessages returns the request's messages whose role is "tool".
func (r Request) ToolMessages() []map[string]any {
	var out []map[string]any
	for _, m := range r.Messages() {
		if m["role"] == "tool" {
			out = append(out, m)
		}
	}
	return out
}
