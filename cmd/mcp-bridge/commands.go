package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge"
	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// buildVersion is set with -ldflags "-X main.buildVersion=...".
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	// Built from a checkout without a module version: the commit.
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + dirty
}

// helpRequested carries a command's help text: run prints it to stdout
// and exits 0.
type helpRequested struct{ text string }

func (h *helpRequested) Error() string { return "help requested" }

// commandSummaries are the first lines of each command's help.
var commandSummaries = map[string]string{
	"serve":     "serve [-c FILE]\n\nRun the bridge: the chat endpoint, the MCP face and the OpenAPI tool server.",
	"tools":     "tools [-c FILE] [--json]\n\nConnect every configured server and list the aggregated tools.",
	"call":      "call [-c FILE] TOOL [JSON-ARGS | -]\n\nCall one tool and print its result (\"-\" reads the arguments from stdin).",
	"check":     "check [-c FILE]\n\nValidate the config, connect every server and the upstream, and report; exit 1 on problems.",
	"resources": "resources [-c FILE] [--json] [URI]\n\nList resources and templates, or read one.",
	"prompts":   "prompts [-c FILE] [--json] [NAME [JSON-ARGS]]\n\nList prompts, or get one with arguments.",
	"pins":      pinsHelp,
}

// commandHelp is the help of a command: what it does, its flags and the
// environment it reads.
func commandHelp(name string, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: mcp-bridge %s\n\nFlags:\n", commandSummaries[name])
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString(environmentHelp)
	return b.String()
}

// environmentHelp lists the variables every command reads.
var environmentHelp = func() string {
	var b strings.Builder
	b.WriteString("\nEnvironment:\n")
	b.WriteString("  MCP_BRIDGE_CONFIG                      config file, when -c is not given (else ./mcp-bridge.yaml if present)\n")
	b.WriteString("  OPENAI_BASE_URL, OPENAI_API_KEY        upstream.base_url and upstream.api_key when the config sets none\n")
	for _, sc := range config.Settings() {
		def := ""
		if sc.Default != "" {
			def = " (default " + sc.Default + ")"
		}
		fmt.Fprintf(&b, "  %-38s %s%s\n", sc.Env, sc.Key, def)
	}
	b.WriteString("\nWith no config file the bridge uses the defaults above and no MCP servers.\n")
	return b.String()
}()

// commandFlags parses a command's own flags, which may include -c too.
// -h and --help return a *helpRequested.
func commandFlags(name string, cfgPath *string, args []string, stderr io.Writer, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // the help is printed by run, to stdout
	fs.StringVar(cfgPath, "c", *cfgPath, "config file (YAML or JSON)")
	fs.StringVar(cfgPath, "config", *cfgPath, "config file (YAML or JSON)")
	if define != nil {
		define(fs)
	}
	// Flags may follow positional arguments: mcp-bridge call TOOL {} -c f.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequested{commandHelp(name, fs)}
			}
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newLogger builds the process logger from the config.
func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	// Every line passes the redactor: configured secrets, servers' header
	// and env values, credentials in URLs.
	return slog.New(mcpclient.NewRedactingHandler(logHandler(c, w), c.Secrets()))
}

