package mcpclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Server states, as reported by [ServerStatus.State].
const (
	StateConnecting = "connecting"
	StateReady      = "ready"
	StateFailed     = "failed"
	StateDisabled   = "disabled"
)

// ProtocolVersion is the newest MCP revision with sessions: the one the
// bridge's session transports (/sse, /ws) speak, and the one the client
// falls back to with a server that does not speak LatestProtocolVersion.
const ProtocolVersion = "2025-11-25"

// LatestProtocolVersion is the stateless revision, which the client
// speaks with servers that offer only it (see server.revision): tools,
// progress, cancellation, list changes (subscriptions/listen), and the
// server's sampling and elicitation, which arrive as input_required
// results that go-sdk's client answers through the same handlers as the
// requests of a session.
const LatestProtocolVersion = "2026-07-28"

// stableSession is how long a session must have been ready for the restart
// backoff to start again from its minimum.
const stableSession = 30 * time.Second

// errCallTimedOut is the cancellation cause of a call's own timeout.
var errCallTimedOut = errors.New("tool call timed out")

// serverTool is one allowed tool of a connected server, with its schema
// already normalised.
type serverTool struct {
	Original    string
	Title       string
	Description string
	Schema      json.RawMessage
	Output      json.RawMessage // normalised output schema; nil for none
	Def         *mcp.Tool       // as the server sent it
	def         []byte          // Def encoded
	reader      bool            // the read_resource tool of ExposeResources
}

// server supervises the connection to one MCP server. Its state is guarded
// by mu; the run loop is the only writer of session and tools.
type server struct {
	cfg        ServerConfig
	opts       *Options
	log        *slog.Logger
	reg        *Registry
	kind       string
	timeout    time.Duration
	sem        chan struct{}
	httpClient *http.Client // remote transports only
	red        *redactor    // hides secrets in errors and logs
	calls      inflight     // calls in progress, to route what the server sends during them

	attempted     chan struct{} // closed once the first attempt ended, or the server will never run
	attemptedOnce sync.Once

	// Set by Registry.startServer and Registry.Apply (see apply.go).
	stop    context.CancelFunc // ends run; nil until started
	done    chan struct{}      // closed when run has returned; nil until started
	drain   sync.RWMutex       // read-held by each call; Apply write-locks it to wait for them
	retired atomic.Bool        // removed or replaced by Apply: no new calls, no events
	entered atomic.Int64       // calls between enter and leave

	mu        sync.Mutex
	state     string
	lastErr   string
	restarts  int
	session   *mcp.ClientSession
	notes     *noteCounter // the session's, see noteCounter
	rev       string       // the revision asked for; "" for ProtocolVersion (see revision)
	protocol  string       // the ready session's revision
	tools     []serverTool // nil unless ready
	feats     features     // empty unless ready
	lastEvent string       // kind of the last event emitted
	closeErr  error        // from closing the session at shutdown
}

func newServer(reg *Registry, cfg ServerConfig, opts *Options) *server {
	s := &server{
		cfg:       cfg,
		opts:      opts,
		log:       opts.Logger.With("server", cfg.Name),
		reg:       reg,
		kind:      cfg.TransportType(),
		timeout:   cmpOr(cfg.Timeout, opts.CallTimeout),
		sem:       make(chan struct{}, cmpOr(cfg.MaxConcurrency, opts.MaxConcurrency)),
		attempted: make(chan struct{}),
		state:     StateConnecting,
		red:       newRedactor(cfg, opts.Secrets),
	}
	switch s.kind {
	case TransportHTTP, TransportSSE:
		s.httpClient = newHTTPClient(cfg.Headers, cfg.ForwardIdentityHeader, opts.Propagate)
	case TransportWS:
		// The headers go on the handshake request (WebSocketTransport.Header).
		s.httpClient = newHTTPClient(nil, cfg.ForwardIdentityHeader, opts.Propagate)
	}
	return s
}

// cmpOr returns v, or def when v is zero or negative.
func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// markAttempted records that the server connected or failed at least once.
func (s *server) markAttempted() {
	s.attemptedOnce.Do(func() { close(s.attempted) })
}

// status returns the server's current status.
func (s *server) status() ServerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ServerStatus{
		Name:      s.cfg.Name,
		State:     s.state,
		Tools:     len(s.tools),
		Error:     s.lastErr,
		Protocol:  s.protocol,
		Restarts:  s.restarts,
		Transport: s.kind,
	}
}

