package guard

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/config"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// TestSecretAllowlistLooksAtTheSecretsOwnLine checks an allowlist about
// the line (here gitleaks' one for a Dockerfile's --mount=type=secret)
// drops a finding on that line only: a secret whose next line is such a
// line is still found.
func TestSecretAllowlistLooksAtTheSecretsOwnLine(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Mask})
	for _, tc := range []struct{ in, want string }{
		{"api_key = Zq8vT3kP9mW2xR7nLw4q\nRUN --mount=type=secret,id=a cat /run/x", "api_key = [REDACTED:generic-api-key]\nRUN --mount=type=secret,id=a cat /run/x"},
		{"api_key = Zq8vT3kP9mW2xR7nLw4q\n\nRUN --mount=type=secret,id=a cat /run/x", "api_key = [REDACTED:generic-api-key]\n\nRUN --mount=type=secret,id=a cat /run/x"},
		{"api_key = Zq8vT3kP9mW2xR7nLw4q\nnext line", "api_key = [REDACTED:generic-api-key]\nnext line"},
		// On its own line the allowlist drops it, as gitleaks does.
		{"api_key = Zq8vT3kP9mW2xR7nLw4q RUN --mount=type=secret,id=a cat /run/x", "api_key = Zq8vT3kP9mW2xR7nLw4q RUN --mount=type=secret,id=a cat /run/x"},
		{"api_key = Zq8vT3kP9mW2xR7nLw4q RUN --mount=type=secret,id=a cat /run/x\nnext line", "api_key = Zq8vT3kP9mW2xR7nLw4q RUN --mount=type=secret,id=a cat /run/x\nnext line"},
	} {
		if got, _ := g.inspectText(tc.in); got != tc.want {
			t.Errorf("inspectText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEverySecretOfARuleIsFound checks two secrets of one rule on one
// line are both found, and so are those of a long text, which a rule
// looks at only around its keywords: one right after the lines around
// the first keyword, one far below, one after a keyword near the end of
// the lines around another, one written over two lines where the lines
// around two keywords meet.
func TestEverySecretOfARuleIsFound(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Mask})
	const pat2 = "ghp_Zq8vT3kP9mW2xR7nLw4qYb6cDf1gHj5kMn0p"
	if got, _ := g.inspectText(githubPAT + " " + pat2); got != "[REDACTED:github-pat] [REDACTED:github-pat]" {
		t.Errorf("two on a line: %q", got)
	}
	filler := strings.Repeat("a line of ordinary text, long enough to be many\n", 200)
	text := "ghp_ tokens are below\none\ntwo\nthree\n" + githubPAT + "\n" + filler + pat2 + "\n" + filler
	want := "ghp_ tokens are below\none\ntwo\nthree\n[REDACTED:github-pat]\n" + filler + "[REDACTED:github-pat]\n" + filler
	if got, _ := g.inspectText(text); got != want {
		t.Errorf("long text: %q", strings.ReplaceAll(got, filler, "..."))
	}
	// A keyword near the end of the part of the text around an earlier
	// one widens that part: the secret after it, on the next line, is in.
	text = "token list\none\ntwo\npassword =\n  Zq8vT3kP9mW2xR7nLw4q\n" + filler
	want = "token list\none\ntwo\npassword =\n  [REDACTED:generic-api-key]\n" + filler
	if got, _ := g.inspectText(text); got != want {
		t.Errorf("secret after a later keyword: %q", strings.ReplaceAll(got, filler, "..."))
	}
	// A secret written over two lines where the part of the text around
	// one keyword ends and the part around the next begins.
	text = "token list\none\ntwo\npassword =\n  Zq8vT3kP9mW2xR7nLw4q\nfive\nsix\ntoken end\n" + filler
	want = "token list\none\ntwo\npassword =\n  [REDACTED:generic-api-key]\nfive\nsix\ntoken end\n" + filler
	if got, _ := g.inspectText(text); got != want {
		t.Errorf("secret across touching parts: %q", strings.ReplaceAll(got, filler, "..."))
	}
}

// TestSecretGroupIsWhatIsMasked checks the part masked is the rule's
// secret group: the second group when the first did not take part (a
// Kubernetes secret written data first), the first even when it starts
// the text, and never the text around it.
func TestSecretGroupIsWhatIsMasked(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Mask})
	for _, tc := range []struct{ in, want string }{
		{"data:\n  password: c2VjcmV0cGFzc3dvcmQxMjM=\nkind: Secret\n", "data:\n  [REDACTED:kubernetes-secret-yaml]\nkind: Secret\n"},
		{"dapi0123456789abcdef0123456789abcdef is it", "[REDACTED:databricks-api-token] is it"},
	} {
		if got, _ := g.inspectText(tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("inspectText(%q) = %q, want it to hold %q", tc.in, got, tc.want)
		}
	}
}

