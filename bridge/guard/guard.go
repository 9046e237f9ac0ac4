// Package guard holds the bridge's guardrails: credentials and personal
// data masked or blocked in tool results and arguments, tool definitions
// pinned against silent changes, tool definitions scanned for attacks on
// the model, and calls that wait for a person's approval.
//
// A *Guard is an mcpclient.Inspector: the registry asks it about every
// tool it lists and every call it makes, so that it applies on every face
// of the bridge (the chat tool loop, the MCP face, the OpenAPI tool
// server, mcp-bridge call) from one place. What it finds is reported to an
// observe.Observer by rule name, never with the value that matched.
package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Actions on what the secret, personal data and pattern rules find.
const (
	Off   = "off"   // not looked for
	Log   = "log"   // reported only
	Mask  = "mask"  // replaced by [REDACTED:<rule>] and reported
	Block = "block" // the call becomes a tool error naming the rule
)

// Actions on tool definitions (OnChange, Scan).
const (
	Warn = "warn" // reported and logged; the tool stays
	// Block (above): the tool is kept out of every face.
)

// Pattern is a rule of the configuration's own; the zero value is
// invalid (Validate says why).
type Pattern struct {
	// Name is the rule name reported and shown in masks. Required.
	Name string
	// Regex is a Go regular expression. Required.
	Regex string
	// Action is Log, Mask or Block; empty means Mask.
	Action string
}

// Options configures a Guard. The zero value guards nothing.
type Options struct {
	// Secrets is what happens to credentials (gitleaks' rules): Off, Log,
	// Mask or Block. Empty means Off.
	Secrets string
	// PII is what happens to e-mail addresses, phone numbers, payment
	// card numbers (Luhn) and IBANs: Off, Log, Mask or Block. Empty means
	// Off.
	PII string
	// Patterns are more rules, each with its action.
	Patterns []Pattern
	// Pins is the pins file; empty turns pinning off.
	Pins string
	// OnChange is what happens to a pinned tool whose definition changed:
	// Warn or Block. Empty means Block.
	OnChange string
	// Scan is what happens to a tool whose definition looks like an
	// attack on the model: Off, Warn or Block. Empty means Off.
	Scan string
	// Approval are globs of exposed tool names (path.Match syntax) whose
	// calls need a person's yes. Nil means none do.
	Approval []string
	// Observer is told of every finding and decision. Nil tells no one.
	Observer observe.Observer
	// Logger receives warnings (tools kept out, pins file problems). Nil
	// discards them.
	Logger *slog.Logger
}

// Guard applies Options. Create it with New (the zero value is not
// usable). Its methods are safe for concurrent use.
type Guard struct {
	opts     Options
	log      *slog.Logger
	obs      observe.Observer
	secrets  *secretRules // nil when Secrets is Off
	patterns []compiledPattern
	pins     *Pins // nil when pinning is off

	mu       sync.Mutex
	reported map[string]string // tool -> the definition finding last reported
}

type compiledPattern struct {
	name, action string
	re           *regexp.Regexp
}

var _ mcpclient.Inspector = (*Guard)(nil)

// New checks opts and returns a Guard; with pinning on, it reads the pins
// file (a missing file is an empty one).
func New(opts Options) (*Guard, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.OnChange == "" {
		opts.OnChange = Block
	}
	g := &Guard{opts: opts, log: opts.Logger, obs: opts.Observer, reported: map[string]string{}}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.obs == nil {
		g.obs = observe.Nop{}
	}
	for _, p := range opts.Patterns {
		action := p.Action
		if action == "" {
			action = Mask
		}
		g.patterns = append(g.patterns, compiledPattern{name: p.Name, action: action, re: regexp.MustCompile(p.Regex)})
	}
	if opts.Secrets != "" && opts.Secrets != Off {
		rules, err := loadSecretRules()
		if err != nil {
			return nil, err
		}
		g.secrets = rules
	}
	if opts.Pins != "" {
		p, err := OpenPins(opts.Pins)
		if err != nil {
			return nil, err
		}
		g.pins = p
	}
	return g, nil
}

