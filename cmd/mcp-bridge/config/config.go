package config

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// defaultUpstream is Ollama's local OpenAI-compatible endpoint.
const defaultUpstream = "http://127.0.0.1:11434/v1"

// Config is the whole configuration, after environment expansion and
// MCP_BRIDGE_* overrides.
type Config struct {
	// File is the file it was read from; "" when there was none.
	File string `yaml:"-"`

	Listen   string   `yaml:"listen"`
	Upstream Upstream `yaml:"upstream"`
	Tools    Tools    `yaml:"tools"`
	Auth     Auth     `yaml:"auth"`
	Policies Policies `yaml:"policies"`
	Limits   Limits   `yaml:"limits"`
	Log      Log      `yaml:"log"`
	CORS     CORS     `yaml:"cors"`
	OpenAPI  OpenAPI  `yaml:"openapi"`
	MCP      MCPFace  `yaml:"mcp"`
	Sampling Sampling `yaml:"sampling"`
	Audit    Audit    `yaml:"audit"`
	Metrics  Metrics  `yaml:"metrics"`

	// Upstreams, when given, replace upstream; Models are model aliases
	// (upstreams.go).
	Upstreams []UpstreamEntry  `yaml:"upstreams"`
	Models    map[string]Alias `yaml:"models"`

	// Telemetry configures OpenTelemetry traces (telemetry.go).
	Telemetry Telemetry `yaml:"telemetry"`
	// State is what replicas share (state.go).
	State State `yaml:"state"`
	// Guard is the guardrails' section (guard.go).
	Guard Guard `yaml:"guard"`
	// Roots are offered to MCP servers that ask for them: directories
	// (made file:// URIs) or URIs.
	Roots []string `yaml:"roots"`
	// Servers are the mcpServers entries, sorted by name.
	Servers []mcpclient.ServerConfig `yaml:"-"`
	// OpenAPIServers are the openapiServers entries, sorted by name.
	OpenAPIServers []openapi.SpecConfig `yaml:"-"`
	// ForwardIdentity is each mcpServers entry's forward_identity, by
	// server name; nil when none has one.
	ForwardIdentity map[string]ForwardIdentity `yaml:"-"`
	// Warnings are problems that do not stop the bridge.
	Warnings []string `yaml:"-"`
}

// Upstream is the upstream section: the OpenAI-compatible server chats
// go to. Its zero value is completed by Load's defaults.
type Upstream struct {
	BaseURL    string            `yaml:"base_url"`
	APIKey     string            `yaml:"api_key"`
	Headers    map[string]string `yaml:"headers"`
	MaxRetries int               `yaml:"max_retries"`
	// FirstByteTimeout and StallTimeout bound an upstream that goes
	// silent before or during its answer (see llm.Options); 0 means 2
	// minutes, a negative value no limit.
	FirstByteTimeout Duration `yaml:"first_byte_timeout"`
	StallTimeout     Duration `yaml:"stall_timeout"`
	// ForwardIdentity sends the caller's name upstream in a header.
	ForwardIdentity ForwardIdentity `yaml:"forward_identity"`
}

// Tools is the tools section: the tool loop's bounds; zero values mean
// the defaults listed by --help.
type Tools struct {
	MaxRounds      int      `yaml:"max_rounds"`
	CallTimeout    Duration `yaml:"call_timeout"`
	Deadline       Duration `yaml:"deadline"`
	Display        string   `yaml:"display"`
	Keepalive      Duration `yaml:"keepalive"`
	MaxParallel    int      `yaml:"max_parallel"`
	MaxConcurrency int      `yaml:"max_concurrency"`
	MaxResultBytes int      `yaml:"max_result_bytes"`
	// MaxDescriptionBytes caps tool descriptions; 0 means 4096.
	MaxDescriptionBytes int `yaml:"max_description_bytes"`
	// WarnInjectedBytes: the injected tool definitions past this size are
	// warned about; 0 means 256 KiB, negative never.
	WarnInjectedBytes int `yaml:"warn_injected_bytes"`
	// BuiltinModel serves the model mcp-bridge/tools, which calls the
	// tool a user names with no LLM; nil (unset) means true.
	BuiltinModel *bool `yaml:"builtin_model"`
	// Exposure is how the tools reach the model in chat requests: all,
	// search (the search_tools function, Always and what the model found)
	// or auto (search past SearchThreshold tools or the upstream profile's
	// tool limit); "" means auto.
	Exposure string `yaml:"exposure"`
	// SearchThreshold is the number of a caller's tools past which auto
	// searches; 0 means 40.
	SearchThreshold int `yaml:"search_threshold"`
	// Always are globs of tool names injected in search mode too; nil
	// means none.
	Always []string `yaml:"always"`
}

