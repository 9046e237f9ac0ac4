package mcpclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"
)

// Event kinds for changes of resources and prompts.
const (
	EventResourcesChanged = "resources_changed"
	EventPromptsChanged   = "prompts_changed"
)

// ErrUnknownResource is wrapped by the error of a read of a URI that no
// server lists or matches with a template.
var ErrUnknownResource = errors.New("unknown resource")

// ErrUnknownPrompt is wrapped by the error of a request for a prompt no
// server has.
var ErrUnknownPrompt = errors.New("unknown prompt")

// Resource is a resource of a connected server. URIs are not renamed: a
// URI listed by two servers belongs to the first by name.
type Resource struct {
	Server string
	Def    *mcp.Resource // shared: not to be modified
}

// ResourceTemplate is a resource template of a connected server.
type ResourceTemplate struct {
	Server string
	Def    *mcp.ResourceTemplate // shared: not to be modified
}

// Prompt is a prompt of a connected server, exposed as Name (named like
// tools: "<prefix>__<prompt>").
type Prompt struct {
	Name     string
	Server   string
	Original string
	Def      *mcp.Prompt // shared: not to be modified; its Name is the original
}

// features are the resources, templates and prompts of one session.
type features struct {
	resources []*mcp.Resource
	templates []*mcp.ResourceTemplate
	prompts   []*mcp.Prompt
}

// listFeatures fetches every page of what the server's capabilities say it
// has. A list that fails is left empty with a warning: tools matter more.
func (s *server) listFeatures(ctx context.Context, sess *mcp.ClientSession) features {
	var f features
	caps := &mcp.ServerCapabilities{}
	if res := sess.InitializeResult(); res != nil && res.Capabilities != nil {
		caps = res.Capabilities
	}
	warn := func(what string, err error) {
		if ctx.Err() == nil {
			s.log.Warn("mcp server: listing "+what+" failed", "error", err)
		}
	}
	if caps.Resources != nil {
		for r, err := range sess.Resources(ctx, nil) {
			if err != nil {
				warn("resources", err)
				f.resources = nil
				break
			}
			if r != nil && r.URI != "" {
				f.resources = append(f.resources, r)
			}
		}
		for t, err := range sess.ResourceTemplates(ctx, nil) {
			if err != nil {
				warn("resource templates", err)
				f.templates = nil
				break
			}
			if t != nil && t.URITemplate != "" {
				f.templates = append(f.templates, t)
			}
		}
	}
	if caps.Prompts != nil {
		for p, err := range sess.Prompts(ctx, nil) {
			if err != nil {
				warn("prompts", err)
				f.prompts = nil
				break
			}
			if p != nil && p.Name != "" {
				f.prompts = append(f.prompts, p)
			}
		}
	}
	return f
}

// featureList returns the features of the ready session.
func (s *server) featureList() features {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feats
}

// refreshFeatures re-lists resources and prompts after a list_changed
// notification.
func (s *server) refreshFeatures(ctx context.Context, sess *mcp.ClientSession) {
	lctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	f := s.listFeatures(lctx, sess)
	s.mu.Lock()
	if s.session == sess {
		s.feats = f
	}
	s.mu.Unlock()
	s.reg.rebuild() // the read_resource tool lists the resources
	s.reg.rebuildFeatures()
}

// readResourceTool is the name of the tool ExposeResources adds.
const readResourceTool = "read_resource"

// maxListedResources bounds the URIs the read_resource tool's description
// names.
const maxListedResources = 30

