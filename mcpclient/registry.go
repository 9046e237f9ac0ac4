// Package mcpclient connects to MCP servers over stdio, streamable HTTP,
// SSE and WebSocket, supervises the connections (restarting crashed stdio
// servers and reconnecting remote ones with backoff), and aggregates the
// servers' tools into one registry of namespaced, provider-safe tool names
// that can be called by name.
//
// It knows nothing of HTTP serving or of OpenAI: callers turn [Tool] and
// [Result] into whatever their clients speak.
package mcpclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Event kinds, as reported by [Event.Kind].
const (
	EventUp           = "up"
	EventDown         = "down"
	EventToolsChanged = "tools_changed"
)

var (
	// ErrUnknownTool is wrapped by the error of a call to a name the
	// registry does not expose.
	ErrUnknownTool = errors.New("unknown tool")
	// ErrInvalidArguments is wrapped by the error of a call whose arguments
	// are not a JSON object.
	ErrInvalidArguments = errors.New("arguments must be a JSON object")
	// ErrServerNotConnected is wrapped by the error of a call to a tool
	// whose server is not connected (starting, restarting or failed).
	ErrServerNotConnected = errors.New("server not connected")
	// ErrClosed is wrapped by the error of a call made or cut short by the
	// registry's shutdown, and returned by WaitReady after it.
	ErrClosed = errors.New("registry closed")
)

// TimeoutError is returned by [Registry.Call] when a call exceeds its
// server's timeout. It matches context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Tool    string // the exposed tool name
	Timeout time.Duration
}

// Error returns `tool "NAME" timed out after DURATION`.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("tool %q timed out after %s", e.Tool, e.Timeout)
}

// Is reports whether target is context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Options configures a [Registry]. The zero value (or a nil *Options) gives
// the documented defaults.
type Options struct {
	// Logger receives connection, crash and restart logs. nil discards them.
	Logger *slog.Logger
	// CallTimeout bounds each tool call of servers without their own
	// timeout. 0 means 60s.
	CallTimeout time.Duration
	// MaxConcurrency bounds the calls in flight per server for servers
	// without their own bound. 0 means 8.
	MaxConcurrency int
	// ConnectTimeout bounds a connection attempt: transport, initialize
	// handshake and the first tool listing. It also bounds tool list
	// refreshes. 0 means 30s.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay before restarting or
	// reconnecting a server; the delay doubles with every failed attempt and
	// starts again from MinBackoff after a session that lasted 30s. 0 means
	// 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// MaxResultBytes caps the text of a tool result; longer text is cut with
	// a note saying how much was cut. 0 means 256 KiB; negative means no cap.
	MaxResultBytes int
	// MaxDescriptionBytes caps each tool's description, and each
	// description inside its schemas, since they travel with every model
	// request: longer text is cut at a UTF-8 boundary and ends in "…", and
	// the cut is logged once per tool. 0 means 4096; negative means no cap.
	MaxDescriptionBytes int
	// ClientName and ClientVersion are sent to servers in the initialize
	// handshake. "" means "mcp-bridge" and "dev".
	ClientName, ClientVersion string
	// TerminateTimeout is how long closing a stdio server waits for it to
	// exit after its stdin is closed before sending SIGTERM, and again
	// before SIGKILL. 0 means 5s.
	TerminateTimeout time.Duration
	// MaxFrameBytes bounds one message from a stdio server. A longer one is
	// discarded without being held in memory, and the call it answers, when
	// its id can be read, fails alone; the session stays up. 0 (or less)
	// means 64 MiB.
	MaxFrameBytes int
	// Secrets are configured secret values, never shown in errors or logs
	// (a stdio server's stderr may print them). Nil means only the
	// servers' own env and header values are hidden.
	Secrets []string
	// OnEvent, when set, is called when a server comes up, goes down (a
	// failed connection attempt counts once until the server comes up) or
	// changes its tool list. It is called without locks held, possibly
	// concurrently for different servers, and should return quickly.
	OnEvent func(Event)
	// DefaultCaller answers sampling and elicitation requests of servers
	// that arrive while no call made with WithCaller is in progress. Nil
	// means such sampling requests fail and elicitations are declined.
	DefaultCaller Caller
	// OnResourceUpdated, when set, receives the resource updates of
	// subscriptions made with Subscribe.
	OnResourceUpdated func(context.Context, *mcp.ResourceUpdatedNotificationParams)
	// Roots are offered to servers that ask for them. Nil offers none and
	// does not advertise the roots capability.
	Roots []*mcp.Root
	// Propagate, when set, adds trace context (traceparent, tracestate)
	// from a call's context: to the HTTP requests sent to remote servers
	// and, lower-cased, to the _meta of tools/call requests on every
	// transport. nil adds none.
	Propagate func(ctx context.Context, h http.Header)
	// Inspector, when set, decides which tools are served and screens
	// every call's arguments and result (see [Inspector]). nil serves
	// every usable tool and passes calls as they are.
	Inspector Inspector
}