// revision returns the revision the server is asked for: ProtocolVersion
// until the server refused it (see refusesSessions).
//
// A server that offers both eras is spoken to with sessions: under them
// everything the bridge uses works whatever the server's tools do, while
// under the stateless revision a tool that asks for sampling or elicitation
// with a request of its own (as tools written for sessions do, in SDKs that
// offer both revisions) fails. A server that offers only the stateless
// revision is spoken to with it, and its questions arrive as input_required
// results, which go-sdk answers through the same handlers.
func (s *server) revision() string {
	if p := s.cfg.Protocol; p != "" && p != "auto" {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rev == "" {
		return ProtocolVersion
	}
	return s.rev
}

// sessionProtocol returns the revision of the ready session.
func (s *server) sessionProtocol() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.protocol
}

// refusesSessions reports whether err, the failure of a session
// handshake, is the server's refusal (a JSON-RPC error answering
// initialize) rather than a failure to reach it.
func refusesSessions(err error) bool {
	var rpcErr *jsonrpc.Error
	return errors.As(err, &rpcErr)
}

// current returns the ready session, or nil with the state and last error.
func (s *server) current() (*mcp.ClientSession, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session, s.state, s.lastErr
}

// toolList returns the tools of the ready session (shared, not to be
// modified), nil when the server is not ready.
func (s *server) toolList() []serverTool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tools
}

