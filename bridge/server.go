// Package bridge is mcp-bridge's HTTP server: the OpenAI-compatible chat
// endpoint with its tool loop, model listing, health, and the activity feed.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/time/rate"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/console"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Tools is the aggregated MCP tool registry the bridge serves and calls.
type Tools interface {
	// Tools returns the current tools, sorted by name. The slice is shared:
	// callers do not modify it.
	Tools() []mcpclient.Tool
	// Version changes whenever the tool set changes.
	Version() uint64
	// Call runs a tool. Tool failures are results with IsError; errors are
	// for calls that could not be made (unknown tool, server down, timeout).
	Call(ctx context.Context, name string, args json.RawMessage) (*mcpclient.Result, error)
	// Servers reports each configured server's state.
	Servers() []mcpclient.ServerStatus
}

var _ Tools = (*mcpclient.Registry)(nil)

// Upstream is the OpenAI-compatible LLM server.
type Upstream interface {
	// ChatCompletionsBuffers sends the concatenation of parts unchanged
	// and returns a 2xx response, or an *llm.Error.
	ChatCompletionsBuffers(ctx context.Context, parts net.Buffers) (*http.Response, error)
	// Models lists the upstream's models.
	Models(ctx context.Context) (*llm.ModelList, error)
}

var _ Upstream = (*llm.Client)(nil)

