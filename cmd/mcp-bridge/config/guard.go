package config

import (
	"path/filepath"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
)

// Guard is the guard section: guardrails on what tools send and return,
// on their definitions and on who may run them. Its zero value (no guard
// section) masks credentials, reports suspicious definitions, pins
// nothing and asks approval for nothing.
type Guard struct {
	// Secrets is off, log, mask or block; empty means mask.
	Secrets string `yaml:"secrets"`
	// PII is off, log, mask or block; empty means off.
	PII string `yaml:"pii"`
	// Patterns are more rules: a name, a regex and an action (log, mask
	// or block; empty means mask).
	Patterns []GuardPattern `yaml:"patterns"`
	// Pins is the pins file, relative to the config file's directory
	// (else the working directory); empty turns pinning off.
	Pins string `yaml:"pins"`
	// OnChange is warn or block; empty means block.
	OnChange string `yaml:"on_change"`
	// Scan is off, warn or block; empty means warn.
	Scan string `yaml:"scan"`
	// Approval are globs of tool names whose calls need a person's yes.
	Approval []string `yaml:"approval"`
}

// GuardPattern is one of guard.patterns.
type GuardPattern struct {
	Name   string `yaml:"name"`
	Regex  string `yaml:"regex"`
	Action string `yaml:"action"`
}

// GuardOptions are the guard's options from the config, defaults
// applied; the caller adds the observer and the logger.
func (c *Config) GuardOptions() guard.Options {
	g := c.Guard
	o := guard.Options{Secrets: g.Secrets, PII: g.PII, OnChange: g.OnChange, Scan: g.Scan, Approval: g.Approval}
	if o.Secrets == "" {
		o.Secrets = guard.Mask
	}
	if o.Scan == "" {
		o.Scan = guard.Warn
	}
	for _, p := range g.Patterns {
		o.Patterns = append(o.Patterns, guard.Pattern{Name: p.Name, Regex: p.Regex, Action: p.Action})
	}
	if g.Pins != "" {
		o.Pins = g.Pins
		if !filepath.IsAbs(o.Pins) && c.File != "" {
			o.Pins = filepath.Join(filepath.Dir(c.File), o.Pins)
		}
	}
	return o
}

// validateGuard checks the guard section.
func (c *Config) validateGuard(where string) error {
	err := c.GuardOptions().Validate()
	if err == nil {
		return nil
	}
	// "guard.KEY..." : point at the key's line.
	key, _, _ := strings.Cut(err.Error(), ":")
	key, _, _ = strings.Cut(key, "[")
	var p problems
	p.add(c.lineOf(key), "", "%s", err.Error())
	return p.err(where)
}