// run connects, serves and reconnects with backoff until ctx is done.
func (s *server) run(ctx context.Context) {
	defer s.markAttempted()
	bo := backoff{min: s.opts.MinBackoff, max: s.opts.MaxBackoff}
	for first := true; ; first = false {
		if !first {
			s.mu.Lock()
			s.state = StateConnecting
			s.restarts++
			s.mu.Unlock()
		}
		lived := s.serve(ctx)
		if ctx.Err() != nil {
			return
		}
		delay := bo.next(lived)
		s.log.Info("mcp server: reconnecting after backoff", "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// serve makes one connection attempt and, when it succeeds, serves the
// session until it ends or ctx is done. It returns how long the session
// was ready (0 when it never was).
func (s *server) serve(ctx context.Context) time.Duration {
	// connCtx lives as long as the session: transports that tie their
	// streams to the context given to Connect (SSE) need that. The connect
	// timeout cancels it only while the handshake is under way.
	connCtx, cancelConn := context.WithCancel(ctx)
	defer cancelConn()

	a, err := newAttempt(connCtx, s.cfg, s.opts, s.log, s.httpClient)
	if err != nil {
		s.failed(ctx, nil, err)
		return 0
	}
	refresh := make(chan struct{}, 1)
	refreshFeats := make(chan struct{}, 1)
	signal := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}:
		default: // a refresh is already pending
		}
	}
	copts := &mcp.ClientOptions{
		Logger: s.log,
		// input_required results are answered by askAgain, which can pass
		// them on untouched.
		MultiRoundTrip:             &mcp.MultiRoundTripOptions{Disabled: true},
		Capabilities:               &mcp.ClientCapabilities{},
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { signal(refresh) },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { signal(refreshFeats) },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { signal(refreshFeats) },
		ResourceUpdatedHandler: func(ctx context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			if s.opts.OnResourceUpdated != nil {
				s.opts.OnResourceUpdated(ctx, req.Params)
			}
		},
	}
	if s.opts.Roots != nil {
		copts.Capabilities.RootsV2 = &mcp.RootCapabilities{}
	}
	s.clientHandlers(copts, a.notes)
	client := mcp.NewClient(&mcp.Implementation{Name: s.opts.ClientName, Version: s.opts.ClientVersion}, copts)
	client.AddRoots(s.opts.Roots...)
	client.AddReceivingMiddleware(s.passElicitation)

	timer := time.AfterFunc(s.opts.ConnectTimeout, cancelConn)
	rev := s.revision()
	sess, err := client.Connect(connCtx, guardTransport(a.transport), &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err != nil && rev == ProtocolVersion && (s.cfg.Protocol == "" || s.cfg.Protocol == "auto") && refusesSessions(err) && timer.Stop() {
		// A server of the stateless revision only: spoken to with it from
		// now on, on a new connection.
		s.log.Info("mcp server: it refuses the session handshake; speaking the stateless revision", "protocol", LatestProtocolVersion)
		s.mu.Lock()
		s.rev = LatestProtocolVersion
		s.mu.Unlock()
		return s.serve(ctx)
	}
	var tools []serverTool
	var feats features
	var ttl time.Duration
	if err == nil {
		tools, ttl, err = listTools(connCtx, sess, s.cfg)
		if err != nil {
			err = errors.Join(err, closeSession(sess))
		} else {
			feats = s.listFeatures(connCtx, sess)
		}
	}
	if !timer.Stop() && ctx.Err() == nil {
		if err == nil {
			_ = closeSession(sess)
		}
		err = fmt.Errorf("connecting: timed out after %s", s.opts.ConnectTimeout)
	}
	if err != nil {
		s.failed(ctx, a, err)
		return 0
	}

	if level := s.reg.logLevel.Load(); level != nil {
		s.setLoggingLevel(connCtx, sess, *level)
	}
	readyAt := time.Now()
	s.ready(sess, a.notes, tools, feats)
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	// A server that says how long its list stays fresh (ttlMs) is listed
	// again when that time is up, list_changed or not.
	stale := time.NewTimer(time.Hour)
	stale.Stop()
	defer stale.Stop()
	expire := func(ttl time.Duration) {
		if ttl > 0 {
			stale.Reset(max(ttl, minListTTL))
		}
	}
	expire(ttl)
	for {
		select {
		case err := <-done:
			lived := time.Since(readyAt)
			s.down(ctx, a, err, lived)
			return lived
		case <-ctx.Done():
			err := closeSession(sess)
			<-done
			s.stopped(err)
			return time.Since(readyAt)
		case <-refresh:
			stale.Stop()
			expire(s.refreshTools(connCtx, sess))
		case <-stale.C:
			expire(s.refreshTools(connCtx, sess))
		case <-refreshFeats:
			s.refreshFeatures(connCtx, sess)
		}
	}
}

// closeSession closes sess; for a stdio server that closes its stdin, then
// sends SIGTERM, then SIGKILL, waiting for the process in between.
func closeSession(sess *mcp.ClientSession) error {
	if err := sess.Close(); err != nil {
		return fmt.Errorf("closing session: %w", err)
	}
	return nil
}

// maxToolPages bounds the pages of one tools/list: a server whose cursors
// never end is not listed forever.
const maxToolPages = 1000

// minListTTL is the shortest a server's ttlMs makes the registry wait
// before it lists the server's tools again.
const minListTTL = time.Second

// listTools fetches every page of the server's tools and keeps the allowed
// ones, in the server's order. ttl is how long the server said its list
// stays fresh (its first page's ttlMs; 0 when it said nothing).
func listTools(ctx context.Context, sess *mcp.ClientSession, cfg ServerConfig) (tools []serverTool, ttl time.Duration, err error) {
	tools = []serverTool{}
	seen := make(map[string]bool)
	var page []*mcp.Tool
	cursor := ""
	for n := 0; ; n++ {
		if n == maxToolPages {
			return nil, 0, fmt.Errorf("listing tools: more than %d pages", maxToolPages)
		}
		res, err := sess.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			return nil, 0, fmt.Errorf("listing tools: %w", err)
		}
		if n == 0 {
			ttl = time.Duration(res.TTLMs) * time.Millisecond
		}
		page = append(page, res.Tools...)
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	for _, t := range page {
		if t == nil || t.Name == "" || seen[t.Name] || !cfg.ToolAllowed(t.Name) {
			continue
		}
		seen[t.Name] = true
		title := t.Title
		if title == "" && t.Annotations != nil {
			title = t.Annotations.Title
		}
		st := serverTool{
			Original:    t.Name,
			Title:       title,
			Description: t.Description,
			Schema:      NormalizeSchema(t.InputSchema),
			Def:         t,
		}
		if t.OutputSchema != nil {
			st.Output = NormalizeSchema(t.OutputSchema)
		}
		st.def, _ = json.Marshal(t)
		tools = append(tools, st)
	}
	return tools, ttl, nil
}

// ready publishes a new session and its tools. The registry's lists take
// them in before the server says it is ready, so that whoever sees the
// state "ready" finds its tools listed.
func (s *server) ready(sess *mcp.ClientSession, notes *noteCounter, tools []serverTool, feats features) {
	version := ""
	if res := sess.InitializeResult(); res != nil {
		version = res.ProtocolVersion
	}
	s.mu.Lock()
	s.lastErr = ""
	s.session, s.protocol = sess, version
	s.notes = notes
	s.tools = tools
	s.feats = feats
	s.mu.Unlock()
	s.reg.rebuild()
	s.reg.rebuildFeatures()
	s.mu.Lock()
	s.state = StateReady
	s.lastEvent = EventUp
	s.mu.Unlock()
	s.log.Info("mcp server ready", "transport", s.kind, "tools", len(tools), "protocol", version)
	s.markAttempted()
	s.emit(Event{Server: s.cfg.Name, Kind: EventUp, Tools: len(tools)})
}

// refreshTools re-lists the tools after a list_changed notification or
// when the list's ttlMs is up, and returns the new list's ttl. A failure
// keeps the previous list and returns 0: the session's end, if that is the
// cause, is handled by serve, and a list_changed asks again.
func (s *server) refreshTools(ctx context.Context, sess *mcp.ClientSession) time.Duration {
	lctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	tools, ttl, err := listTools(lctx, sess, s.cfg)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("mcp server: refreshing tool list failed", "error", s.red.redact(err.Error()))
		}
		return 0
	}
	s.mu.Lock()
	changed := !slices.EqualFunc(s.tools, tools, equalServerTool)
	if changed {
		s.tools = tools
	}
	s.mu.Unlock()
	if !changed {
		return ttl
	}
	s.log.Info("mcp server: tool list changed", "tools", len(tools))
	s.reg.rebuild()
	s.emit(Event{Server: s.cfg.Name, Kind: EventToolsChanged, Tools: len(tools)})
	return ttl
}

