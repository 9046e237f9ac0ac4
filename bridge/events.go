package bridge

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/r3labs/sse/v2"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// FeedBus carries the activity feed between the replicas of a bridge
// (Redis pub/sub: store.Redis), so that a subscriber of any replica sees
// what every replica does. Implementations are safe for concurrent use.
type FeedBus interface {
	// Publish sends one encoded event to every replica's Subscribe,
	// this one's included. An error means it reached none.
	Publish(ctx context.Context, event []byte) error
	// Subscribe calls deliver with every event published by any replica
	// until ctx ends; it returns at once and keeps the subscription up
	// (across outages) by itself.
	Subscribe(ctx context.Context, deliver func(event []byte))
}

// activityStream is the one stream of the activity feed.
const activityStream = "activity"

// events is the /v1/events activity feed: chat requests started and
// finished (model, rounds, tool calls, outcome), tool calls started and
// finished, servers up and down, tool lists changed. Nothing is replayed
// to late subscribers, and arguments, messages and results are not
// published (they may hold user data); only names, servers, models,
// outcomes, counts and durations. It is safe for concurrent use.
//
// Each caller sees only the activity of what it may use: subscribers
// with one view (auth.Principal.ViewKey) share one stream, and an event
// goes to the streams whose view allows its tool, server or model. Who
// made a call or a chat request (its identity) is shown to the full view
// only: a caller restricted by a policy does not learn the names of the
// others.
//
// It is an observe.Observer: tool calls of every face and registry
// events reach it with the other observers'.
type events struct {
	observe.Nop
	srv *sse.Server
	log *slog.Logger
	bus FeedBus            // nil: this replica alone
	end context.CancelFunc // ends the bus's subscription

	mu    sync.Mutex
	views map[string]*auth.Principal // stream id -> a principal of its view

	// listeners counts the feed's subscribers on this replica: with none
	// and no bus, an event is not even encoded.
	listeners atomic.Int64
}

// maxEventViews bounds the feed's streams, one per distinct view.
const maxEventViews = 256

// newEvents returns the feed; with a bus, events are published there and
// delivered from it, on every replica.
func newEvents(log *slog.Logger, bus FeedBus) *events {
	srv := sse.New()
	srv.AutoReplay = false
	srv.AutoStream = false
	srv.EncodeBase64 = false
	e := &events{srv: srv, log: log, bus: bus, end: func() {}, views: map[string]*auth.Principal{activityStream: nil}}
	srv.OnSubscribe = func(string, *sse.Subscriber) { e.listeners.Add(1) }
	srv.OnUnsubscribe = func(string, *sse.Subscriber) { e.listeners.Add(-1) }
	srv.CreateStream(activityStream)
	if bus != nil {
		ctx, end := context.WithCancel(context.Background())
		e.end = end
		bus.Subscribe(ctx, e.received)
	}
	return e
}

// allows reports whether a caller of p's view may see a.
func allows(p *auth.Principal, a activity) bool {
	switch {
	case a.Model != "":
		return p.AllowsModel(a.Model)
	case a.Tool != "":
		return p.AllowsTool(a.Tool, a.Server)
	case a.Server != "":
		return p.AllowsServer(a.Server)
	}
	return true
}

