package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// sharedTurns is a TurnStore two Servers share, as replicas share Redis.
type sharedTurns struct {
	mu   sync.Mutex
	m    map[string][]byte
	ttls []time.Duration
	fail error
}

func (s *sharedTurns) Put(_ context.Context, keys []string, turn []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, k := range keys {
		s.m[k] = turn
	}
	s.ttls = append(s.ttls, ttl)
	return nil
}

func (s *sharedTurns) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	return s.m[key], nil
}

func (s *sharedTurns) Take(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	b := s.m[key]
	delete(s.m, key)
	return b, nil
}

// TestMixedTurnAcrossReplicas checks the follow-up of a mixed turn
// answered by one Server gets the bridge's half spliced in by another
// sharing the TurnStore, with the configured time to live, and that a
// store that fails leaves the follow-up as the client sent it.
func TestMixedTurnAcrossReplicas(t *testing.T) {
	store := &sharedTurns{m: map[string][]byte{}}
	var log callLog
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	opts := Options{Turns: store, PendingTTL: 7 * time.Minute}
	a := newHarness(t, opts, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "b1", Name: "calc__add", Arguments: `{"a":2}`}, llmtest.Call{ID: "u1", Name: "ask_user", Arguments: `{}`}))
	b := newHarness(t, opts, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.TextStream("final"), llmtest.TextStream("without"))
	if got := a.stream(`{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`); got.finish != "tool_calls" {
		t.Fatalf("finish %q", got.finish)
	}
	if a.b.pending.mem != nil {
		t.Errorf("a replica with a store keeps turns in process")
	}
	if len(store.ttls) != 1 || store.ttls[0] != 7*time.Minute {
		t.Errorf("stored with ttls %v", store.ttls)
	}
	follow := `{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"u1","type":"function","function":{"name":"ask_user","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"u1","content":"yes"}]}`
	if got := b.stream(follow); got.content != "final" {
		t.Fatalf("content %q", got.content)
	}
	msgs := b.up.Requests()[0].Messages()
	if len(msgs) != 4 || msgs[2]["tool_call_id"] != "b1" || !strings.Contains(fmt.Sprint(msgs[2]["content"]), "add got") {
		t.Errorf("the other replica did not splice the bridge's half: %v", msgs)
	}
	store.mu.Lock()
	store.fail = errors.New("redis down")
	store.mu.Unlock()
	if got := b.stream(follow); got.content != "without" {
		t.Fatalf("content %q", got.content)
	}
	if msgs := b.up.Requests()[1].Messages(); len(msgs) != 3 {
		t.Errorf("with the store down, the follow-up should go as sent: %v", msgs)
	}
}

// sharedFeed is a FeedBus delivering to every subscriber, as Redis
// pub/sub does.
type sharedFeed struct {
	mu   sync.Mutex
	subs []func([]byte)
	sent int // chat and tool call events published
}

func (f *sharedFeed) Publish(_ context.Context, b []byte) error {
	f.mu.Lock()
	subs := slices.Clone(f.subs)
	if bytes.Contains(b, []byte(`"tool_call_`)) || bytes.Contains(b, []byte(`"chat_`)) {
		f.sent++ // the servers' own events (up, tools changed) come when they will
	}
	f.mu.Unlock()
	for _, d := range subs {
		d(b)
	}
	return nil
}

func (f *sharedFeed) Subscribe(ctx context.Context, deliver func([]byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, deliver)
}

// TestFeedAcrossReplicas checks a subscriber of one Server's /v1/events
// sees a tool call made through another sharing the FeedBus, once.
func TestFeedAcrossReplicas(t *testing.T) {
	feed := &sharedFeed{}
	var log callLog
	a := newHarness(t, Options{Feed: feed}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.TextStream("ok"))
	b := newHarness(t, Options{Feed: feed}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := a.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); got.content != "ok" {
		t.Fatalf("content %q", got.content)
	}
	sc := bufio.NewScanner(resp.Body)
	var seen []string
	for sc.Scan() && len(seen) < 4 {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev map[string]any
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, fmt.Sprint(ev["type"], " ", ev["tool"]))
		}
	}
	if len(seen) != 4 || seen[0] != "chat_started <nil>" || seen[1] != "tool_call_started calc__add" || seen[2] != "tool_call_finished calc__add" ||
		seen[3] != "chat_finished <nil>" {
		t.Errorf("B's subscriber saw %v", seen)
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if feed.sent != 4 {
		t.Errorf("%d events published for one chat with one tool call, want 4 (each once)", feed.sent)
	}
}

// fakeState is a SharedState.
type fakeState struct {
	err    error
	onDown string
}

func (f *fakeState) Healthy(context.Context) error { return f.err }
func (f *fakeState) OnDown() string                { return f.onDown }
func (f *fakeState) Shown() string                 { return "redis://xxxxx@127.0.0.1:6379/0" }