// BuiltinModelEnabled reports whether tools.builtin_model is on (the default).
func (t Tools) BuiltinModelEnabled() bool { return t.BuiltinModel == nil || *t.BuiltinModel }

// Limits is the limits section: sizes and timeouts of the listener; zero
// values mean the defaults.
type Limits struct {
	MaxBodyBytes      int64    `yaml:"max_body_bytes"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	BodyReadTimeout   Duration `yaml:"body_read_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	// MaxFrameBytes bounds one message from a stdio server; 0 means 64 MiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
}

// CORS is the origin and host policy of every route.
type CORS struct {
	// AllowedOrigins are browser origins allowed besides loopback pages
	// and the bridge's own; "*" allows any.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts are Host names accepted besides loopback ones (a name,
	// or name:port), e.g. host.docker.internal or a reverse proxy's name.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// OpenAPI is read for files written before cors existed.
type OpenAPI struct {
	// CORSOrigins is the old name of cors.allowed_origins.
	CORSOrigins []string `yaml:"cors_origins"`
}

// MCPFace is the mcp section: the bridge's own MCP server.
type MCPFace struct {
	// AllowedOrigins is the old name of cors.allowed_origins.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// SessionIdleTimeout ends face sessions idle for that long; 0 means
	// 10 minutes.
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
	// MaxSessions bounds the open face sessions; 0 means 1000.
	MaxSessions int `yaml:"max_sessions"`
}

// Sampling is the sampling section: how servers' sampling requests are
// answered.
type Sampling struct {
	// Model answers servers' sampling requests during chat completions
	// when their hints name no upstream model; empty means the chat's.
	Model string `yaml:"model"`
}

// Log is the log section; empty values mean level info, text format.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as "30s" or "2m" (or a bare number
// of seconds).
type Duration time.Duration

// UnmarshalYAML reads a duration, naming the line of a bad one.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like 30s or 2m, got %q", s)
	}
	return d, nil
}

// scalar is a setting that MCP_BRIDGE_* variables can override.
type scalar struct {
	key string // dotted path, e.g. "tools.max_rounds"
	set func(c *Config, v string) error
	def string // the default, as shown by --help ("" when none)
}

func setString(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func setInt(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

func setDuration(p func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*p(c) = Duration(d)
		return nil
	}
}

func setBool(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("expected true or false, got %q", v)
		}
		*p(c) = b
		return nil
	}
}

// setOptionalBool is setBool for a setting whose absence has a meaning.
func setOptionalBool(p func(*Config) **bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		var b bool
		if err := setBool(func(*Config) *bool { return &b })(c, v); err != nil {
			return err
		}
		*p(c) = &b
		return nil
	}
}

