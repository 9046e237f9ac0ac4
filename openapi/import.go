package openapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// SpecConfig describes one REST API whose OpenAPI spec is imported as
// tools, as configured under openapiServers.
type SpecConfig struct {
	// Name is the entry's key in openapiServers, case kept. It is the
	// server's name in the registry and the default tool prefix. Required.
	Name string
	// Spec is the OpenAPI 3.0 or 3.1 document: a file path or an http(s)
	// URL. Files and URLs it refers to with $ref are read too. Required.
	Spec string
	// BaseURL is where requests go. "" means the spec's first server URL
	// (the operation's or path's own servers first), resolved against the
	// spec's URL when relative.
	BaseURL string
	// Headers are sent with every API request (not with the request that
	// fetches the spec), after the operation's header parameters, so they
	// win over them. Their values are secrets: they are never logged.
	Headers map[string]string
	// Allow and Deny are path.Match globs on the operations' tool names.
	// An empty Allow allows every operation; Deny wins over Allow.
	Allow, Deny []string
	// Timeout bounds each call. 0 means the registry's call timeout.
	Timeout time.Duration
	// Prefix is put before the tool names ("<prefix>__<tool>"). nil means
	// Name; a pointer to "" exposes the tools unprefixed.
	Prefix *string
	// Disabled entries are listed but never loaded.
	Disabled bool
}

// Validate reports the first problem of the configuration: a missing name
// or spec, a base_url that is not an absolute http(s) URL, a malformed
// glob or a negative timeout. The error names the entry.
func (c SpecConfig) Validate() error {
	err := func() error {
		switch {
		case strings.TrimSpace(c.Name) == "":
			return errors.New("name is required")
		case strings.TrimSpace(c.Spec) == "":
			return errors.New("spec (a file path or an http(s) URL) is required")
		case c.Timeout < 0:
			return fmt.Errorf("timeout must not be negative, got %s", c.Timeout)
		}
		if c.BaseURL != "" {
			if _, err := parseBase(c.BaseURL); err != nil {
				return err
			}
		}
		for _, p := range append(append([]string(nil), c.Allow...), c.Deny...) {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("invalid operation glob %q: %w", p, err)
			}
		}
		return nil
	}()
	if err == nil {
		return nil
	}
	if c.Name == "" {
		return fmt.Errorf("openapi server config: %w", err)
	}
	return fmt.Errorf("openapi server %q: %w", c.Name, err)
}

// allowed reports whether an operation's tool name passes Allow and Deny.
func (c SpecConfig) allowed(name string) bool {
	return mcpclient.ServerConfig{Allow: c.Allow, Deny: c.Deny}.ToolAllowed(name)
}

// Warning is a problem of a spec that did not stop it from loading: an
// operation left out, or a part of one that is never sent.
type Warning struct {
	// Spec is the name of the openapiServers entry.
	Spec string
	// Operation is "<tool name> (<METHOD> <path>)"; "" for the spec as a
	// whole.
	Operation string
	Message   string
}

// String returns `openapi server "NAME": operation OP: MESSAGE`.
func (w Warning) String() string {
	if w.Operation == "" {
		return fmt.Sprintf("openapi server %q: %s", w.Spec, w.Message)
	}
	return fmt.Sprintf("openapi server %q: operation %s: %s", w.Spec, w.Operation, w.Message)
}

// Options configures how specs are imported. The zero value (or nil) gives
// the documented defaults.
type Options struct {
	// Logger receives the warnings of each load. nil discards them.
	Logger *slog.Logger
	// OnWarning, when set, is also called with every warning of every
	// load (a spec is loaded again whenever its server reconnects). It may
	// be called concurrently for different specs.
	OnWarning func(Warning)
	// HTTPClient fetches specs and calls the APIs. nil means a client of
	// its own per spec.
	HTTPClient *http.Client
	// LoadTimeout bounds fetching and converting a spec. 0 means 30s.
	LoadTimeout time.Duration
	// MaxResponseBytes caps the response body a tool result shows; a longer
	// one is cut with a note. 0 means 256 KiB.
	MaxResponseBytes int
	// Version is the version the in-memory MCP servers report. "" means
	// "dev".
	Version string
}