// logHandler is the handler of the config's log settings, unredacted.
func logHandler(c *config.Config, w io.Writer) slog.Handler {
	var level slog.Level
	switch strings.ToLower(c.Log.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return h
}

// registryHooks are what a command wants to hear from the registry, and
// who answers servers that ask for sampling or elicitation outside any
// call of a caller. Every field may be nil.
type registryHooks struct {
	onEvent           func(mcpclient.Event)
	onWarning         func(openapi.Warning) // warnings of the specs' loads, which are logged in any case
	onResourceUpdated func(context.Context, *mcp.ResourceUpdatedNotificationParams)
	caller            mcpclient.Caller
	inspector         mcpclient.Inspector // the guard; nil for none
}

// newRegistry builds the registry of the configured servers: mcpServers
// and openapiServers.
func newRegistry(c *config.Config, log *slog.Logger, h registryHooks) *mcpclient.Registry {
	return mcpclient.NewRegistry(registryServers(c, log, h), &mcpclient.Options{
		Logger:              log,
		CallTimeout:         time.Duration(c.Tools.CallTimeout),
		MaxConcurrency:      c.Tools.MaxConcurrency,
		MaxResultBytes:      c.Tools.MaxResultBytes,
		MaxFrameBytes:       c.Limits.MaxFrameBytes,
		Secrets:             c.Secrets(),
		MaxDescriptionBytes: c.Tools.MaxDescriptionBytes,
		ClientVersion:       version(),
		OnEvent:             h.onEvent,
		OnResourceUpdated:   h.onResourceUpdated,
		DefaultCaller:       h.caller,
		Roots:               roots(c),
		Propagate:           propagate(c),
		Inspector:           h.inspector,
	})
}

// upstreamOptions are the upstream client's options from the config;
// log receives its retry reports (nil discards them).
func upstreamOptions(c *config.Config, log *slog.Logger) llm.Options {
	return llm.Options{BaseURL: c.Upstream.BaseURL, APIKey: c.Upstream.APIKey, Headers: c.Upstream.Headers,
		MaxRetries: c.Upstream.MaxRetries, Logger: log, FirstByteTimeout: time.Duration(c.Upstream.FirstByteTimeout),
		StallTimeout: time.Duration(c.Upstream.StallTimeout), Propagate: propagate(c)}
}

// abortGrace is how long the chat requests ended at the shutdown deadline
// have to tell their clients before the connections are closed.
const abortGrace = time.Second

func serveCmd(ctx context.Context, cfgPath string, args []string, stderr io.Writer) error {
	if _, err := commandFlags("serve", &cfgPath, args, stderr, nil); err != nil {
		return err
	}
	c, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	log, setSecrets := newReloadableLogger(c, stderr)
	for _, w := range c.Warnings {
		log.Warn(w)
	}
	if err := c.CheckExposure(); err != nil {
		return err
	}
	router, err := newRouter(c, log)
	if err != nil {
		return err
	}
	authn, err := newAuthenticator(c, log)
	if err != nil {
		return err
	}
	obs, err := newObservers(c, log)
	if err != nil {
		return err
	}
	defer obs.close()
	// Ended when a shutdown's drain time has passed: the chat requests
	// still running then end with an error their clients can read.
	abortCtx, abort := context.WithCancel(context.Background())
	defer abort()

	var srv *bridge.Server
	events := make(chan mcpclient.Event, 64)
	// Events may still come (a pins file watcher's recheck) while the
	// registry closes: after close(events) they are dropped.
	var eventsMu sync.Mutex
	eventsClosed := false
	// srv is set before the registry starts, so the hooks below see it.
	hooks := registryHooks{
		onEvent: func(ev mcpclient.Event) {
			eventsMu.Lock()
			defer eventsMu.Unlock()
			if eventsClosed {
				return
			}
			select {
			case events <- ev:
			default: // the feed is best effort; never block the registry
			}
		},
		onResourceUpdated: func(ctx context.Context, p *mcp.ResourceUpdatedNotificationParams) {
			srv.ResourceUpdated(ctx, p)
		},
	}
	g, err := newGuard(c, log, obs.observer())
	if err != nil {
		_ = authn.Close()
		return err
	}
	hooks.inspector = g
	reg := newRegistry(c, log, hooks)
	opts := serverSettings(c, router, authn)
	opts.Tools, opts.Logger, opts.Shutdown, opts.Observer = reg, log, abortCtx, obs.observer()
	shared, err := shareState(c, &opts, obs, log)
	if err != nil {
		_ = authn.Close()
		return err
	}
	if shared != nil {
		defer shared.Close()
	}
	opts.Approver = g
	srv, err = bridge.New(opts)
	if err != nil {
		_ = authn.Close()
		return err
	}
	rl := newReloader(c, authn, log, srv, reg, hooks)
	rl.setSecrets, rl.obs = setSecrets, obs.observer()
	defer rl.close()
	// SIGHUP and changes of the file reload the configuration; SIGHUP is
	// also where other things reopen their files.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fileChanged := make(chan struct{}, 1)
	if c.File != "" {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		err := config.Watch(watchCtx, c.File, func() {
			select {
			case fileChanged <- struct{}{}:
			default: // a reload is already due
			}
		})
		if err != nil {
			log.Warn("the config file is not watched: reload with SIGHUP", "err", err)
		}
	}
	go func() {
		for ev := range events {
			srv.Publish(ev)
		}
	}()

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Listen, err)
	}
	// The registry lives until the end of serve; starting it never waits
	// for a server.
	regCtx, stopReg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReg()
	reg.Start(regCtx)
	watchPins(regCtx, g, reg, log)

	if c.Metrics.Listen != "" {
		if err := obs.serveMetrics(regCtx, c.Metrics.Listen, log); err != nil {
			return err
		}
	}

	hs := srv.HTTPServer()
	if obs.tracer != nil {
		hs.Handler = obs.tracer.Middleware(hs.Handler)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var shown []string
	for _, s := range upstreamSpecs(c, nil) {
		shown = append(shown, s.shown())
	}
	log.Info("mcp-bridge listening", "addr", "http://"+ln.Addr().String()+"/v1", "upstream", strings.Join(shown, ", "),
		"servers", len(c.Servers)+len(c.OpenAPIServers), "version", version())
	probeCtx, stopProbe := context.WithCancel(ctx)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		note := ""
		if c.Tools.BuiltinModelEnabled() {
			note = " (the built-in model " + bridge.BuiltinModel + " works without it)"
		}
		probeUpstreams(probeCtx, c, log, note)
	}()
	defer func() { stopProbe(); <-probed }()

