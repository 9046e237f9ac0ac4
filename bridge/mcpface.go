package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Registry is what the MCP face needs of the tool registry beyond Tools:
// results passed on whole, resources, prompts and completions.
type Registry interface {
	Tools
	CallTool(ctx context.Context, name string, args json.RawMessage) (*mcp.CallToolResult, error)
	Resources() []mcpclient.Resource
	ResourceTemplates() []mcpclient.ResourceTemplate
	Prompts() []mcpclient.Prompt
	FeaturesVersion() uint64
	ReadResource(ctx context.Context, uri string) (*mcp.ReadResourceResult, error)
	GetPrompt(ctx context.Context, name string, args map[string]string) (*mcp.GetPromptResult, error)
	Complete(ctx context.Context, p *mcp.CompleteParams) (*mcp.CompleteResult, error)
	ResourceOwner(uri string) (server string, ok bool)
	Subscribe(ctx context.Context, uri string) error
	Unsubscribe(ctx context.Context, uri string) error
	SetLoggingLevel(ctx context.Context, level string)
}

var _ Registry = (*mcpclient.Registry)(nil)

// face is the bridge as an MCP server. Each caller sees only what its
// policy (and its narrowing headers) allow, so the face holds one go-sdk
// server per view (auth.Principal.ViewKey), made on first use and kept
// current by sync; every transport (streamable HTTP, SSE, WebSocket)
// picks the server of the request's principal. A session belongs to the
// caller that opened it: requests of another identity naming its id are
// refused (see bind), and tool calls count against its owner's limits.
type face struct {
	reg     Registry
	version string
	log     *slog.Logger
	limits  *auth.Limits
	// obs hears of the face's tool calls; serverOf names a tool's server
	// ("" for none). Both are set by New.
	obs      observe.Observer
	serverOf func(tool string) string

	// sseStreams counts the open GET streams of /sse: one per session.
	sseStreams atomic.Int64

	mu     sync.Mutex
	closed bool
	views  map[string]*faceView       // by view key; "" is the full view
	owners map[string]*auth.Principal // session id -> the caller that opened it
	// sockets are the open /ws sessions, by id (see watchSocket).
	sockets map[string]*liveSocket

	// inputs are the stateless clients' calls waiting for answers.
	inputs inputCalls
}

// faceListTTL is the ttlMs the face gives its lists. Clients that listen
// for changes (sessions, subscriptions/listen) hear of them at once; the
// others list again after this long.
const faceListTTL = 30 * time.Second

// maxFaceViews bounds the go-sdk servers of the face: one per distinct
// view. A request of a new view past it is refused.
const maxFaceViews = 256

func newFace(reg Registry, version string, log *slog.Logger, limits *auth.Limits) *face {
	f := &face{reg: reg, version: version, log: log, limits: limits, views: map[string]*faceView{}, owners: map[string]*auth.Principal{},
		sockets: map[string]*liveSocket{},
		obs:     observe.Nop{}, serverOf: func(string) string { return "" }}
	f.view(nil) // the full view, synced from the start
	return f
}

// view returns the server of p's view, making it on first use; nil when
// the face is closed or holds too many views.
func (f *face) view(p *auth.Principal) *faceView {
	key := p.ViewKey()
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.views[key]; ok {
		return v
	}
	if f.closed || len(f.views) >= maxFaceViews {
		return nil
	}
	v := newFaceView(f, p)
	f.views[key] = v
	return v
}

// server is the go-sdk server for a request, by its principal.
func (f *face) server(r *http.Request) *mcp.Server {
	if v := f.view(auth.FromContext(r.Context())); v != nil {
		return v.srv
	}
	return nil
}

// all returns the views.
func (f *face) all() []*faceView {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*faceView, 0, len(f.views))
	for _, v := range f.views {
		out = append(out, v)
	}
	return out
}

// sync brings every view in line with the registry.
func (f *face) sync() {
	for _, v := range f.all() {
		v.sync()
	}
}