// resourceTool returns the read_resource tool of a server that exposes its
// resources, built from its current features.
func (s *server) resourceTool() (serverTool, bool) {
	if !s.cfg.ExposeResources {
		return serverTool{}, false
	}
	f := s.featureList()
	if len(f.resources) == 0 && len(f.templates) == 0 {
		return serverTool{}, false
	}
	for _, t := range s.toolList() {
		if t.Original == readResourceTool {
			return serverTool{}, false
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Reads a resource of the %s server by its URI.", s.cfg.Name)
	n := 0
	for _, r := range f.resources {
		if n == maxListedResources {
			fmt.Fprintf(&b, " (and %d more)", len(f.resources)-n)
			break
		}
		if n == 0 {
			b.WriteString(" Resources:")
		}
		fmt.Fprintf(&b, " %s", r.URI)
		if r.Description != "" {
			fmt.Fprintf(&b, " (%s)", firstSentence(r.Description))
		}
		b.WriteString(";")
		n++
	}
	for i, t := range f.templates {
		if i == 0 {
			b.WriteString(" URI templates:")
		}
		fmt.Fprintf(&b, " %s;", t.URITemplate)
	}
	schema := json.RawMessage(`{"type":"object","properties":{"uri":{"type":"string","description":"the URI of the resource to read"}},"required":["uri"]}`)
	return serverTool{Original: readResourceTool, Description: b.String(), Schema: schema, reader: true,
		def: []byte(b.String())}, true
}

// firstSentence cuts s after its first sentence or line.
func firstSentence(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.TrimSpace(s), ".")
}

// readResourceResult reads the resource a read_resource call names from
// its server, as a tool result.
func (s *server) readResourceResult(ctx context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
	var in struct {
		URI string `json:"uri"`
	}
	if err := json.Unmarshal(args, &in); err != nil || in.URI == "" {
		return errorResult(`read_resource needs {"uri": "<a resource URI>"}`), nil
	}
	sess, err := s.readySession()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.readResource(ctx, sess, in.URI)
	if err != nil {
		return errorResult(fmt.Sprintf("reading %s: %v", in.URI, err)), nil
	}
	out := &mcp.CallToolResult{}
	for _, c := range res.Contents {
		out.Content = append(out.Content, &mcp.EmbeddedResource{Resource: c})
	}
	if len(out.Content) == 0 {
		out.Content = []mcp.Content{&mcp.TextContent{Text: "(empty resource)"}}
	}
	return out, nil
}

func errorResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// featureSnapshot is the aggregated resources, templates and prompts.
type featureSnapshot struct {
	version   uint64
	resources []Resource
	templates []ResourceTemplate
	compiled  []*uritemplate.Template // compiled[i] is templates[i]'s, nil if invalid
	prompts   []Prompt
	byURI     map[string]string // resource URI -> server
	byPrompt  map[string]int    // exposed prompt name -> index in prompts
}

// rebuildFeatures recomputes the aggregated features and tells OnEvent
// what changed.
func (r *Registry) rebuildFeatures() {
	r.featMu.Lock()
	old := r.feats.Load()
	n := &featureSnapshot{byURI: map[string]string{}, byPrompt: map[string]int{}}
	var entries []nameEntry
	var srcs []Prompt
	for _, s := range r.set.Load().servers {
		f := s.featureList()
		for _, res := range f.resources {
			if _, dup := n.byURI[res.URI]; dup {
				continue
			}
			n.byURI[res.URI] = s.cfg.Name
			n.resources = append(n.resources, Resource{Server: s.cfg.Name, Def: res})
		}
		for _, t := range f.templates {
			n.templates = append(n.templates, ResourceTemplate{Server: s.cfg.Name, Def: t})
			c, err := uritemplate.New(t.URITemplate)
			if err != nil {
				c = nil
			}
			n.compiled = append(n.compiled, c)
		}
		for _, p := range f.prompts {
			entries = append(entries, nameEntry{Server: s.cfg.Name, Prefix: s.cfg.ToolPrefix(), Tool: p.Name})
			srcs = append(srcs, Prompt{Server: s.cfg.Name, Original: p.Name, Def: p})
		}
	}
	for i, name := range assignNames(entries) {
		if name == "" {
			continue
		}
		p := srcs[i]
		p.Name = name
		n.prompts = append(n.prompts, p)
	}
	slices.SortFunc(n.prompts, func(a, b Prompt) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range n.prompts {
		n.byPrompt[p.Name] = i
	}
	resChanged := old == nil || !sameResources(old, n)
	promptsChanged := old == nil || !samePrompts(old, n)
	if !resChanged && !promptsChanged {
		r.featMu.Unlock()
		return
	}
	if old != nil {
		n.version = old.version + 1
	}
	r.feats.Store(n)
	r.featMu.Unlock()
	if resChanged {
		r.emit(Event{Kind: EventResourcesChanged})
	}
	if promptsChanged {
		r.emit(Event{Kind: EventPromptsChanged})
	}
}

func sameResources(a, b *featureSnapshot) bool {
	return slices.EqualFunc(a.resources, b.resources, func(x, y Resource) bool { return x.Server == y.Server && x.Def == y.Def }) &&
		slices.EqualFunc(a.templates, b.templates, func(x, y ResourceTemplate) bool { return x.Server == y.Server && x.Def == y.Def })
}

func samePrompts(a, b *featureSnapshot) bool {
	return slices.EqualFunc(a.prompts, b.prompts, func(x, y Prompt) bool { return x.Name == y.Name && x.Def == y.Def })
}

func (r *Registry) featureSnap() *featureSnapshot {
	if f := r.feats.Load(); f != nil {
		return f
	}
	return &featureSnapshot{}
}

// Resources returns the resources of every connected server. The slice is
// shared: callers do not modify it.
func (r *Registry) Resources() []Resource { return r.featureSnap().resources }

// ResourceTemplates returns the resource templates of every connected
// server. The slice is shared: callers do not modify it.
func (r *Registry) ResourceTemplates() []ResourceTemplate { return r.featureSnap().templates }

// Prompts returns the prompts of every connected server, sorted by Name.
// The slice is shared: callers do not modify it.
func (r *Registry) Prompts() []Prompt { return r.featureSnap().prompts }

// FeaturesVersion changes whenever resources, templates or prompts change.
func (r *Registry) FeaturesVersion() uint64 { return r.featureSnap().version }

// ResourceOwner names the server a resource URI belongs to: the one that
// lists it, else the first whose template matches it; ok is false when
// none does. It is what reads, subscriptions and access checks go by.
func (r *Registry) ResourceOwner(uri string) (server string, ok bool) {
	f := r.featureSnap()
	if name, ok := f.byURI[uri]; ok {
		return name, true
	}
	for i, c := range f.compiled {
		if c != nil && c.Match(uri) != nil {
			return f.templates[i].Server, true
		}
	}
	return "", false
}

// resourceServer returns the server a URI belongs to (ResourceOwner).
func (r *Registry) resourceServer(uri string) (*server, error) {
	name, ok := r.ResourceOwner(uri)
	if !ok {
		return nil, fmt.Errorf("reading resource %q: %w", uri, ErrUnknownResource)
	}
	s := r.set.Load().byName[name]
	if s == nil { // removed by Apply a moment ago
		return nil, fmt.Errorf("reading resource %q: %w", uri, ErrUnknownResource)
	}
	if sess, state, lastErr := s.current(); sess == nil {
		return nil, fmt.Errorf("resource %q is unavailable: server %q is not connected (%s %s): %w", uri, name, state, lastErr, ErrServerNotConnected)
	}
	return s, nil
}

// readySession returns s's ready session or an error naming it.
func (s *server) readySession() (*mcp.ClientSession, error) {
	sess, state, lastErr := s.current()
	if sess == nil {
		return nil, fmt.Errorf("server %q is not connected (%s %s): %w", s.cfg.Name, state, lastErr, ErrServerNotConnected)
	}
	return sess, nil
}

// resourceSession returns the server of uri and its ready session.
func (r *Registry) resourceSession(uri string) (*server, *mcp.ClientSession, error) {
	s, err := r.resourceServer(uri)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.readySession()
	if err != nil {
		return nil, nil, err
	}
	return s, sess, nil
}

// ReadResource reads a resource from the server that has it, within the
// server's call timeout.
func (r *Registry) ReadResource(ctx context.Context, uri string) (*mcp.ReadResourceResult, error) {
	s, sess, err := r.resourceSession(uri)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.readResource(ctx, sess, uri)
	if err != nil {
		return nil, fmt.Errorf("reading resource %q on server %q: %w", uri, s.cfg.Name, err)
	}
	return res, nil
}

// Subscribe asks the server of uri for resource updates; they reach
// Options.OnResourceUpdated.
func (r *Registry) Subscribe(ctx context.Context, uri string) error {
	_, sess, err := r.resourceSession(uri)
	if err != nil {
		return err
	}
	return sess.Subscribe(ctx, &mcp.SubscribeParams{URI: uri})
}

// Unsubscribe ends a subscription made with Subscribe.
func (r *Registry) Unsubscribe(ctx context.Context, uri string) error {
	_, sess, err := r.resourceSession(uri)
	if err != nil {
		return err
	}
	return sess.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uri})
}

