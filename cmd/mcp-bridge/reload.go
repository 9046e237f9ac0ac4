package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge"
	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// reloader applies a changed configuration to a running serve: the last
// good configuration stays until a new one is valid in full.
type reloader struct {
	path  string // the file, as loaded
	log   *slog.Logger
	srv   *bridge.Server
	reg   *mcpclient.Registry
	hooks registryHooks

	// setSecrets changes the secrets the log hides; nil changes none.
	setSecrets func([]string)
	// obs hears of every reload, applied or refused (audit, metrics);
	// nil tells no one.
	obs observe.Observer

	cur      *config.Config
	authn    *auth.Authenticator // closed when replaced, and by close
	loadedAt time.Time
	sum      [32]byte // of the file's bytes when last read
}

// newReloader takes over c, the configuration serve started with, and
// authn, its authenticator.
func newReloader(c *config.Config, authn *auth.Authenticator, log *slog.Logger, srv *bridge.Server, reg *mcpclient.Registry, hooks registryHooks) *reloader {
	r := &reloader{path: c.File, log: log, srv: srv, reg: reg, hooks: hooks, cur: c, authn: authn, loadedAt: time.Now()}
	r.sum, _ = config.FileSum(c.File)
	srv.SetConfigStatus(bridge.ConfigStatus{LoadedAt: r.loadedAt})
	return r
}

// close closes the authenticator in use.
func (r *reloader) close() { _ = r.authn.Close() }

// changed reports whether the file's bytes differ from those last read.
func (r *reloader) changed() bool {
	sum, err := config.FileSum(r.path)
	return err != nil || sum != r.sum
}

// reload reads the file again and applies it, or keeps the configuration
// in use when it is invalid. why says what asked for it (for the log).
// It reports whether the new configuration was applied.
func (r *reloader) reload(ctx context.Context, why string) bool {
	r.sum, _ = config.FileSum(r.path)
	c, err := config.Load(r.path, os.Getenv)
	if err == nil {
		err = c.CheckExposure()
	}
	if err != nil {
		return r.refuse(ctx, why, err)
	}
	if r.setSecrets != nil {
		// The old secrets stay hidden too: requests in flight use them.
		r.setSecrets(append(c.Secrets(), r.cur.Secrets()...))
	}
	router, err := newRouter(c, r.log)
	if err != nil {
		return r.refuse(ctx, why, err)
	}
	authn, err := newAuthenticator(c, r.log)
	if err != nil {
		return r.refuse(ctx, why, err)
	}
	if err := r.srv.Apply(serverSettings(c, router, authn)); err != nil {
		_ = authn.Close()
		return r.refuse(ctx, why, err)
	}
	old := r.authn
	r.authn = authn
	_ = old.Close() // requests authenticate once, on arrival
	if err := r.reg.Apply(registryServers(c, r.log, r.hooks)); err != nil {
		// Checked by config.Load already; what remains (a duplicate
		// between kinds) leaves that server failed, as at startup.
		r.log.Warn("reload: some MCP servers cannot run", "err", err)
	}
	for _, key := range config.RestartKeys(r.cur, c) {
		r.log.Warn("reload: "+key+" changed: restart to apply", "key", key)
	}
	for _, w := range c.Warnings {
		r.log.Warn(w)
	}
	r.cur, r.loadedAt = c, time.Now()
	r.srv.SetConfigStatus(bridge.ConfigStatus{LoadedAt: r.loadedAt})
	r.log.Info("configuration reloaded", "file", r.path, "why", why, "servers", len(c.Servers)+len(c.OpenAPIServers))
	if r.obs != nil {
		r.obs.ConfigReload(ctx, true, why)
	}
	return true
}

// refuse keeps the configuration in use after a failed reload, and says
// why in the log and /readyz.
func (r *reloader) refuse(ctx context.Context, why string, err error) bool {
	r.log.Error("configuration not reloaded: keeping the last good one", "file", r.path, "why", why, "err", err)
	if r.obs != nil {
		r.obs.ConfigReload(ctx, false, mcpclient.Redact(err.Error(), r.cur.Secrets()))
	}
	r.srv.SetConfigStatus(bridge.ConfigStatus{LoadedAt: r.loadedAt, Error: err.Error()})
	return false
}