// bind checks that the session id named by a request of p belongs to p's
// identity, binding it to p when it is seen for the first time (the first
// request that carries a new session's id is its opener's own). It
// reports false for a session opened by another caller.
func (f *face) bind(id string, p *auth.Principal) binding {
	f.mu.Lock()
	if owner, ok := f.owners[id]; ok {
		f.mu.Unlock()
		switch {
		case owner.LimitKey() != p.LimitKey():
			return notYours
		case owner.ViewKey() != p.ViewKey():
			// The same caller, whose policy a reload changed: the session's
			// view is the old policy's, so the session ends.
			f.end(id)
			return viewChanged
		}
		return bound
	}
	defer f.mu.Unlock()
	if len(f.owners) >= 2*maxOwnerSweep {
		f.sweepLocked()
	}
	f.owners[id] = p
	return bound
}

// binding is what bind found of a request naming a session.
type binding int

const (
	bound       binding = iota // the session is the caller's
	notYours                   // another caller opened it
	viewChanged                // the caller's, opened under a policy since changed; ended
)

// end closes the session id and forgets its owner.
func (f *face) end(id string) {
	for _, v := range f.all() {
		for ss := range v.srv.Sessions() {
			if ss.ID() == id {
				_ = ss.Close()
			}
		}
	}
	f.mu.Lock()
	delete(f.owners, id)
	f.mu.Unlock()
}

// maxOwnerSweep is how many bindings are kept before those of ended
// sessions are dropped.
const maxOwnerSweep = 1024

// sweepLocked drops the bindings of sessions that ended. f.mu is held.
func (f *face) sweepLocked() {
	live := map[string]bool{}
	for _, v := range f.views {
		for ss := range v.srv.Sessions() {
			live[ss.ID()] = true
		}
	}
	for id := range f.owners {
		if !live[id] {
			delete(f.owners, id)
		}
	}
}

// owner returns the caller that opened the session with the id; nil when
// unknown (the session's first request is still under way).
func (f *face) owner(id string) *auth.Principal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owners[id]
}

// resourceUpdated passes a downstream resource update to the subscribed
// clients of the views that publish the resource.
func (f *face) resourceUpdated(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
	for _, v := range f.all() {
		v.resourceUpdated(ctx, p)
	}
}

// sessions returns the number of open MCP sessions of the face, on every
// transport and view. The stateless revision's requests, served each by a
// go-sdk session of its own without an id, are not sessions a client
// holds; go-sdk gives SSE sessions no id either, so those are counted by
// their open streams (sseStreams).
func (f *face) sessions() int {
	n := int(f.sseStreams.Load())
	for _, v := range f.all() {
		for ss := range v.srv.Sessions() {
			if ss.ID() != "" {
				n++
			}
		}
	}
	return n
}

// close ends the face's sessions and stops it following the registry, so
// that servers stopping at shutdown do not send list_changed to sessions
// whose connections are closing.
func (f *face) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	for _, v := range f.all() {
		v.close()
	}
	f.inputs.closeAll()
}

// faceView is one go-sdk server whose tools, resources, templates and
// prompts mirror the registry's as seen by one view, kept current by sync.
type faceView struct {
	f   *face
	p   *auth.Principal // a principal of the view: what it may see
	reg Registry
	srv *mcp.Server
	log *slog.Logger

	mu        sync.Mutex // serialises sync
	closed    bool       // close was called: lists no longer follow the registry
	versions  [2]uint64  // registry versions (tools, features) last synced
	synced    bool
	tools     map[string]string // exposed name -> published definition
	resources map[string]string // URI -> server
	templates map[string]string // URI template -> server
	prompts   map[string]string // exposed name -> published definition
}

