// Package observe is what the bridge tells about itself: one Observer
// interface that receives what happens (chat requests and their rounds,
// tool calls on every face, refusals, HTTP and upstream requests, servers
// up and down, configuration reloads), and its implementations: the audit
// log (Audit) and Prometheus metrics (Metrics). The bridge's activity feed
// implements it too, and traces fit the same methods: those that start
// something return the context its end is reported with.
package observe

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Observer receives what the bridge does. Methods are called concurrently
// from many requests and must be safe for concurrent use; they run on the
// request's goroutine, so a slow observer slows the request (which is how
// the audit log applies back-pressure rather than drop lines). An
// implementation embeds Nop and overrides what it needs, so that methods
// added later reach it as no-ops.
//
// The ...Started methods return the context that the rest of the work
// and the matching ...Finished call run under (a tracer puts its span
// there); an observer with nothing to add returns ctx.
type Observer interface {
	// ChatStarted is called when a chat request has passed its checks
	// and its first round is about to start.
	ChatStarted(ctx context.Context, s *ChatStart) context.Context
	// ChatFinished is called once per ChatStarted, however the request ended.
	ChatFinished(ctx context.Context, r *ChatRecord)
	// RoundStarted is called before each upstream request of a chat.
	RoundStarted(ctx context.Context, s *RoundStart) context.Context
	// RoundFinished is called once per RoundStarted.
	RoundFinished(ctx context.Context, r *RoundRecord)
	// ToolCallStarted is called before a tool runs, on any face.
	ToolCallStarted(ctx context.Context, s *ToolCallStart) context.Context
	// ToolCallFinished is called once for every tool call a client or a
	// model asked for, including those refused or never started (then
	// without a ToolCallStarted).
	ToolCallFinished(ctx context.Context, r *ToolCallRecord)
	// UpstreamRequest reports an upstream answer's first byte (or its
	// failure to come).
	UpstreamRequest(ctx context.Context, r *UpstreamRecord)
	// Denied reports a refusal: authentication, policy, rate limit, origin.
	Denied(ctx context.Context, d *Denial)
	// HTTPRequest reports a finished HTTP request.
	HTTPRequest(ctx context.Context, r *HTTPRecord)
	// ActiveStreams reports a streamed answer starting (+1) or ending (-1).
	ActiveStreams(ctx context.Context, delta int)
	// ServerState reports a registry event: a server up or down, its
	// tools changed.
	ServerState(ctx context.Context, ev mcpclient.Event)
	// ConfigReload reports a configuration reload: applied (ok) or
	// refused with the reason.
	ConfigReload(ctx context.Context, ok bool, reason string)
	// Guard reports what the guardrails found or decided (see GuardEvent).
	Guard(ctx context.Context, e *GuardEvent)
}

// Tool call outcomes.
const (
	OutcomeOK        = "ok"         // the tool answered
	OutcomeToolError = "tool_error" // the tool answered with isError
	OutcomeDenied    = "denied"     // refused by policy or a limit, or no such tool for the caller
	OutcomeTimeout   = "timeout"    // the call's timeout passed
	OutcomeFailed    = "failed"     // the call could not be made (server down, bad arguments)
	OutcomeCancelled = "cancelled"  // the caller went away or the request ended
)

// Chat outcomes (ChatRecord.Outcome).
const (
	ChatOK        = "ok"
	ChatError     = "error"
	ChatCancelled = "cancelled"
)

// Faces a tool call comes from.
const (
	FaceChat    = "chat"
	FaceMCP     = "mcp"
	FaceOpenAPI = "openapi"
	FaceCLI     = "cli"
)

// ChatStart describes a chat request.
type ChatStart struct {
	RequestID string
	// Identity is the caller's name (auth.Principal.Name), never a key.
	Identity string
	Model    string
	// Upstream names the upstream without credentials: its base URL, or
	// "builtin".
	Upstream string
	Stream   bool
	// UserID and ChatID are the client's X-OpenWebUI-User-Id and
	// X-OpenWebUI-Chat-Id headers; "" when not sent.
	UserID, ChatID string
}

