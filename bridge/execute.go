package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// toolOutcome is the result of one bridge tool call, as the model will read it.
type toolOutcome struct {
	call    llm.ToolCall
	server  string
	text    string
	isError bool
	dur     time.Duration
	// outcome is one of observe's Outcome constants; resultBytes the
	// size of what the tool answered.
	outcome     string
	resultBytes int
	// found are the tools a search_tools call found (toolsearch.go).
	found []string
}

// execute runs calls concurrently (at most MaxParallel at a time) and
// returns one outcome per call, in the calls' order. It shows progress as
// the display mode says (keepalives go on meanwhile, see sseWriter). It
// returns an error only when the client can no longer be written to or the
// request ended.
func (r *run) execute(ctx context.Context, calls []llm.ToolCall) ([]toolOutcome, error) {
	outcomes := make([]toolOutcome, len(calls))
	finished := make(chan int, len(calls))
	// What the servers ask during these calls is answered for the chat.
	ctx = mcpclient.WithCaller(callContext(ctx, r.p), &chatCaller{s: r.s, model: r.req.model}, nil)
	slots := make(chan struct{}, r.s.opts.MaxParallel)
	for i := range calls {
		go func() {
			select {
			case slots <- struct{}{}:
				outcomes[i] = r.callTool(ctx, calls[i])
				<-slots
			case <-ctx.Done():
				outcomes[i] = toolOutcome{call: calls[i], isError: true, text: "Error: the request ended before the tool ran.",
					outcome: observe.OutcomeCancelled, server: r.s.serverOf(calls[i].Name)}
				r.toolFinished(ctx, r.toolStart(calls[i]), outcomes[i])
			}
			finished <- i
		}()
	}

	display := r.s.opts.Display
	var statusErr error
	if display == DisplayStatus {
		statusErr = r.out.status(runningDescription(calls), false)
	}
	// Every call ends before the request does, whatever happened.
	for range calls {
		<-finished
	}
	if statusErr != nil {
		return nil, statusErr
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	for _, o := range outcomes {
		r.records = append(r.records, toolRecord{ID: o.call.ID, Name: o.call.Name, Server: o.server,
			Arguments: argumentsForRecord(o.call.Arguments), IsError: o.isError, DurationMS: o.dur.Milliseconds()})
	}
	switch display {
	case DisplayStatus:
		if err := r.out.status(doneDescription(outcomes), true); err != nil {
			return nil, err
		}
	case DisplayDetails:
		var b strings.Builder
		for _, o := range outcomes {
			b.WriteString(detailsBlock(o))
		}
		if err := r.text(r.roundSeparator() + b.String()); err != nil {
			return nil, err
		}
	}
	return outcomes, nil
}

// toolStart describes a chat tool call for the observer.
func (r *run) toolStart(c llm.ToolCall) *observe.ToolCallStart {
	return &observe.ToolCallStart{RequestID: r.reqID, Identity: identity(r.p), Face: observe.FaceChat,
		Tool: c.Name, CallID: c.ID, Arguments: json.RawMessage(c.Arguments)}
}

// callTool runs one call and turns whatever happens into text for the
// model. The observer hears of every call, run or refused.
func (r *run) callTool(ctx context.Context, c llm.ToolCall) (o toolOutcome) {
	st := r.toolStart(c)
	defer func() { r.toolFinished(ctx, st, o) }()
	o = toolOutcome{call: c, outcome: observe.OutcomeDenied}
	if r.searching && c.Name == searchToolName {
		start := time.Now()
		o.text, o.found, o.isError = r.searchCall(c)
		o.dur, o.outcome, o.resultBytes = time.Since(start), observe.OutcomeOK, len(o.text)
		if o.isError {
			o.outcome = observe.OutcomeToolError
		}
		return o
	}
	tool, ok := r.ts.lookup(c.Name)
	if !ok {
		o.isError = true
		o.text = fmt.Sprintf("Error: there is no tool named %q. Use one of the tools you were given, with its exact name.", c.Name)
		if t, exists := r.s.tools.get(nil).lookup(c.Name); exists {
			o.server = t.Server
			o.text = fmt.Sprintf("Error: the tool %q is not permitted for this caller. Use one of the tools you were given.", c.Name)
		} else {
			o.outcome = observe.OutcomeFailed
		}
		return o
	}
	if _, err := r.s.opts.Limits.ToolCall(ctx, r.p); err != nil {
		o.server, o.isError = tool.Server, true
		o.text = "Error: " + err.Error()
		return o
	}
	o.server = tool.Server
	st.Server = tool.Server
	ctx = r.s.obs.ToolCallStarted(ctx, st)
	start := time.Now()
	res, err := r.s.opts.Tools.Call(ctx, c.Name, json.RawMessage(c.Arguments))
	o.dur = time.Since(start)
	o.outcome = observe.OutcomeOf(ctx, err, err == nil && res.IsError)
	if err == nil {
		o.resultBytes = len(res.Text)
	}
	switch {
	case err != nil:
		o.isError = true
		msg := err.Error()
		switch {
		case errors.Is(err, mcpclient.ErrUnknownTool):
			msg = fmt.Sprintf("there is no tool named %q any more; its server may have gone away", c.Name)
		case errors.Is(err, mcpclient.ErrInvalidArguments):
			msg = fmt.Sprintf("%v; the arguments for %s were %s. Call the tool again with a JSON object as arguments.", err, c.Name, snippet([]byte(c.Arguments)))
		}
		o.text = "Error: " + mcpclient.Redact(msg, r.s.opts.Secrets)
		if ctx.Err() == nil {
			r.s.log.Warn("tool call failed", "tool", c.Name, "server", tool.Server, "err", mcpclient.Redact(err.Error(), r.s.opts.Secrets))
		}
	case res.IsError:
		o.isError = true
		o.text = res.Text
		if !strings.HasPrefix(strings.ToLower(o.text), "error") {
			o.text = "Error: " + o.text
		}
	default:
		o.text = res.Text
	}
	return o
}

// argumentsForRecord keeps valid JSON arguments as they are and wraps
// anything else as a JSON string.
func argumentsForRecord(args string) json.RawMessage {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 {
		return json.RawMessage("{}")
	}
	if json.Valid(a) {
		return a
	}
	b, _ := json.Marshal(args)
	return b
}

// callContext is ctx for the tool calls made for p: remote servers
// configured to forward the caller's identity receive p's name.
func callContext(ctx context.Context, p *auth.Principal) context.Context {
	if p == nil || p.Source == auth.SourceAnonymous {
		return ctx
	}
	return mcpclient.WithIdentity(ctx, p.Name)
}