func newFaceView(f *face, p *auth.Principal) *faceView {
	reg, log := f.reg, f.log
	v := &faceView{f: f, p: p, reg: reg, log: log, tools: map[string]string{}, resources: map[string]string{},
		templates: map[string]string{}, prompts: map[string]string{}}
	v.srv = mcp.NewServer(&mcp.Implementation{Name: "mcp-bridge", Version: f.version}, &mcp.ServerOptions{
		Logger:       sdkLogger(log),
		HasTools:     true,
		HasResources: true,
		HasPrompts:   true,
		Instructions: "mcp-bridge: the tools, resources and prompts of several MCP servers. Tool and prompt names are <server>__<name>.",
		CompletionHandler: func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return reg.Complete(ctx, req.Params)
		},
		SubscribeHandler: func(ctx context.Context, req *mcp.SubscribeRequest) error {
			if !v.mayRead(req.Params.URI) {
				return mcp.ResourceNotFoundError(req.Params.URI)
			}
			return reg.Subscribe(ctx, req.Params.URI)
		},
		UnsubscribeHandler: func(ctx context.Context, req *mcp.UnsubscribeRequest) error {
			return reg.Unsubscribe(ctx, req.Params.URI)
		},
		// Lists (and reads) stay fresh for faceListTTL, for this caller
		// only: what a view lists depends on the caller's policy, so no
		// shared cache may hand it to another.
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.TTLMs, c.CacheScope = int(faceListTTL/time.Millisecond), "private"
		},
	})
	// Every request sees the registry as it is now, even if the event
	// that would have synced the face has not been handled yet.
	v.srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			v.sync()
			if p, ok := req.GetParams().(*mcp.SetLoggingLevelParams); ok && method == "logging/setLevel" && p != nil {
				// Servers log only once asked to; each face session still
				// gets only the levels it asked for.
				reg.SetLoggingLevel(ctx, string(p.Level))
			}
			return next(ctx, method, req)
		}
	})
	v.sync()
	return v
}

// sync brings the server's lists in line with the registry, when the
// registry changed since the last sync. go-sdk tells connected clients of
// each change with a list_changed notification. It is cheap when nothing
// changed.
func (f *faceView) sync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return // shutting down: the sessions' transports are going away
	}
	v := [2]uint64{f.reg.Version(), f.reg.FeaturesVersion()}
	if f.synced && v == f.versions {
		return
	}
	f.synced, f.versions = true, v

	p := f.p
	syncList(f.tools, visible(f.reg.Tools(), func(t mcpclient.Tool) bool { return p.AllowsTool(t.Name, t.Server) }),
		func(t mcpclient.Tool) (string, any) { return t.Name, publishedTool(t) },
		func(t mcpclient.Tool, def any) { f.srv.AddTool(def.(*mcp.Tool), f.callTool(t.Name)) },
		f.srv.RemoveTools)
	syncList(f.resources, visible(f.reg.Resources(), func(r mcpclient.Resource) bool { return p.AllowsServer(r.Server) }),
		func(r mcpclient.Resource) (string, any) { return r.Def.URI, r.Def },
		func(r mcpclient.Resource, _ any) { f.srv.AddResource(r.Def, f.readResource) },
		f.srv.RemoveResources)
	syncList(f.templates, visible(f.reg.ResourceTemplates(), func(t mcpclient.ResourceTemplate) bool { return p.AllowsServer(t.Server) }),
		func(t mcpclient.ResourceTemplate) (string, any) { return t.Def.URITemplate, t.Def },
		func(t mcpclient.ResourceTemplate, _ any) { f.srv.AddResourceTemplate(t.Def, f.readResource) },
		f.srv.RemoveResourceTemplates)
	syncList(f.prompts, visible(f.reg.Prompts(), func(pr mcpclient.Prompt) bool { return p.AllowsServer(pr.Server) }),
		func(p mcpclient.Prompt) (string, any) {
			def := *p.Def
			def.Name = p.Name
			return p.Name, &def
		}, func(p mcpclient.Prompt, def any) {
			name := p.Name
			f.srv.AddPrompt(def.(*mcp.Prompt), func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				ctx = passInput(ctx, req.Session, req.Params.Meta, req.Params.InputResponses, req.Params.RequestState)
				return f.reg.GetPrompt(ctx, name, req.Params.Arguments)
			})
		}, f.srv.RemovePrompts)
}

// visible returns the items keep allows; items itself when it allows all.
func visible[T any](items []T, keep func(T) bool) []T {
	for i, it := range items {
		if keep(it) {
			continue
		}
		out := append(make([]T, 0, len(items)), items[:i]...)
		for _, it := range items[i+1:] {
			if keep(it) {
				out = append(out, it)
			}
		}
		return out
	}
	return items
}