// withDefaults returns a copy of o (nil allowed) with zero values replaced.
func (o *Options) withDefaults() *Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.CallTimeout = cmpOr(r.CallTimeout, 60*time.Second)
	r.MaxConcurrency = cmpOr(r.MaxConcurrency, 8)
	r.ConnectTimeout = cmpOr(r.ConnectTimeout, 30*time.Second)
	r.MinBackoff = cmpOr(r.MinBackoff, 500*time.Millisecond)
	r.MaxBackoff = max(cmpOr(r.MaxBackoff, 30*time.Second), r.MinBackoff)
	r.TerminateTimeout = cmpOr(r.TerminateTimeout, 5*time.Second)
	switch {
	case r.MaxResultBytes == 0:
		r.MaxResultBytes = 256 << 10
	case r.MaxResultBytes < 0:
		r.MaxResultBytes = 0 // ResultText: no cap
	}
	switch {
	case r.MaxDescriptionBytes == 0:
		r.MaxDescriptionBytes = 4096
	case r.MaxDescriptionBytes < 0:
		r.MaxDescriptionBytes = 0 // capText: no cap
	}
	r.ClientName = cmp.Or(r.ClientName, "mcp-bridge")
	r.ClientVersion = cmp.Or(r.ClientVersion, "dev")
	return &r
}

// Event reports a change of a server, for activity feeds and metrics.
type Event struct {
	Server string
	Kind   string // EventUp, EventDown or EventToolsChanged
	Err    string // why the server went down; "" otherwise
	Tools  int    // the server's tool count after the change
	Tool   string // the tool an EventToolBlocked is about
}

// Tool is one tool of the registry.
type Tool struct {
	// Name is the exposed name: "<prefix>__<tool>" made to fit
	// ^[a-zA-Z0-9_-]{1,64}$, unique in the registry (see [ToolName]).
	Name string
	// Server is the name of the server that provides the tool.
	Server string
	// Original is the tool's name on its server.
	Original    string
	Description string
	Title       string
	// InputSchema is the normalised JSON Schema of the arguments (see
	// [NormalizeSchema]).
	InputSchema json.RawMessage
	// OutputSchema is the normalised JSON Schema of the structured
	// results, nil when the tool declares none.
	OutputSchema json.RawMessage
	// Def is the tool's definition as its server sent it (annotations,
	// icons, metadata), for faces that publish it again under Name. It is
	// shared: callers do not modify it.
	Def *mcp.Tool

	def    []byte // Def encoded, to tell changed definitions apart
	reader bool   // the read_resource tool of ServerConfig.ExposeResources
}

// ServerStatus describes one configured server.
type ServerStatus struct {
	Name string
	// State is StateConnecting (starting, or restarting after a crash or a
	// disconnection), StateReady, StateFailed (the last attempt failed, or
	// the configuration is invalid, or the registry is closed) or
	// StateDisabled.
	State string
	// Tools is the number of the server's tools in the registry.
	Tools int
	// Error is the last failure ("" when none since the server was ready).
	Error string
	// Restarts counts connection attempts after the first.
	Restarts int
	// Transport is the transport type (see [ServerConfig.TransportType]).
	Transport string
	// Protocol is the MCP revision of the ready session ("" when not
	// ready).
	Protocol string
}

// snapshot is an immutable view of the registry's tools.
type snapshot struct {
	tools   []Tool
	index   map[string]int // exposed name -> position in tools
	version uint64
	blocked []BlockedTool // kept out by the Inspector, sorted by name
}

