package guard

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Poisoning checks: what a tool definition (its description and every
// text of its schemas) must not carry. A definition goes straight into
// the model's prompt, so these are instructions to the model hidden from
// or dressed up for the person reading the tool list.
const (
	// ScanHidden: Unicode tag characters, zero-width characters or
	// bidirectional overrides, which a person does not see and a model
	// reads.
	ScanHidden = "hidden-characters"
	// ScanOverride: "ignore previous instructions" and the like.
	ScanOverride = "instruction-override"
	// ScanConceal: "do not tell the user" and the like.
	ScanConceal = "conceal-from-user"
	// ScanTag: <IMPORTANT>, <SYSTEM> or <instructions> blocks.
	ScanTag = "instruction-tag"
	// ScanSensitiveFile: requests to read ~/.ssh, .env, cloud credentials
	// and the like.
	ScanSensitiveFile = "sensitive-file"
	// ScanExfiltration: URLs to send data to.
	ScanExfiltration = "exfiltration-url"
)

var scanChecks = []struct {
	name string
	re   *regexp.Regexp
}{
	{ScanOverride, regexp.MustCompile(`(?i)\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|preceding|other|system)\s+(?:instructions?|prompts?|rules|directions)`)},
	{ScanConceal, regexp.MustCompile(`(?i)\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|show(?:ing)?|notify(?:ing)?|alert(?:ing)?)\s+(?:this\s+|it\s+|anything\s+)?(?:to\s+)?(?:the\s+)?user`)},
	{ScanTag, regexp.MustCompile(`(?i)<\s*/?\s*(?:important|system|instructions?|secret|hidden)\s*>`)},
	{ScanSensitiveFile, regexp.MustCompile(`(?i)~/\.ssh|\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|(?:^|[\s/'"\x60(])\.env\b|\.aws/credentials|/etc/(?:passwd|shadow)|\.netrc\b|\.git-credentials|\.docker/config\.json|\.kube/config|mcp\.json|claude_desktop_config\.json`)},
	{ScanExfiltration, regexp.MustCompile(`(?i)\b(?:send|post|upload|forward|transmit|exfiltrate|leak|report|submit|copy)\b[^\n]{0,120}?\bhttps?://|https?://[^\s"'<>]*[?&][\w.-]+=(?:\{|\$\{|<|%7B)`)},
}

// hiddenRune reports whether r is invisible to a reader but not to a
// model: tag characters, zero-width characters, bidirectional controls.
func hiddenRune(r rune) bool {
	switch {
	case r >= 0xE0000 && r <= 0xE007F: // tags
		return true
	case r >= 0x200B && r <= 0x200F: // zero-width space, joiners, LRM, RLM
		return true
	case r >= 0x202A && r <= 0x202E: // bidi embeddings and overrides
		return true
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
		return true
	case r == 0x2060 || r == 0xFEFF || r == 0x180E || r == 0x061C:
		return true
	}
	return false
}

// ScanFinding is one poisoning check that a definition fails; the zero
// value names no check.
type ScanFinding struct {
	Check string // one of the Scan constants
	Where string // "description", "title", "input schema" or "output schema"
}

// ScanTool runs every poisoning check on t's definition and returns what
// fails, at most one finding per check.
func ScanTool(t mcpclient.Tool) []ScanFinding {
	var out []ScanFinding
	seen := map[string]bool{}
	check := func(where, text string) {
		for _, f := range scanText(text) {
			if !seen[f] {
				seen[f] = true
				out = append(out, ScanFinding{Check: f, Where: where})
			}
		}
	}
	check("description", t.Description)
	check("title", t.Title)
	for _, s := range []struct {
		where  string
		schema json.RawMessage
	}{{"input schema", t.InputSchema}, {"output schema", t.OutputSchema}} {
		for _, text := range schemaTexts(s.schema) {
			check(s.where, text)
		}
	}
	return out
}

// scanText returns the checks that text fails.
func scanText(text string) []string {
	var out []string
	if strings.IndexFunc(text, hiddenRune) >= 0 {
		out = append(out, ScanHidden)
	}
	for _, c := range scanChecks {
		if c.re.MatchString(text) {
			out = append(out, c.name)
		}
	}
	return out
}

// schemaTexts returns every string of a JSON schema, keys included
// (a property name is text the model reads too).
func schemaTexts(schema json.RawMessage) []string {
	if len(schema) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(schema, &v) != nil {
		return []string{string(schema)}
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
