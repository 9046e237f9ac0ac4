package mcpclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Caller is whoever made a tool call: a chat completion, an MCP client of
// the bridge, a command. While a server works on the call, the requests and
// notifications it sends the bridge go to the call's Caller: sampling,
// elicitation, progress and logging. Implementations must be safe for
// concurrent use.
type Caller interface {
	// CreateMessage answers a server's sampling/createMessage.
	CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error)
	// Elicit answers a server's elicitation/create.
	Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error)
	// Progress passes on a progress notification; its token is the one
	// the caller gave with WithCaller.
	Progress(ctx context.Context, p *mcp.ProgressNotificationParams)
	// Log passes on a log message the server sent during the call.
	Log(ctx context.Context, server string, p *mcp.LoggingMessageParams)
}

// OrderedCaller is a Caller that wants the notifications a server sends
// during a call (progress, logs) handled before the call returns. go-sdk
// hands incoming notifications to handler goroutines but delivers a call's
// result at once, so a log sent just before the result could otherwise be
// passed on after it. Honouring this costs a wait for the notifications
// already read to be handled (see noteCounter), or one ping round trip on
// a custom transport.
type OrderedCaller interface {
	Caller
	OrderedNotifications() bool
}

// ErrNoCaller is returned to a server that asks for sampling or elicitation
// while no call of a caller able to answer is in progress.
var ErrNoCaller = errors.New("no client is attached that can answer this request")

type callerKey struct{}

// callerInfo is the caller of one call and the progress token it wants
// progress under (nil for none).
type callerInfo struct {
	c     Caller
	token any
}

// WithCaller returns a context whose tool calls are made on behalf of c.
// progressToken, when not nil, is the token c wants progress notifications
// under (the one its own client sent); the server gets a token of the
// bridge's and its progress is passed on under progressToken.
func WithCaller(ctx context.Context, c Caller, progressToken any) context.Context {
	return context.WithValue(ctx, callerKey{}, callerInfo{c: c, token: progressToken})
}

func callerOf(ctx context.Context) (callerInfo, bool) {
	ci, ok := ctx.Value(callerKey{}).(callerInfo)
	return ci, ok && ci.c != nil
}

// inflight tracks the calls a server is working on, to route what the
// server sends during them. It is safe for concurrent use.
type inflight struct {
	mu     sync.Mutex
	calls  []*inflightCall // in start order
	tokens map[string]*inflightCall
	next   atomic.Uint64
}

type inflightCall struct {
	caller callerInfo
	token  string // the progress token sent to the server; "" for none
	ended  bool   // the call returned; kept a moment for late notifications
}

// lateNotifications is how long a call that returned still receives the
// notifications its server sent during it.
const lateNotifications = 2 * time.Second

// begin records a call of ci; the returned token (possibly "") goes to the
// server, and end must be called when the call returns.
func (f *inflight) begin(server string, ci callerInfo) (token string, end func()) {
	c := &inflightCall{caller: ci}
	if ci.token != nil {
		c.token = fmt.Sprintf("mcp-bridge/%s/%d", server, f.next.Add(1))
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	if c.token != "" {
		if f.tokens == nil {
			f.tokens = map[string]*inflightCall{}
		}
		f.tokens[c.token] = c
	}
	f.mu.Unlock()
	return c.token, func() {
		f.mu.Lock()
		c.ended = true
		f.mu.Unlock()
		time.AfterFunc(lateNotifications, func() { f.remove(c) })
	}
}

// remove forgets c.
func (f *inflight) remove(c *inflightCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.calls {
		if o == c {
			f.calls = append(f.calls[:i], f.calls[i+1:]...)
			break
		}
	}
	if c.token != "" {
		delete(f.tokens, c.token)
	}
}

// current returns the caller that a server request without a token belongs
// to. MCP does not say which call a sampling or elicitation request serves,
// so it goes to the caller of the newest call in progress; when there is
// none, ok is false. With late set, a call that returned a moment ago
// counts too (for notifications sent just before its result).
func (f *inflight) current(late bool) (Caller, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if c := f.calls[i]; !c.ended && c.caller.c != nil {
			return c.caller.c, true
		}
	}
	if late {
		for i := len(f.calls) - 1; i >= 0; i-- {
			if c := f.calls[i]; c.caller.c != nil {
				return c.caller.c, true
			}
		}
	}
	return nil, false
}

// byToken returns the call a progress token was issued for.
func (f *inflight) byToken(token any) (*inflightCall, bool) {
	s, ok := token.(string)
	if !ok {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.tokens[s]
	return c, ok
}

// clientHandlers are the go-sdk client options that route a server's
// requests and notifications to callers. The progress and log handlers
// tell notes when they are done (see noteCounter).
func (s *server) clientHandlers(opts *mcp.ClientOptions, notes *noteCounter) {
	opts.CreateMessageHandler = func(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
		return s.sample(ctx, req.Params)
	}
	// Setting the handler advertises the capability; passElicitation
	// answers before go-sdk's own checks run.
	opts.ElicitationHandler = s.elicit
	opts.ProgressNotificationHandler = func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
		defer notes.handledOne()
		c, ok := s.calls.byToken(req.Params.ProgressToken)
		if !ok || c.caller.token == nil {
			return
		}
		p := *req.Params
		p.ProgressToken = c.caller.token
		c.caller.c.Progress(ctx, &p)
	}
	opts.LoggingMessageHandler = func(ctx context.Context, req *mcp.LoggingMessageRequest) {
		defer notes.handledOne()
		if c, ok := s.calls.current(true); ok {
			c.Log(ctx, s.cfg.Name, req.Params)
			return
		}
		s.log.Debug("mcp server log", "level", req.Params.Level, "logger", req.Params.Logger, "data", req.Params.Data)
	}
}

// caller returns who answers a request of the server: the caller of the
// call of ctx when it has one (a question of a stateless server arrives in
// its call's result, and is answered under the call's context), else the
// caller of the newest call in progress (a session's server sends its
// questions as requests of their own), else the default caller.
func (s *server) caller(ctx context.Context) (Caller, bool) {
	if ci, ok := callerOf(ctx); ok {
		return ci.c, true
	}
	if c, ok := s.calls.current(false); ok {
		return c, true
	}
	if s.opts.DefaultCaller != nil {
		return s.opts.DefaultCaller, true
	}
	return nil, false
}

// elicit answers an elicitation request through the caller, or declines it
// when there is none.
func (s *server) elicit(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	c, ok := s.caller(ctx)
	if !ok {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}
	return c.Elicit(ctx, s.cfg.Name, req.Params)
}

// passElicitation answers elicitation requests without go-sdk's client-side
// schema checks: the bridge passes a server's form on to a client that
// checks it itself, and a form newer than go-sdk's checks know (enum
// variants, for example) must still get through.
func (s *server) passElicitation(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if er, ok := req.(*mcp.ElicitRequest); ok && method == "elicitation/create" {
			return s.elicit(ctx, er)
		}
		return next(ctx, method, req)
	}
}