// serverSettings are the bridge's options from the configuration.
func serverSettings(c *config.Config, router *route.Router, authn *auth.Authenticator) bridge.Options {
	return bridge.Options{
		Router: router, Auth: authn, Secrets: c.Secrets(), Version: version(),
		MaxRounds: c.Tools.MaxRounds, Deadline: time.Duration(c.Tools.Deadline), Display: c.Tools.Display,
		Keepalive: time.Duration(c.Tools.Keepalive), MaxParallel: c.Tools.MaxParallel,
		MaxBodyBytes:          c.Limits.MaxBodyBytes,
		ForwardIdentityHeader: c.Upstream.ForwardIdentity.Header,
		SamplingModel:         c.Sampling.Model,
		AllowedOrigins:        c.CORS.AllowedOrigins, AllowedHosts: c.CORS.AllowedHosts, Loopback: c.Loopback(),
		ReadHeaderTimeout: time.Duration(c.Limits.ReadHeaderTimeout), BodyReadTimeout: time.Duration(c.Limits.BodyReadTimeout),
		IdleTimeout: time.Duration(c.Limits.IdleTimeout), SessionIdleTimeout: time.Duration(c.MCP.SessionIdleTimeout),
		MaxSessions: c.MCP.MaxSessions, WarnToolsBytes: c.Tools.WarnInjectedBytes, DisableBuiltinModel: !c.Tools.BuiltinModelEnabled(),
		Exposure: c.Tools.Exposure, SearchThreshold: c.Tools.SearchThreshold, AlwaysTools: c.Tools.Always,
	}
}

// registryServers are the registry's servers: mcpServers, then
// openapiServers, each of the latter with a fingerprint of its entry so
// that a reload restarts it only when the entry changed.
func registryServers(c *config.Config, log *slog.Logger, h registryHooks) []mcpclient.ServerConfig {
	servers := append([]mcpclient.ServerConfig(nil), c.Servers...)
	for _, sc := range c.OpenAPIServers {
		s := openapi.ServerConfig(sc, &openapi.Options{Logger: log, OnWarning: h.onWarning, Version: version()})
		b, _ := json.Marshal(sc)
		sum := sha256.Sum256(b)
		s.Fingerprint = fmt.Sprintf("%x", sum[:])
		servers = append(servers, s)
	}
	return servers
}

// newReloadableLogger is newLogger whose secrets a reload can change with
// the function it returns.
func newReloadableLogger(c *config.Config, w io.Writer) (*slog.Logger, func([]string)) {
	secrets := new(atomic.Pointer[[]string])
	list := c.Secrets()
	secrets.Store(&list)
	h := &reloadableRedactor{next: logHandler(c, w), secrets: secrets}
	return slog.New(h), func(s []string) { secrets.Store(&s) }
}

// reloadableRedactor hides the current secrets in every record and in
// the attributes given to WithAttrs, which it keeps until each record is
// handled so that secrets added later are hidden in them too.
type reloadableRedactor struct {
	next    slog.Handler
	secrets *atomic.Pointer[[]string]
	ops     []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h *reloadableRedactor) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *reloadableRedactor) Handle(ctx context.Context, r slog.Record) error {
	out := mcpclient.NewRedactingHandler(h.next, *h.secrets.Load())
	for _, op := range h.ops {
		out = op(out)
	}
	return out.Handle(ctx, r)
}

func (h *reloadableRedactor) with(op func(slog.Handler) slog.Handler) slog.Handler {
	return &reloadableRedactor{next: h.next, secrets: h.secrets, ops: append(slices.Clip(h.ops), op)}
}

func (h *reloadableRedactor) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(n slog.Handler) slog.Handler { return n.WithAttrs(as) })
}

func (h *reloadableRedactor) WithGroup(name string) slog.Handler {
	return h.with(func(n slog.Handler) slog.Handler { return n.WithGroup(name) })
}

// newAuthenticator builds the authenticator of the configuration (for
// serve; with a JWKS URL it fetches the key set, see auth.New). The
// caller closes it.
func newAuthenticator(c *config.Config, log *slog.Logger) (*auth.Authenticator, error) {
	a, err := auth.New(c.AuthSettings(), &auth.Options{Logger: log})
	if err != nil {
		where := c.File
		if where == "" {
			where = "config"
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return a, nil
}
