package config

import (
	"fmt"
	"net"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// Audit is the audit section: the audit log.
type Audit struct {
	// File is where the audit log goes ("-" for standard output); empty
	// means no audit log. It is reopened on SIGHUP (logrotate).
	File string `yaml:"file"`
	// Arguments is how tool arguments are logged: none, redacted or full.
	// Empty means redacted.
	Arguments string `yaml:"arguments"`
}

// Metrics is the metrics section.
type Metrics struct {
	// Listen, when set, serves /metrics on its own address without keys
	// (loopback only, unless auth.disabled); empty means /metrics is a
	// route of the bridge, behind the keys.
	Listen string `yaml:"listen"`
}

// validateObserve checks the audit and metrics sections.
func (c *Config) validateObserve(where string) error {
	switch c.Audit.Arguments {
	case "", observe.ArgumentsNone, observe.ArgumentsRedacted, observe.ArgumentsFull:
	default:
		return fmt.Errorf("%s: audit.arguments: expected none, redacted or full, got %q", where, c.Audit.Arguments)
	}
	if c.Audit.Arguments != "" && c.Audit.File == "" {
		return fmt.Errorf("%s: audit.arguments is set but audit.file is not: name a file, or \"-\" for standard output", where)
	}
	if l := c.Metrics.Listen; l != "" {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			return fmt.Errorf("%s: metrics.listen: expected host:port, got %q", where, l)
		}
		if !auth.IsLoopbackHost(host) && !c.Auth.Disabled {
			return fmt.Errorf("%s: metrics.listen: %q is not a loopback address; /metrics on its own listener has no keys, "+
				"so it may listen beyond loopback only with auth: {disabled: true}", where, l)
		}
	}
	return nil
}