// Options configures a Server. Tools, and Upstream or Router, are
// required.
type Options struct {
	// Upstream is the one upstream of a bridge without Router: it takes
	// every model, as the upstream named "default".
	Upstream Upstream
	// Router picks the upstream of each request's model (aliases, globs,
	// priorities, weights, failover, profiles) and lists the models. nil
	// means Upstream alone.
	Router *route.Router
	Tools  Tools
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
	// MaxRounds bounds the upstream rounds of one chat request. Zero means 8.
	MaxRounds int
	// Deadline bounds one chat request's tool loop. Zero means 10 minutes.
	Deadline time.Duration
	// Display is how tool activity shows in streamed answers: DisplayNone,
	// DisplayStatus or DisplayDetails. Empty means DisplayStatus.
	Display string
	// Keepalive is the interval of ": keepalive" comments while tools run or
	// the upstream is silent. Zero means 15 s; negative disables them.
	Keepalive time.Duration
	// WarnToolsBytes is the size of the injected tool definitions past
	// which the bridge warns, once per change of the tool set. Zero means
	// 256 KiB; negative never warns.
	WarnToolsBytes int
	// Exposure is how the bridge's tools reach the model in chat requests:
	// ExposureAll (every tool the caller may use), ExposureSearch (the
	// search_tools function, AlwaysTools and what the model found) or
	// ExposureAuto (search once the caller's tools exceed SearchThreshold
	// or an upstream profile's tool limit). Empty means ExposureAll.
	Exposure string
	// SearchThreshold is the number of tools past which ExposureAuto
	// searches. Zero means 40.
	SearchThreshold int
	// AlwaysTools are globs of tool names injected in search mode too.
	// nil means none.
	AlwaysTools []string
	// MaxParallel bounds the tool calls one request runs at once. Zero means 8.
	MaxParallel int
	// MaxBodyBytes bounds request bodies. Zero means 16 MiB.
	MaxBodyBytes int64
	// Auth resolves who each request comes from and what it may use
	// (named keys, policies, JWTs). nil means APIKeys alone decide.
	Auth *auth.Authenticator
	// APIKeys, when Auth is nil and this is not empty, are required on
	// every route but health checks, as "Authorization: Bearer KEY" or
	// "X-Api-Key: KEY", each with full access.
	APIKeys []string
	// ForwardIdentityHeader, when set, is the header that carries the
	// caller's name on its upstream requests (upstream.forward_identity).
	ForwardIdentityHeader string
	// Limits applies the policies' rates, token budgets and stream
	// counts. nil means an in-process limiter.
	Limits *auth.Limits
	// Secrets are removed from every error message sent to clients.
	Secrets []string
	// Turns keeps the bridge's halves of mixed tool turns, and the rounds
	// paused for approval, where the other replicas find them (Redis). nil
	// keeps them in process (at most 10000 turns and 1000 rounds, each
	// group within MaxPendingBytes).
	Turns TurnStore
	// Feed carries the activity feed between replicas (Redis pub/sub).
	// nil means each replica's feed shows its own activity.
	Feed FeedBus
	// State reports on the state shared with other replicas, in /readyz.
	// nil means there is none to report.
	State SharedState
	// PendingTTL is how long the bridge's half of a mixed tool turn waits
	// for the client's follow-up. Zero means 30 minutes.
	PendingTTL time.Duration
	// DisableBuiltinModel turns off BuiltinModel: it is not listed by
	// /v1/models, and requests naming it go to Upstream like any other.
	// False (the zero value) serves it.
	DisableBuiltinModel bool
	// Version is reported by /healthz.
	Version string
	// SamplingModel is the upstream model that answers a server's sampling
	// request during a chat completion when the request's hints name none
	// the upstream has. Empty means the chat request's model.
	SamplingModel string
	// AllowedOrigins are the browser origins (e.g. "https://chat.example")
	// allowed on every route besides pages on loopback hosts and the
	// bridge's own pages; "*" allows any. Other origins are refused with
	// 403 before anything runs.
	AllowedOrigins []string
	// AllowedHosts are the Host header values accepted besides loopback
	// names and addresses: a name (any port) or name:port; "*" accepts any.
	// The Host header is checked when Loopback is set or AllowedHosts is
	// not empty (DNS rebinding).
	AllowedHosts []string
	// Loopback says the bridge listens on loopback addresses only.
	Loopback bool
	// ReadHeaderTimeout bounds the reading of a request's headers. Zero
	// means 10 s.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds the reading of a request's body, from the end
	// of its headers; streamed answers are not affected. Zero means 30 s.
	BodyReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for that long. Zero
	// means 2 minutes.
	IdleTimeout time.Duration
	// SessionIdleTimeout ends MCP face sessions (streamable HTTP) that
	// received no request for that long. Zero means 10 minutes.
	SessionIdleTimeout time.Duration
	// MaxSessions bounds the open MCP face sessions (all transports); a
	// new session past it is refused with 503. Zero means 1000.
	MaxSessions int
	// MaxPendingBytes bounds the memory of mixed tool turns waiting for the
	// client's follow-up: each turn, and all of them together. Zero means
	// 1 MiB per turn and 64 MiB in all.
	MaxPendingBytes int64
	// Shutdown, once done, ends every chat request still running: a
	// stream that has begun gets an error event with code
	// "shutting_down" and ends, any other request is answered 503. A
	// graceful shutdown ends it when its drain time has passed, before
	// closing the connections, so that no answer is cut without a word.
	// nil means requests are never ended this way.
	Shutdown context.Context
	// Approver decides which chat tool calls wait for a person's approval
	// (see approval.go). nil means none do.
	Approver Approver
	// Observer is told of what happens (chat requests, tool calls on
	// every face, refusals, HTTP and upstream requests, servers, reloads),
	// besides the activity feed, which always is. A *observe.Metrics in it
	// is served at GET /metrics behind the keys unless it has a listener
	// of its own; a failing observe.Checker in it makes /readyz 503. nil
	// means the activity feed alone.
	Observer observe.Observer
}

// Server serves the bridge's HTTP routes. Create it with New.
//
// The settings a request uses (see [Server.Apply]) are read once when it
// arrives: every handler runs on a view of the Server whose opts are that
// snapshot, so that a request in flight finishes with the settings it
// started with.
type Server struct {
	// modelsWarn lets the warning of an upstream that does not list its
	// models out once a minute: clients poll /v1/models.
	modelsWarn *rate.Sometimes
	opts       Options                  // the settings of this view (the root's: those of New)
	settings   *atomic.Pointer[Options] // the current settings, shared by every view
	config     *atomic.Pointer[ConfigStatus]
	log        *slog.Logger
	echo       *echo.Echo
	tools      *toolCache
	pending    *pendingTurns
	events     *events
	obs        observe.Observer // the feed and Options.Observer
	face       *face            // nil when Tools is not a Registry
	origin     *originPolicy

	approvals *approvals       // chat rounds waiting for approval (approval.go)
	latency   *console.Latency // each server's latest tool calls, for the console
}