// Validate checks opts without reading any file. Its errors name the
// configuration key ("guard.secrets: ...").
func (o Options) Validate() error {
	for _, f := range []struct{ key, v string }{{"secrets", o.Secrets}, {"pii", o.PII}} {
		switch f.v {
		case "", Off, Log, Mask, Block:
		default:
			return fmt.Errorf("guard.%s: expected off, log, mask or block, got %q", f.key, f.v)
		}
	}
	switch o.OnChange {
	case "", Warn, Block:
	default:
		return fmt.Errorf("guard.on_change: expected warn or block, got %q", o.OnChange)
	}
	switch o.Scan {
	case "", Off, Warn, Block:
	default:
		return fmt.Errorf("guard.scan: expected off, warn or block, got %q", o.Scan)
	}
	for _, g := range o.Approval {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("guard.approval: %q is not a valid glob: %w", g, err)
		}
	}
	for i, p := range o.Patterns {
		if p.Name == "" {
			return fmt.Errorf("guard.patterns[%d]: name is required", i)
		}
		if p.Regex == "" {
			return fmt.Errorf("guard.patterns[%d] (%s): regex is required", i, p.Name)
		}
		if _, err := regexp.Compile(p.Regex); err != nil {
			return fmt.Errorf("guard.patterns[%d] (%s): regex: %w", i, p.Name, err)
		}
		switch p.Action {
		case "", Log, Mask, Block:
		default:
			return fmt.Errorf("guard.patterns[%d] (%s): action: expected log, mask or block, got %q", i, p.Name, p.Action)
		}
	}
	return nil
}

// Pins returns the pins store; nil when pinning is off.
func (g *Guard) Pins() *Pins { return g.pins }

// finding is a rule that matched a text.
type finding struct {
	kind, rule, action string
}

// inspectText finds what the rules find in s and returns s with the
// masked parts replaced, and the findings (one per rule).
func (g *Guard) inspectText(s string) (string, []finding) {
	if s == "" {
		return s, nil
	}
	type hit struct {
		span
		kind, action string
	}
	var hits []hit
	if g.secrets != nil {
		for _, sp := range g.secrets.find(s) {
			hits = append(hits, hit{sp, observe.GuardSecret, g.opts.Secrets})
		}
	}
	if g.opts.PII != "" && g.opts.PII != Off {
		for _, sp := range findPII(s) {
			hits = append(hits, hit{sp, observe.GuardPII, g.opts.PII})
		}
	}
	for _, p := range g.patterns {
		for _, m := range p.re.FindAllStringIndex(s, -1) {
			if m[1] > m[0] {
				hits = append(hits, hit{span{m[0], m[1], p.name}, observe.GuardPattern, p.action})
			}
		}
	}
	if len(hits) == 0 {
		return s, nil
	}
	var out []finding
	seen := map[string]bool{}
	var masks []span
	for _, h := range hits {
		if k := h.kind + "\x00" + h.rule; !seen[k] {
			seen[k] = true
			out = append(out, finding{h.kind, h.rule, h.action})
		}
		if h.action == Mask {
			masks = append(masks, h.span)
		}
	}
	return mask(s, masks), out
}

// mask replaces each span of s by [REDACTED:<rule>]; overlapping spans
// become one, named by the one that starts first (the longer on a tie).
func mask(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	sortSpans(spans)
	var b strings.Builder
	pos := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		end := cur.end
		j := i + 1
		for ; j < len(spans) && spans[j].start < end; j++ {
			end = max(end, spans[j].end)
		}
		b.WriteString(s[pos:cur.start])
		b.WriteString("[REDACTED:" + cur.rule + "]")
		pos = end
		i = j
	}
	b.WriteString(s[pos:])
	return b.String()
}

func sortSpans(spans []span) {
	// Insertion sort: a text has few findings.
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && less(spans[j], spans[j-1]); j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
}

func less(a, b span) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	return a.end > b.end
}

// inspectJSON applies inspectText to every string of a JSON value
// (object keys stay as they are), and returns the value rewritten when a
// string was masked, else v itself.
func (g *Guard) inspectJSON(v any) (any, []finding, bool) {
	var all []finding
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			s, fs := g.inspectText(x)
			all = append(all, fs...)
			if s != x {
				changed = true
			}
			return s
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		}
		return v
	}
	w := walk(v)
	if !changed {
		return v, dedupe(all), false
	}
	return w, dedupe(all), true
}

