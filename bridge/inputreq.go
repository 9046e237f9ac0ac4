package bridge

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A client of the stateless revision cannot be sent requests: when the
// server of its call asks for sampling or elicitation, the face answers the
// client with an input_required result carrying the question, keeps the
// call (and the server's question) waiting, and on the client's retry with
// inputResponses answers the server and goes on waiting for the call's
// result, or for the next question. go-sdk does the reverse by itself for
// a downstream server of that revision (its client fulfils input_required
// results with the handlers mcpclient gives it); a go-sdk server API for
// handing a request's questions to a later request would remove this file.

// inputWait is how long a stateless client has to send its answers after
// an input_required result before the call is given up.
const inputWait = 5 * time.Minute

// maxWaitingCalls bounds the calls that wait for a client's answers.
const maxWaitingCalls = 1024

// errInputExpired answers a retry whose requestState is unknown: never
// given, answered already, expired, or another caller's.
var errInputExpired = &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
	Message: "requestState is unknown or has expired; call the tool again"}

// statePrefix marks the requestStates the face makes; any other is a
// stateless server's own, passed through.
const statePrefix = "mcp-bridge:"

// ours reports whether state is one the face made.
func ours(state string) bool { return strings.HasPrefix(state, statePrefix) }

// inputCalls are the calls of stateless clients that wait for answers, by
// requestState. It is safe for concurrent use.
type inputCalls struct {
	// wait replaces inputWait when set.
	wait time.Duration

	mu    sync.Mutex
	calls map[string]*inputCall
}

// inputCall is one call of a stateless client, running downstream while
// its client's requests come and go.
type inputCall struct {
	owner  string // the caller's limit key: only it may resume the call
	caller *faceCaller
	asks   chan *inputAsk
	done   chan callOutcome // buffered: the call's end
	cancel context.CancelFunc
	gone   chan struct{} // closed when the call is given up
	once   sync.Once

	mu      sync.Mutex
	open    map[string]*inputAsk // sent to the client, awaiting answers
	next    int
	timer   *time.Timer             // while parked: gives the call up
	missing *mcp.ClientCapabilities // what the server wanted that the client did not declare
}

// lacks records that the server asked for what the client did not
// declare: the call's answer is then the revision's
// MissingRequiredClientCapabilities error, whatever the server made of
// the refusal.
func (in *inputCall) lacks(c *mcp.ClientCapabilities) {
	in.mu.Lock()
	in.missing = c
	in.mu.Unlock()
}

// missingError is the error of a call whose server needed a capability
// the client did not declare, or nil.
func (in *inputCall) missingError() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.missing == nil {
		return nil
	}
	data, _ := json.Marshal(mcp.MissingRequiredClientCapabilityData{RequiredCapabilities: in.missing})
	return &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities,
		Message: "the tool's server needs a client capability this request did not declare", Data: data}
}

// inputAsk is one question of the downstream server.
type inputAsk struct {
	id     string
	params mcp.InputRequest
	answer chan mcp.InputResponse // buffered; nil value: not answered
}

type callOutcome struct {
	res *mcp.CallToolResult
	err error
}

// start runs call for a stateless client's request. call gets the
// context the call runs under (it outlives the request) and the caller
// to attach to it; caps are the capabilities the client declared.
func (ic *inputCalls) start(ctx context.Context, owner string, ss *mcp.ServerSession, caps any,
	call func(context.Context, *faceCaller) (*mcp.CallToolResult, error)) (*mcp.CallToolResult, error) {
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in := &inputCall{owner: owner, asks: make(chan *inputAsk), done: make(chan callOutcome, 1), cancel: cancel,
		gone: make(chan struct{}), open: map[string]*inputAsk{}}
	in.caller = &faceCaller{in: in, stateless: true, caps: caps}
	in.caller.setLeg(ss, ctx)
	go func() {
		res, err := call(callCtx, in.caller)
		in.done <- callOutcome{res, err}
	}()
	return ic.await(ctx, in)
}