// New returns a Server with opts' zero values replaced by defaults.
func New(opts Options) (*Server, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if opts.Limits == nil {
		opts.Limits = &auth.Limits{Limiter: auth.NewMemoryLimiter(nil)}
	}
	s := &Server{
		opts:       opts,
		settings:   new(atomic.Pointer[Options]),
		config:     new(atomic.Pointer[ConfigStatus]),
		log:        log,
		tools:      &toolCache{src: opts.Tools, warnBytes: opts.WarnToolsBytes, log: log},
		origin:     newOriginPolicy(opts.AllowedOrigins, opts.AllowedHosts, opts.Loopback),
		events:     newEvents(log, opts.Feed),
		modelsWarn: &rate.Sometimes{Interval: time.Minute},
	}
	turns, rounds := opts.Turns, opts.Turns
	if turns == nil {
		turns, rounds = newMemTurns(10000, opts.MaxPendingBytes), newMemTurns(1000, opts.MaxPendingBytes)
	}
	s.pending = newPendingTurns(turns, opts.PendingTTL, min(opts.MaxPendingBytes, 1<<20), log)
	s.approvals = newApprovals(rounds, opts.PendingTTL, min(opts.MaxPendingBytes, 1<<20), log)
	s.latency = console.NewLatency(0)
	s.obs = observe.Multi(s.events, opts.Observer, s.latency)
	if opts.Observer != nil {
		// The servers already up when the bridge is made have had their
		// events; the observer starts from their state.
		for _, sv := range opts.Tools.Servers() {
			if sv.State == mcpclient.StateReady {
				opts.Observer.ServerState(context.Background(), mcpclient.Event{Server: sv.Name, Kind: mcpclient.EventUp, Tools: sv.Tools})
			}
		}
	}
	if reg, ok := opts.Tools.(Registry); ok {
		s.face = newFace(reg, opts.Version, log, opts.Limits)
		s.face.obs, s.face.serverOf = s.obs, s.serverOf
	}
	s.settings.Store(&opts)
	s.echo = s.routes()
	return s, nil
}

// Apply makes opts the settings of the requests that arrive from now on;
// requests in flight finish with the settings they started with. It takes
// from opts what a request reads: Upstream, Router, Auth, APIKeys, MaxRounds,
// Deadline, Display, Keepalive, MaxParallel, ForwardIdentityHeader,
// Secrets, DisableBuiltinModel, SamplingModel, Exposure, SearchThreshold
// and AlwaysTools, with New's defaults for
// their zero values. Everything else is fixed by New and kept: Tools,
// Logger, Limits (their counters live on; the policies they apply come
// with Auth), MaxBodyBytes, the origin and host policy, the HTTP server's
// timeouts, the MCP face's sessions, PendingTTL, WarnToolsBytes, Version
// and Shutdown; so is whether the JWT metadata route is served. The MCP
// face's own sampling and the OpenAPI document's options keep New's
// settings too. An invalid opts (Display, Upstream) changes nothing and
// returns an error. Open /ws sessions are judged again by the new Auth:
// those whose credentials no longer pass or whose view changed end. It is
// safe for concurrent use.
func (s *Server) Apply(opts Options) error {
	if opts.Tools == nil {
		opts.Tools = s.opts.Tools
	}
	if err := opts.fill(); err != nil {
		return err
	}
	fixed := s.opts
	fixed.Upstream, fixed.Router, fixed.Auth, fixed.APIKeys = opts.Upstream, opts.Router, opts.Auth, opts.APIKeys
	fixed.MaxRounds, fixed.Deadline, fixed.Display = opts.MaxRounds, opts.Deadline, opts.Display
	fixed.Keepalive, fixed.MaxParallel = opts.Keepalive, opts.MaxParallel
	fixed.ForwardIdentityHeader, fixed.Secrets = opts.ForwardIdentityHeader, opts.Secrets
	fixed.DisableBuiltinModel, fixed.SamplingModel = opts.DisableBuiltinModel, opts.SamplingModel
	fixed.Exposure, fixed.SearchThreshold, fixed.AlwaysTools = opts.Exposure, opts.SearchThreshold, opts.AlwaysTools
	s.settings.Store(&fixed)
	if s.face != nil {
		s.face.recheckSockets(resolverOf(fixed.Auth))
	}
	return nil
}

