package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
)

// Auth is the auth section: who may call the bridge.
type Auth struct {
	// Keys are named keys, each with an optional policy.
	Keys []Key `yaml:"keys"`
	// APIKeys are full-access keys, named key-1, key-2, ...
	APIKeys []string `yaml:"api_keys"`
	// JWT accepts bearer JWTs of an identity provider when JWKS is set.
	JWT JWT `yaml:"jwt"`
	// Disabled says something in front of the bridge guards it, so that it
	// may listen beyond loopback without keys.
	Disabled bool `yaml:"disabled"`
}

// Key is one of auth.keys.
type Key struct {
	Name           string `yaml:"name"`
	Key            string `yaml:"key"`
	Policy         string `yaml:"policy"`
	UpstreamAPIKey string `yaml:"upstream_api_key"`
}

// UnmarshalYAML decodes a key, refusing keys it does not know.
func (k *Key) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, reflect.TypeOf(*k), "auth.keys[]."); err != nil {
		return err
	}
	type plain Key
	return n.Decode((*plain)(k))
}

// JWT is auth.jwt.
type JWT struct {
	JWKS          string `yaml:"jwks"`
	Issuer        string `yaml:"issuer"`
	Audience      string `yaml:"audience"`
	NameClaim     string `yaml:"name_claim"`
	PolicyClaim   string `yaml:"policy_claim"`
	DefaultPolicy string `yaml:"default_policy"`
}

// configured reports whether any JWT setting is given.
func (j JWT) configured() bool { return j != JWT{} }

// Policies is the policies section, by name.
type Policies map[string]Policy

// Policy is one policy as written.
type Policy struct {
	Servers    []string `yaml:"servers"`
	Tools      []string `yaml:"tools"`
	Deny       []string `yaml:"deny"`
	Models     []string `yaml:"models"`
	Rate       Rate     `yaml:"rate"`
	ToolCalls  Rate     `yaml:"tool_calls"`
	Tokens     Budget   `yaml:"tokens"`
	MaxStreams int      `yaml:"max_streams"`
}

// Rate is a policy's rate limit: Requests per Per, with bursts of Burst;
// the zero value limits nothing.
type Rate struct {
	Requests int      `yaml:"requests"`
	Per      Duration `yaml:"per"`
	Burst    int      `yaml:"burst"`
}

// Budget is a policy's token budget: Limit tokens per Per; the zero value
// limits nothing.
type Budget struct {
	Limit int64    `yaml:"limit"`
	Per   Duration `yaml:"per"`
}

// UnmarshalYAML decodes the policies by name, refusing unknown keys and
// a name defined twice.
func (p *Policies) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: policies: expected a mapping of policy names to policies", n.Line)
	}
	*p = Policies{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i].Value, n.Content[i+1]
		if _, dup := (*p)[name]; dup {
			return fmt.Errorf("line %d: policies.%s: the policy is already defined", n.Content[i].Line, name)
		}
		var e Policy
		if body.Kind == yaml.MappingNode {
			if err := checkKeys(body, reflect.TypeOf(e), "policies."+name+"."); err != nil {
				return err
			}
		} else if !(body.Kind == yaml.ScalarNode && body.Tag == "!!null") {
			return fmt.Errorf("line %d: policies.%s: expected a mapping (servers, tools, deny, models, rate, tool_calls, tokens, max_streams)", body.Line, name)
		}
		if err := body.Decode(&e); err != nil {
			return fmt.Errorf("policies.%s: %s", name, cleanYAMLError(err))
		}
		(*p)[name] = e
	}
	return nil
}

// ForwardIdentity sends the caller's name to a server or the upstream.
type ForwardIdentity struct {
	// Header carries the caller's name (e.g. X-Bridge-User); "" sends
	// nothing.
	Header string `yaml:"header"`
}

// headerNameRE is an HTTP header field name (a token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (f ForwardIdentity) check() error {
	if f.Header != "" && !headerNameRE.MatchString(f.Header) {
		return fmt.Errorf("forward_identity.header: %q is not a valid header name", f.Header)
	}
	return nil
}

// AuthSettings is the auth package's view of the policies and auth
// sections. A relative JWKS file is relative to the config file.
func (c *Config) AuthSettings() auth.Config {
	ac := auth.Config{APIKeys: c.Auth.APIKeys}
	if len(c.Policies) > 0 {
		ac.Policies = map[string]auth.PolicyConfig{}
		for name, p := range c.Policies {
			ac.Policies[name] = auth.PolicyConfig{
				Servers: p.Servers, Tools: p.Tools, Deny: p.Deny, Models: p.Models,
				Rate:       auth.Rate{Requests: p.Rate.Requests, Per: time.Duration(p.Rate.Per), Burst: p.Rate.Burst},
				ToolCalls:  auth.Rate{Requests: p.ToolCalls.Requests, Per: time.Duration(p.ToolCalls.Per), Burst: p.ToolCalls.Burst},
				Tokens:     auth.Budget{Limit: p.Tokens.Limit, Per: time.Duration(p.Tokens.Per)},
				MaxStreams: p.MaxStreams,
			}
		}
	}
	for _, k := range c.Auth.Keys {
		ac.Keys = append(ac.Keys, auth.Key{Name: k.Name, Key: k.Key, Policy: k.Policy, UpstreamAPIKey: k.UpstreamAPIKey})
	}
	if j := c.Auth.JWT; j.configured() {
		jwks := j.JWKS
		if jwks != "" && !strings.Contains(jwks, "://") && !filepath.IsAbs(jwks) && c.File != "" {
			jwks = filepath.Join(filepath.Dir(c.File), jwks)
		}
		ac.JWT = &auth.JWTConfig{JWKS: jwks, Issuer: j.Issuer, Audience: j.Audience,
			NameClaim: j.NameClaim, PolicyClaim: j.PolicyClaim, DefaultPolicy: j.DefaultPolicy}
	}
	return ac
}