serving:
	for {
		select {
		case err := <-serveErr:
			_ = reg.Close()
			return err
		case <-ctx.Done():
			break serving
		case <-hup:
			obs.reopenAudit() // logrotate renamed the audit file
			if c.File != "" {
				rl.reload(ctx, "SIGHUP")
			}
		case <-fileChanged:
			if rl.changed() {
				rl.reload(ctx, "file changed")
			}
		}
	}
	timeout := time.Duration(c.Limits.ShutdownTimeout)
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("shutting down: draining requests", "timeout", timeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	srv.Close()
	if err := hs.Shutdown(shutCtx); err != nil {
		log.Warn("requests still running at the shutdown deadline; ending them with an error", "err", err)
		abort()
		// A moment for the streams to send their error event and end.
		graceCtx, cancelGrace := context.WithTimeout(context.Background(), abortGrace)
		_ = hs.Shutdown(graceCtx)
		cancelGrace()
		_ = hs.Close()
	}
	stopReg()
	if err := reg.Close(); err != nil {
		log.Warn("closing MCP servers", "err", err)
	}
	eventsMu.Lock()
	eventsClosed = true
	close(events)
	eventsMu.Unlock()
	log.Info("stopped")
	return nil
}

// connect loads the config and connects every server, waiting until each
// is up or has failed once.
func connect(ctx context.Context, cfgPath string, stderr io.Writer) (*config.Config, *mcpclient.Registry, error) {
	c, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if c.Log.Level == "info" && os.Getenv("MCP_BRIDGE_LOG_LEVEL") == "" {
		c.Log.Level = "warn" // commands print their own report
	}
	log := newLogger(c, stderr)
	for _, w := range c.Warnings {
		log.Warn(w)
	}
	var (
		mu       sync.Mutex
		warnings []string
	)
	g, err := newGuard(c, log, &cliGuardAudit{c: c, stderr: stderr})
	if err != nil {
		return nil, nil, err
	}
	reg := newRegistry(c, log, registryHooks{
		onWarning: func(w openapi.Warning) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, w.String())
		},
		caller:    cliCaller{},
		inspector: g,
	})
	reg.Start(ctx)
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_ = reg.WaitReady(waitCtx)
	// The specs' warnings of the first loads join the config's, for check
	// to report.
	mu.Lock()
	c.Warnings = append(c.Warnings, warnings...)
	mu.Unlock()
	return c, reg, nil
}

