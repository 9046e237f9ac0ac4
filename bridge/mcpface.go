package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	Subscribe(ctx context.Context, uri string) error
	Unsubscribe(ctx context.Context, uri string) error
	SetLoggingLevel(ctx context.Context, level string)
}

var _ Registry = (*mcpclient.Registry)(nil)

// face is the bridge as an MCP server: one go-sdk server whose tools,
// resources, templates and prompts mirror the registry's, kept current by
// sync. Every transport (streamable HTTP, SSE, WebSocket) serves it.
type face struct {
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

func newFace(reg Registry, version string, log *slog.Logger) *face {
	f := &face{reg: reg, log: log, tools: map[string]string{}, resources: map[string]string{},
		templates: map[string]string{}, prompts: map[string]string{}}
	f.srv = mcp.NewServer(&mcp.Implementation{Name: "mcp-bridge", Version: version}, &mcp.ServerOptions{
		Logger:       sdkLogger(log),
		HasTools:     true,
		HasResources: true,
		HasPrompts:   true,
		Instructions: "mcp-bridge: the tools, resources and prompts of several MCP servers. Tool and prompt names are <server>__<name>.",
		CompletionHandler: func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return reg.Complete(ctx, req.Params)
		},
		SubscribeHandler: func(ctx context.Context, req *mcp.SubscribeRequest) error {
			return reg.Subscribe(ctx, req.Params.URI)
		},
		UnsubscribeHandler: func(ctx context.Context, req *mcp.UnsubscribeRequest) error {
			return reg.Unsubscribe(ctx, req.Params.URI)
		},
	})
	// Every request sees the registry as it is now, even if the event
	// that would have synced the face has not been handled yet.
	f.srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			f.sync()
			if p, ok := req.GetParams().(*mcp.SetLoggingLevelParams); ok && method == "logging/setLevel" && p != nil {
				// Servers log only once asked to; each face session still
				// gets only the levels it asked for.
				reg.SetLoggingLevel(ctx, string(p.Level))
			}
			return next(ctx, method, req)
		}
	})
	f.sync()
	return f
}

// sync brings the server's lists in line with the registry, when the
// registry changed since the last sync. go-sdk tells connected clients of
// each change with a list_changed notification. It is cheap when nothing
// changed.
func (f *face) sync() {
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

	syncList(f.tools, f.reg.Tools(), func(t mcpclient.Tool) (string, any) { return t.Name, publishedTool(t) },
		func(t mcpclient.Tool, def any) { f.srv.AddTool(def.(*mcp.Tool), f.callTool(t.Name)) },
		f.srv.RemoveTools)
	syncList(f.resources, f.reg.Resources(), func(r mcpclient.Resource) (string, any) { return r.Def.URI, r.Def },
		func(r mcpclient.Resource, _ any) { f.srv.AddResource(r.Def, f.readResource) },
		f.srv.RemoveResources)
	syncList(f.templates, f.reg.ResourceTemplates(), func(t mcpclient.ResourceTemplate) (string, any) { return t.Def.URITemplate, t.Def },
		func(t mcpclient.ResourceTemplate, _ any) { f.srv.AddResourceTemplate(t.Def, f.readResource) },
		f.srv.RemoveResourceTemplates)
	syncList(f.prompts, f.reg.Prompts(), func(p mcpclient.Prompt) (string, any) {
		def := *p.Def
		def.Name = p.Name
		return p.Name, &def
	}, func(p mcpclient.Prompt, def any) {
		name := p.Name
		f.srv.AddPrompt(def.(*mcp.Prompt), func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return f.reg.GetPrompt(ctx, name, req.Params.Arguments)
		})
	}, f.srv.RemovePrompts)
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
// also gets whatever the server sends during the call.
func (f *face) callTool(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx = mcpclient.WithCaller(ctx, &faceCaller{ss: req.Session, ctx: ctx}, req.Params.GetProgressToken())
		res, err := f.reg.CallTool(ctx, name, req.Params.Arguments)
		if err == nil {
			return res, nil
		}
		var rpcErr *jsonrpc.Error
		if errors.As(err, &rpcErr) || ctx.Err() != nil {
			return nil, err
		}
		// The call could not be made (server down, timeout, bad
		// arguments): a result the client can show, as for a tool error.
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
	}
}

func (f *face) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	res, err := f.reg.ReadResource(ctx, req.Params.URI)
	if errors.Is(err, mcpclient.ErrUnknownResource) {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	return res, err
}

// resourceUpdated passes a downstream resource update to the face's
// subscribed clients.
func (f *face) resourceUpdated(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
	if err := f.srv.ResourceUpdated(ctx, p); err != nil {
		f.log.Debug("passing on a resource update", "uri", p.URI, "err", err)
	}
}

// faceCaller is an MCP client of the face, answering what a downstream
// server asks while serving that client's call. What it sends goes out
// under the context of the client's call, so that streamable HTTP delivers
// it on that call's stream, before the result.
type faceCaller struct {
	ss  *mcp.ServerSession
	ctx context.Context // the face call's
}

var _ mcpclient.OrderedCaller = (*faceCaller)(nil)

// OrderedNotifications asks for the server's notifications before the
// result: MCP clients show progress and logs of a call while it runs.
func (c *faceCaller) OrderedNotifications() bool { return true }

// reqCtx is the face call's context while it runs, else ctx.
func (c *faceCaller) reqCtx(ctx context.Context) context.Context {
	if c.ctx != nil && c.ctx.Err() == nil {
		return c.ctx
	}
	return ctx
}

func (c *faceCaller) CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	if c.ss == nil {
		return nil, fmt.Errorf("sampling for %s: %w", server, mcpclient.ErrNoCaller)
	}
	return c.ss.CreateMessage(c.reqCtx(ctx), p)
}

func (c *faceCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	if c.ss == nil {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}
	return c.ss.Elicit(c.reqCtx(ctx), p)
}

func (c *faceCaller) Progress(ctx context.Context, p *mcp.ProgressNotificationParams) {
	if c.ss != nil {
		_ = c.ss.NotifyProgress(c.reqCtx(ctx), p)
	}
}

func (c *faceCaller) Log(ctx context.Context, server string, p *mcp.LoggingMessageParams) {
	if c.ss != nil {
		_ = c.ss.Log(c.reqCtx(ctx), p)
	}
}

// sessions returns the number of open MCP sessions of the face, on every
// transport.
func (f *face) sessions() int {
	n := 0
	for range f.srv.Sessions() {
		n++
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