// view returns the Server as a request arriving now sees it: its settings
// the current snapshot.
func (s *Server) view() *Server {
	v := *s
	v.opts = *s.settings.Load()
	return &v
}

// viewKey is where a request's view is kept in its echo.Context.
const viewKey = "mcp-bridge.view"

// viewOf returns the view of the request of c, taken by the first
// middleware.
func (s *Server) viewOf(c echo.Context) *Server {
	if v, ok := c.Get(viewKey).(*Server); ok {
		return v
	}
	return s.view()
}

// on runs the handler h on the view of each request.
func (s *Server) on(h func(*Server, echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error { return h(s.viewOf(c), c) }
}

// ConfigStatus is the state of the configuration, which /readyz shows to
// requests with a key.
type ConfigStatus struct {
	// LoadedAt is when the configuration in use was loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// Error is why the last reload was refused; "" when it was applied.
	Error string `json:"error,omitempty"`
}

// SetConfigStatus sets what /readyz reports of the configuration; until
// it is called, /readyz says nothing of it. It is safe for concurrent
// use.
func (s *Server) SetConfigStatus(st ConfigStatus) { s.config.Store(&st) }

// fill checks o and replaces its zero values by defaults.
func (o *Options) fill() error {
	if (o.Upstream == nil && o.Router == nil) || o.Tools == nil {
		return errors.New("bridge: Upstream or Router, and Tools, are required")
	}
	if o.Router == nil {
		label := "upstream"
		if u, ok := o.Upstream.(interface{ BaseURL() string }); ok {
			label = u.BaseURL()
		}
		o.Router = route.Single(o.Upstream, label)
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = 8
	}
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Minute
	}
	switch o.Display {
	case "":
		o.Display = DisplayStatus
	case DisplayNone, DisplayStatus, DisplayDetails:
	default:
		return errors.New(`bridge: Display must be "none", "status" or "details", got "` + o.Display + `"`)
	}
	if o.Keepalive == 0 {
		o.Keepalive = 15 * time.Second
	}
	switch o.Exposure {
	case "":
		o.Exposure = ExposureAll
	case ExposureAll, ExposureSearch, ExposureAuto:
	default:
		return errors.New(`bridge: Exposure must be "all", "search" or "auto", got "` + o.Exposure + `"`)
	}
	if o.SearchThreshold <= 0 {
		o.SearchThreshold = 40
	}
	for _, g := range o.AlwaysTools {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("bridge: AlwaysTools: invalid glob %q: %v", g, err)
		}
	}
	if o.WarnToolsBytes == 0 {
		o.WarnToolsBytes = 256 << 10
	}
	if o.MaxParallel <= 0 {
		o.MaxParallel = 8
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = 30 * time.Minute
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.SessionIdleTimeout <= 0 {
		o.SessionIdleTimeout = 10 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Auth == nil {
		a, err := auth.New(auth.Config{APIKeys: o.APIKeys}, &auth.Options{Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("bridge: %w", err)
		}
		o.Auth = a
	}
	return nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// HTTPServer returns an http.Server for the handler with the bounds of
// Options: header read timeout and idle timeout (the body's read timeout
// is applied per request, so that streamed answers are not cut). Serving
// through it is what makes slow clients harmless.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Publish sends a registry event (a server up or down, tools, resources or
// prompts changed) to the activity feed and updates the MCP face, whose
// clients are told of the change. It is safe for concurrent use.
func (s *Server) Publish(ev mcpclient.Event) {
	if s.face != nil {
		s.face.sync()
	}
	s.obs.ServerState(context.Background(), ev)
}

// ResourceUpdated passes a resource update from a server to the MCP
// face's subscribed clients. It is safe for concurrent use.
func (s *Server) ResourceUpdated(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
	if s.face != nil {
		s.face.resourceUpdated(ctx, p)
	}
}

// Close ends the activity feed's streams and the MCP face's sessions, so
// that a graceful shutdown is not held by clients that merely listen.
// In-flight chat requests are not affected: the http.Server's Shutdown
// drains them.
func (s *Server) Close() {
	s.events.close()
	if s.face != nil {
		s.face.close()
	}
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpError
	e.Use(middleware.Recover())
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(viewKey, s.view()) // the settings of the whole request
			return next(c)
		}
	})
	e.Use(middleware.RequestID())
	e.Use(s.observeHTTP)
	e.Use(s.origin.middleware)
	e.Use(s.bodyDeadline)
	e.GET("/healthz", s.healthz)
	if s.opts.Auth.JWT() {
		// OAuth 2.1 protected resource metadata (RFC 9728), which MCP
		// clients read, without credentials, to find the issuer.
		meta := echo.WrapHandler(s.opts.Auth.MetadataHandler())
		e.GET(auth.MetadataPath, meta)
		e.GET(auth.MetadataPath+"/*", meta)
	}
	e.GET("/readyz", s.on((*Server).readyz))

	authn := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return s.viewOf(c).authenticate(next)(c) }
	}
	api := e.Group("", authn, requireJSON)
	api.POST("/v1/chat/completions", s.on((*Server).chat), middleware.BodyLimit(sizeString(s.opts.MaxBodyBytes)))
	api.POST("/chat/completions", s.on((*Server).chat), middleware.BodyLimit(sizeString(s.opts.MaxBodyBytes)))
	api.GET("/v1/models", s.on((*Server).models))
	api.GET("/models", s.on((*Server).models))
	api.GET("/v1/events", s.events.serve)
	if m, ok := observe.Find[*observe.Metrics](s.opts.Observer); ok && !m.OwnListener() {
		api.GET("/metrics", echo.WrapHandler(m.Handler()))
	}
	s.mountOpenAPI(api)
	if s.face != nil {
		s.mountMCP(api)
	}
	s.mountConsole(e, api)
	return e
}

