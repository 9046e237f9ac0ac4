package route

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// fake is a Client of function fields.
type fake struct {
	chat   func(ctx context.Context) (*http.Response, error)
	models func(ctx context.Context) (*llm.ModelList, error)
}

func (f *fake) ChatCompletionsBuffers(ctx context.Context, _ net.Buffers) (*http.Response, error) {
	return f.chat(ctx)
}

func (f *fake) Models(ctx context.Context) (*llm.ModelList, error) { return f.models(ctx) }

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		glob, s string
		want    bool
	}{
		{"*", "anything/at:all", true},
		{"gpt-*", "gpt-5", true},
		{"gpt-*", "o3", false},
		{"Qwen/*", "Qwen/Qwen3-32B", true},
		{"qwen*", "Qwen/Qwen3", false},
		{"llama?", "llama3", true},
		{"llama?", "llama3.1", false},
		{"*-instruct", "mistral-7b-instruct", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"exact", "exact", true},
		{"", "", true},
		{"", "x", false},
	} {
		if got := Match(c.glob, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.glob, c.s, got, c.want)
		}
	}
}

func names(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name + ":" + c.Model
	}
	return out
}

func TestCandidates(t *testing.T) {
	f := &fake{}
	r, err := New(Options{
		Upstreams: []Upstream{
			{Name: "local", Client: f, Models: []string{"llama*", "qwen*"}},
			{Name: "gpu", Client: f, Models: []string{"Qwen/*"}},
			{Name: "cloud", Client: f, Models: []string{"gpt-*", "o*"}},
			{Name: "cloud-2", Client: f, Models: []string{"gpt-*"}, Priority: 2},
		},
		Aliases: map[string][]Target{
			"fast":  {{Upstream: "local", Model: "qwen3:8b"}},
			"smart": {{Upstream: "cloud", Model: "gpt-5"}, {Upstream: "gpu", Model: "Qwen/Qwen3-32B"}},
			"gpt-4": {{Upstream: "gpu"}}, // an alias wins over globs
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model string
		want  []string
	}{
		{"llama3", []string{"local:llama3"}},
		{"Qwen/Qwen3-32B", []string{"gpu:Qwen/Qwen3-32B"}},
		{"gpt-5", []string{"cloud:gpt-5", "cloud-2:gpt-5"}},
		{"o3", []string{"cloud:o3"}},
		{"fast", []string{"local:qwen3:8b"}},
		{"smart", []string{"cloud:gpt-5", "gpu:Qwen/Qwen3-32B"}},
		{"gpt-4", []string{"gpu:gpt-4"}},
	} {
		got, err := r.Candidates(c.model)
		if err != nil || !slices.Equal(names(got), c.want) {
			t.Errorf("Candidates(%q) = %v, %v; want %v", c.model, names(got), err, c.want)
		}
	}
	_, err = r.Candidates("mistral")
	var nr *NoRouteError
	if !errors.As(err, &nr) || nr.Model != "mistral" || !errors.Is(err, ErrNoRoute) || !strings.Contains(err.Error(), `"mistral"`) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	f := &fake{}
	for name, o := range map[string]Options{
		"none":          {},
		"no name":       {Upstreams: []Upstream{{Client: f}}},
		"no client":     {Upstreams: []Upstream{{Name: "a"}}},
		"twice":         {Upstreams: []Upstream{{Name: "a", Client: f}, {Name: "a", Client: f}}},
		"alias unknown": {Upstreams: []Upstream{{Name: "a", Client: f}}, Aliases: map[string][]Target{"x": {{Upstream: "b"}}}},
		"alias empty":   {Upstreams: []Upstream{{Name: "a", Client: f}}, Aliases: map[string][]Target{"x": {}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestWeightedRoundRobin: over 400 picks with weights 3:1 within one
// priority, each gets its share within 2%, and the lower priority none as
// the first choice.
func TestWeightedRoundRobin(t *testing.T) {
	f := &fake{}
	r, err := New(Options{Upstreams: []Upstream{
		{Name: "a", Client: f, Weight: 3},
		{Name: "b", Client: f, Weight: 1},
		{Name: "c", Client: f, Priority: 2, Weight: 100},
	}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	first := map[string]int{}
	for range n {
		cs, err := r.Candidates("m")
		if err != nil || len(cs) != 3 || cs[2].Name != "c" {
			t.Fatalf("candidates %v, %v", names(cs), err)
		}
		first[cs[0].Name]++
	}
	if a, b := first["a"], first["b"]; a < n*3/4-n/50 || a > n*3/4+n/50 || a+b != n {
		t.Errorf("first picks %v, want a about %d and b about %d", first, n*3/4, n/4)
	}
}

// ok answers a chat request with a streamed text.
func ok(text string) *fake {
	return &fake{chat: func(context.Context) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(strings.NewReader("data: " + text + "\n\n"))}, nil
	}}
}

func body(Attempt) net.Buffers { return net.Buffers{[]byte(`{}`)} }

func TestSendFailsOverBeforeTheFirstByte(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/v1"
	ln.Close()

	for _, c := range []struct {
		name  string
		first func(t *testing.T) string // the failing upstream's base URL
		code  int
	}{
		{"refused", func(*testing.T) string { return refused }, 0},
		{"500", func(t *testing.T) string { return llmtest.NewServer(t, llmtest.Error(500, "boom")).URL }, 500},
		{"429", func(t *testing.T) string { return llmtest.NewServer(t, llmtest.RateLimited(60)).URL }, 429},
		{"first byte timeout", func(t *testing.T) string { return llmtest.NewServer(t, llmtest.Silent()).URL }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad, err := llm.NewClient(llm.Options{BaseURL: c.first(t), MaxRetries: -1, FirstByteTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			good := llmtest.NewServer(t, llmtest.TextStream("hi"))
			gc, _ := llm.NewClient(llm.Options{BaseURL: good.URL})
			r, err := New(Options{Upstreams: []Upstream{{Name: "bad", Client: bad}, {Name: "good", Client: gc, Priority: 2}}})
			if err != nil {
				t.Fatal(err)
			}
			var tried []string
			resp, a, err := r.Send(context.Background(), Request{Model: "m", Body: body,
				Tried: func(a Attempt, status int, _ time.Duration, err error) {
					tried = append(tried, a.Name+":"+http.StatusText(status))
					if (a.Name == "bad") != (err != nil) || (a.Name == "bad" && status != c.code) {
						t.Errorf("attempt on %s: status %d, err %v", a.Name, status, err)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if a.Name != "good" || !strings.Contains(string(b), "hi") || len(tried) != 2 {
				t.Errorf("answered by %s: %q; tried %v", a.Name, b, tried)
			}
			if c.code == 429 {
				// Cooling down: the next request goes to good first.
				good.Add(llmtest.TextStream("again"))
				_, a, err := r.Send(context.Background(), Request{Model: "m", Body: body})
				if err != nil || a.Name != "good" {
					t.Errorf("after a 429: %s, %v", a.Name, err)
				}
			}
		})
	}
}

func TestSendDoesNotFailOverAfterTheFirstByte(t *testing.T) {
	stalls := llmtest.NewServer(t, llmtest.Hang())
	sc, _ := llm.NewClient(llm.Options{BaseURL: stalls.URL, StallTimeout: 100 * time.Millisecond})
	other := llmtest.NewServer(t)
	oc, _ := llm.NewClient(llm.Options{BaseURL: other.URL})
	r, _ := New(Options{Upstreams: []Upstream{{Name: "stalls", Client: sc}, {Name: "other", Client: oc, Priority: 2}}})
	resp, a, err := r.Send(context.Background(), Request{Model: "m", Body: body})
	if err != nil || a.Name != "stalls" {
		t.Fatalf("%s, %v", a.Name, err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, llm.ErrStallTimeout) {
		t.Errorf("reading: %v", err)
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("the other upstream got %d requests", n)
	}
}

func TestSendClientErrorIsNotFailedOver(t *testing.T) {
	bad := llmtest.NewServer(t, llmtest.Error(400, "bad request"))
	bc, _ := llm.NewClient(llm.Options{BaseURL: bad.URL})
	other := llmtest.NewServer(t)
	oc, _ := llm.NewClient(llm.Options{BaseURL: other.URL})
	r, _ := New(Options{Upstreams: []Upstream{{Name: "a", Client: bc}, {Name: "b", Client: oc, Priority: 2}}})
	_, _, err := r.Send(context.Background(), Request{Model: "m", Body: body})
	var ue *llm.Error
	if !errors.As(err, &ue) || ue.StatusCode != 400 || len(other.Requests()) != 0 {
		t.Errorf("err %v, other got %d", err, len(other.Requests()))
	}
}

func TestSendPin(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	count := func(name string) *fake {
		f := ok("x")
		inner := f.chat
		f.chat = func(ctx context.Context) (*http.Response, error) {
			mu.Lock()
			got[name]++
			mu.Unlock()
			return inner(ctx)
		}
		return f
	}
	r, _ := New(Options{Upstreams: []Upstream{{Name: "a", Client: count("a")}, {Name: "b", Client: count("b")}}})
	for range 10 {
		_, a, err := r.Send(context.Background(), Request{Model: "m", Pin: "b", Body: body})
		if err != nil || a.Name != "b" {
			t.Fatalf("pinned to b, got %s, %v", a.Name, err)
		}
	}
	if got["a"] != 0 || got["b"] != 10 {
		t.Errorf("requests %v", got)
	}
}

// TestBreaker: after BreakerFailures failures in a row the upstream is
// skipped while the other answers; after the cool-down one request probes
// it, and its success closes the breaker.
func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	calls, healthy := 0, false
	flaky := &fake{chat: func(context.Context) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if healthy {
			return ok("x").chat(context.Background())
		}
		return nil, &llm.Error{StatusCode: 502, Message: "bad gateway"}
	}}
	r, _ := New(Options{
		Upstreams:       []Upstream{{Name: "flaky", Client: flaky}, {Name: "backup", Client: ok("y"), Priority: 2}},
		BreakerFailures: 3, BreakerCooldown: time.Minute,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	send := func() string {
		t.Helper()
		_, a, err := r.Send(context.Background(), Request{Model: "m", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		return a.Name
	}
	for range 3 {
		if got := send(); got != "backup" {
			t.Fatalf("answered by %s", got)
		}
	}
	for range 5 {
		send()
	}
	mu.Lock()
	if calls != 3 {
		t.Errorf("flaky got %d requests with its breaker open, want 3", calls)
	}
	now = now.Add(61 * time.Second)
	healthy = true
	mu.Unlock()
	if got := send(); got != "flaky" {
		t.Errorf("after the cool-down the probe went to %s", got)
	}
	if got := send(); got != "flaky" {
		t.Errorf("after a good probe: %s", got)
	}
	mu.Lock()
	if calls != 5 {
		t.Errorf("flaky got %d requests in all, want 5", calls)
	}
	mu.Unlock()
}

// TestBreakerLastResort: an upstream whose breaker is open is still tried
// when no other candidate answers.
func TestBreakerLastResort(t *testing.T) {
	n := 0
	dead := &fake{chat: func(context.Context) (*http.Response, error) {
		n++
		return nil, &llm.Error{StatusCode: 503, Message: "down"}
	}}
	r, _ := New(Options{Upstreams: []Upstream{{Name: "only", Client: dead}}, BreakerFailures: 1})
	for range 3 {
		if _, _, err := r.Send(context.Background(), Request{Model: "m", Body: body}); err == nil {
			t.Fatal("no error")
		}
	}
	if n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestSendStreamFallback(t *testing.T) {
	var noStream []bool
	up := llmtest.NewServer(t, llmtest.Error(500, "Cannot use tools with stream"), llmtest.Completion("whole"), llmtest.Completion("again"))
	c, _ := llm.NewClient(llm.Options{BaseURL: up.URL})
	for _, p := range []*Profile{LlamaCPP, Ollama} {
		r, _ := New(Options{Upstreams: []Upstream{{Name: "llama", Client: c, Profile: p}}})
		noStream = nil
		b := func(a Attempt) net.Buffers { noStream = append(noStream, a.NoStream); return body(a) }
		_, _, err := r.Send(context.Background(), Request{Model: "m", Body: b})
		if p == Ollama {
			if err == nil || !slices.Equal(noStream, []bool{false}) {
				t.Errorf("ollama: %v, attempts %v", err, noStream)
			}
			continue
		}
		if err != nil || !slices.Equal(noStream, []bool{false, true}) {
			t.Fatalf("llamacpp: %v, attempts %v", err, noStream)
		}
		// The next round asks for a whole answer at once.
		noStream = nil
		if _, _, err := r.Send(context.Background(), Request{Model: "m", Body: b}); err != nil || !slices.Equal(noStream, []bool{true}) {
			t.Errorf("next round: %v, attempts %v", err, noStream)
		}
		up.Add(llmtest.Error(500, "Cannot use tools with stream"))
	}
}

func TestModelsMergesAndCutsOffASlowUpstream(t *testing.T) {
	a := &fake{models: func(context.Context) (*llm.ModelList, error) {
		return &llm.ModelList{Object: "list", Data: []llm.Model{{ID: "llama3", Object: "model", Created: 5, OwnedBy: "x"}, {ID: "gpt-5", Object: "model"}}}, nil
	}}
	b := &fake{models: func(context.Context) (*llm.ModelList, error) {
		return &llm.ModelList{Object: "list", Data: []llm.Model{{ID: "gpt-5", Object: "model"}, {ID: "fast", Object: "model"}}}, nil
	}}
	release := make(chan struct{})
	defer close(release)
	hangs := &fake{models: func(ctx context.Context) (*llm.ModelList, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return nil, errors.New("released")
		}
	}}
	r, _ := New(Options{
		Upstreams: []Upstream{{Name: "local", Client: a, Models: []string{"llama*"}}, {Name: "cloud", Client: b},
			{Name: "hangs", Client: hangs}},
		Aliases:       map[string][]Target{"fast": {{Upstream: "local", Model: "llama3"}}},
		ModelsTimeout: 100 * time.Millisecond,
	})
	l, err := r.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range l.Data {
		got = append(got, m.ID+"@"+m.OwnedBy)
	}
	want := []string{"llama3@local", "gpt-5@cloud", "fast@mcp-bridge"}
	if !slices.Equal(got, want) {
		t.Errorf("models %v, want %v", got, want)
	}
}

type oneShotBody struct {
	data   []byte
	err    error
	closed bool
}

func (b *oneShotBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *oneShotBody) Close() error { b.closed = true; return nil }

// TestReadFirstByte: the byte read ahead comes back first, an empty body
// is no failure, an error closes the body, and the peek costs one small
// allocation, no buffer (the body is not copied through one more).
func TestReadFirstByte(t *testing.T) {
	resp := &http.Response{Body: &oneShotBody{data: []byte("data: {}\n\n")}}
	if err := readFirstByte(resp); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(resp.Body); string(got) != "data: {}\n\n" {
		t.Errorf("body read after the peek: %q", got)
	}
	empty := &http.Response{Body: &oneShotBody{}}
	if err := readFirstByte(empty); err != nil {
		t.Errorf("an empty body: %v", err)
	}
	broken := &oneShotBody{err: errors.New("reset")}
	if err := readFirstByte(&http.Response{Body: broken}); err == nil || !broken.closed {
		t.Errorf("a failing body: %v, closed %v", err, broken.closed)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = readFirstByte(&http.Response{Body: &oneShotBody{data: []byte("x")}})
	})
	if allocs > 3 { // the response and the test body are two of them
		t.Errorf("%v allocations per peek, want at most 3", allocs)
	}
}
