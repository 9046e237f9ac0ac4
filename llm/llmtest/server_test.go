package llmtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

func newClient(t *testing.T, s *Server) *llm.Client {
	t.Helper()
	c, err := llm.NewClient(llm.Options{BaseURL: s.URL, APIKey: "k", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// post sends body and returns the whole answer.
func post(t *testing.T, c *llm.Client, body string) (string, error) {
	t.Helper()
	resp, err := c.ChatCompletions(context.Background(), []byte(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

func TestServerRecordsAndRunsOut(t *testing.T) {
	s := NewServer(t, JSON(200, `{"n":1}`))
	s.Add(JSON(200, `{"n":2}`))
	c := newClient(t, s)

	bodies := []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"a","content":"r"}]}`,
		`not json`,
		`{"model":"m"}`,
	}
	for i, b := range bodies[:2] {
		got, err := post(t, c, b)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"n":` + string(rune('1'+i)) + `}`; got != want {
			t.Errorf("answer %d: %s, want %s", i, got, want)
		}
	}
	_, err := post(t, c, bodies[2])
	var e *llm.Error
	if !errors.As(err, &e) || e.StatusCode != 500 || e.Message != "no scripted reply" {
		t.Fatalf("after the script: %v", err)
	}

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	for i, r := range reqs {
		if string(r.Body) != bodies[i] {
			t.Errorf("request %d body %q", i, r.Body)
		}
		if r.Header.Get("Authorization") != "Bearer k" {
			t.Errorf("request %d header %v", i, r.Header)
		}
	}
	if string(reqs[0].Fields["model"]) != `"m"` || reqs[1].Fields != nil {
		t.Errorf("fields %v, %v", reqs[0].Fields, reqs[1].Fields)
	}
	if msgs := reqs[0].Messages(); len(msgs) != 2 || msgs[0]["content"] != "hi" {
		t.Errorf("messages %v", msgs)
	}
	if tools := reqs[0].ToolMessages(); len(tools) != 1 || tools[0]["tool_call_id"] != "a" {
		t.Errorf("tool messages %v", tools)
	}
	if reqs[1].Messages() != nil || reqs[2].ToolMessages() != nil {
		t.Error("messages of requests without any")
	}
}

func TestServerWaitRequests(t *testing.T) {
	s := NewServer(t, Completion("a"), Completion("b"))
	c := newClient(t, s)
	if got := s.WaitRequests(1, 10*time.Millisecond); len(got) != 0 {
		t.Fatalf("WaitRequests before any request: %d", len(got))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			if _, err := post(t, c, `{}`); err != nil {
				t.Error(err)
			}
		}
	}()
	if got := s.WaitRequests(2, 10*time.Second); len(got) != 2 {
		t.Fatalf("WaitRequests(2): %d requests", len(got))
	}
	<-done
}

func TestServerModels(t *testing.T) {
	s := NewServer(t)
	c := newClient(t, s)
	l, err := c.Models(context.Background())
	if err != nil || len(l.Data) != 1 || l.Data[0].ID != "test-model" {
		t.Fatalf("default models: %+v, %v", l, err)
	}
	s.SetModels("x", "y")
	c = newClient(t, s) // a new client: the first one caches
	l, err = c.Models(context.Background())
	if err != nil || len(l.Data) != 2 || l.Data[0].ID != "x" || l.Data[1].ID != "y" {
		t.Fatalf("set models: %+v, %v", l, err)
	}
	if len(s.Requests()) != 0 {
		t.Error("model requests recorded as chat requests")
	}
}

func TestServerHang(t *testing.T) {
	s := NewServer(t, Completion("done"), Hang())
	c := newClient(t, s)
	if _, err := post(t, c, `{}`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	resp, err := c.ChatCompletions(ctx, []byte(`{"model":"m"}`))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := llm.NewEventReader(resp.Body).Next()
	if err != nil || !strings.Contains(string(ev.Data), `"role":"assistant"`) {
		t.Fatalf("first event %q, %v", ev.Data, err)
	}
	reqs := s.WaitRequests(2, 10*time.Second)
	select {
	case <-reqs[1].Canceled:
		t.Fatal("canceled before the client went away")
	default:
	}
	cancel()
	resp.Body.Close()
	select {
	case <-reqs[1].Canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation not recorded")
	}
	select {
	case <-reqs[0].Canceled:
		t.Error("a completed request is recorded as canceled")
	default:
	}
}

func TestServerRecordsCancelOfABlockedReply(t *testing.T) {
	// A reply that waits for the cancellation itself sees it recorded
	// while it is still running.
	seen := make(chan struct{})
	s := NewServer(t, func(w http.ResponseWriter, r *http.Request, req Request) {
		startStream(w)
		writeEvent(w, []byte(`{}`))
		<-r.Context().Done()
		select {
		case <-req.Canceled:
			close(seen)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := newClient(t, s).ChatCompletions(ctx, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := llm.NewEventReader(resp.Body).Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the reply never saw the cancellation")
	}
}

func TestServerCloseReleasesHang(t *testing.T) {
	done := make(chan error, 1)
	t.Run("server", func(t *testing.T) {
		s := NewServer(t, Hang())
		c := newClient(t, s)
		resp, err := c.ChatCompletions(context.Background(), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			_, err := io.ReadAll(resp.Body)
			done <- err
		}()
		// The subtest ends with the client still reading: its cleanup
		// must not wait for the client.
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the server closed")
	}
}

func TestServerRejectsOtherRoutes(t *testing.T) {
	s := NewServer(t)
	resp, err := http.Get(s.URL + "/chat/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("GET /chat/completions answered %d", resp.StatusCode)
	}
}