// resume takes a stateless client's retry: its answers go to the server's
// waiting questions, and the call is awaited again.
func (ic *inputCalls) resume(ctx context.Context, owner string, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	state := req.Params.RequestState
	ic.mu.Lock()
	in, ok := ic.calls[state]
	if ok && in.owner == owner {
		delete(ic.calls, state)
	}
	ic.mu.Unlock()
	if !ok || in.owner != owner {
		return nil, errInputExpired
	}
	in.mu.Lock()
	if in.timer != nil {
		in.timer.Stop()
	}
	open := in.open
	in.open = map[string]*inputAsk{}
	in.mu.Unlock()
	for id, a := range open {
		a.answer <- req.Params.InputResponses[id] // nil when the client left it out
	}
	in.caller.setLeg(req.Session, ctx)
	return ic.await(ctx, in)
}

// await waits, for the request of ctx, for the call's result or its
// server's next questions.
func (ic *inputCalls) await(ctx context.Context, in *inputCall) (*mcp.CallToolResult, error) {
	select {
	case o := <-in.done:
		in.end()
		if err := in.missingError(); err != nil {
			return nil, err
		}
		return o.res, o.err
	case a := <-in.asks:
		asks := map[string]*inputAsk{a.id: a}
		for more := true; more; { // questions asked together go together
			select {
			case a := <-in.asks:
				asks[a.id] = a
			default:
				more = false
			}
		}
		res := &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{}}
		in.mu.Lock()
		for id, a := range asks {
			in.open[id] = a
			res.InputRequests[id] = a.params
		}
		in.mu.Unlock()
		state, err := ic.park(in)
		if err != nil {
			in.end()
			return nil, err
		}
		res.RequestState = state
		return res, nil
	case <-ctx.Done():
		// The client gave up on its request: the call ends downstream.
		in.end()
		return nil, ctx.Err()
	}
}

// park keeps in until its client retries, for inputWait at most.
func (ic *inputCalls) park(in *inputCall) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	state := statePrefix + hex.EncodeToString(b[:])
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if len(ic.calls) >= maxWaitingCalls {
		return "", &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
			Message: fmt.Sprintf("too many calls are waiting for their clients' answers (%d)", maxWaitingCalls)}
	}
	if ic.calls == nil {
		ic.calls = map[string]*inputCall{}
	}
	ic.calls[state] = in
	in.mu.Lock()
	in.timer = time.AfterFunc(cmp.Or(ic.wait, inputWait), func() {
		ic.mu.Lock()
		if ic.calls[state] == in {
			delete(ic.calls, state)
		}
		ic.mu.Unlock()
		in.end()
	})
	in.mu.Unlock()
	return state, nil
}

// closeAll gives up every waiting call.
func (ic *inputCalls) closeAll() {
	ic.mu.Lock()
	calls := ic.calls
	ic.calls = nil
	ic.mu.Unlock()
	for _, in := range calls {
		in.end()
	}
}

// end gives the call up: it is cancelled downstream and its server's
// waiting questions fail.
func (in *inputCall) end() {
	in.once.Do(func() {
		in.cancel()
		close(in.gone)
		in.mu.Lock()
		if in.timer != nil {
			in.timer.Stop()
		}
		in.mu.Unlock()
	})
}

// ask puts the server's question p to the client and returns its answer.
func (in *inputCall) ask(ctx context.Context, what, server string, p mcp.InputRequest) (mcp.InputResponse, error) {
	in.mu.Lock()
	in.next++
	a := &inputAsk{id: what + "-" + strconv.Itoa(in.next), params: p, answer: make(chan mcp.InputResponse, 1)}
	in.mu.Unlock()
	errGone := fmt.Errorf("%s for %s: the client's call ended before it answered", what, server)
	select {
	case in.asks <- a:
	case <-in.gone:
		return nil, errGone
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-a.answer:
		if r == nil {
			return nil, fmt.Errorf("%s for %s: the client did not answer", what, server)
		}
		return r, nil
	case <-in.gone:
		return nil, errGone
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sampled converts a client's answer to a sampling question into the
// form a server of the session revisions reads.
func sampled(r mcp.InputResponse) (*mcp.CreateMessageResult, error) {
	switch r := r.(type) {
	case *mcp.CreateMessageResult:
		return r, nil
	case *mcp.CreateMessageWithToolsResult:
		if len(r.Content) == 0 {
			return nil, errors.New("sampling: the client answered without content")
		}
		return &mcp.CreateMessageResult{Meta: r.Meta, Content: r.Content[0], Model: r.Model, Role: r.Role, StopReason: r.StopReason}, nil
	default:
		return nil, fmt.Errorf("sampling: the client answered with %T", r)
	}
}
