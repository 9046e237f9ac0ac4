package auth

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Rate is a token-bucket rate: Requests per Per, with bursts of up to
// Burst. The zero Rate is unlimited.
type Rate struct {
	// Requests per Per; 0 means unlimited.
	Requests int
	// Per is the window Requests are counted over; 0 means a minute.
	Per time.Duration
	// Burst is how many may come at once; 0 means Requests.
	Burst int
}

// Unlimited reports whether r limits nothing.
func (r Rate) Unlimited() bool { return r.Requests <= 0 }

// Window is the window Requests are counted over: Per, else a minute.
func (r Rate) Window() time.Duration {
	if r.Per <= 0 {
		return time.Minute
	}
	return r.Per
}

// BurstSize is how many requests may come at once: Burst, else Requests.
func (r Rate) BurstSize() int {
	if r.Burst <= 0 {
		return r.Requests
	}
	return r.Burst
}

// Budget is a number of tokens that may be spent per fixed window. The
// zero Budget is unlimited.
type Budget struct {
	// Limit is the tokens (prompt and completion, summed over rounds) that
	// may be spent per window; 0 means unlimited.
	Limit int64
	// Per is the window; 0 means 24 hours. Windows are aligned on
	// multiples of Per since the Unix epoch (a day's window starts at
	// midnight UTC).
	Per time.Duration
}

// Unlimited reports whether b limits nothing.
func (b Budget) Unlimited() bool { return b.Limit <= 0 }

// Window is the budget's window: Per, else 24 hours.
func (b Budget) Window() time.Duration {
	if b.Per <= 0 {
		return 24 * time.Hour
	}
	return b.Per
}

// PolicyConfig is a policy as configured. Globs use path.Match syntax,
// except that '*' and '?' match '/' too (model names such as
// "openai/gpt-4o" contain one). An empty list allows everything.
type PolicyConfig struct {
	// Servers are globs on server names (mcpServers and openapiServers).
	Servers []string
	// Tools are globs on exposed tool names (prefix__tool).
	Tools []string
	// Deny are globs on exposed tool names; they win over Servers and Tools.
	Deny []string
	// Models are globs on the models the caller may ask for.
	Models []string
	// Rate limits chat requests, face tool calls and /tools calls.
	Rate Rate
	// ToolCalls limits tool executions on every face.
	ToolCalls Rate
	// Tokens is the token budget.
	Tokens Budget
	// MaxStreams bounds concurrent streaming chat answers; 0 means no bound.
	MaxStreams int
}

// Policy is a compiled PolicyConfig: what an identity may use. A nil
// *Policy allows everything and limits nothing. A Policy is immutable and
// safe for concurrent use.
type Policy struct {
	// Name is the policy's name in the configuration.
	Name string
	// Rate, ToolCalls, Tokens and MaxStreams are the policy's limits, as
	// in PolicyConfig.
	Rate       Rate
	ToolCalls  Rate
	Tokens     Budget
	MaxStreams int

	servers, tools, deny, models []string
	view                         string
}

