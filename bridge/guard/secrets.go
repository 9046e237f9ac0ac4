package guard

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// The secret rules are gitleaks' own default rule set (its config
// package, embedded in the module: some 220 rules kept current by the
// gitleaks project), read once and applied the way gitleaks' detector
// applies them: a rule runs only when one of its keywords is in the text,
// the secret is the rule's secret group (else its first non-empty group),
// a secret whose Shannon entropy is not above the rule's threshold is no
// secret, and gitleaks' global and per-rule allowlists (stop words,
// regexes) drop the known false positives. Composite rules count only
// when each rule they require finds something in the same text.

// secretRule is one gitleaks rule, ready to run.
type secretRule struct {
	id       string
	re       *regexp.Regexp
	group    int
	entropy  float64
	keywords []string // lower case
	allow    []*config.Allowlist
	requires []string // ids of the rules that must also match
	// auxiliary rules are parts of composite rules, never reported alone.
	auxiliary bool
	// multiline rules (a private key's body) run over the whole text;
	// the others only near their keywords (see windows).
	multiline bool
}

// secretRules is the whole set, in a stable order (by id).
type secretRules struct {
	rules  []secretRule
	byID   map[string]int
	global []*config.Allowlist
}

// loadSecretRules reads gitleaks' default configuration once per process;
// the result is never modified.
var loadSecretRules = sync.OnceValues(func() (*secretRules, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("reading gitleaks' default rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("reading gitleaks' default rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("reading gitleaks' default rules: %w", err)
	}
	s := &secretRules{byID: map[string]int{}, global: cfg.Allowlists}
	ids := make([]string, 0, len(cfg.Rules))
	for id := range cfg.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := cfg.Rules[id]
		if r.Regex == nil {
			continue // a rule about file paths alone
		}
		src := r.Regex.String()
		sr := secretRule{id: id, re: r.Regex, group: r.SecretGroup, entropy: r.Entropy, keywords: lower(r.Keywords),
			allow: r.Allowlists, auxiliary: r.SkipReport, multiline: strings.Contains(src, `[\s\S`) || strings.Contains(src, "(?s")}
		for _, req := range r.RequiredRules {
			sr.requires = append(sr.requires, req.RuleID)
		}
		s.byID[id] = len(s.rules)
		s.rules = append(s.rules, sr)
	}
	return s, nil
})

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// span is a part of a text a rule found.
type span struct {
	start, end int
	rule       string
}

// find returns the secrets in text, as spans (possibly overlapping),
// in no particular order.
func (s *secretRules) find(text string) []span {
	lowerText := asciiLower(text)
	var out []span
	for i := range s.rules {
		r := &s.rules[i]
		if r.auxiliary {
			continue
		}
		found := s.findRule(r, text, lowerText)
		if len(found) == 0 {
			continue
		}
		if !s.requiredFound(r, text, lowerText) {
			continue
		}
		out = append(out, found...)
	}
	return out
}

// requiredFound reports whether every rule r requires finds something.
func (s *secretRules) requiredFound(r *secretRule, text, lowerText string) bool {
	for _, id := range r.requires {
		i, ok := s.byID[id]
		if !ok || len(s.findRule(&s.rules[i], text, lowerText)) == 0 {
			return false
		}
	}
	return true
}

// findRule runs one rule over text.
func (s *secretRules) findRule(r *secretRule, text, lowerText string) []span {
	if len(r.keywords) > 0 && !containsAny(lowerText, r.keywords) {
		return nil
	}
	var out []span
	if len(r.keywords) == 0 || r.multiline {
		return s.matchRule(r, text, 0, out)
	}
	ws := windows(text, lowerText, r.keywords)
	covered := 0
	for _, w := range ws {
		covered += w[1] - w[0]
	}
	if covered > len(text)/2 {
		return s.matchRule(r, text, 0, out) // one scan is cheaper than many
	}
	for _, w := range ws {
		out = s.matchRule(r, text[w[0]:w[1]], w[0], out)
	}
	return out
}

// windowLines is how many lines around a line with a keyword a rule's
// match may reach.
const windowLines = 3