// TestReadyzReportsSharedState checks /readyz shows the shared state to
// a caller with a key, and is 503 while it is down only when limits
// fail closed.
func TestReadyzReportsSharedState(t *testing.T) {
	const key = "readyz-key-0123456789"
	for _, c := range []struct {
		state    *fakeState
		code     int
		up       bool
		withhold bool
	}{
		{&fakeState{onDown: "fail_open"}, 200, true, false},
		{&fakeState{onDown: "fail_open", err: errors.New("dial tcp 127.0.0.1:6379: connection refused")}, 200, false, false},
		{&fakeState{onDown: "fail_closed", err: errors.New("dial tcp 127.0.0.1:6379: connection refused")}, 503, false, true},
	} {
		h := newHarness(t, Options{State: c.state, APIKeys: []string{key}}, nil)
		status, _, body := rawRequest(t, h.srv.URL, "GET", "/readyz", "", http.Header{"Authorization": {"Bearer " + key}}, "")
		var v struct {
			Status string
			State  stateStatus
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if status != c.code || v.State.Up != c.up || v.State.OnDown != c.state.onDown || v.State.Redis == "" ||
			(c.up != (v.State.Error == "")) {
			t.Errorf("%+v: readyz %d %s", c.state, status, body)
		}
		status, _, body = rawRequest(t, h.srv.URL, "GET", "/readyz", "", nil, "")
		if status != c.code || strings.Contains(body, "redis") {
			t.Errorf("%+v: readyz without a key %d %s", c.state, status, body)
		}
	}
}

// downFeed is a FeedBus whose Redis is away: nothing can be published.
type downFeed struct{}

func (downFeed) Publish(context.Context, []byte) error         { return errors.New("redis down") }
func (downFeed) Subscribe(context.Context, func(event []byte)) {}

// TestFeedWithoutItsBus checks a replica whose bus cannot publish still
// shows its own activity to its own subscribers.
func TestFeedWithoutItsBus(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Feed: downFeed{}}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.TextStream("ok"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); got.content != "ok" {
		t.Fatalf("content %q", got.content)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"tool_call_finished"`) {
			return
		}
	}
	t.Errorf("the replica's own subscriber saw nothing: %v", sc.Err())
}

// TestChatApprovalAcrossReplicas: a round paused for approval by one
// Server is resumed by another sharing the TurnStore: another key's reply
// and a wrong code take nothing there either, the caller's approval runs
// the call once, and the round is gone for every replica after.
func TestChatApprovalAcrossReplicas(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newTestGuard(t, guard.Options{Approval: []string{"fs__write_*"}})
	turns := &sharedTurns{m: map[string][]byte{}}
	var logA, logB callLog
	ra := guardedHarness(t, g, Options{Auth: a, Approver: g, Turns: turns},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&logA, "write_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "fs__write_file", Arguments: `{"path":"/tmp/x"}`}))
	rb := guardedHarness(t, g, Options{Auth: a, Approver: g, Turns: turns},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&logB, "write_file"))})

	user := map[string]any{"role": "user", "content": "write /tmp/x"}
	question := chatAs(t, ra, aliceKey, []map[string]any{user})
	code := approvalCodeRE.FindStringSubmatch(question)
	if code == nil {
		t.Fatalf("no approval code in %q", question)
	}
	reply := func(text string) []map[string]any {
		return []map[string]any{user, {"role": "assistant", "content": question}, {"role": "user", "content": text}}
	}
	rb.up.Add(llmtest.Completion("not yours"), llmtest.Completion("which code?"), llmtest.Completion("Written."))
	if got := chatAs(t, rb, bobKey, reply("approve")); got != "not yours" {
		t.Errorf("bob's approve on B = %q", got)
	}
	if got := chatAs(t, rb, aliceKey, reply("approve ZZZZZZ")); got != "which code?" {
		t.Errorf("a wrong code on B = %q", got)
	}
	if n := len(logA.all()) + len(logB.all()); n != 0 {
		t.Fatalf("%d calls before the approval", n)
	}
	if got := chatAs(t, rb, aliceKey, reply("approve "+code[1])); got != "Written." {
		t.Errorf("alice's approve on B = %q", got)
	}
	if calls := logB.all(); len(calls) != 1 || calls[0].Args["path"] != "/tmp/x" || len(logA.all()) != 0 {
		t.Errorf("calls: B %+v, A %+v", calls, logA.all())
	}
	ra.up.Add(llmtest.Completion("Already done."))
	if got := chatAs(t, ra, aliceKey, reply("approve "+code[1])); got != "Already done." || len(logA.all())+len(logB.all()) != 1 {
		t.Errorf("the round was taken twice: %q", got)
	}
}