func dedupe(fs []finding) []finding {
	if len(fs) < 2 {
		return fs
	}
	seen := map[finding]bool{}
	out := fs[:0:0]
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// decodeJSON decodes b keeping numbers as written (json.Number), so that
// what is not masked goes back unchanged; b is read in place.
func decodeJSON(b []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(&v)
	return v, err
}

// blocking returns the first finding whose action is Block.
func blocking(fs []finding) (finding, bool) {
	for _, f := range fs {
		if f.action == Block {
			return f, true
		}
	}
	return finding{}, false
}

// report tells the observer of findings.
func (g *Guard) report(ctx context.Context, t mcpclient.Tool, where string, fs []finding) {
	for _, f := range fs {
		g.obs.Guard(ctx, &observe.GuardEvent{Identity: mcpclient.IdentityOf(ctx), Kind: f.kind, Rule: f.rule, Action: f.action,
			Tool: t.Name, Server: t.Server, Where: where})
	}
}

// what names a finding's kind for people.
func what(f finding) string {
	switch f.kind {
	case observe.GuardSecret:
		return "a credential"
	case observe.GuardPII:
		return "personal data"
	}
	return "text matching a guard pattern"
}

// Arguments screens a call's arguments (see mcpclient.Inspector): masked,
// or refused when a rule blocks, then held for a person's approval when
// the tool needs it.
func (g *Guard) Arguments(ctx context.Context, t mcpclient.Tool, args json.RawMessage, c mcpclient.Caller) (json.RawMessage, string) {
	if g.active() {
		if v, err := decodeJSON(args); err == nil {
			w, fs, changed := g.inspectJSON(v)
			g.report(ctx, t, "arguments", fs)
			if f, ok := blocking(fs); ok {
				return nil, fmt.Sprintf("Error: the call to %s was not made: its arguments contain %s (rule %s).", t.Name, what(f), f.rule)
			}
			if changed {
				if b, err := json.Marshal(w); err == nil {
					args = b
				}
			}
		}
	}
	if refusal := g.approve(ctx, t, args, c); refusal != "" {
		return nil, refusal
	}
	return args, ""
}

// active reports whether any rule looks at texts.
func (g *Guard) active() bool {
	return g.secrets != nil || (g.opts.PII != "" && g.opts.PII != Off) || len(g.patterns) > 0
}

// Result screens a result (see mcpclient.Inspector): every text the
// caller would get (text content, embedded text resources, resource
// links' descriptions, structured content) is masked, or the result is
// replaced by a tool error when a rule blocks. res is not modified.
func (g *Guard) Result(ctx context.Context, t mcpclient.Tool, res *mcp.CallToolResult) *mcp.CallToolResult {
	if !g.active() || res == nil {
		return res
	}
	var all []finding
	changed := false
	text := func(s string) string {
		out, fs := g.inspectText(s)
		all = append(all, fs...)
		if out != s {
			changed = true
		}
		return out
	}
	content := make([]mcp.Content, len(res.Content))
	for i, c := range res.Content {
		switch x := c.(type) {
		case *mcp.TextContent:
			y := *x
			y.Text = text(x.Text)
			content[i] = &y
		case *mcp.EmbeddedResource:
			y := *x
			if x.Resource != nil {
				r := *x.Resource
				r.Text = text(x.Resource.Text)
				y.Resource = &r
			}
			content[i] = &y
		case *mcp.ResourceLink:
			y := *x
			y.Description = text(x.Description)
			y.Title = text(x.Title)
			content[i] = &y
		default:
			content[i] = c // images and audio carry no text
		}
	}
	structured := res.StructuredContent
	if structured != nil {
		if b, err := json.Marshal(structured); err == nil {
			if v, err := decodeJSON(b); err == nil {
				w, fs, ch := g.inspectJSON(v)
				all = append(all, fs...)
				if ch {
					structured, changed = w, true
				}
			}
		}
	}
	all = dedupe(all)
	g.report(ctx, t, "result", all)
	if f, ok := blocking(all); ok {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
			Text: fmt.Sprintf("Error: the result of %s was withheld: it contains %s (rule %s).", t.Name, what(f), f.rule)}}}
	}
	if !changed {
		return res
	}
	out := *res
	out.Content = content
	out.StructuredContent = structured
	return &out
}