// scalars lists every overridable setting.
var scalars = []scalar{
	{"listen", setString(func(c *Config) *string { return &c.Listen }), "127.0.0.1:9090"},
	{"upstream.base_url", setString(func(c *Config) *string { return &c.Upstream.BaseURL }), "http://127.0.0.1:11434/v1"},
	{"upstream.api_key", setString(func(c *Config) *string { return &c.Upstream.APIKey }), ""},
	{"upstream.max_retries", setInt(func(c *Config) *int { return &c.Upstream.MaxRetries }), "2"},
	{"upstream.first_byte_timeout", setDuration(func(c *Config) *Duration { return &c.Upstream.FirstByteTimeout }), "2m"},
	{"upstream.stall_timeout", setDuration(func(c *Config) *Duration { return &c.Upstream.StallTimeout }), "2m"},
	{"tools.max_rounds", setInt(func(c *Config) *int { return &c.Tools.MaxRounds }), "8"},
	{"tools.call_timeout", setDuration(func(c *Config) *Duration { return &c.Tools.CallTimeout }), "60s"},
	{"tools.deadline", setDuration(func(c *Config) *Duration { return &c.Tools.Deadline }), "10m"},
	{"tools.display", setString(func(c *Config) *string { return &c.Tools.Display }), "status"},
	{"tools.keepalive", setDuration(func(c *Config) *Duration { return &c.Tools.Keepalive }), "15s"},
	{"tools.max_parallel", setInt(func(c *Config) *int { return &c.Tools.MaxParallel }), "8"},
	{"tools.builtin_model", setOptionalBool(func(c *Config) **bool { return &c.Tools.BuiltinModel }), "true"},
	{"tools.exposure", setString(func(c *Config) *string { return &c.Tools.Exposure }), "auto"},
	{"tools.search_threshold", setInt(func(c *Config) *int { return &c.Tools.SearchThreshold }), "40"},
	{"limits.max_frame_bytes", setInt(func(c *Config) *int { return &c.Limits.MaxFrameBytes }), "67108864"},
	{"auth.disabled", setBool(func(c *Config) *bool { return &c.Auth.Disabled }), "false"},
	{"limits.body_read_timeout", setDuration(func(c *Config) *Duration { return &c.Limits.BodyReadTimeout }), "30s"},
	{"limits.idle_timeout", setDuration(func(c *Config) *Duration { return &c.Limits.IdleTimeout }), "2m"},
	{"mcp.session_idle_timeout", setDuration(func(c *Config) *Duration { return &c.MCP.SessionIdleTimeout }), "10m"},
	{"mcp.max_sessions", setInt(func(c *Config) *int { return &c.MCP.MaxSessions }), "1000"},
	{"sampling.model", setString(func(c *Config) *string { return &c.Sampling.Model }), ""},
	{"log.level", setString(func(c *Config) *string { return &c.Log.Level }), "info"},
	{"log.format", setString(func(c *Config) *string { return &c.Log.Format }), "text"},
	{"audit.file", setString(func(c *Config) *string { return &c.Audit.File }), ""},
	{"audit.arguments", setString(func(c *Config) *string { return &c.Audit.Arguments }), "redacted"},
	{"metrics.listen", setString(func(c *Config) *string { return &c.Metrics.Listen }), ""},
	{"state.redis", setString(func(c *Config) *string { return &c.State.Redis }), ""},
	{"state.prefix", setString(func(c *Config) *string { return &c.State.Prefix }), "mcp-bridge:"},
	{"state.on_redis_down", setString(func(c *Config) *string { return &c.State.OnRedisDown }), "fail_open"},
}

// Setting is a setting that an MCP_BRIDGE_* variable overrides.
type Setting struct {
	Key     string // dotted path, e.g. "tools.max_rounds"
	Env     string // the variable, e.g. MCP_BRIDGE_TOOLS_MAX_ROUNDS
	Default string // as shown by --help; "" when there is none
}

// Settings lists every setting that MCP_BRIDGE_* variables override, in
// the order --help shows them.
func Settings() []Setting {
	out := make([]Setting, len(scalars))
	for i, s := range scalars {
		out[i] = Setting{Key: s.key, Env: envName(s.key), Default: s.def}
	}
	return out
}

