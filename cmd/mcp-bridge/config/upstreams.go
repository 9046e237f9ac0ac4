package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/llm/route"
)

// UpstreamEntry is one entry of the upstreams list: an OpenAI-compatible
// server and the models it takes. Zero values mean the defaults of the
// single upstream block.
type UpstreamEntry struct {
	// Name identifies it in aliases, /v1/models, metrics and audit.
	// Required, unique.
	Name    string            `yaml:"name"`
	BaseURL string            `yaml:"base_url"`
	APIKey  string            `yaml:"api_key"`
	Headers map[string]string `yaml:"headers"`
	// Models are globs on the request's model; empty takes every model.
	Models []string `yaml:"models"`
	// Profile is openai, ollama, vllm, llamacpp, lmstudio, gemini or
	// generic; empty means generic.
	Profile string `yaml:"profile"`
	// Priority: lower is tried first; 0 means 1.
	Priority int `yaml:"priority"`
	// Weight shares requests among equal priorities; 0 means 1.
	Weight           int      `yaml:"weight"`
	MaxRetries       int      `yaml:"max_retries"`
	FirstByteTimeout Duration `yaml:"first_byte_timeout"`
	StallTimeout     Duration `yaml:"stall_timeout"`
}

// AliasTarget is one upstream an alias sends its requests to.
type AliasTarget struct {
	// Upstream is an upstream's name ("default" with the single upstream
	// block).
	Upstream string `yaml:"upstream"`
	// Model is the model name sent there; empty sends the alias.
	Model string `yaml:"model"`
}

// Alias is the upstreams a model alias tries, in order. It is written as
// one {upstream, model} mapping or a list of them.
type Alias []AliasTarget

// UnmarshalYAML reads one target or a list of them, refusing unknown keys.
func (a *Alias) UnmarshalYAML(n *yaml.Node) error {
	items := []*yaml.Node{n}
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
	case yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: expected {upstream, model} or a list of them", n.Line)
	}
	*a = nil
	for _, it := range items {
		if it.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: expected {upstream, model}", it.Line)
		}
		if err := checkKeys(it, reflectAliasTarget, ""); err != nil {
			return err
		}
		var t AliasTarget
		if err := it.Decode(&t); err != nil {
			return fmt.Errorf("line %d: %s", it.Line, cleanYAMLError(err))
		}
		*a = append(*a, t)
	}
	return nil
}

var reflectAliasTarget = reflect.TypeOf(AliasTarget{})

// upstreamNameRE is what an upstream's name may be: it shows in metrics
// labels and logs.
var upstreamNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// validateUpstreams checks the upstreams list and the model aliases:
// names (present, unique, plain), base URLs, profiles, priorities,
// weights and globs, and aliases that name known upstreams.
func (c *Config) validateUpstreams(where string) error {
	var p problems
	bad := func(key, format string, args ...any) {
		p.add(c.lineOf(key), key, format, args...)
	}
	names := map[string]bool{}
	for i, u := range c.Upstreams {
		key := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			bad(key+".name", "every upstream needs a name")
		case !upstreamNameRE.MatchString(u.Name):
			bad(key+".name", "expected letters, digits, '_', '.' or '-' (64 at most), got %q", u.Name)
		case names[u.Name]:
			bad(key+".name", "the name %q is used by another upstream", u.Name)
		}
		names[u.Name] = true
		if !strings.HasPrefix(u.BaseURL, "http://") && !strings.HasPrefix(u.BaseURL, "https://") {
			bad(key+".base_url", "expected an http:// or https:// URL, got %q", u.BaseURL)
		}
		if _, ok := route.LookupProfile(u.Profile); !ok {
			bad(key+".profile", "expected one of %s, got %q", strings.Join(route.ProfileNames(), ", "), u.Profile)
		}
		if u.Priority < 0 {
			bad(key+".priority", "expected 1 or more, got %d", u.Priority)
		}
		if u.Weight < 0 {
			bad(key+".weight", "expected 1 or more, got %d", u.Weight)
		}
		for j, g := range u.Models {
			if strings.TrimSpace(g) == "" {
				bad(fmt.Sprintf("%s.models[%d]", key, j), "an empty glob takes no model")
			}
		}
	}
	if len(c.Upstreams) == 0 {
		names[route.DefaultName] = true
	}
	for alias, targets := range c.Models {
		key := "models." + alias
		if len(targets) == 0 {
			bad(key, "the alias names no upstream")
		}
		for _, t := range targets {
			if !names[t.Upstream] {
				known := make([]string, 0, len(names))
				for n := range names {
					known = append(known, n)
				}
				bad(key, "unknown upstream %q%s", t.Upstream, suggest(t.Upstream, known))
			}
		}
	}
	if len(c.Upstreams) > 0 && c.fileHasUpstreamConnection() {
		c.Warnings = append(c.Warnings, "upstream: base_url, api_key and headers are ignored when upstreams is given "+
			"(upstream.forward_identity still applies): give every upstream in upstreams")
	}
	return p.err(where)
}

// fileHasUpstreamConnection reports whether the file sets the single
// upstream's connection (base_url, api_key, headers).
func (c *Config) fileHasUpstreamConnection() bool {
	if c.File == "" {
		return false
	}
	data, err := os.ReadFile(c.File)
	if err != nil {
		return false
	}
	var v struct {
		Upstream map[string]any `yaml:"upstream"`
	}
	if yaml.Unmarshal(data, &v) != nil {
		return false
	}
	for _, k := range []string{"base_url", "api_key", "headers"} {
		if _, ok := v.Upstream[k]; ok {
			return true
		}
	}
	return false
}

// upstreamSecrets are the upstreams' keys and header values.
func (c *Config) upstreamSecrets() []string {
	var s []string
	for _, u := range c.Upstreams {
		s = append(s, u.APIKey)
		for _, v := range u.Headers {
			s = append(s, v)
		}
	}
	return s
}