// Registry aggregates the tools of a set of MCP servers and calls them. Its
// methods are safe for concurrent use.
type Registry struct {
	opts *Options
	log  *slog.Logger
	set  atomic.Pointer[serverSet] // the configured servers; swapped by Apply

	life   context.Context // ends at Close or when Start's ctx is done
	cancel context.CancelFunc
	wg     sync.WaitGroup // every server's run and every retirement

	applyMu sync.Mutex // serialises Start, Apply and Close's cancel; guards started and retired
	started bool
	retired []*server // servers removed or replaced by Apply

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex              // serialises rebuilds, guards known, checked and warned
	known  map[string]string       // every exposed name ever served -> server
	checks map[*mcp.Tool]toolCheck // the last rebuild's checked definitions
	warned map[string]bool         // server, tool and problem already logged
	snap   atomic.Pointer[snapshot]

	featMu sync.Mutex // serialises feature rebuilds
	feats  atomic.Pointer[featureSnapshot]

	logLevel atomic.Pointer[string] // set by SetLoggingLevel; nil until then
}

// NewRegistry returns a registry of the given servers; nothing is started
// until [Registry.Start]. Disabled servers are listed with state "disabled".
// A server whose configuration is invalid (see [ServerConfig.Validate]) or
// whose name repeats an earlier one is listed with state "failed" and the
// error, and never started. opts may be nil.
func NewRegistry(servers []ServerConfig, opts *Options) *Registry {
	o := opts.withDefaults()
	r := &Registry{
		opts:   o,
		log:    o.Logger,
		known:  make(map[string]string),
		warned: make(map[string]bool),
	}
	r.life, r.cancel = context.WithCancel(context.Background())
	r.snap.Store(&snapshot{tools: []Tool{}, index: map[string]int{}})
	set, _ := r.newServerSet(servers, nil)
	r.set.Store(set)
	return r
}

// Start starts every enabled server in the background and returns at once:
// a slow or broken server never blocks it. The servers run until ctx is
// done or Close is called. Only the first call has an effect; Start after
// Close starts nothing.
func (r *Registry) Start(ctx context.Context) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if r.started || r.life.Err() != nil {
		return
	}
	r.started = true
	context.AfterFunc(ctx, r.cancel)
	for _, s := range r.set.Load().servers {
		r.startServer(s)
	}
}

// WaitReady returns nil when every enabled server has connected or failed
// at least once (whatever its state now), ctx's error when ctx is done
// first, and an error wrapping ErrClosed when the registry is closed. It
// waits for servers only once Start has been called.
func (r *Registry) WaitReady(ctx context.Context) error {
	for _, s := range r.set.Load().servers {
		select {
		case <-s.attempted:
		case <-ctx.Done():
			return fmt.Errorf("waiting for mcp servers: %w", ctx.Err())
		case <-r.life.Done():
		}
		if r.life.Err() != nil {
			return fmt.Errorf("waiting for mcp servers: %w", ErrClosed)
		}
	}
	return nil
}

// Tools returns the tools of the connected servers, sorted by Name. The
// slice is a cached snapshot shared by all callers until the tool set
// changes: callers must not modify it or its elements. It is never nil.
func (r *Registry) Tools() []Tool {
	return r.snap.Load().tools
}

// Version increments whenever the tool set changes (a server came up or
// went down with tools, or changed its list), so that callers can cache
// what they derive from Tools.
func (r *Registry) Version() uint64 {
	return r.snap.Load().version
}

// Lookup returns the tool exposed under name, if a connected server
// provides it.
func (r *Registry) Lookup(name string) (Tool, bool) {
	s := r.snap.Load()
	i, ok := s.index[name]
	if !ok {
		return Tool{}, false
	}
	return s.tools[i], true
}

// Call calls the tool exposed under name with args, a JSON object (empty or
// null means {}).
//
// A tool that reports a failure gives a *Result with IsError set, not an
// error. Errors, each naming the tool: ErrUnknownTool for a name the
// registry does not expose; ErrInvalidArguments when args is not a JSON
// object; ErrServerNotConnected (with the server's state and last error)
// when the server is down or restarting; *TimeoutError when the call
// exceeded its timeout (which counts the wait for a free slot of the
// server's concurrency bound); ctx's error when ctx ended first (the server
// is told that the call was cancelled); ErrClosed at shutdown; otherwise
// the protocol or transport error, wrapped.
func (r *Registry) Call(ctx context.Context, name string, args json.RawMessage) (*Result, error) {
	s, t, argv, err := r.enter(name, args)
	if err != nil {
		return nil, err
	}
	defer s.leave()
	res, err := r.callOn(ctx, s, t, name, argv)
	if err != nil {
		return nil, err
	}
	out := ResultText(res, s.opts.MaxResultBytes)
	return &out, nil
}