// prompt returns a prompt by its exposed name.
func (r *Registry) prompt(name string) (Prompt, *server, error) {
	f := r.featureSnap()
	i, ok := f.byPrompt[name]
	if !ok {
		return Prompt{}, nil, fmt.Errorf("getting prompt %q: %w", name, ErrUnknownPrompt)
	}
	p := f.prompts[i]
	s := r.set.Load().byName[p.Server]
	if s == nil { // removed by Apply a moment ago
		return Prompt{}, nil, fmt.Errorf("getting prompt %q: %w", name, ErrUnknownPrompt)
	}
	return p, s, nil
}

// GetPrompt gets a prompt by its exposed name.
func (r *Registry) GetPrompt(ctx context.Context, name string, args map[string]string) (*mcp.GetPromptResult, error) {
	p, s, err := r.prompt(name)
	if err != nil {
		return nil, err
	}
	sess, err := s.readySession()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	params := &mcp.GetPromptParams{Name: p.Original, Arguments: args}
	params.Meta = s.declareCapabilities(ctx, params.Meta)
	res, err := askAgain(ctx, s, func(responses mcp.InputResponseMap, state string) (*mcp.GetPromptResult, error) {
		params.InputResponses, params.RequestState = responses, state
		return sess.GetPrompt(ctx, params)
	}, func(r *mcp.GetPromptResult) (mcp.InputRequestMap, string) { return r.InputRequests, r.RequestState })
	if err != nil {
		return nil, fmt.Errorf("getting prompt %q on server %q: %w", p.Original, s.cfg.Name, err)
	}
	return res, nil
}