// NewPolicy compiles a policy. Its errors are *ConfigError naming the
// field ("servers[1]", "rate.per", ...) relative to the policy.
func NewPolicy(name string, c PolicyConfig) (*Policy, error) {
	for _, g := range []struct {
		key   string
		globs []string
	}{{"servers", c.Servers}, {"tools", c.Tools}, {"deny", c.Deny}, {"models", c.Models}} {
		if err := checkGlobs(g.key, g.globs); err != nil {
			return nil, err
		}
	}
	for _, r := range []struct {
		key string
		r   Rate
	}{{"rate", c.Rate}, {"tool_calls", c.ToolCalls}} {
		switch {
		case r.r.Requests < 0:
			return nil, &ConfigError{Key: r.key + ".requests", Msg: fmt.Sprintf("expected a positive number, got %d", r.r.Requests)}
		case r.r.Per < 0:
			return nil, &ConfigError{Key: r.key + ".per", Msg: fmt.Sprintf("expected a positive duration, got %s", r.r.Per)}
		case r.r.Burst < 0:
			return nil, &ConfigError{Key: r.key + ".burst", Msg: fmt.Sprintf("expected a positive number, got %d", r.r.Burst)}
		case r.r.Requests == 0 && (r.r.Burst > 0 || r.r.Per > 0):
			return nil, &ConfigError{Key: r.key + ".requests", Msg: "required with per or burst (how many requests per window)"}
		}
	}
	switch {
	case c.Tokens.Limit < 0:
		return nil, &ConfigError{Key: "tokens.limit", Msg: fmt.Sprintf("expected a positive number, got %d", c.Tokens.Limit)}
	case c.Tokens.Per < 0:
		return nil, &ConfigError{Key: "tokens.per", Msg: fmt.Sprintf("expected a positive duration, got %s", c.Tokens.Per)}
	case c.Tokens.Limit == 0 && c.Tokens.Per > 0:
		return nil, &ConfigError{Key: "tokens.limit", Msg: "required with per (how many tokens per window)"}
	case c.MaxStreams < 0:
		return nil, &ConfigError{Key: "max_streams", Msg: fmt.Sprintf("expected a positive number, got %d", c.MaxStreams)}
	}
	p := &Policy{
		Name: name, Rate: c.Rate, ToolCalls: c.ToolCalls, Tokens: c.Tokens, MaxStreams: c.MaxStreams,
		servers: clean(c.Servers), tools: clean(c.Tools), deny: clean(c.Deny), models: clean(c.Models),
	}
	if len(p.servers)+len(p.tools)+len(p.deny) > 0 {
		p.view = "p" + viewHash(p.servers, p.tools, p.deny)
	}
	return p, nil
}

// AllowsServer reports whether the policy allows the server at all.
func (p *Policy) AllowsServer(name string) bool {
	return p == nil || len(p.servers) == 0 || matchAny(p.servers, name)
}

// AllowsTool reports whether the policy allows the tool exposed as
// exposedName by server: not denied, on an allowed server, and matching
// the tool globs.
func (p *Policy) AllowsTool(exposedName, server string) bool {
	if p == nil {
		return true
	}
	if matchAny(p.deny, exposedName) {
		return false
	}
	if !p.AllowsServer(server) {
		return false
	}
	return len(p.tools) == 0 || matchAny(p.tools, exposedName)
}

// AllowsModel reports whether the policy allows asking for the model.
func (p *Policy) AllowsModel(model string) bool {
	return p == nil || len(p.models) == 0 || matchAny(p.models, model)
}

func (p *Policy) viewKey() string {
	if p == nil {
		return ""
	}
	return p.view
}

// checkGlobs reports the first glob of list that cannot compile, as a
// *ConfigError naming key[i].
func checkGlobs(key string, list []string) error {
	for i, g := range list {
		if strings.TrimSpace(g) == "" {
			return &ConfigError{Key: fmt.Sprintf("%s[%d]", key, i), Msg: "a glob must not be empty"}
		}
		if err := checkGlob(g); err != nil {
			return &ConfigError{Key: fmt.Sprintf("%s[%d]", key, i), Msg: err.Error()}
		}
	}
	return nil
}

// checkGlob reports whether g is a valid glob.
func checkGlob(g string) error {
	if _, err := path.Match(slashless(g), ""); err != nil {
		return fmt.Errorf("invalid glob %q: %v", g, err)
	}
	return nil
}

// slashless makes '/' an ordinary character for path.Match, whose '*'
// and '?' stop at it: a private-use rune takes its place.
func slashless(s string) string { return strings.ReplaceAll(s, "/", "\uE000") }

// match reports whether name matches the glob g (validated beforehand).
func match(g, name string) bool {
	if g == name || g == "*" {
		return true
	}
	ok, _ := path.Match(slashless(g), slashless(name))
	return ok
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if match(g, name) {
			return true
		}
	}
	return false
}

// clean trims the globs and drops duplicates, keeping the order.
func clean(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range list {
		g = strings.TrimSpace(g)
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}