// TestKeywordsAreFoundInUpperCase checks a rule's keyword counts written
// in capitals, Z included (the keyword of Zendesk's rule).
func TestKeywordsAreFoundInUpperCase(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Log})
	_, fs := g.inspectText("ZENDESK_SECRET_KEY = k3j5h7g9f1d3s5a7q9w1e3r5t7y9u1i3o5p7l9m2")
	if !slices.Contains(fs, finding{observe.GuardSecret, "zendesk-secret-key", Log}) {
		t.Errorf("findings = %+v, want zendesk-secret-key", fs)
	}
}

// testRules is a rule set of the given rules, for the semantics gitleaks'
// default set does not exercise.
func testRules(rules ...secretRule) *secretRules {
	s := &secretRules{byID: map[string]int{}}
	for i, r := range rules {
		s.byID[r.id] = i
	}
	s.rules = rules
	return s
}

func found(s *secretRules, text string) []string {
	var out []string
	for _, sp := range s.find(text) {
		out = append(out, sp.rule+":"+text[sp.start:sp.end])
	}
	return out
}

// TestSecretRuleSemantics checks the parts of gitleaks' rule semantics
// that its default set happens not to need: a rule without keywords runs
// on every text; the secret is the first group that matched something;
// a secret must be strictly above the rule's entropy threshold, and a
// rule without one keeps even a secret of no entropy; an allowlist that
// needs all its criteria drops a finding only when they all hold.
func TestSecretRuleSemantics(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule secretRule
		text string
		want []string
	}{
		{"no keywords", secretRule{id: "r", re: regexp.MustCompile(`tok_[a-p]{16}`)}, "x tok_abcdefghijklmnop y", []string{"r:tok_abcdefghijklmnop"}},
		{"first group empty", secretRule{id: "r", re: regexp.MustCompile(`key=(x*)([0-9]+)`), keywords: []string{"key="}}, "key=123", []string{"r:123"}},
		{"no group matched something", secretRule{id: "r", re: regexp.MustCompile(`key=(x*)[0-9]+`), keywords: []string{"key="}}, "key=123", []string{"r:key=123"}},
		{"entropy at the threshold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-p]+)`), entropy: 3, keywords: []string{"tok_"}}, "tok_abcdefgh", nil},
		{"entropy above the threshold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-p]+)`), entropy: 3, keywords: []string{"tok_"}}, "tok_abcdefghijklmnop", []string{"r:abcdefghijklmnop"}},
		{"entropy below the threshold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-p]+)`), entropy: 3, keywords: []string{"tok_"}}, "tok_aaaaaaaa", nil},
		{"no threshold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-p]+)`), keywords: []string{"tok_"}}, "tok_aaaa", []string{"r:aaaa"}},
		{"allowlist with all criteria holding", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-z]+)`), keywords: []string{"tok_"},
			allow: []*config.Allowlist{{MatchCondition: config.AllowlistMatchAnd, Regexes: []*regexp.Regexp{regexp.MustCompile(`^example`)}, StopWords: []string{"sample"}}}},
			"tok_examplesample", nil},
		{"allowlist with one criterion failing", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-z]+)`), keywords: []string{"tok_"},
			allow: []*config.Allowlist{{MatchCondition: config.AllowlistMatchAnd, Regexes: []*regexp.Regexp{regexp.MustCompile(`^example`)}, StopWords: []string{"sample"}}}},
			"tok_exampleother", []string{"r:exampleother"}},
		{"allowlist of one regex that must hold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-z]+)`), keywords: []string{"tok_"},
			allow: []*config.Allowlist{{MatchCondition: config.AllowlistMatchAnd, Regexes: []*regexp.Regexp{regexp.MustCompile(`^example`)}}}},
			"tok_exampleone", nil},
		{"allowlist of one stop word that must hold", secretRule{id: "r", re: regexp.MustCompile(`tok_([a-z]+)`), keywords: []string{"tok_"},
			allow: []*config.Allowlist{{MatchCondition: config.AllowlistMatchAnd, StopWords: []string{"sample"}}}},
			"tok_onesample", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := found(testRules(tc.rule), tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("found %q in %q, want %q", got, tc.text, tc.want)
			}
		})
	}
}