// syncList brings one list of the face in line with items. published maps
// each key (a name or URI) to the encoding of what was published under it;
// publish returns an item's key and definition; add publishes a new or
// changed definition and remove withdraws keys. The first item with a key
// wins.
func syncList[T any](published map[string]string, items []T, publish func(T) (string, any), add func(T, any), remove func(...string)) {
	want := make(map[string]bool, len(items))
	for _, it := range items {
		key, def := publish(it)
		if want[key] {
			continue
		}
		want[key] = true
		enc, _ := json.Marshal(def)
		if published[key] == string(enc) {
			continue
		}
		published[key] = string(enc)
		add(it, def)
	}
	var gone []string
	for key := range published {
		if !want[key] {
			gone = append(gone, key)
			delete(published, key)
		}
	}
	if len(gone) > 0 {
		remove(gone...)
	}
}

// publishedTool is a registry tool as the face lists it: the server's own
// definition under the exposed name. MCP clients get the schemas as the
// server wrote them ($schema, $defs and all); only a schema that is not an
// object schema is replaced by its normalised form, which go-sdk requires.
func publishedTool(t mcpclient.Tool) *mcp.Tool {
	def := &mcp.Tool{}
	if t.Def != nil {
		*def = *t.Def
	}
	def.Name = t.Name
	if !isObjectSchema(def.InputSchema) {
		def.InputSchema = t.InputSchema
	}
	if def.OutputSchema != nil && !isObjectSchema(def.OutputSchema) {
		def.OutputSchema = t.OutputSchema
	}
	return def
}

// isObjectSchema reports whether a schema, in whatever form go-sdk holds
// it, says "type": "object".
func isObjectSchema(schema any) bool {
	if schema == nil {
		return false
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return false
	}
	var head struct {
		Type any `json:"type"`
	}
	return json.Unmarshal(b, &head) == nil && head.Type == "object"
}

// callTool passes a call on to the registry for the face's client, which
// also gets whatever the server sends during the call. The call counts
// against the limits of the session's owner: a refusal is a tool error
// the client can show. A stateless client's call may span several of its
// requests (see inputCalls).
func (f *faceView) callTool(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		owner := f.p
		stateless := isStateless(ctx)
		if stateless {
			// A stateless request: its own caller, whose HTTP request's
			// context the call runs under.
			if p := auth.FromContext(ctx); p != auth.FromContext(context.Background()) {
				owner = p
			}
			if ours(req.Params.RequestState) {
				return f.f.inputs.resume(ctx, owner.LimitKey(), req)
			}
			if req.Params.RequestState != "" || req.Params.InputResponses != nil {
				// The answers to a stateless server's own input_required,
				// which went to the client untouched: they go back to it.
				ctx = mcpclient.WithInputResponses(ctx, req.Params.InputResponses, req.Params.RequestState)
			}
		} else if req.Session != nil {
			if o := f.f.owner(req.Session.ID()); o != nil {
				owner = o
			}
		}
		st := &observe.ToolCallStart{Identity: identity(owner), Face: observe.FaceMCP, Server: f.f.serverOf(name),
			Tool: name, Arguments: req.Params.Arguments}
		if req.Extra != nil && req.Extra.Header != nil {
			st.RequestID = req.Extra.Header.Get("X-Request-Id")
		}
		rec := &observe.ToolCallRecord{ToolCallStart: *st, Outcome: observe.OutcomeDenied}
		for _, check := range []func(context.Context, *auth.Principal) (auth.Decision, error){f.f.limits.Request, f.f.limits.ToolCall} {
			if _, err := check(ctx, owner); err != nil {
				f.f.denied(ctx, rec, err)
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
			}
		}
		ctx = f.f.obs.ToolCallStarted(ctx, st)
		call := func(ctx context.Context, c *faceCaller) (*mcp.CallToolResult, error) {
			ctx = mcpclient.WithCaller(callContext(ctx, owner), c, req.Params.GetProgressToken())
			start := time.Now()
			res, err := f.reg.CallTool(ctx, name, req.Params.Arguments)
			rec.Duration, rec.Outcome = time.Since(start), observe.OutcomeOf(ctx, err, err == nil && res.IsError)
			if err == nil {
				rec.ResultBytes = resultBytes(res)
			} else {
				rec.Error = err.Error()
			}
			f.f.obs.ToolCallFinished(ctx, rec)
			if err == nil {
				return res, nil
			}
			var rpcErr *jsonrpc.Error
			if errors.As(err, &rpcErr) {
				// The server's protocol error, its code and data kept
				// (a stateless server's -32021 names what the client lacks).
				return nil, &jsonrpc.Error{Code: rpcErr.Code, Message: err.Error(), Data: rpcErr.Data}
			}
			if ctx.Err() != nil {
				return nil, err
			}
			// The call could not be made (server down, timeout, bad
			// arguments): a result the client can show, as for a tool error.
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
		}
		if stateless {
			return f.f.inputs.start(ctx, owner.LimitKey(), req.Session, declared(ctx, req.Params.Meta), call)
		}
		c := &faceCaller{}
		c.setLeg(req.Session, ctx)
		return call(ctx, c)
	}
}