// validateAuth checks the policies and auth sections and forward_identity
// (where is the file, or "config"): an unknown policy, two keys with one
// name or one value (a key and its sha256 form too), a glob that cannot
// compile, an invalid sha256 form, a JWKS file that cannot be parsed.
// Errors name the file, the line and the key.
func (c *Config) validateAuth(where string) error {
	if err := c.AuthSettings().Validate(); err != nil {
		if ce, ok := err.(*auth.ConfigError); ok {
			if line := c.lineOf(ce.Key); line > 0 {
				return fmt.Errorf("%s: line %d: %s: %s", where, line, ce.Key, ce.Msg)
			}
			return fmt.Errorf("%s: %s: %s", where, ce.Key, ce.Msg)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := c.Upstream.ForwardIdentity.check(); err != nil {
		return fmt.Errorf("%s: upstream.%w", where, err)
	}
	for name, f := range c.ForwardIdentity {
		if err := f.check(); err != nil {
			return fmt.Errorf("%s: mcpServers.%s.%w", where, name, err)
		}
	}
	return nil
}

// authSecrets are the auth values never to show: plain keys and the
// upstream keys of named keys.
func (c *Config) authSecrets() []string {
	var s []string
	for _, k := range c.Auth.Keys {
		if !auth.KeyIsHashed(k.Key) {
			s = append(s, k.Key)
		}
		s = append(s, k.UpstreamAPIKey)
	}
	return s
}

// lineOf finds the line of a dotted key ("auth.keys[1].policy") in the
// config file, or of the nearest setting above it; 0 when there is no
// file or it cannot be read. Only errors need it, so the file is read
// again rather than its lines kept.
func (c *Config) lineOf(key string) int {
	if c.File == "" {
		return 0
	}
	data, err := os.ReadFile(c.File)
	if err != nil {
		return 0
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return 0
	}
	return nodeLine(root.Content[0], key, 0)
}

// nodeLine walks n along path, returning the line of the deepest node
// found (best, when none is).
func nodeLine(n *yaml.Node, path string, best int) int {
	if path == "" {
		return best
	}
	switch n.Kind {
	case yaml.SequenceNode:
		if !strings.HasPrefix(path, "[") {
			return best
		}
		end := strings.IndexByte(path, ']')
		i, err := strconv.Atoi(path[1:max(end, 1)])
		if end < 0 || err != nil || i < 0 || i >= len(n.Content) {
			return best
		}
		return nodeLine(n.Content[i], strings.TrimPrefix(path[end+1:], "."), n.Content[i].Line)
	case yaml.MappingNode:
		// The longest key that begins the path: policy names may hold dots.
		var found *yaml.Node
		var foundKey string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if !strings.HasPrefix(path, k) || (found != nil && len(k) <= len(foundKey)) {
				continue
			}
			if r := path[len(k):]; r == "" || r[0] == '.' || r[0] == '[' {
				found, foundKey = n.Content[i+1], k
				best = n.Content[i].Line
			}
		}
		rest := strings.TrimPrefix(path[len(foundKey):], ".")
		if found == nil {
			return best
		}
		return nodeLine(found, rest, best)
	}
	return best
}

// MinKeyLength is the shortest API key accepted beyond loopback.
const MinKeyLength = 16

// CheckExposure refuses to listen beyond loopback with nothing guarding
// the bridge, or with keys short enough to guess. JWT counts as a guard;
// keys stored as sha256 forms cannot be measured and are trusted.
func (c *Config) CheckExposure() error {
	if c.Loopback() || c.Auth.Disabled {
		return nil
	}
	for i, k := range c.Auth.Keys {
		if !auth.KeyIsHashed(k.Key) && len(k.Key) < MinKeyLength {
			return fmt.Errorf("refusing to listen on %s with auth.keys[%d] (%s) of %d characters: keys reachable from the network need at least %d "+
				"(for example: openssl rand -hex 24)", c.Listen, i, k.Name, len(k.Key), MinKeyLength)
		}
	}
	for i, k := range c.Auth.APIKeys {
		if !auth.KeyIsHashed(k) && len(k) < MinKeyLength {
			return fmt.Errorf("refusing to listen on %s with auth.api_keys[%d] of %d characters: keys reachable from the network need at least %d "+
				"(for example: openssl rand -hex 24)", c.Listen, i, len(k), MinKeyLength)
		}
	}
	if len(c.Auth.APIKeys) > 0 || len(c.Auth.Keys) > 0 || c.Auth.JWT.configured() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without API keys: anyone who can reach it could run your MCP tools. "+
		"Add keys (auth: {api_keys: [\"...\"]}), or say auth: {disabled: true} if something in front of the bridge guards it, "+
		"or listen on 127.0.0.1", c.Listen)
}

// Secrets are the configured values that must never be shown.
func (c *Config) Secrets() []string {
	s := append([]string{c.Upstream.APIKey}, c.Auth.APIKeys...)
	s = append(s, c.authSecrets()...)
	s = append(s, c.stateSecrets()...)
	s = append(s, c.upstreamSecrets()...)
	for _, v := range c.Upstream.Headers {
		s = append(s, v)
	}
	for _, sv := range c.OpenAPIServers {
		for _, v := range sv.Headers {
			s = append(s, v)
		}
	}
	for _, sv := range c.Servers {
		for _, v := range sv.Headers {
			s = append(s, v)
		}
		// Servers' env values are often secrets too; short ones (LOG_LEVEL:
		// info) are too common a word to mask everywhere.
		for _, v := range sv.Env {
			if len(v) >= 8 {
				s = append(s, v)
			}
		}
	}
	return s
}
