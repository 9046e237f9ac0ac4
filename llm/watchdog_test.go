package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// silent answers like an upstream that took the request and went quiet:
// after sending what send writes (nothing, a header, some events), it
// blocks until the client gives up, then closes gaveUp.
func silent(send func(w http.ResponseWriter), gaveUp chan<- struct{}) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		send(w)
		<-r.Context().Done()
		close(gaveUp)
	}
}

// bounded returns a context that ends after 10 s, so that a timeout that
// never fires fails the test rather than hanging it.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sendHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
}

// waitClosed fails the test if ch is not closed within 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

// checkTimeout checks err is an *Error for sentinel naming where and d,
// and nothing secret.
func checkTimeout(t *testing.T, err error, sentinel error, where string, d time.Duration) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, sentinel) {
		t.Fatalf("error %v (%T), want an *Error matching %v", err, err, sentinel)
	}
	if e.StatusCode != 0 {
		t.Errorf("StatusCode = %d, want 0", e.StatusCode)
	}
	if !strings.Contains(e.Message, where) || !strings.Contains(e.Message, d.String()) {
		t.Errorf("message %q does not name %s and %s", e.Message, where, d)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows credentials: %v", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v matches a context error: it would pass for a caller's cancellation", err)
	}
}

// withCredentials returns u's base URL with user information and a query
// that must never show.
func withCredentials(u string) string {
	return strings.Replace(u, "http://", "http://user:secret@", 1) + "/v1?key=secret"
}

func TestFirstByteTimeoutWithoutHeader(t *testing.T) {
	gaveUp := make(chan struct{})
	up := newUpstream(t, silent(func(http.ResponseWriter) {}, gaveUp))
	c := newTestClient(t, Options{BaseURL: withCredentials(up.URL), FirstByteTimeout: 50 * time.Millisecond})
	_, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	checkTimeout(t, err, ErrFirstByteTimeout, up.URL+"/v1", 50*time.Millisecond)
	waitClosed(t, gaveUp, "the upstream request's cancellation")
	if n := up.count.Load(); n != 1 {
		t.Errorf("upstream got %d requests, want 1: a timed-out request is not retried", n)
	}
}

func TestFirstByteTimeoutAfterHeader(t *testing.T) {
	gaveUp := make(chan struct{})
	up := newUpstream(t, silent(sendHeader, gaveUp))
	c := newTestClient(t, Options{BaseURL: withCredentials(up.URL), FirstByteTimeout: 50 * time.Millisecond})
	resp, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	if err != nil {
		t.Fatalf("a header came: ChatCompletions = %v, want the response", err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	checkTimeout(t, err, ErrFirstByteTimeout, up.URL+"/v1", 50*time.Millisecond)
	waitClosed(t, gaveUp, "the upstream request's cancellation")
}

func TestStallTimeout(t *testing.T) {
	gaveUp := make(chan struct{})
	up := newUpstream(t, silent(func(w http.ResponseWriter) {
		sendHeader(w)
		io.WriteString(w, "data: one\n\ndata: two\n\n")
		http.NewResponseController(w).Flush()
	}, gaveUp))
	c := newTestClient(t, Options{BaseURL: up.URL, FirstByteTimeout: time.Hour, StallTimeout: 50 * time.Millisecond})
	resp, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	er := NewEventReader(resp.Body)
	defer er.Release()
	var got []string
	for {
		ev, err := er.Next()
		if err != nil {
			checkTimeout(t, err, ErrStallTimeout, up.URL, 50*time.Millisecond)
			break
		}
		got = append(got, string(ev.Data))
	}
	if fmt.Sprint(got) != "[one two]" {
		t.Errorf("events before the stall: %q, want one and two", got)
	}
	waitClosed(t, gaveUp, "the upstream request's cancellation")
}

// TestSteadyStreamOutlivesTimeouts checks that a stream that keeps sending
// may last longer than both timeouts: the first byte ends the first-byte
// wait, and each byte restarts the stall wait.
func TestSteadyStreamOutlivesTimeouts(t *testing.T) {
	const events = 30
	up := newUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		sendHeader(w)
		for i := range events {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	})
	c := newTestClient(t, Options{BaseURL: up.URL, FirstByteTimeout: 100 * time.Millisecond, StallTimeout: 300 * time.Millisecond})
	resp, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	er := NewEventReader(resp.Body)
	defer er.Release()
	n := 0
	for {
		_, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		n++
	}
	if n != events {
		t.Errorf("%d events, want %d", n, events)
	}
}

// TestSlowReaderIsNoStall checks that only time spent waiting in Read
// counts as a stall: a reader that is busy elsewhere for longer than the
// stall timeout, while the upstream's bytes wait, is not failed.
func TestSlowReaderIsNoStall(t *testing.T) {
	up := newUpstream(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		sendHeader(w)
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		time.Sleep(10 * time.Millisecond)
		io.WriteString(w, "data: two\n\n")
	})
	c := newTestClient(t, Options{BaseURL: up.URL, StallTimeout: 50 * time.Millisecond})
	resp, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	er := NewEventReader(resp.Body)
	defer er.Release()
	var got []string
	for {
		ev, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(ev.Data))
		time.Sleep(200 * time.Millisecond) // busy with the event, not reading
	}
	if fmt.Sprint(got) != "[one two]" {
		t.Errorf("events %q, want one and two", got)
	}
}

func TestModelsFirstByteTimeout(t *testing.T) {
	gaveUp := make(chan struct{})
	up := newUpstream(t, silent(func(http.ResponseWriter) {}, gaveUp))
	c := newTestClient(t, Options{BaseURL: up.URL, FirstByteTimeout: 50 * time.Millisecond})
	_, err := c.Models(bounded(t))
	checkTimeout(t, err, ErrFirstByteTimeout, up.URL, 50*time.Millisecond)
	waitClosed(t, gaveUp, "the upstream request's cancellation")
}

func TestTimeoutDefaults(t *testing.T) {
	cases := []struct {
		in, want time.Duration
	}{
		{0, 2 * time.Minute},
		{time.Second, time.Second},
		{-1, -1},
	}
	for _, c := range cases {
		cl := newTestClient(t, Options{BaseURL: "http://127.0.0.1:1/v1", FirstByteTimeout: c.in, StallTimeout: c.in})
		if cl.firstByte != c.want || cl.stall != c.want {
			t.Errorf("timeouts %v: got first byte %v, stall %v, want %v", c.in, cl.firstByte, cl.stall, c.want)
		}
		w := cl.newWatchdog(context.Background(), opChat)
		if armed := w.timer != nil; armed != (c.want > 0) {
			t.Errorf("timeouts %v: first-byte timer armed = %v", c.in, armed)
		}
		w.stop()
	}
}

func TestBaseURLHidesCredentials(t *testing.T) {
	c := newTestClient(t, Options{BaseURL: "https://user:secret@api.example.com/v1/?key=secret#frag"})
	if got, want := c.BaseURL(), "https://api.example.com/v1"; got != want {
		t.Errorf("BaseURL() = %q, want %q", got, want)
	}
}