func toolsCmd(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	if _, err := commandFlags("tools", &cfgPath, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}); err != nil {
		return err
	}
	_, reg, err := connect(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	tools := reg.Tools()
	warnDown(reg, stderr)
	if len(tools) == 0 {
		if len(reg.Servers()) == 0 {
			fmt.Fprintln(stderr, "no tools: no MCP servers are configured. Add some under mcpServers in the config (see examples/ and the README's Configuration)")
		} else {
			fmt.Fprintln(stderr, "no tools: no configured server offers any now (mcp-bridge check tells why)")
		}
	}
	if asJSON {
		type jtool struct {
			Name        string          `json:"name"`
			Server      string          `json:"server"`
			Tool        string          `json:"tool"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		}
		out := make([]jtool, len(tools))
		for i, t := range tools {
			out[i] = jtool{t.Name, t.Server, t.Original, t.Description, t.InputSchema}
		}
		return printJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVER\tDESCRIPTION")
	for _, t := range tools {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", termText(t.Name, false), termText(t.Server, false), termText(firstLine(t.Description, 70), false))
	}
	return tw.Flush()
}

// warnDown tells which servers are not connected, and so missing from
// what a command lists.
func warnDown(reg *mcpclient.Registry, stderr io.Writer) {
	for _, s := range reg.Servers() {
		if s.State == mcpclient.StateFailed || s.State == mcpclient.StateConnecting {
			fmt.Fprintf(stderr, "warning: server %s is %s: %s\n", termText(s.Name, false), s.State, termText(s.Error, false))
		}
	}
	warnBlocked(reg, stderr)
}

// firstLine is the first line of s, cut to max runes.
func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-3]) + "..."
	}
	return s
}

func callCmd(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	pos, err := commandFlags("call", &cfgPath, args, stderr, nil)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return errors.New("usage: mcp-bridge call TOOL [JSON-ARGS]")
	}
	name, argText := pos[0], "{}"
	if len(pos) == 2 {
		argText = pos[1]
	}
	if argText == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		argText = string(b)
	}
	if !json.Valid([]byte(argText)) {
		return fmt.Errorf("arguments are not valid JSON: %s", argText)
	}
	c, reg, err := connect(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	start := time.Now()
	// A call that needs approval is asked about on the terminal.
	ctx = guard.WithAsker(ctx, terminalAsker(approvalInput(len(pos) == 2 && pos[1] == "-"), stderr))
	res, err := reg.Call(ctx, name, json.RawMessage(argText))
	auditCLICall(c, ctx, reg, name, json.RawMessage(argText), time.Since(start), res, err, stderr)
	if err != nil {
		if errors.Is(err, mcpclient.ErrUnknownTool) {
			return fmt.Errorf("%w (see mcp-bridge tools)", err)
		}
		return err
	}
	fmt.Fprintln(stdout, termText(res.Text, true))
	if res.IsError {
		return exitError(1)
	}
	return nil
}

func checkCmd(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	if _, err := commandFlags("check", &cfgPath, args, stderr, nil); err != nil {
		return err
	}
	c, reg, err := connect(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	problems := 0
	file := c.File
	if file == "" {
		file = "(none: defaults)"
	}
	fmt.Fprintf(stdout, "config: %s\n", file)
	for _, w := range c.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", termText(w, false))
	}
	if err := c.CheckExposure(); err != nil {
		fmt.Fprintf(stdout, "problem: %s\n", termText(err.Error(), false))
		problems++
	}

	problems += checkUpstreams(ctx, c, stdout)

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tTRANSPORT\tSTATE\tTOOLS\tERROR")
	for _, s := range reg.Servers() {
		// Wide enough for the cause a server's error carries (the last
		// lines of a stdio server's stderr, the dial error of a remote one).
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", termText(s.Name, false), s.Transport, s.State, s.Tools, termText(firstLine(s.Error, 700), false))
		if s.State != "ready" && s.State != "disabled" {
			problems++
		}
	}
	_ = tw.Flush()
	for _, b := range reg.Blocked() {
		fmt.Fprintf(stdout, "problem: tool %s of %s is blocked: %s\n", termText(b.Name, false), termText(b.Server, false), termText(b.Reason, false))
		problems++
	}
	if problems > 0 {
		fmt.Fprintf(stdout, "%d problem(s)\n", problems)
		return exitError(1)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// roots returns the configured roots as MCP roots, nil when there are none.
func roots(c *config.Config) []*mcp.Root {
	var out []*mcp.Root
	for _, r := range c.Roots {
		uri := r
		if !strings.Contains(r, "://") {
			abs, err := filepath.Abs(r)
			if err == nil {
				r = abs
			}
			uri = (&url.URL{Scheme: "file", Path: filepath.ToSlash(r)}).String()
		}
		out = append(out, &mcp.Root{URI: uri, Name: filepath.Base(r)})
	}
	return out
}