// ChatRecord is a finished chat request.
type ChatRecord struct {
	ChatStart
	Rounds           int
	ToolCalls        int
	PromptTokens     int
	CompletionTokens int
	Duration         time.Duration
	// Status is the HTTP status answered (200 once a stream has begun).
	Status int
	// Outcome is ChatOK, ChatError or ChatCancelled.
	Outcome string
	// Error is what the client was told, "" when it went well.
	Error string
}

// RoundStart is one upstream round of a chat.
type RoundStart struct {
	RequestID string
	Round     int // from 1
	Model     string
	Upstream  string
}

// RoundRecord is a finished round.
type RoundRecord struct {
	RoundStart
	ToolCalls        int
	PromptTokens     int
	CompletionTokens int
	Duration         time.Duration
	Err              error
}

// UpstreamRecord is an upstream request up to its first byte.
type UpstreamRecord struct {
	Upstream string
	// Code is the HTTP status; 0 when no answer came.
	Code      int
	FirstByte time.Duration
}

// ToolCallStart is a tool call about to run.
type ToolCallStart struct {
	RequestID string
	Identity  string
	// Face is FaceChat, FaceMCP, FaceOpenAPI or FaceCLI.
	Face string
	// Server is the tool's server; "" when no such tool is known.
	Server string
	// Tool is the exposed name asked for.
	Tool string
	// CallID is the model's call id (chat); "" elsewhere.
	CallID string
	// Arguments are as sent: JSON, or anything the model wrote.
	Arguments json.RawMessage
}

// ToolCallRecord is a finished tool call.
type ToolCallRecord struct {
	ToolCallStart
	Duration time.Duration
	// Outcome is one of the Outcome constants.
	Outcome string
	// ResultBytes is the size of the result's text (or body).
	ResultBytes int
	// Error says why the call failed or was refused; it is redacted of
	// configured secrets by who reports it. "" when it went well.
	Error string
}

// Denial is a refused request.
type Denial struct {
	RequestID string
	// Identity is the caller's name when known; "" when it was not
	// identified. Never a key.
	Identity string
	Status   int
	// Code is the error code answered (invalid_api_key, rate_limit_exceeded, ...).
	Code   string
	Reason string
	Method string
	// Route is the route template (e.g. /tools/:name).
	Route string
	// Tool is the tool refused, when a tool call was.
	Tool string
}

// HTTPRecord is a finished HTTP request.
type HTTPRecord struct {
	Method string
	// Route is the route template, "" when no route matched.
	Route    string
	Code     int
	Duration time.Duration
}

// Nop is an Observer that does nothing: embed it to implement only some
// methods. Its zero value is ready to use.
type Nop struct{}

var _ Observer = Nop{}

func (Nop) ChatStarted(ctx context.Context, _ *ChatStart) context.Context         { return ctx }
func (Nop) ChatFinished(context.Context, *ChatRecord)                             {}
func (Nop) RoundStarted(ctx context.Context, _ *RoundStart) context.Context       { return ctx }
func (Nop) RoundFinished(context.Context, *RoundRecord)                           {}
func (Nop) ToolCallStarted(ctx context.Context, _ *ToolCallStart) context.Context { return ctx }
func (Nop) ToolCallFinished(context.Context, *ToolCallRecord)                     {}
func (Nop) UpstreamRequest(context.Context, *UpstreamRecord)                      {}
func (Nop) Denied(context.Context, *Denial)                                       {}
func (Nop) HTTPRequest(context.Context, *HTTPRecord)                              {}
func (Nop) ActiveStreams(context.Context, int)                                    {}
func (Nop) ServerState(context.Context, mcpclient.Event)                          {}
func (Nop) ConfigReload(context.Context, bool, string)                            {}
func (Nop) Guard(context.Context, *GuardEvent)                                    {}