func equalServerTool(a, b serverTool) bool {
	return a.Original == b.Original && a.Title == b.Title && a.Description == b.Description &&
		string(a.Schema) == string(b.Schema) && string(a.def) == string(b.def) && a.reader == b.reader
}

// failed records a failed connection attempt. a is nil when no transport
// could be built.
func (s *server) failed(ctx context.Context, a *attempt, err error) {
	if ctx.Err() != nil {
		return // shutting down: not a failure of the server
	}
	attrs := []any{"transport", s.kind, "error", s.red.redact(err.Error())}
	attrs = append(attrs, s.processAttrs(a)...)
	s.log.Warn("mcp server failed to connect", attrs...)
	msg := s.explain(a, err.Error())
	s.mu.Lock()
	s.state = StateFailed
	s.lastErr = msg
	emit := s.lastEvent != EventDown
	s.lastEvent = EventDown
	s.mu.Unlock()
	s.markAttempted()
	if emit {
		s.emit(Event{Server: s.cfg.Name, Kind: EventDown, Err: msg})
	}
}

// explain returns what to report of a failure: msg, then for a stdio
// server how it exited and the last lines of its stderr, the cause that
// "EOF" or "connection closed" hide; secrets hidden.
func (s *server) explain(a *attempt, msg string) string {
	if a != nil {
		if exit := a.exitInfo(); exit != "" && !strings.Contains(msg, exit) {
			msg += " (" + exit + ")"
		}
		if cause := stderrCause(a.stderrTail()); cause != "" {
			msg += "; stderr: " + cause
		}
	}
	return s.red.redact(msg)
}

// processAttrs are the log attributes of a stdio server's end: how it
// exited and the tail of its stderr, secrets hidden.
func (s *server) processAttrs(a *attempt) []any {
	if a == nil {
		return nil
	}
	var attrs []any
	if exit := a.exitInfo(); exit != "" {
		attrs = append(attrs, "exit", exit)
	}
	if tail := a.stderrTail(); tail != "" {
		attrs = append(attrs, "stderr", s.red.redact(tail))
	}
	return attrs
}

// down records the end of a ready session that the server (or the
// network) ended: its tools leave the registry and the crash is logged with
// the tail of the server's stderr.
func (s *server) down(ctx context.Context, a *attempt, waitErr error, lived time.Duration) {
	if ctx.Err() != nil {
		s.stopped(nil)
		return
	}
	reason := "disconnected"
	if exit := a.exitInfo(); exit != "" {
		reason = "exited: " + exit
	} else if waitErr != nil {
		reason = "disconnected: " + waitErr.Error()
	}
	reason = s.explain(a, reason)
	attrs := []any{"transport", s.kind, "uptime", lived.Round(time.Millisecond).String()}
	if waitErr != nil {
		attrs = append(attrs, "error", s.red.redact(waitErr.Error()))
	}
	attrs = append(attrs, s.processAttrs(a)...)
	if a.kind == TransportStdio {
		s.log.Warn("mcp server exited", attrs...)
	} else {
		s.log.Warn("mcp server disconnected", attrs...)
	}
	s.mu.Lock()
	s.state = StateConnecting
	s.lastErr = reason
	s.session, s.protocol = nil, ""
	s.tools = nil
	s.feats = features{}
	s.lastEvent = EventDown
	s.mu.Unlock()
	s.reg.rebuild()
	s.reg.rebuildFeatures()
	s.emit(Event{Server: s.cfg.Name, Kind: EventDown, Err: reason})
}