// activity is one published event.
type activity struct {
	Type       string `json:"type"`
	Time       string `json:"time"`
	Tool       string `json:"tool,omitempty"`
	Server     string `json:"server,omitempty"`
	CallID     string `json:"call_id,omitempty"`
	IsError    *bool  `json:"is_error,omitempty"`
	DurationMS *int64 `json:"duration_ms,omitempty"`
	Tools      *int   `json:"tools,omitempty"`
	Error      string `json:"error,omitempty"`
	// Identity is who made the call or the chat request (a key's or a
	// JWT's name, never a secret); the full view only.
	Identity  string `json:"identity,omitempty"`
	Model     string `json:"model,omitempty"`
	Rounds    *int   `json:"rounds,omitempty"`
	ToolCalls *int   `json:"tool_calls,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
}

func (e *events) publish(a activity) {
	if e.bus == nil && e.listeners.Load() <= 0 {
		return // nobody to tell
	}
	a.Time = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	if e.bus != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := e.bus.Publish(ctx, b)
		cancel()
		if err == nil {
			return // it comes back through received, as on every replica
		}
		e.log.Debug("activity event not shared with the other replicas; shown here only", "type", a.Type, "err", err)
	}
	e.deliver(a, b)
}

// received delivers an event from the bus.
func (e *events) received(b []byte) {
	var a activity
	if json.Unmarshal(b, &a) != nil || a.Type == "" {
		return
	}
	e.deliver(a, b)
}

// deliver sends the event a, encoded as b, to the streams whose view
// allows it.
func (e *events) deliver(a activity, b []byte) {
	var anonymous []byte // b without the identity, for restricted views
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, p := range e.views {
		if !allows(p, a) {
			continue
		}
		data := b
		if id != activityStream && a.Identity != "" {
			if anonymous == nil {
				c := a
				c.Identity = ""
				if anonymous, _ = json.Marshal(c); anonymous == nil {
					continue
				}
			}
			data = anonymous
		}
		e.srv.TryPublish(id, &sse.Event{Event: []byte(a.Type), Data: data})
	}
}

// stream returns the id of the stream of p's view, creating it.
func (e *events) stream(p *auth.Principal) (string, bool) {
	key := p.ViewKey()
	if key == "" {
		return activityStream, true
	}
	id := activityStream + "-" + key
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.views[id]; !ok {
		if len(e.views) >= maxEventViews {
			return "", false
		}
		e.srv.CreateStream(id)
		e.views[id] = p
	}
	return id, true
}

var _ observe.Observer = (*events)(nil)

func (e *events) ChatStarted(ctx context.Context, s *observe.ChatStart) context.Context {
	e.publish(activity{Type: "chat_started", Model: s.Model, Identity: s.Identity})
	return ctx
}

func (e *events) ChatFinished(_ context.Context, r *observe.ChatRecord) {
	ms, rounds, calls := r.Duration.Milliseconds(), r.Rounds, r.ToolCalls
	e.publish(activity{Type: "chat_finished", Model: r.Model, Identity: r.Identity, Rounds: &rounds, ToolCalls: &calls,
		DurationMS: &ms, Outcome: r.Outcome})
}

func (e *events) ToolCallStarted(ctx context.Context, s *observe.ToolCallStart) context.Context {
	e.publish(activity{Type: "tool_call_started", Tool: s.Tool, Server: s.Server, CallID: s.CallID, Identity: s.Identity})
	return ctx
}

func (e *events) ToolCallFinished(_ context.Context, r *observe.ToolCallRecord) {
	isErr, ms := r.Outcome != observe.OutcomeOK, r.Duration.Milliseconds()
	e.publish(activity{Type: "tool_call_finished", Tool: r.Tool, Server: r.Server, CallID: r.CallID, IsError: &isErr, DurationMS: &ms,
		Identity: r.Identity, Outcome: r.Outcome})
}

// ServerState publishes a registry event.
func (e *events) ServerState(_ context.Context, ev mcpclient.Event) {
	a := activity{Server: ev.Server, Error: ev.Err}
	switch ev.Kind {
	case "up":
		a.Type = "server_up"
	case "down":
		a.Type = "server_down"
	case mcpclient.EventToolBlocked:
		a.Type, a.Tool = ev.Kind, ev.Tool
		e.publish(a)
		return
	case mcpclient.EventToolsChanged, mcpclient.EventResourcesChanged, mcpclient.EventPromptsChanged:
		a.Type = ev.Kind
	default:
		a.Type = "server_" + ev.Kind
	}
	n := ev.Tools
	a.Tools = &n
	e.publish(a)
}

// serve streams the feed to one subscriber until it leaves.
func (e *events) serve(c echo.Context) error {
	r := c.Request()
	id, ok := e.stream(auth.FromContext(r.Context()))
	if !ok {
		return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "too_many_views",
			Message: "the activity feed serves too many distinct views; try again later"}
	}
	q := r.URL.Query()
	q.Set("stream", id)
	r.URL.RawQuery = q.Encode()
	c.Response().Header().Set("X-Accel-Buffering", "no")
	e.srv.ServeHTTP(c.Response(), r)
	return nil
}

func (e *events) close() {
	e.end()
	e.srv.Close()
}