// Complete asks the server of a prompt or resource template for argument
// completions. A prompt reference names the exposed prompt.
func (r *Registry) Complete(ctx context.Context, p *mcp.CompleteParams) (*mcp.CompleteResult, error) {
	if p == nil || p.Ref == nil {
		return nil, errors.New("completion: no reference")
	}
	q := *p
	ref := *p.Ref
	q.Ref = &ref
	var s *server
	switch ref.Type {
	case "ref/prompt":
		pr, srv, err := r.prompt(ref.Name)
		if err != nil {
			return nil, err
		}
		ref.Name, s = pr.Original, srv
	case "ref/resource":
		f := r.featureSnap()
		for _, t := range f.templates {
			if t.Def.URITemplate == ref.URI {
				s = r.set.Load().byName[t.Server]
				break
			}
		}
		if s == nil {
			var err error
			if s, err = r.resourceServer(ref.URI); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("completion: unknown reference type %q", ref.Type)
	}
	sess, err := s.readySession()
	if err != nil {
		return nil, err
	}
	return sess.Complete(ctx, &q)
}

// SetLoggingLevel asks every connected server that logs to send messages
// at level and above, now and on every later connection. Messages reach
// the caller of the call in progress (see Caller.Log).
func (r *Registry) SetLoggingLevel(ctx context.Context, level string) {
	r.logLevel.Store(&level)
	for _, s := range r.set.Load().servers {
		if sess, _, _ := s.current(); sess != nil {
			s.setLoggingLevel(ctx, sess, level)
		}
	}
}

// setLoggingLevel sets the level on sess when the server has logging.
func (s *server) setLoggingLevel(ctx context.Context, sess *mcp.ClientSession, level string) {
	res := sess.InitializeResult()
	if res == nil || res.Capabilities == nil || res.Capabilities.Logging == nil {
		return
	}
	if err := sess.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: mcp.LoggingLevel(level)}); err != nil {
		s.log.Debug("mcp server: setting the log level failed", "level", level, "error", err)
	}
}

// readResource reads uri, answering the server's questions (askAgain).
func (s *server) readResource(ctx context.Context, sess *mcp.ClientSession, uri string) (*mcp.ReadResourceResult, error) {
	params := &mcp.ReadResourceParams{URI: uri}
	params.Meta = s.declareCapabilities(ctx, params.Meta)
	return askAgain(ctx, s, func(responses mcp.InputResponseMap, state string) (*mcp.ReadResourceResult, error) {
		params.InputResponses, params.RequestState = responses, state
		return sess.ReadResource(ctx, params)
	}, func(r *mcp.ReadResourceResult) (mcp.InputRequestMap, string) { return r.InputRequests, r.RequestState })
}