// stopped records the end of the session at shutdown.
func (s *server) stopped(closeErr error) {
	s.mu.Lock()
	s.state = StateFailed
	s.lastErr = "closed"
	s.session, s.protocol = nil, ""
	s.tools = nil
	s.feats = features{}
	if closeErr != nil {
		s.closeErr = fmt.Errorf("mcp server %q: %w", s.cfg.Name, s.redactError(closeErr))
	}
	s.mu.Unlock()
	s.reg.rebuild()
	s.reg.rebuildFeatures()
}

// callRaw runs one tool call on the server and returns its result as the
// server sent it. The call is made for the Caller of ctx, if any: what the
// server sends during the call goes to it.
func (s *server) callRaw(ctx, life context.Context, name, original string, args json.RawMessage) (*mcp.CallToolResult, error) {
	callCtx, cancel := context.WithTimeoutCause(ctx, s.timeout, errCallTimedOut)
	defer cancel()
	stop := context.AfterFunc(life, cancel)
	defer stop()

	if sess, state, lastErr := s.current(); sess == nil {
		return nil, s.unavailable(name, state, lastErr)
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-callCtx.Done():
		return nil, s.callError(ctx, life, callCtx, name, original, callCtx.Err())
	}
	sess, state, lastErr := s.current()
	if sess == nil {
		return nil, s.unavailable(name, state, lastErr)
	}
	params := &mcp.CallToolParams{Name: original, Arguments: args}
	if s.opts.Propagate != nil {
		setTraceMeta(ctx, params, s.opts.Propagate)
	}
	ci, hasCaller := callerOf(ctx)
	if hasCaller {
		token, end := s.calls.begin(s.cfg.Name, ci)
		defer end()
		if token != "" {
			params.SetProgressToken(token)
		}
	}
	params.Meta = s.declareCapabilities(ctx, params.Meta)
	res, err := askAgain(callCtx, s, func(responses mcp.InputResponseMap, state string) (*mcp.CallToolResult, error) {
		params.InputResponses, params.RequestState = responses, state
		return sess.CallTool(callCtx, params)
	}, func(r *mcp.CallToolResult) (mcp.InputRequestMap, string) { return r.InputRequests, r.RequestState })
	if err != nil {
		return nil, s.callError(ctx, life, callCtx, name, original, err)
	}
	if oc, ok := ci.c.(OrderedCaller); hasCaller && ok && oc.OrderedNotifications() {
		s.mu.Lock()
		notes := s.notes
		s.mu.Unlock()
		if notes != nil {
			notes.await(callCtx)
		} else {
			// A custom transport's notifications are not counted: a ping
			// round trip gives those read before the result time to be
			// handled, without a guarantee.
			_ = sess.Ping(callCtx, nil)
		}
	}
	return res, nil
}

// callError explains why a call failed: the caller's cancellation, the
// call's own timeout, the registry's shutdown, or a protocol or transport
// error.
func (s *server) callError(ctx, life, callCtx context.Context, name, original string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("calling tool %q on server %q: %w", original, s.cfg.Name, ctx.Err())
	case errors.Is(context.Cause(callCtx), errCallTimedOut):
		return &TimeoutError{Tool: name, Timeout: s.timeout}
	case life.Err() != nil:
		return fmt.Errorf("calling tool %q on server %q: %w", original, s.cfg.Name, ErrClosed)
	default:
		return fmt.Errorf("calling tool %q on server %q: %w", original, s.cfg.Name, s.redactError(err))
	}
}

// redactError returns err, or when its text holds a secret, an error of
// the redacted text that wraps it.
func (s *server) redactError(err error) error {
	if msg := s.red.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

// redactedError is an error whose text had secrets taken out.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// unavailable is the error of a call to a server without a session.
func (s *server) unavailable(name, state, lastErr string) error {
	if lastErr == "" {
		return fmt.Errorf("tool %q is unavailable: server %q is not connected (%s): %w", name, s.cfg.Name, state, ErrServerNotConnected)
	}
	return fmt.Errorf("tool %q is unavailable: server %q is not connected (%s: %s): %w", name, s.cfg.Name, state, lastErr, ErrServerNotConnected)
}

// backoff computes the delays between connection attempts: min after a
// failure, doubling up to max on each further failure, and back to min
// after a session that stayed up for stableSession.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the delay before the next attempt, given how long the last
// session was ready (0 when the attempt failed).
func (b *backoff) next(lived time.Duration) time.Duration {
	if lived >= stableSession {
		b.cur = 0
	}
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}
