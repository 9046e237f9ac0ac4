package bridge

// Tests of the calls that wait for a stateless client's answers: the
// bound on how many may wait, the expiry of a wait, and what a retry
// does to the wait it ends.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// askTwice is a call whose server asks the client for sampling twice and
// then answers "done".
func askTwice(ctx context.Context, c *faceCaller) (*mcp.CallToolResult, error) {
	for range 2 {
		if _, err := c.in.ask(ctx, "sampling", "srv", &mcp.CreateMessageParams{}); err != nil {
			return nil, err
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
}

// retryWith is a retry of a call in state answering the question id.
func retryWith(state, id string) *mcp.CallToolRequest {
	return &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{RequestState: state,
		InputResponses: mcp.InputResponseMap{id: &mcp.CreateMessageResult{Content: &mcp.TextContent{Text: "hi"}, Model: "m", Role: "assistant"}}}}
}

// onlyRequest returns the id of the one question of an input_required
// result.
func onlyRequest(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res == nil || res.RequestState == "" || len(res.InputRequests) != 1 {
		t.Fatalf("not one question with a requestState: %+v", res)
	}
	for id := range res.InputRequests {
		return id
	}
	return ""
}

// TestInputCallRetryDisarmsItsWait: a retry stops the timer of the wait it
// ends. Left running, that timer would give the call up inputWait after
// its first question even while the client is within time answering a
// later one. The questions of one call are numbered on from 1 across its
// retries, so their ids never repeat within the call.
func TestInputCallRetryDisarmsItsWait(t *testing.T) {
	var ic inputCalls
	defer ic.closeAll()
	ctx := context.Background()
	res, err := ic.start(ctx, "alice", nil, nil, askTwice)
	if err != nil {
		t.Fatal(err)
	}
	if id := onlyRequest(t, res); id != "sampling-1" {
		t.Errorf("first question %q, want sampling-1", id)
	}
	ic.mu.Lock()
	in := ic.calls[res.RequestState]
	ic.mu.Unlock()
	in.mu.Lock()
	first := in.timer
	in.mu.Unlock()

	res, err = ic.resume(ctx, "alice", retryWith(res.RequestState, "sampling-1"))
	if err != nil {
		t.Fatal(err)
	}
	if id := onlyRequest(t, res); id != "sampling-2" {
		t.Errorf("second question %q, want sampling-2", id)
	}
	if first.Stop() {
		t.Error("the retry left the first wait's timer running")
	}
	res, err = ic.resume(ctx, "alice", retryWith(res.RequestState, "sampling-2"))
	if err != nil || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "done" {
		t.Errorf("the call's end: %+v %v", res, err)
	}
}

// TestInputCallExpiry: once a wait is over, its requestState is
// forgotten (a retry gets the "unknown or expired" error, not the ended
// call's cancellation) and no longer counts toward maxWaitingCalls.
func TestInputCallExpiry(t *testing.T) {
	ic := inputCalls{wait: 1} // a nanosecond: the wait is over at once
	defer ic.closeAll()
	ended := make(chan error, 1)
	call := func(ctx context.Context, c *faceCaller) (*mcp.CallToolResult, error) {
		_, err := c.in.ask(ctx, "sampling", "srv", &mcp.CreateMessageParams{})
		ended <- err
		return nil, err
	}
	ctx := context.Background()
	res, err := ic.start(ctx, "alice", nil, nil, call)
	if err != nil {
		t.Fatal(err)
	}
	id := onlyRequest(t, res)
	// The question fails once the call is given up, which is after its
	// state was dropped.
	if err := <-ended; err == nil {
		t.Fatal("the question of an expired call was answered")
	}
	ic.mu.Lock()
	n := len(ic.calls)
	ic.mu.Unlock()
	if n != 0 {
		t.Errorf("%d calls still waiting after their wait was over", n)
	}
	if _, err := ic.resume(ctx, "alice", retryWith(res.RequestState, id)); !errors.Is(err, errInputExpired) {
		t.Errorf("retry after the wait: %v, want %v", err, errInputExpired)
	}
}

// TestInputCallsBound: maxWaitingCalls calls may wait, and no more.
func TestInputCallsBound(t *testing.T) {
	var ic inputCalls
	defer ic.closeAll()
	newCall := func() *inputCall {
		_, cancel := context.WithCancel(context.Background())
		return &inputCall{cancel: cancel, gone: make(chan struct{}), open: map[string]*inputAsk{}}
	}
	ic.calls = map[string]*inputCall{}
	for i := range maxWaitingCalls - 1 {
		ic.calls[fmt.Sprint("filler-", i)] = newCall()
	}
	if _, err := ic.park(newCall()); err != nil {
		t.Fatalf("call %d of %d: %v", maxWaitingCalls, maxWaitingCalls, err)
	}
	if _, err := ic.park(newCall()); err == nil {
		t.Errorf("call %d was parked past the bound of %d", maxWaitingCalls+1, maxWaitingCalls)
	}
	if n := len(ic.calls); n != maxWaitingCalls {
		t.Errorf("%d calls waiting, want %d", n, maxWaitingCalls)
	}
}