// envName is the variable that overrides a dotted key.
func envName(key string) string {
	return "MCP_BRIDGE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// defaultFiles are the files looked for in the working directory, in
// order, when no file is named.
var defaultFiles = []string{"mcp-bridge.yaml", "mcp-bridge.yml", "mcp-bridge.json"}

// Load reads the configuration: the file named by path, else by
// MCP_BRIDGE_CONFIG, else ./mcp-bridge.yaml (or .yml, .json) when present,
// else defaults. getenv reads the environment.
func Load(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		path = getenv("MCP_BRIDGE_CONFIG")
	}
	if path == "" {
		// Not viper's search, which takes the first of mcp-bridge.json,
		// .toml, .yaml, ... .env, .ini: a mcp-bridge.env meant for docker
		// would stop the bridge, and a .json would win over the .yaml.
		for _, name := range defaultFiles {
			if st, err := os.Stat(name); err == nil && !st.IsDir() {
				path, _ = filepath.Abs(name)
				break
			}
		}
	}

	// The bridge decodes the file itself, because viper lower-cases map
	// keys (server names, env and header names).
	c := &Config{}
	if path != "" {
		if err := c.readFile(path, getenv); err != nil {
			return nil, err
		}
	} else {
		c.Warnings = append(c.Warnings, "no config file found (-c FILE, MCP_BRIDGE_CONFIG or ./mcp-bridge.yaml): using defaults and no MCP servers")
	}

	// A viper of its own, holding nothing but the environment, so that a
	// file value never comes back unexpanded through it.
	env := viper.New()
	env.SetEnvPrefix("MCP_BRIDGE")
	env.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, s := range scalars {
		_ = env.BindEnv(s.key)
		if !env.IsSet(s.key) {
			continue
		}
		if err := s.set(c, env.GetString(s.key)); err != nil {
			return nil, fmt.Errorf("%s: %w", envName(s.key), err)
		}
	}
	c.applyDefaults(getenv)
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// readFile decodes a YAML or JSON file into c.
func (c *Config) readFile(path string, getenv func(string) string) error {
	c.File = path
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json", "":
	default:
		return fmt.Errorf("%s: unsupported config format %q: use YAML (.yaml, .yml) or JSON (.json)", path, filepath.Ext(path))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := cleanYAMLError(err)
		ext := strings.ToLower(filepath.Ext(path))
		if line := badIndent(string(data)); line > 0 && ext != ".json" {
			// The parser names the start of the block; the line to fix is
			// the one that lines up with nothing.
			msg = fmt.Sprintf("line %d: bad indentation: the line lines up with no setting above it (the YAML parser says: %s)", line, msg)
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	if len(root.Content) == 0 {
		c.Warnings = append(c.Warnings, path+": file is empty; using defaults")
		return nil
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: line %d: expected a mapping of settings at the top level", path, doc.Line)
	}
	var missing []string
	expandEnv(doc, getenv, &missing)
	for _, name := range missing {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: ${%s} is not set; it expands to an empty string", path, name))
	}

	var p problems
	var servers, apis *yaml.Node
	rest := &yaml.Node{Kind: yaml.MappingNode}
	seen := map[string]int{} // top-level key -> line
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, val := doc.Content[i], doc.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			p.add(k.Line, "", "mapping key %q already defined at line %d", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case k.Value == "mcpServers":
			servers = val
			continue
		case k.Value == "openapiServers":
			apis = val
			continue
		case k.Value == "telemetry" && isBridgeTelemetry(val):
			// Ours: decoded below. Claude Desktop's is another shape.
		case otherClientKeys[k.Value]:
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: line %d: %q is another client's setting (Claude Desktop, VS Code): ignored", path, k.Line, k.Value))
			continue
		}
		rest.Content = append(rest.Content, k, val)
	}
	// Checking and decoding the nodes themselves, not a re-encoding of
	// them, keeps the file's line numbers in the errors.
	checkTree(rest, reflect.TypeOf(*c), "", &p)
	if len(p) == 0 {
		if err := rest.Decode(c); err != nil {
			p.add(0, "", "%s", cleanYAMLError(err))
		}
	}
	names := map[string]string{} // server name -> where it is defined
	if servers != nil {
		c.readServers(servers, names, &p, path)
	}
	if apis != nil {
		c.readOpenAPIServers(apis, names, &p, path)
	}
	return p.err(path)
}

// checkKeys reports the first key of the mapping n that no field of the
// struct type t reads, looking into nested settings. prefix is the dotted
// path of n.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string) error {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil // a type error, which decoding reports
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		f, ok := fieldByKey(t, k.Value)
		if !ok {
			return fmt.Errorf("line %d: unknown key %q", k.Line, prefix+k.Value)
		}
		if err := checkKeys(n.Content[i+1], f.Type, prefix+k.Value+"."); err != nil {
			return err
		}
	}
	return nil
}

// fieldByKey returns the field of the struct type t that reads key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var yamlTypeRE = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into ([^\\s;]+)")

// cleanYAMLError rewrites the YAML decoder's Go-flavoured messages into
// ones about the config file.
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = yamlTypeRE.ReplaceAllStringFunc(msg, func(m string) string {
		p := yamlTypeRE.FindStringSubmatch(m)
		want := p[3]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "map["):
			want = "a mapping"
		case strings.HasPrefix(want, "int"):
			want = "an integer"
		case want == "bool", want == "*bool":
			want = "true or false"
		case want == "string":
			want = "a string"
		case strings.HasPrefix(want, "config."):
			want = "a mapping"
		}
		return fmt.Sprintf("expected %s, got %q", want, p[2])
	})
	return msg
}

// envRefRE matches a ${VAR} reference.
var envRefRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