// sizeString formats n bytes for echo's BodyLimit.
func sizeString(n int64) string {
	return strings.TrimSpace(jsonNumber(n)) + "B"
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// httpError answers every error that reaches echo in the OpenAI shape.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		typ := "invalid_request_error"
		switch he.Code {
		case http.StatusRequestEntityTooLarge:
			msg = "request body is larger than the limit of " + jsonNumber(s.opts.MaxBodyBytes) + " bytes"
		case http.StatusUnauthorized:
			typ = "authentication_error"
		case http.StatusNotFound:
			msg = "no route for " + c.Request().Method + " " + c.Request().URL.Path
		}
		if he.Code >= 500 {
			typ = "server_error"
		}
		ae = &apiError{Status: he.Code, Message: msg, Type: typ}
	default:
		ae = toAPIError(err, s.opts.Secrets)
	}
	writeAPIError(c.Response(), ae)
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.body())
}

// authenticate resolves the request's Principal once, before the body is
// read: its identity (a key or a JWT, when auth is on) narrowed by the
// X-MCP-Servers and X-MCP-Tools headers. Every route then asks the
// principal in the request's context (auth.FromContext). A refusal closes
// the connection rather than wait for a body nobody will read.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		p, err := resolve(s.opts.Auth, req)
		if err != nil {
			c.Response().Header().Set("Connection", "close")
			s.deniedBy(c, err)
			return toAPIError(err, s.opts.Secrets)
		}
		c.SetRequest(req.WithContext(auth.NewContext(req.Context(), p)))
		return next(c)
	}
}

// resolve is who the request r comes from under the authenticator a,
// narrowed by its X-MCP-Servers and X-MCP-Tools headers.
func resolve(a *auth.Authenticator, r *http.Request) (*auth.Principal, error) {
	p, err := a.Authenticate(r)
	if err == nil {
		p, err = auth.Narrow(p, r.Header)
	}
	return p, err
}

