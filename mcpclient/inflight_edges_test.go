package mcpclient

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// namedCaller is a Caller that answers nothing; only its identity counts.
type namedCaller struct{ name string }

func (*namedCaller) CreateMessage(context.Context, string, *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	return nil, ErrNoCaller
}
func (*namedCaller) Elicit(context.Context, string, *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	return nil, ErrNoCaller
}
func (*namedCaller) Progress(context.Context, *mcp.ProgressNotificationParams) {}
func (*namedCaller) Log(context.Context, string, *mcp.LoggingMessageParams)    {}

// What a server sends without a token goes to the newest call still in
// progress, past calls that have returned; forgetting a call forgets that
// call and its progress token, and no other.
func TestInflightRouting(t *testing.T) {
	var f inflight
	a, b, c := &namedCaller{"a"}, &namedCaller{"b"}, &namedCaller{"c"}
	tokA, _ := f.begin("s", callerInfo{c: a, token: "client-a"})
	tokB, _ := f.begin("s", callerInfo{c: b, token: "client-b"})
	f.begin("s", callerInfo{c: c})
	callA, callB, callC := f.calls[0], f.calls[1], f.calls[2]
	if got, ok := f.current(false); !ok || got != c {
		t.Fatalf("current = %v, want the newest call's caller c", got)
	}

	// c has returned: b is the newest call in progress.
	callC.ended = true
	if got, ok := f.current(false); !ok || got != b {
		t.Errorf("current = %v, want b past the call that returned", got)
	}

	f.remove(callA)
	if len(f.calls) != 2 || f.calls[0] != callB || f.calls[1] != callC {
		t.Errorf("after removing a: %d calls left, want b and c", len(f.calls))
	}
	if _, ok := f.byToken(tokA); ok {
		t.Error("the removed call's progress token is still known")
	}
	if got, ok := f.byToken(tokB); !ok || got != callB {
		t.Errorf("b's token = %v, %v; want b's call", got, ok)
	}
	if got, ok := f.current(false); !ok || got != b {
		t.Errorf("current after removing a = %v, want b", got)
	}

	// With only c, which returned, left: late notifications still go to
	// it, requests do not.
	f.remove(callB)
	if got, ok := f.current(false); ok {
		t.Errorf("current with no call in progress = %v", got)
	}
	if got, ok := f.current(true); !ok || got != c {
		t.Errorf("current(late) = %v, want c", got)
	}
	f.remove(callC)
	if len(f.calls) != 0 || len(f.tokens) != 0 {
		t.Errorf("%d calls and %d tokens left after removing all", len(f.calls), len(f.tokens))
	}
	if got, ok := f.current(true); ok {
		t.Errorf("current with no calls = %v", got)
	}
}