// denied reports a call refused by the limits.
func (f *face) denied(ctx context.Context, rec *observe.ToolCallRecord, err error) {
	d := &observe.Denial{RequestID: rec.RequestID, Identity: rec.Identity, Reason: err.Error(), Route: "mcp", Tool: rec.Tool}
	var ae *auth.Error
	if errors.As(err, &ae) {
		d.Status, d.Code = ae.Status, ae.Code
	}
	rec.Error = err.Error()
	f.obs.Denied(ctx, d)
	f.obs.ToolCallFinished(ctx, rec)
}

// resultBytes is the size of a result's text and structured content.
func resultBytes(res *mcp.CallToolResult) int {
	n := 0
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			n += len(t.Text)
		}
	}
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		n += len(b)
	}
	return n
}

func (f *faceView) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if !f.mayRead(req.Params.URI) {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	ctx = passInput(ctx, req.Session, req.Params.Meta, req.Params.InputResponses, req.Params.RequestState)
	res, err := f.reg.ReadResource(ctx, req.Params.URI)
	if errors.Is(err, mcpclient.ErrUnknownResource) {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	return res, err
}

// mayRead reports whether the view may read (or hear of) the resource at
// uri: the server the registry would read it from is one the view may use.
func (f *faceView) mayRead(uri string) bool {
	server, ok := f.reg.ResourceOwner(uri)
	return ok && f.p.AllowsServer(server)
}

// resourceUpdated passes a downstream resource update to the view's
// subscribed clients, when the view publishes the resource.
func (f *faceView) resourceUpdated(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
	if !f.mayRead(p.URI) {
		return
	}
	if err := f.srv.ResourceUpdated(ctx, p); err != nil {
		f.log.Debug("passing on a resource update", "uri", p.URI, "err", err)
	}
}

// faceCaller is an MCP client of the face, answering what a downstream
// server asks while serving that client's call. What it sends goes out
// under the context of the client's request, so that streamable HTTP
// delivers it on that request's stream, before the result. A client of the
// stateless revision is asked through input_required results (in set):
// its call spans several requests, and what is sent goes on the current
// one's stream.
type faceCaller struct {
	in *inputCall // the stateless client's call; nil for a session's
	// stateless is set for a client of the stateless revision: a stateless
	// server's input_required results go to it untouched.
	stateless bool
	// caps are the capabilities a stateless client declared in its
	// request's _meta, passed to stateless servers; nil for none.
	caps any

	mu  sync.Mutex
	ss  *mcp.ServerSession
	ctx context.Context // the current request's
}

var _ mcpclient.OrderedCaller = (*faceCaller)(nil)

// OrderedNotifications asks for the server's notifications before the
// result: MCP clients show progress and logs of a call while it runs.
func (c *faceCaller) OrderedNotifications() bool { return true }

// PassesInput takes a stateless server's input_required results as they
// are, for a client that speaks the revision: its ids and requestState
// stay the server's.
func (c *faceCaller) PassesInput() bool { return c.stateless }

// DeclaredCapabilities returns what a stateless client declared.
func (c *faceCaller) DeclaredCapabilities() any { return c.caps }

// declared returns the clientCapabilities of a stateless request's _meta.
func declared(ctx context.Context, meta map[string]any) any {
	if !isStateless(ctx) || meta == nil {
		return nil
	}
	return meta[mcp.MetaKeyClientCapabilities]
}

// passInput returns ctx for a prompt or resource request of the face: a
// stateless client takes a server's input_required as it is, and its
// retry's answers go back to the server.
func passInput(ctx context.Context, ss *mcp.ServerSession, meta map[string]any, responses mcp.InputResponseMap, state string) context.Context {
	if !isStateless(ctx) {
		return ctx
	}
	c := &faceCaller{stateless: true, caps: declared(ctx, meta)}
	c.setLeg(ss, ctx)
	ctx = mcpclient.WithCaller(ctx, c, nil)
	if state != "" || responses != nil {
		ctx = mcpclient.WithInputResponses(ctx, responses, state)
	}
	return ctx
}

// setLeg makes ss and ctx, a request of the client, where what the server
// sends goes.
func (c *faceCaller) setLeg(ss *mcp.ServerSession, ctx context.Context) {
	c.mu.Lock()
	c.ss, c.ctx = ss, ctx
	c.mu.Unlock()
}

// leg returns the client's session and the context to send under: the
// current request's while it runs, else ctx.
func (c *faceCaller) leg(ctx context.Context) (*mcp.ServerSession, context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil && c.ctx.Err() == nil {
		return c.ss, c.ctx
	}
	return c.ss, ctx
}

// can reports whether the client declared a capability (in its
// request's _meta, for the stateless revision).
func (c *faceCaller) can(has func(*mcp.ClientCapabilities) bool) bool {
	c.mu.Lock()
	ss := c.ss
	c.mu.Unlock()
	if ss == nil {
		return false
	}
	ip := ss.InitializeParams()
	return ip != nil && ip.Capabilities != nil && has(ip.Capabilities)
}

func (c *faceCaller) CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	if c.in != nil {
		if !c.can(func(cc *mcp.ClientCapabilities) bool { return cc.Sampling != nil }) {
			c.in.lacks(&mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}})
			return nil, fmt.Errorf("sampling for %s: the client does not support sampling", server)
		}
		r, err := c.in.ask(ctx, "sampling", server, p)
		if err != nil {
			return nil, err
		}
		return sampled(r)
	}
	ss, rctx := c.leg(ctx)
	if ss == nil {
		return nil, fmt.Errorf("sampling for %s: %w", server, mcpclient.ErrNoCaller)
	}
	return ss.CreateMessage(rctx, p)
}

