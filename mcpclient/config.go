package mcpclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Transport types, as reported by [ServerConfig.TransportType] and
// [ServerStatus.Transport].
const (
	TransportStdio  = "stdio"
	TransportHTTP   = "http" // streamable HTTP
	TransportSSE    = "sse"  // the legacy HTTP+SSE transport
	TransportWS     = "ws"
	TransportCustom = "custom" // ServerConfig.Transport is set
)

// ServerConfig describes one MCP server, as configured under mcpServers.
// The zero value is not valid: see [ServerConfig.Validate].
type ServerConfig struct {
	// Name is the server's key in mcpServers, case kept. Required.
	Name string

	// Command, Args, Env and Cwd start a stdio server. Cwd "" is the
	// bridge's working directory. The server does not inherit the bridge's
	// environment, which holds its keys: it gets a safe set of the bridge's
	// variables (PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, LC_*, TZ,
	// TMPDIR, the CA certificate paths SSL_CERT_FILE, SSL_CERT_DIR and
	// NODE_EXTRA_CA_CERTS, and Windows counterparts such as SYSTEMROOT,
	// APPDATA, USERPROFILE and TEMP), those named by EnvPassthrough, and
	// Env, which wins over both.
	Command string
	Args    []string
	Env     map[string]string
	Cwd     string
	// EnvPassthrough names more of the bridge's variables a stdio server
	// gets, as exact names or path.Match globs ("NODE_*"). Nil passes none
	// beyond the safe set.
	EnvPassthrough []string
	// InheritEnv gives a stdio server the bridge's whole environment, as
	// before servers were isolated. False gives the safe set only.
	InheritEnv bool

	// URL is the endpoint of a remote server.
	URL string
	// Type selects the transport: "" (inferred, see
	// [ServerConfig.TransportType]), "stdio", "http" (also written
	// "streamable-http", "streamable_http" or "streamableHttp"), "sse" or
	// "ws" (also "websocket"). Case is ignored.
	Type string
	// Headers are sent with every HTTP request to a remote server.
	Headers map[string]string
	// ForwardIdentityHeader, when set, is the header in which a remote
	// server (streamable HTTP or SSE) receives the name of the caller of
	// each call (see WithIdentity). "" sends none.
	ForwardIdentityHeader string

	// Protocol is the MCP revision the server is spoken to with:
	// ProtocolVersion (2025-11-25) or LatestProtocolVersion (2026-07-28).
	// "" or "auto" picks per server (see server.revision): sessions with a
	// server that offers them, the stateless revision with one that
	// offers only it.
	Protocol string

	// Prefix is put before the server's tool names ("<prefix>__<tool>").
	// nil means Name; a pointer to "" exposes the tools unprefixed.
	Prefix *string
	// Allow and Deny are path.Match globs on the server's original tool
	// names. An empty Allow allows every tool; Deny wins over Allow.
	Allow, Deny []string

	// Timeout bounds each tool call, including the wait for a free slot.
	// 0 means Options.CallTimeout.
	Timeout time.Duration
	// MaxConcurrency bounds the calls in flight to this server. 0 means
	// Options.MaxConcurrency.
	MaxConcurrency int
	// Disabled servers are listed (state "disabled") but never started.
	Disabled bool
	// ExposeResources adds a tool "<prefix>__read_resource" that reads the
	// server's resources by URI, for clients that see tools only (chat
	// completions). It is not added when the server has no resources or
	// a tool of that name.
	ExposeResources bool

	// Transport, when set, overrides Command and URL: it is called for every
	// connection attempt and returns the transport to connect over. The
	// context lives as long as the resulting session. Used to embed servers
	// and in tests (see mcptest.InMemory).
	Transport func(ctx context.Context) (mcp.Transport, error)
	// Fingerprint stands for what Transport connects to, for
	// [Registry.Apply], which cannot compare functions: a server with a
	// Transport is restarted by Apply when its Fingerprint (or another
	// field) changes. "" is a fingerprint like any other.
	Fingerprint string
}