// callOn runs one call of t on s, its arguments and result screened by
// the Inspector.
func (r *Registry) callOn(ctx context.Context, s *server, t Tool, name string, argv json.RawMessage) (*mcp.CallToolResult, error) {
	argv, refused := r.inspectArguments(ctx, t, argv)
	if refused != nil {
		return refused, nil
	}
	var (
		res *mcp.CallToolResult
		err error
	)
	if t.reader {
		res, err = s.readResourceResult(ctx, argv)
	} else {
		res, err = s.callRaw(ctx, r.life, name, t.Original, argv)
	}
	if err != nil {
		return nil, err
	}
	return r.inspectResult(ctx, t, res), nil
}

// CallTool is Call with the result as the server sent it (content of every
// kind, structured content, metadata), for callers that pass it on whole.
// Errors are Call's.
func (r *Registry) CallTool(ctx context.Context, name string, args json.RawMessage) (*mcp.CallToolResult, error) {
	s, t, argv, err := r.enter(name, args)
	if err != nil {
		return nil, err
	}
	defer s.leave()
	return r.callOn(ctx, s, t, name, argv)
}

// resolve finds the server of a tool and checks its arguments.
func (r *Registry) resolve(name string, args json.RawMessage) (*server, Tool, json.RawMessage, error) {
	set := r.set.Load()
	t, ok := r.Lookup(name)
	if !ok {
		if reason, blocked := r.blockedReason(name); blocked {
			return nil, Tool{}, nil, fmt.Errorf("calling tool %q: %w: it is blocked: %s", name, ErrUnknownTool, reason)
		}
		r.mu.Lock()
		srvName, known := r.known[name]
		r.mu.Unlock()
		if s := set.byName[srvName]; known && s != nil {
			if sess, state, lastErr := s.current(); sess == nil {
				return nil, Tool{}, nil, s.unavailable(name, state, lastErr)
			}
		}
		return nil, Tool{}, nil, fmt.Errorf("calling tool %q: %w", name, ErrUnknownTool)
	}
	argv, err := callArguments(args)
	if err != nil {
		return nil, Tool{}, nil, fmt.Errorf("calling tool %q: %w", name, err)
	}
	s := set.byName[t.Server]
	if s == nil {
		// The snapshot of tools is a moment older than the set of servers:
		// a reload removed the server in between.
		return nil, Tool{}, nil, fmt.Errorf("calling tool %q: %w", name, ErrUnknownTool)
	}
	return s, t, argv, nil
}

// callArguments checks that args is a JSON object; empty and null become {}.
func callArguments(args json.RawMessage) (json.RawMessage, error) {
	a := bytes.TrimSpace(args)
	if len(a) == 0 || string(a) == "null" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(a) {
		return nil, fmt.Errorf("%w (got invalid JSON)", ErrInvalidArguments)
	}
	if a[0] != '{' {
		return nil, fmt.Errorf("%w (got %s)", ErrInvalidArguments, jsonKind(a[0]))
	}
	return json.RawMessage(a), nil
}