func (c *faceCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	if c.in != nil {
		if !c.can(func(cc *mcp.ClientCapabilities) bool { return cc.Elicitation != nil }) {
			c.in.lacks(&mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{}})
			return nil, fmt.Errorf("elicitation for %s: the client does not support elicitation", server)
		}
		r, err := c.in.ask(ctx, "elicitation", server, p)
		if err != nil {
			return nil, err
		}
		if er, ok := r.(*mcp.ElicitResult); ok {
			return er, nil
		}
		return nil, fmt.Errorf("elicitation for %s: the client answered with %T", server, r)
	}
	ss, rctx := c.leg(ctx)
	if ss == nil {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}
	return ss.Elicit(rctx, p)
}

func (c *faceCaller) Progress(ctx context.Context, p *mcp.ProgressNotificationParams) {
	if ss, rctx := c.leg(ctx); ss != nil {
		_ = ss.NotifyProgress(rctx, p)
	}
}

func (c *faceCaller) Log(ctx context.Context, server string, p *mcp.LoggingMessageParams) {
	if ss, rctx := c.leg(ctx); ss != nil {
		_ = ss.Log(rctx, p)
	}
}

// close ends the view's sessions and stops it following the registry.
func (f *faceView) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	// Open sessions hold streams (a GET on /mcp, /sse, /ws) that would
	// keep a graceful shutdown waiting for its whole drain time.
	for ss := range f.srv.Sessions() {
		_ = ss.Close()
	}
}

// sdkLogger is log for go-sdk's servers and handlers, which report every
// session opened and closed at info level: those become debug lines.
func sdkLogger(log *slog.Logger) *slog.Logger {
	return slog.New(demoteInfo{log.Handler()})
}

// demoteInfo passes records on with info lowered to debug.
type demoteInfo struct{ slog.Handler }

func (d demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return d.Handler.Enabled(ctx, l)
}

func (d demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return d.Handler.Handle(ctx, r)
}

func (d demoteInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteInfo{d.Handler.WithAttrs(as)}
}
func (d demoteInfo) WithGroup(name string) slog.Handler { return demoteInfo{d.Handler.WithGroup(name)} }