// TransportType returns the transport the configuration selects: "custom"
// when Transport is set; else the normalised Type when it is set; else
// "stdio" when Command is set; else, from URL, "ws" for ws:// and wss://,
// "sse" for a path ending in /sse, and "http" otherwise. An unknown Type is
// returned lower-cased as it is (Validate reports it).
func (c ServerConfig) TransportType() string {
	if c.Transport != nil {
		return TransportCustom
	}
	switch t := strings.ToLower(strings.TrimSpace(c.Type)); t {
	case "":
	case "stdio":
		return TransportStdio
	case "http", "streamable-http", "streamable_http", "streamablehttp":
		return TransportHTTP
	case "sse":
		return TransportSSE
	case "ws", "websocket":
		return TransportWS
	default:
		return t
	}
	if c.Command != "" {
		return TransportStdio
	}
	u := strings.ToLower(c.URL)
	if strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://") {
		return TransportWS
	}
	if p, err := url.Parse(c.URL); err == nil && strings.HasSuffix(strings.TrimSuffix(p.Path, "/"), "/sse") {
		return TransportSSE
	}
	return TransportHTTP
}

// ToolPrefix returns the prefix of the server's exposed tool names: *Prefix
// when set, else Name.
func (c ServerConfig) ToolPrefix() string {
	if c.Prefix != nil {
		return *c.Prefix
	}
	return c.Name
}

// ToolAllowed reports whether the tool with the given original name passes
// the Allow and Deny globs. Malformed globs match nothing (Validate reports
// them).
func (c ServerConfig) ToolAllowed(tool string) bool {
	for _, p := range c.Deny {
		if ok, _ := path.Match(p, tool); ok {
			return false
		}
	}
	if len(c.Allow) == 0 {
		return true
	}
	for _, p := range c.Allow {
		if ok, _ := path.Match(p, tool); ok {
			return true
		}
	}
	return false
}

// Validate reports the first problem of the configuration: a missing name,
// neither or both of command and url, a transport type that is unknown or
// contradicts command/url, a url that is not http(s) (for WebSocket: not
// ws(s) or http(s)), a malformed glob (of tools or env_passthrough), or a negative timeout or
// concurrency. The error names the server. A configuration with Transport
// set needs only a name and valid globs and limits.
func (c ServerConfig) Validate() error {
	if err := c.validate(); err != nil {
		if c.Name == "" {
			return fmt.Errorf("mcp server config: %w", err)
		}
		return fmt.Errorf("mcp server %q: %w", c.Name, err)
	}
	return nil
}

func (c ServerConfig) validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return errors.New("name is required")
	}
	switch c.Protocol {
	case "", "auto", ProtocolVersion, LatestProtocolVersion:
	default:
		return fmt.Errorf("protocol %q is not one of auto, %s, %s", c.Protocol, ProtocolVersion, LatestProtocolVersion)
	}
	for _, p := range append(append([]string(nil), c.Allow...), c.Deny...) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("invalid tool glob %q: %w", p, err)
		}
	}
	for _, p := range c.EnvPassthrough {
		if _, err := path.Match(p, ""); err != nil || strings.TrimSpace(p) == "" {
			return fmt.Errorf("invalid env_passthrough name %q", p)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must not be negative, got %s", c.Timeout)
	}
	if c.MaxConcurrency < 0 {
		return fmt.Errorf("max concurrency must not be negative, got %d", c.MaxConcurrency)
	}
	if c.Transport != nil {
		return nil
	}
	hasCmd, hasURL := strings.TrimSpace(c.Command) != "", strings.TrimSpace(c.URL) != ""
	switch {
	case !hasCmd && !hasURL:
		return errors.New("either command (stdio) or url (remote) is required")
	case hasCmd && hasURL:
		return errors.New("command and url are mutually exclusive")
	}
	switch t := c.TransportType(); t {
	case TransportStdio:
		if !hasCmd {
			return errors.New(`type "stdio" needs a command, not a url`)
		}
		return nil
	case TransportHTTP, TransportSSE, TransportWS:
		if !hasURL {
			return fmt.Errorf("type %q needs a url, not a command", c.Type)
		}
		u, err := url.Parse(c.URL)
		if err != nil {
			// The url.Error text repeats the URL, which may hold a secret.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return fmt.Errorf("invalid url: %w", err)
		}
		switch {
		case t == TransportWS && !slices.Contains([]string{"ws", "wss", "http", "https"}, u.Scheme):
			return fmt.Errorf("url %q: scheme must be ws, wss, http or https for type %q", RedactURL(u), t)
		case t != TransportWS && u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("url %q: scheme must be http or https for type %q", RedactURL(u), t)
		}
		if u.Host == "" {
			return fmt.Errorf("url %q has no host", RedactURL(u))
		}
		return nil
	default:
		return fmt.Errorf(`unknown type %q (want "stdio", "http", "sse" or "ws")`, c.Type)
	}
}
