package bridge

import (
	"github.com/mcp-bridge/mcp-bridge/bridge/auth"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
)

// The tool loop.
//
// A chat request is answered in rounds. Each round sends the conversation
// so far upstream and reads the answer, forwarding content and reasoning to
// the client as it arrives and accumulating tool calls. Then:
//
//   - no tool calls: the round's finish reason ends the answer;
//   - only bridge calls (tools of the registry, or names nobody knows): they
//     run concurrently, the assistant message and one tool message per call
//     are appended to the conversation, and the next round starts;
//   - only client calls: they are returned to the client with finish reason
//     "tool_calls", as an upstream would;
//   - both: the bridge's run, the client's are returned, and the bridge's
//     half of the turn is remembered under the client's call ids so that the
//     client's follow-up request gets it spliced back in (see pending.go).
//
// The loop ends after maxRounds upstream rounds or at the deadline, with an
// explanation in the answer rather than a hang; a deadline that cuts off
// the upstream mid-answer is an error, since what it sent is no answer.
// Only a broken or silent upstream, a client that left, the bridge shutting
// down or a request that was wrong from the start ends it with an error;
// every tool failure is a tool message the model can read.

// run is one chat request in progress. It is used by one goroutine.
type run struct {
	s   *Server
	req *chatRequest
	ts  *toolset
	out emitter

	tools json.RawMessage   // merged tools sent upstream; nil for none
	cands []route.Candidate // the upstreams routing chose; nil for the built-in model
	pin   route.Candidate   // the upstream that answered the last round
	// profTools are the merged tools as each profile that changes them
	// takes them, made when first needed.
	profTools map[*route.Profile]json.RawMessage
	p         *auth.Principal   // the caller: what it may use and spend
	messages  []json.RawMessage // the conversation, grown by each round
	owner     string            // the caller, for mixed turns (callerID)
	stripped  []json.RawMessage // the client's conversation without the bridge's details blocks
	conv      *[32]byte         // its hash (convHash), made when first needed
	grown     bool              // messages differ from what the client sent
	reqID     string            // the request's id, for observers
	rounds    int               // upstream rounds started
	base      int               // messages[:base] came from the client (approval.go)

	resume         *pausedRound // a round to resume, approved or denied (approval.go)
	resumeApproved bool

	// searching is true in search mode (toolsearch.go): the model gets
	// search_tools, the always tools and found, the tools its searches
	// found so far, in that order; searchArrays are the tool arrays made.
	searching    bool
	found        []string
	foundSet     map[string]bool
	searchArrays map[searchKey]json.RawMessage

	usage   llm.Usage
	records []toolRecord
	// textSent is true once answer text has been emitted, so that the text
	// of a later round is separated from it.
	textSent bool
	// endsInNewline tells whether the last emitted text ended a line.
	endsInNewline bool
}

// roundResult is what one upstream round produced.
type roundResult struct {
	text      string
	reasoning string // reasoning_content, kept for the assistant message
	calls     []llm.ToolCall
	finish    string
	usage     *llm.Usage
}

// errDeadline marks the end of the loop's time budget.
var errDeadline = errors.New("tool loop deadline reached")

// loop runs rounds until the answer is complete. The returned error is nil
// once finish was sent.
func (r *run) loop(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, r.s.opts.Deadline, errDeadline)
	defer cancel()
	if done, err := r.resumeApproval(ctx); done || err != nil {
		return err
	}

	for round := 1; ; round++ {
		res, err := r.round(ctx, round)
		if res != nil && res.usage != nil {
			r.usage.Add(res.usage)
		}
		if err != nil {
			if errors.Is(context.Cause(ctx), errDeadline) {
				// The upstream was cut off mid-answer: what it sent is
				// not an answer, so the client hears of a failure (504,
				// or an error event once the stream has begun), not of
				// a stop.
				return &apiError{Status: http.StatusGatewayTimeout, Type: "timeout_error", Code: "deadline_exceeded",
					Message: fmt.Sprintf("Stopped: the answer was not complete after %s (tools.deadline); the upstream was still answering.", r.s.opts.Deadline)}
			}
			return err
		}
		if len(res.calls) == 0 {
			reason := res.finish
			if reason == "" || reason == "tool_calls" {
				reason = "stop"
			}
			return r.out.finish(reason, nil, r.usage)
		}

		var mine, theirs []llm.ToolCall
		for _, c := range res.calls {
			if r.req.clientToolNames[c.Name] {
				theirs = append(theirs, c)
			} else {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			return r.out.finish("tool_calls", theirs, r.usage)
		}
		if round >= r.s.opts.MaxRounds && len(theirs) == 0 {
			names := make([]string, len(mine))
			for i, c := range mine {
				names[i] = c.Name
			}
			return r.stop(fmt.Sprintf("Stopped: the model was still calling tools (%s) after %d rounds, the limit set by tools.max_rounds.",
				strings.Join(names, ", "), r.s.opts.MaxRounds))
		}

		if paused, err := r.pauseForApproval(res, mine, theirs); paused || err != nil {
			return err
		}
		outcomes, err := r.execute(ctx, mine)
		if err != nil {
			if errors.Is(context.Cause(ctx), errDeadline) {
				return r.stop(fmt.Sprintf("Stopped: the tools did not finish within %s (tools.deadline).", r.s.opts.Deadline))
			}
			return err
		}
		assistant := assistantMessage(res, res.calls)
		toolMsgs := make([]json.RawMessage, len(outcomes))
		for i, o := range outcomes {
			toolMsgs[i] = toolMessage(o)
			r.addFound(o.found)
		}
		if len(theirs) > 0 {
			return r.handBack(theirs, assistant, toolMsgs, len(mine))
		}
		r.messages = append(r.messages, assistant)
		r.messages = append(r.messages, toolMsgs...)
		r.grown = true
	}
}