// resolverOf is resolve under the authenticator a.
func resolverOf(a *auth.Authenticator) func(*http.Request) (*auth.Principal, error) {
	return func(r *http.Request) (*auth.Principal, error) { return resolve(a, r) }
}

// models lists the upstream's models, and BuiltinModel unless disabled:
// alone, with a warning in the log, when the upstream does not answer, so
// that a client can offer it while no LLM is up.
func (s *Server) models(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.opts.Router.Models(ctx)
	if err != nil {
		if s.opts.DisableBuiltinModel || ctx.Err() != nil {
			return toAPIError(err, s.opts.Secrets)
		}
		s.modelsWarn.Do(func() {
			s.log.Warn("the upstream did not list its models; listing "+BuiltinModel+" alone (said at most once a minute)",
				"err", toAPIError(err, s.opts.Secrets).Message)
		})
		list = nil
	}
	if !s.opts.DisableBuiltinModel {
		list = withBuiltinModel(list)
	}
	// Only the models the caller may ask for. The list may be the cache's:
	// filter into a new one.
	if p := auth.FromContext(ctx); p.Policy != nil {
		mine := &llm.ModelList{Object: list.Object, Data: make([]llm.Model, 0, len(list.Data))}
		for _, m := range list.Data {
			if p.AllowsModel(m.ID) {
				mine.Data = append(mine.Data, m)
			}
		}
		list = mine
	}
	return c.JSON(http.StatusOK, list)
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

// readyz reports each MCP server's state; it answers 503 while any enabled
// server is not ready, so that a deployment can wait for the tools, and
// while an observe.Checker of Options.Observer fails (the audit log
// cannot write), with the reason, and while Options.State is down with
// its limits failing closed (failing open, it is only reported). When
// API keys are configured, the details (servers, their errors, tool
// counts) are given only to a request with a key.
func (s *Server) readyz(c echo.Context) error {
	all := s.opts.Tools.Servers()
	obsErr := observe.Healthy(s.opts.Observer)
	state, stateDown := s.stateReady(c.Request().Context())
	status, code := "ready", http.StatusOK
	for _, sv := range all {
		if sv.State != mcpclient.StateReady && sv.State != mcpclient.StateDisabled {
			status, code = "degraded", http.StatusServiceUnavailable
		}
	}
	p, keyErr := s.opts.Auth.Authenticate(c.Request())
	if keyErr != nil {
		// Without a key: ready or not, nothing about the servers.
		if obsErr != nil || stateDown {
			status, code = "degraded", http.StatusServiceUnavailable
		}
		return c.JSON(code, map[string]string{"status": status})
	}
	// The status is the bridge's; the details only of what the key's
	// policy lets it use, as the console shows them.
	servers := console.ServersView(p, all, s.opts.Tools.Tools(), s.opts.Secrets, s.latency)
	tools := 0
	for _, sv := range servers {
		tools += sv.Tools
	}
	out := map[string]any{"status": status, "servers": servers, "tools": tools}
	if b, ok := s.opts.Tools.(interface {
		Blocked() []mcpclient.BlockedTool
	}); ok {
		var blocked []mcpclient.BlockedTool
		for _, t := range b.Blocked() {
			if p.AllowsServer(t.Server) {
				blocked = append(blocked, t) // kept out by the guard, and why
			}
		}
		if len(blocked) > 0 {
			out["blocked_tools"] = blocked
		}
	}
	if obsErr != nil {
		// The audit log cannot write: what happens is not being recorded.
		out["status"], code = "degraded", http.StatusServiceUnavailable
		out["error"] = mcpclient.Redact(obsErr.Error(), s.opts.Secrets)
	}
	if state != nil {
		out["state"] = state
		if stateDown {
			out["status"], code = "degraded", http.StatusServiceUnavailable
		}
	}
	if cs := s.config.Load(); cs != nil {
		cs := *cs
		cs.Error = mcpclient.Redact(cs.Error, s.opts.Secrets)
		out["config"] = cs
	}
	return c.JSON(code, out)
}