// jsonKind names the kind of JSON value starting with c.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// Servers returns the status of every configured server, sorted by name.
func (r *Registry) Servers() []ServerStatus {
	set := r.set.Load()
	out := make([]ServerStatus, 0, len(set.servers)+len(set.static))
	for _, s := range set.servers {
		out = append(out, s.status())
	}
	out = append(out, set.static...)
	slices.SortStableFunc(out, func(a, b ServerStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Close stops every server: calls in flight are cancelled, then each
// session is closed (for stdio servers: stdin closed, then SIGTERM, then
// SIGKILL, each after TerminateTimeout), in parallel. It waits for that and
// returns the errors of closing sessions, if any. Close is idempotent and
// returns the same error every time.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.applyMu.Lock()
		r.cancel()
		all := append(slices.Clone(r.set.Load().servers), r.retired...)
		r.applyMu.Unlock()
		r.wg.Wait()
		var errs []error
		for _, s := range all {
			s.mu.Lock()
			if s.closeErr != nil {
				errs = append(errs, s.closeErr)
			}
			s.mu.Unlock()
			if s.httpClient != nil {
				s.httpClient.CloseIdleConnections()
			}
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// emit calls OnEvent, if set.
func (r *Registry) emit(e Event) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

// rebuild recomputes the tool snapshot from the servers' current tools and
// publishes it, with a new version, when it differs from the current one.
func (r *Registry) rebuild() {
	for _, ev := range r.rebuildLocked() {
		r.emit(ev)
	}
}

// rebuildLocked is rebuild under the lock; it returns the events to send
// once the lock is released.
func (r *Registry) rebuildLocked() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	type src struct {
		server string
		tool   serverTool
	}
	var (
		entries []nameEntry
		srcs    []src
	)
	checks := make(map[*mcp.Tool]toolCheck)
	for _, s := range r.set.Load().servers {
		prefix := s.cfg.ToolPrefix()
		tools := s.toolList()
		if rt, ok := s.resourceTool(); ok {
			tools = append(tools[:len(tools):len(tools)], rt)
		}
		for _, t := range tools {
			t, ok := r.checkTool(s.cfg.Name, t, checks)
			if !ok {
				continue
			}
			entries = append(entries, nameEntry{Server: s.cfg.Name, Prefix: prefix, Tool: t.Original})
			srcs = append(srcs, src{server: s.cfg.Name, tool: t})
		}
	}
	r.checks = checks
	names := assignNames(entries)
	tools := make([]Tool, 0, len(entries))
	var blocked []BlockedTool
	for i, n := range names {
		if n == "" {
			continue
		}
		t := srcs[i].tool
		tools = append(tools, Tool{
			Name:         n,
			Server:       srcs[i].server,
			Original:     t.Original,
			Description:  t.Description,
			Title:        t.Title,
			InputSchema:  t.Schema,
			OutputSchema: t.Output,
			Def:          t.Def,
			def:          t.def,
			reader:       t.reader,
		})
	}
	var reasons []string
	if r.opts.Inspector != nil {
		reasons = r.opts.Inspector.Admit(tools)
	}
	if len(reasons) == len(tools) {
		admitted := tools[:0:0]
		for i, tool := range tools {
			if reasons[i] == "" {
				admitted = append(admitted, tool)
				continue
			}
			blocked = append(blocked, BlockedTool{Name: tool.Name, Server: tool.Server, Reason: reasons[i]})
			r.known[tool.Name] = tool.Server
		}
		tools = admitted
	}
	slices.SortFunc(tools, func(a, b Tool) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(blocked, func(a, b BlockedTool) int { return strings.Compare(a.Name, b.Name) })
	old := r.snap.Load()
	var events []Event
	for _, b := range blocked {
		if reason, was := r.blockedReasonIn(old, b.Name); !was || reason != b.Reason {
			r.log.Warn("tool blocked", "server", b.Server, "tool", b.Name, "reason", b.Reason)
			events = append(events, Event{Server: b.Server, Kind: EventToolBlocked, Tool: b.Name, Err: b.Reason})
		}
	}
	sameTools := slices.EqualFunc(old.tools, tools, equalTool)
	if sameTools && slices.Equal(old.blocked, blocked) {
		return events
	}
	index := make(map[string]int, len(tools))
	for i, t := range tools {
		index[t.Name] = i
		r.known[t.Name] = t.Server
	}
	version := old.version
	if !sameTools {
		version++
	}
	r.snap.Store(&snapshot{tools: tools, index: index, version: version, blocked: blocked})
	return events
}

// blockedReasonIn is blockedReason in snapshot s.
func (r *Registry) blockedReasonIn(s *snapshot, name string) (string, bool) {
	for _, b := range s.blocked {
		if b.Name == name {
			return b.Reason, true
		}
	}
	return "", false
}

func equalTool(a, b Tool) bool {
	return a.Name == b.Name && a.Server == b.Server && a.Original == b.Original &&
		a.Description == b.Description && a.Title == b.Title && bytes.Equal(a.InputSchema, b.InputSchema) &&
		bytes.Equal(a.OutputSchema, b.OutputSchema) && bytes.Equal(a.def, b.def) && a.reader == b.reader
}