// windows returns the parts of text (as [start, end) offsets) that a rule
// with keywords needs to look at: every line holding one of them, with
// windowLines lines on each side, overlapping parts merged. Rules look
// only there, so that one keyword in a long text does not cost a scan of
// all of it. lowerText is text lower-cased byte for byte (asciiLower).
func windows(text, lowerText string, keywords []string) [][2]int {
	var hits []int
	for _, k := range keywords {
		for from := 0; ; {
			i := strings.Index(lowerText[from:], k)
			if i < 0 {
				break
			}
			hits = append(hits, from+i)
			from += i + len(k)
		}
	}
	slices.Sort(hits)
	var out [][2]int
	lineEnd := 0 // the end of the line of the last hit looked at
	for _, h := range hits {
		if h < lineEnd {
			continue // on the line of the hit before: the same window
		}
		lineEnd = len(text)
		if i := strings.IndexByte(text[h:], '\n'); i >= 0 {
			lineEnd = h + i + 1
		}
		end := lineEnd
		for range windowLines {
			i := strings.IndexByte(text[end:], '\n')
			if i < 0 {
				end = len(text)
				break
			}
			end += i + 1
		}
		start := h
		for range windowLines + 1 {
			start = strings.LastIndexByte(text[:start], '\n')
			if start < 0 {
				break
			}
		}
		start++ // after the newline, or 0
		if len(out) > 0 && start <= out[len(out)-1][1] {
			// Touching or inside the last window, which now reaches
			// windowLines lines past this line too.
			out[len(out)-1][1] = max(out[len(out)-1][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

// asciiLower lower-cases the ASCII letters of s, keeping every byte
// where it was (strings.ToLower may not).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// matchRule runs r's regex over text, a part of the whole text starting
// at offset, and appends what it finds to out.
func (s *secretRules) matchRule(r *secretRule, text string, offset int, out []span) []span {
	for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
		// A rule may end its match with the newline after the secret;
		// as in gitleaks, the match stops before it, so that the line an
		// allowlist looks at is the secret's own, not the next one too.
		mEnd := m[1]
		for mEnd > m[0] && text[mEnd-1] == '\n' {
			mEnd--
		}
		start, end := m[0], mEnd
		match := text[start:end]
		switch {
		case r.group > 0 && 2*r.group+1 < len(m) && m[2*r.group] >= 0:
			start, end = m[2*r.group], m[2*r.group+1]
		case r.group == 0:
			for g := 1; 2*g+1 < len(m); g++ {
				if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
					start, end = m[2*g], m[2*g+1]
					break
				}
			}
		}
		secret := text[start:end]
		if secret == "" {
			continue
		}
		if r.entropy != 0 && shannonEntropy(secret) <= r.entropy {
			continue
		}
		line := lineAround(text, m[0], mEnd)
		if allowedBy(s.global, secret, match, line) || allowedBy(r.allow, secret, match, line) {
			continue
		}
		out = append(out, span{start: offset + start, end: offset + end, rule: r.id})
	}
	return out
}

// allowedBy reports whether one of lists drops a finding, as gitleaks'
// allowlists do. Criteria about paths and commits never hold here (a tool
// result has neither): an allowlist that needs them all never drops
// anything, and one that needs any of them relies on its other criteria.
func allowedBy(lists []*config.Allowlist, secret, match, line string) bool {
	for _, a := range lists {
		target := secret
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		}
		var results []bool
		if len(a.Commits) > 0 || len(a.Paths) > 0 {
			results = append(results, false)
		}
		if len(a.Regexes) > 0 {
			results = append(results, a.RegexAllowed(target))
		}
		if len(a.StopWords) > 0 {
			ok, _ := a.ContainsStopWord(secret)
			results = append(results, ok)
		}
		if len(results) == 0 {
			continue
		}
		all, any := true, false
		for _, r := range results {
			all = all && r
			any = any || r
		}
		if (a.MatchCondition == config.AllowlistMatchAnd && all) || (a.MatchCondition != config.AllowlistMatchAnd && any) {
			return true
		}
	}
	return false
}

// lineAround is the line of text holding [start, end).
func lineAround(text string, start, end int) string {
	ls := strings.LastIndexByte(text[:start], '\n') + 1
	le := strings.IndexByte(text[end:], '\n')
	if le < 0 {
		return text[ls:]
	}
	return text[ls : end+le]
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// shannonEntropy is gitleaks' measure of a secret's randomness, in bits
// per character.
func shannonEntropy(data string) float64 {
	if data == "" {
		return 0
	}
	counts := make(map[rune]int)
	for _, c := range data {
		counts[c]++
	}
	var e float64
	inv := 1.0 / float64(len(data))
	for _, n := range counts {
		f := float64(n) * inv
		e -= f * math.Log2(f)
	}
	return e
}