// ServerConfig returns the registry entry of an imported spec. Its
// Transport loads the spec (a file, or a URL fetched within
// Options.LoadTimeout) on every connection attempt and serves the selected
// operations as the tools of an in-memory MCP server, so the registry
// supervises it like any other server: a spec that cannot be loaded makes
// the server "failed" and is tried again with the registry's backoff, and
// startup never waits for it. Operations that cannot be imported are left
// out with a warning naming them. opts may be nil.
func ServerConfig(cfg SpecConfig, opts *Options) mcpclient.ServerConfig {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.LoadTimeout = cmp.Or(o.LoadTimeout, 30*time.Second)
	o.MaxResponseBytes = cmp.Or(o.MaxResponseBytes, 256<<10)
	o.Version = cmp.Or(o.Version, "dev")
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	imp := &importer{cfg: cfg, opts: o, loader: &specLoader{cfg: cfg, client: client}, client: client}
	return mcpclient.ServerConfig{
		Name:      cfg.Name,
		Prefix:    cfg.Prefix,
		Allow:     cfg.Allow,
		Deny:      cfg.Deny,
		Timeout:   cfg.Timeout,
		Disabled:  cfg.Disabled,
		Transport: imp.transport,
	}
}

// importer serves one spec.
type importer struct {
	cfg    SpecConfig
	opts   Options
	loader *specLoader
	client *http.Client
}

// transport loads the spec and connects an in-memory MCP server of its
// operations.
func (im *importer) transport(ctx context.Context) (mcp.Transport, error) {
	if err := im.cfg.Validate(); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, im.opts.LoadTimeout)
	defer cancel()
	sp, err := im.loader.load(lctx)
	if sp != nil {
		im.report(sp.warnings)
	}
	if err != nil {
		if lctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("loading spec: timed out after %s: %w", im.opts.LoadTimeout, err)
		}
		return nil, err
	}
	srv := im.server(sp)
	client, server := mcp.NewInMemoryTransports()
	if _, err := srv.Connect(ctx, server, nil); err != nil {
		return nil, fmt.Errorf("starting the spec's tools: %w", err)
	}
	return client, nil
}

// report logs the warnings of a load and passes them to OnWarning.
func (im *importer) report(ws []Warning) {
	for _, w := range ws {
		w.Spec = im.cfg.Name
		im.opts.Logger.Warn("openapi server warning", "server", w.Spec, "operation", w.Operation, "warning", w.Message)
		if im.opts.OnWarning != nil {
			im.opts.OnWarning(w)
		}
	}
}

// server is an MCP server with one tool per imported operation.
func (im *importer) server(sp *spec) *mcp.Server {
	name := "openapi:" + im.cfg.Name
	if sp.title != "" {
		name = sp.title
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: name, Version: cmp.Or(sp.version, im.opts.Version)},
		&mcp.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, op := range sp.ops {
		srv.AddTool(&mcp.Tool{Name: op.name, Title: op.title, Description: op.description, InputSchema: op.schema},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return im.call(ctx, op, req), nil
			})
	}
	return srv
}

// call makes the HTTP request of one tool call. Every failure is a tool
// error the model can read.
func (im *importer) call(ctx context.Context, op *operation, req *mcp.CallToolRequest) *mcp.CallToolResult {
	if im.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, im.cfg.Timeout)
		defer cancel()
	}
	var args []byte
	if req != nil && req.Params != nil {
		args = req.Params.Arguments
	}
	hreq, err := op.request(ctx, args, im.cfg.Headers)
	if err != nil {
		return errorResult("invalid arguments: " + err.Error())
	}
	return callResult(im.client, hreq, im.opts.MaxResponseBytes)
}