// Multi returns an Observer that tells each of obs in turn (nil ones are
// skipped; Multis are flattened). With none it returns Nop; with one, that one.
func Multi(obs ...Observer) Observer {
	var all multi
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multi:
			all = append(all, o...)
		default:
			all = append(all, o)
		}
	}
	switch len(all) {
	case 0:
		return Nop{}
	case 1:
		return all[0]
	}
	return all
}

type multi []Observer

func (m multi) ChatStarted(ctx context.Context, s *ChatStart) context.Context {
	for _, o := range m {
		ctx = o.ChatStarted(ctx, s)
	}
	return ctx
}

func (m multi) ChatFinished(ctx context.Context, r *ChatRecord) {
	for _, o := range m {
		o.ChatFinished(ctx, r)
	}
}

func (m multi) RoundStarted(ctx context.Context, s *RoundStart) context.Context {
	for _, o := range m {
		ctx = o.RoundStarted(ctx, s)
	}
	return ctx
}

func (m multi) RoundFinished(ctx context.Context, r *RoundRecord) {
	for _, o := range m {
		o.RoundFinished(ctx, r)
	}
}

func (m multi) ToolCallStarted(ctx context.Context, s *ToolCallStart) context.Context {
	for _, o := range m {
		ctx = o.ToolCallStarted(ctx, s)
	}
	return ctx
}

func (m multi) ToolCallFinished(ctx context.Context, r *ToolCallRecord) {
	for _, o := range m {
		o.ToolCallFinished(ctx, r)
	}
}

func (m multi) UpstreamRequest(ctx context.Context, r *UpstreamRecord) {
	for _, o := range m {
		o.UpstreamRequest(ctx, r)
	}
}

func (m multi) Denied(ctx context.Context, d *Denial) {
	for _, o := range m {
		o.Denied(ctx, d)
	}
}

func (m multi) HTTPRequest(ctx context.Context, r *HTTPRecord) {
	for _, o := range m {
		o.HTTPRequest(ctx, r)
	}
}

func (m multi) ActiveStreams(ctx context.Context, delta int) {
	for _, o := range m {
		o.ActiveStreams(ctx, delta)
	}
}

func (m multi) ServerState(ctx context.Context, ev mcpclient.Event) {
	for _, o := range m {
		o.ServerState(ctx, ev)
	}
}

func (m multi) ConfigReload(ctx context.Context, ok bool, reason string) {
	for _, o := range m {
		o.ConfigReload(ctx, ok, reason)
	}
}

func (m multi) Guard(ctx context.Context, e *GuardEvent) {
	for _, o := range m {
		o.Guard(ctx, e)
	}
}

// Find returns the first observer of type T in o (o itself, or one of a
// Multi's).
func Find[T Observer](o Observer) (T, bool) {
	if m, ok := o.(multi); ok {
		for _, x := range m {
			if t, ok := x.(T); ok {
				return t, true
			}
		}
	}
	t, ok := o.(T)
	return t, ok
}

// Checker is implemented by observers that can fail in a way that makes
// the bridge not ready (the audit log, when it cannot write).
type Checker interface {
	// Healthy returns nil, or why the observer does not work.
	Healthy() error
}

// Healthy returns the errors of o's Checkers joined; nil when all are
// healthy or o has none.
func Healthy(o Observer) error {
	var errs []error
	check := func(x Observer) {
		if c, ok := x.(Checker); ok {
			errs = append(errs, c.Healthy())
		}
	}
	if m, ok := o.(multi); ok {
		for _, x := range m {
			check(x)
		}
	} else if o != nil {
		check(o)
	}
	return errors.Join(errs...)
}

// OutcomeOf classifies a finished tool call: err is the error of a call
// that could not be made (nil if it was made), isError the result's flag,
// and ctx the call's context.
func OutcomeOf(ctx context.Context, err error, isError bool) string {
	switch {
	case err == nil && isError:
		return OutcomeToolError
	case err == nil:
		return OutcomeOK
	case errors.Is(err, context.Canceled) || (ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded)):
		return OutcomeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	}
	return OutcomeFailed
}