// expandEnv replaces ${VAR} in every string scalar under n, recording the
// variables that are unset. Keys are not expanded.
func expandEnv(n *yaml.Node, getenv func(string) string, missing *[]string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Tag == "" || strings.Contains(n.Value, "${") {
			if strings.Contains(n.Value, "${") {
				// Only ${VAR}: os.Expand would also eat $VAR and $5 in
				// values such as passwords and prices.
				n.Value = envRefRE.ReplaceAllStringFunc(n.Value, func(ref string) string {
					name := ref[2 : len(ref)-1]
					if v := getenv(name); v != "" {
						return v
					}
					if name == "" {
						return ref
					}
					*missing = append(*missing, name)
					return ""
				})
				n.Tag = "!!str"
				n.Style = yaml.DoubleQuotedStyle
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandEnv(n.Content[i], getenv, missing)
		}
	default:
		for _, ch := range n.Content {
			expandEnv(ch, getenv, missing)
		}
	}
}

// serverEntry is one mcpServers entry as written, in the format Claude
// Desktop, Cursor, LM Studio and mcpo use.
type serverEntry struct {
	Command         string            `yaml:"command"`
	Args            []string          `yaml:"args"`
	Env             map[string]string `yaml:"env"`
	Cwd             string            `yaml:"cwd"`
	URL             string            `yaml:"url"`
	ServerURL       string            `yaml:"serverUrl"`
	Type            string            `yaml:"type"`
	Transport       string            `yaml:"transport"`
	Headers         map[string]string `yaml:"headers"`
	Prefix          *string           `yaml:"prefix"`
	Protocol        string            `yaml:"protocol"`
	Tools           toolFilter        `yaml:"tools"`
	Timeout         Duration          `yaml:"timeout"`
	MaxConcurrency  int               `yaml:"max_concurrency"`
	Disabled        bool              `yaml:"disabled"`
	ExposeResources bool              `yaml:"expose_resources"`
	EnvPassthrough  []string          `yaml:"env_passthrough"`
	InheritEnv      bool              `yaml:"inherit_env"`
	ForwardIdentity ForwardIdentity   `yaml:"forward_identity"`
}

type toolFilter struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// knownServerKeys are the keys serverEntry reads; others are warned about,
// not refused, so that files written for other clients load.
var knownServerKeys = map[string]bool{"command": true, "args": true, "env": true, "cwd": true, "url": true, "serverUrl": true,
	"type": true, "transport": true, "headers": true, "prefix": true, "protocol": true, "tools": true, "timeout": true, "max_concurrency": true, "disabled": true, "expose_resources": true,
	"env_passthrough": true, "inherit_env": true, "forward_identity": true}

// readServers reads mcpServers; names records where each server name is
// defined. Problems go to p; warnings name the file, path.
func (c *Config) readServers(n *yaml.Node, names map[string]string, p *problems, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "mcpServers", "expected a mapping of server names to servers")
		return
	}
	known := make([]string, 0, len(knownServerKeys))
	for k := range knownServerKeys {
		known = append(known, k)
	}
	seen := map[string]int{} // name -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i].Value, n.Content[i+1]
		line, key := n.Content[i].Line, "mcpServers."+name
		if first, ok := seen[name]; ok {
			p.add(line, key, "the server is already defined at line %d", first)
			continue
		}
		seen[name] = line
		if where, ok := names[name]; ok {
			p.add(line, key, "the name is already used by %s", where)
			continue
		}
		names[name] = fmt.Sprintf("mcpServers.%s at line %d", name, line)
		if body.Kind != yaml.MappingNode {
			p.add(line, key, "expected a mapping with command or url")
			continue
		}
		// Keys of other clients (alwaysAllow, autoApprove, ...) are
		// warned about; a misspelling of one of ours is an error, rather
		// than the puzzle of a server with no command.
		before := len(*p)
		mine := &yaml.Node{Kind: yaml.MappingNode, Line: body.Line}
		for j := 0; j+1 < len(body.Content); j += 2 {
			k := body.Content[j]
			switch {
			case knownServerKeys[k.Value]:
				mine.Content = append(mine.Content, k, body.Content[j+1])
			case closest(k.Value, known) != "":
				p.add(k.Line, "", "unknown key %q%s", key+"."+k.Value, suggest(k.Value, known))
			default:
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: line %d: %s: unknown key %q ignored", path, line, key, k.Value))
			}
		}
		checkTree(mine, reflect.TypeOf(serverEntry{}), key, p)
		if len(*p) > before {
			continue
		}
		var e serverEntry
		if err := mine.Decode(&e); err != nil {
			p.add(line, key, "%s", cleanYAMLError(err))
			continue
		}
		sc := mcpclient.ServerConfig{
			Name: name, Command: e.Command, Args: e.Args, Env: e.Env, Cwd: e.Cwd,
			URL: e.URL, Type: e.Type, Headers: e.Headers, Prefix: e.Prefix, Protocol: e.Protocol,
			Allow: e.Tools.Allow, Deny: e.Tools.Deny, Timeout: time.Duration(e.Timeout),
			MaxConcurrency: e.MaxConcurrency, Disabled: e.Disabled, ExposeResources: e.ExposeResources,
			EnvPassthrough: e.EnvPassthrough, InheritEnv: e.InheritEnv,
		}
		if sc.URL == "" {
			sc.URL = e.ServerURL
		}
		if sc.Type == "" {
			sc.Type = e.Transport
		}
		sc.ForwardIdentityHeader = e.ForwardIdentity.Header
		if err := sc.Validate(); err != nil {
			p.add(line, key, "%v", err)
			continue
		}
		c.Servers = append(c.Servers, sc)
		if e.ForwardIdentity.Header != "" {
			if c.ForwardIdentity == nil {
				c.ForwardIdentity = map[string]ForwardIdentity{}
			}
			c.ForwardIdentity[name] = e.ForwardIdentity
		}
	}
	sort.Slice(c.Servers, func(i, j int) bool { return c.Servers[i].Name < c.Servers[j].Name })
}