// convHash is the hash of the client's conversation (conversationHash):
// only a kept mixed turn or a paused round needs it, so it is made then,
// not for every request.
func (r *run) convHash() [32]byte {
	if r.conv == nil {
		h := conversationHash(r.stripped)
		r.conv = &h
	}
	return *r.conv
}

// handBack ends the answer of a mixed round with the client's calls
// (theirs), keeping the bridge's half (the round's assistant message and
// the tool messages of its bridgeCalls calls) for the client's follow-up.
func (r *run) handBack(theirs []llm.ToolCall, assistant json.RawMessage, toolMsgs []json.RawMessage, bridgeCalls int) error {
	if !r.s.pending.put(r.owner, r.convHash(), theirs, assistant, toolMsgs) {
		r.s.log.Warn("the bridge's half of a mixed tool turn is too large to keep; the follow-up will lack its tool results",
			"calls", bridgeCalls)
	}
	return r.out.finish("tool_calls", theirs, r.usage)
}

// stop ends the answer early with an explanation the user can read.
func (r *run) stop(explanation string) error {
	if err := r.text(explanation); err != nil {
		return err
	}
	return r.out.finish("stop", nil, r.usage)
}

// text emits answer text, separating it from the text of an earlier round.
func (r *run) text(s string) error {
	if s == "" {
		return nil
	}
	r.textSent = true
	r.endsInNewline = strings.HasSuffix(s, "\n")
	return r.out.content(s)
}

// roundSeparator returns what to emit before the first text of a round.
func (r *run) roundSeparator() string {
	switch {
	case !r.textSent:
		return ""
	case r.endsInNewline:
		return "\n"
	default:
		return "\n\n"
	}
}

// upstreamBody encodes the request for the given round and attempt, as
// parts that share the tool list and the client's messages rather than
// copying them: the attempt's model when routing renamed it (an alias),
// the tools as its upstream's profile takes them, and a request for a
// whole answer when the upstream cannot stream this one.
func (r *run) upstreamBody(round int, a route.Attempt) net.Buffers {
	b := r.req.body.clone()
	if tools := r.toolsFor(a.Profile); tools != nil {
		b.set("tools", tools)
	}
	if a.Model != "" && a.Model != r.req.model {
		m, _ := json.Marshal(a.Model)
		b.set("model", m)
	}
	switch {
	case r.req.stream && a.NoStream:
		b.set("stream", json.RawMessage("false"))
		b.del("stream_options")
	case r.req.stream:
		b.set("stream_options", withIncludeUsage(r.req.body.get("stream_options")))
	}
	if round > 1 {
		// A forced tool choice would make the model call tools forever.
		if tc := b.get("tool_choice"); tc != nil && !isNull(tc) {
			var s string
			if json.Unmarshal(tc, &s) != nil || (s != "none" && s != "auto") {
				b.set("tool_choice", json.RawMessage(`"auto"`))
			}
		}
	}
	if r.grown {
		b.set("messages", encodeArray(r.messages))
	}
	return b.parts(shareAbove)
}

// withIncludeUsage returns the client's stream_options with include_usage
// set, keeping any other member.
func withIncludeUsage(so json.RawMessage) json.RawMessage {
	if so == nil || isNull(so) {
		return json.RawMessage(`{"include_usage":true}`)
	}
	o, err := parseObject(so)
	if err != nil {
		return json.RawMessage(`{"include_usage":true}`)
	}
	o.set("include_usage", json.RawMessage("true"))
	return o.marshal()
}

func encodeArray(items []json.RawMessage) json.RawMessage {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it...)
	}
	return append(buf, ']')
}

// assistantMessage is the assistant turn of a round that called tools.
func assistantMessage(res *roundResult, calls []llm.ToolCall) json.RawMessage {
	m := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: res.text, ReasoningContent: res.reasoning}
	m.ToolCalls = make([]openai.ToolCall, len(calls))
	for i, c := range calls {
		m.ToolCalls[i] = openai.ToolCall{ID: c.ID, Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Name: c.Name, Arguments: c.Arguments}}
	}
	b, _ := json.Marshal(m)
	return b
}

// toolMessage is the tool turn answering one call.
func toolMessage(o toolOutcome) json.RawMessage {
	text := o.text
	if text == "" {
		text = "(no output)"
	}
	b, _ := json.Marshal(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, Content: text,
		ToolCallID: o.call.ID, Name: o.call.Name})
	return b
}