// openAPIEntry is one openapiServers entry: a REST API whose OpenAPI spec
// is imported as tools.
type openAPIEntry struct {
	Spec       string            `yaml:"spec"`
	BaseURL    string            `yaml:"base_url"`
	Headers    map[string]string `yaml:"headers"`
	Operations toolFilter        `yaml:"operations"`
	Timeout    Duration          `yaml:"timeout"`
	Prefix     *string           `yaml:"prefix"`
	Disabled   bool              `yaml:"disabled"`
}

// knownOpenAPIKeys are the keys openAPIEntry reads; others are warned
// about, as in mcpServers.
var knownOpenAPIKeys = map[string]bool{"spec": true, "base_url": true, "headers": true, "operations": true,
	"timeout": true, "prefix": true, "disabled": true}

// readOpenAPIServers reads openapiServers. A name used in mcpServers too
// (names) is an error: both kinds share the registry's names.
func (c *Config) readOpenAPIServers(n *yaml.Node, names map[string]string, p *problems, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "openapiServers", "expected a mapping of names to OpenAPI specs")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i].Value, n.Content[i+1]
		line, key := n.Content[i].Line, "openapiServers."+name
		at := fmt.Sprintf("%s: line %d: %s", path, line, key)
		if where, ok := names[name]; ok {
			p.add(line, key, "the name is already used by %s", where)
			continue
		}
		names[name] = fmt.Sprintf("openapiServers.%s at line %d", name, line)
		if body.Kind != yaml.MappingNode {
			p.add(line, key, "expected a mapping with spec")
			continue
		}
		for j := 0; j+1 < len(body.Content); j += 2 {
			k, v := body.Content[j].Value, body.Content[j+1]
			if !knownOpenAPIKeys[k] {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: unknown key %q ignored", at, k))
			}
			if k == "operations" && v.Kind == yaml.MappingNode {
				for m := 0; m+1 < len(v.Content); m += 2 {
					if ok := v.Content[m].Value; ok != "allow" && ok != "deny" {
						c.Warnings = append(c.Warnings, fmt.Sprintf("%s: unknown key %q ignored", at, "operations."+ok))
					}
				}
			}
		}
		var e openAPIEntry
		if err := body.Decode(&e); err != nil {
			p.add(line, key, "%s", cleanYAMLError(err))
			continue
		}
		sc := openapi.SpecConfig{
			Name: name, Spec: e.Spec, BaseURL: e.BaseURL, Headers: e.Headers,
			Allow: e.Operations.Allow, Deny: e.Operations.Deny, Timeout: time.Duration(e.Timeout),
			Prefix: e.Prefix, Disabled: e.Disabled,
		}
		if err := sc.Validate(); err != nil {
			p.add(line, key, "%v", err)
			continue
		}
		c.OpenAPIServers = append(c.OpenAPIServers, sc)
	}
	sort.Slice(c.OpenAPIServers, func(i, j int) bool { return c.OpenAPIServers[i].Name < c.OpenAPIServers[j].Name })
}

// applyDefaults fills what the file and environment left unset, and moves
// settings read under their old names to their new ones.
func (c *Config) applyDefaults(getenv func(string) string) {
	for _, old := range []struct {
		key  string
		vals *[]string
	}{{"openapi.cors_origins", &c.OpenAPI.CORSOrigins}, {"mcp.allowed_origins", &c.MCP.AllowedOrigins}} {
		if len(*old.vals) > 0 {
			c.Warnings = append(c.Warnings, old.key+" is now cors.allowed_origins (for every route); its origins were added there")
			for _, o := range *old.vals {
				if !slices.Contains(c.CORS.AllowedOrigins, o) {
					c.CORS.AllowedOrigins = append(c.CORS.AllowedOrigins, o)
				}
			}
			*old.vals = nil
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9090"
	}
	if c.Upstream.BaseURL == "" {
		c.Upstream.BaseURL = getenv("OPENAI_BASE_URL")
	}
	if c.Upstream.BaseURL == "" {
		c.Upstream.BaseURL = defaultUpstream
	}
	if c.Upstream.APIKey == "" {
		c.Upstream.APIKey = getenv("OPENAI_API_KEY")
	}
	if c.Tools.Display == "" {
		c.Tools.Display = "status"
	}
	if c.Tools.Exposure == "" {
		c.Tools.Exposure = "auto"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
}

// validate checks what can be checked without connecting anywhere. Every
// problem is reported, each with the file's line of its key when there is
// a file.
func (c *Config) validate() error {
	where := "config"
	if c.File != "" {
		where = c.File
	}
	var p problems
	bad := func(key, format string, args ...any) {
		p.add(c.lineOf(key), key, format, args...)
	}
	switch c.Tools.Display {
	case "none", "status", "details":
	default:
		bad("tools.display", "expected none, status or details, got %q", c.Tools.Display)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("log.level", "expected debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format", "expected text or json, got %q", c.Log.Format)
	}
	if c.Tools.MaxRounds < 0 {
		bad("tools.max_rounds", "expected a positive integer, got %d", c.Tools.MaxRounds)
	}
	switch c.Tools.Exposure {
	case "all", "search", "auto":
	default:
		bad("tools.exposure", "expected all, search or auto, got %q", c.Tools.Exposure)
	}
	if c.Tools.SearchThreshold < 0 {
		bad("tools.search_threshold", "expected a positive integer, got %d", c.Tools.SearchThreshold)
	}
	for i, g := range c.Tools.Always {
		if _, err := path.Match(g, ""); err != nil || strings.TrimSpace(g) == "" {
			bad(fmt.Sprintf("tools.always[%d]", i), "expected a glob of tool names like fs__read_*, got %q", g)
		}
	}
	if !strings.HasPrefix(c.Upstream.BaseURL, "http://") && !strings.HasPrefix(c.Upstream.BaseURL, "https://") {
		bad("upstream.base_url", "expected an http:// or https:// URL, got %q", c.Upstream.BaseURL)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "expected host:port, got %q", c.Listen)
	}
	if err := c.validateObserve(where); err != nil {
		p = append(p, strings.TrimPrefix(err.Error(), where+": "))
	}
	if err := c.validateTelemetry(where); err != nil {
		p = append(p, strings.TrimPrefix(err.Error(), where+": "))
	}
	if err := c.validateState(where); err != nil {
		p = append(p, strings.TrimPrefix(err.Error(), where+": "))
	}
	if err := c.validateUpstreams(where); err != nil {
		p = append(p, strings.Split(strings.ReplaceAll(err.Error(), where+": ", ""), "\n")...)
	}
	if err := c.validateGuard(where); err != nil {
		p = append(p, strings.TrimPrefix(err.Error(), where+": "))
	}
	if err := c.validateAuth(where); err != nil {
		// Already "FILE: line N: key: ...".
		p = append(p, strings.TrimPrefix(err.Error(), where+": "))
	}
	return p.err(where)
}

// Loopback reports whether the bridge listens on a loopback address only.
func (c *Config) Loopback() bool {
	host, _, _ := net.SplitHostPort(c.Listen)
	return auth.IsLoopbackHost(host)
}
