package guard

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Test credentials: well-formed, random, and nobody's.
const (
	awsKey     = "AKIAZ3MXQK7PLR2VWY4D"
	githubPAT  = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
	jwtToken   = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	privateKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Q2tpZcHd2wUYQZ0tH4UF9mWx\nkq3c8hRAnVxXlC+Kx3vBw2mD0QJjrZp5qeN6u1X0yQ==\n-----END RSA PRIVATE KEY-----"
)

// recorder is an observer that keeps the guard events.
type recorder struct {
	observe.Nop
	mu     sync.Mutex
	events []observe.GuardEvent
}

func (r *recorder) Guard(_ context.Context, e *observe.GuardEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, *e)
}

func (r *recorder) all() []observe.GuardEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observe.GuardEvent(nil), r.events...)
}

// has reports whether an event of kind, rule and action was recorded.
func (r *recorder) has(kind, rule, action string) bool {
	for _, e := range r.all() {
		if e.Kind == kind && e.Rule == rule && e.Action == action {
			return true
		}
	}
	return false
}

func newGuard(t *testing.T, opts Options) (*Guard, *recorder) {
	t.Helper()
	rec := &recorder{}
	opts.Observer = rec
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g, rec
}

var testTool = mcpclient.Tool{Name: "fs__read_file", Server: "fs", Original: "read_file", Description: "Reads a file."}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestSecretsAreMaskedByRule(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Mask})
	for _, tc := range []struct{ name, secret, rule string }{
		{"aws", awsKey, "aws-access-token"},
		{"github", githubPAT, "github-pat"},
		{"jwt", jwtToken, "jwt"},
		{"private key", privateKey, "private-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := textResult("before " + tc.secret + " after")
			out := g.Result(context.Background(), testTool, in)
			got := resultText(out)
			if strings.Contains(got, tc.secret) || !strings.Contains(got, "[REDACTED:"+tc.rule+"]") {
				t.Errorf("masked = %q, want the secret replaced by [REDACTED:%s]", got, tc.rule)
			}
			if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
				t.Errorf("masked = %q, want the text around the secret kept", got)
			}
			if resultText(in) != "before "+tc.secret+" after" {
				t.Errorf("the original result was modified")
			}
			if !rec.has(observe.GuardSecret, tc.rule, Mask) {
				t.Errorf("events = %+v, want a secret event of rule %s", rec.all(), tc.rule)
			}
		})
	}
	for _, e := range rec.all() {
		b, _ := json.Marshal(e)
		for _, s := range []string{awsKey, githubPAT, jwtToken, "MIIEowIBAAKCAQEA"} {
			if strings.Contains(string(b), s) {
				t.Errorf("event %s carries the secret", b)
			}
		}
	}
}

func TestTextWithoutSecretsIsLeftAlone(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Mask, PII: Mask})
	for _, s := range []string{
		"The build finished in 42 seconds; version 1.2.3, order 12345678.",
		"AKIAIOSFODNN7EXAMPLE is the key AWS uses in its documentation.",
		"func main() { fmt.Println(\"hello\") }",
	} {
		in := textResult(s)
		if out := g.Result(context.Background(), testTool, in); out != in {
			t.Errorf("%q: result = %q, want it unchanged", s, resultText(out))
		}
	}
	if ev := rec.all(); len(ev) != 0 {
		t.Errorf("events = %+v, want none", ev)
	}
}

func TestPersonalDataIsMaskedByType(t *testing.T) {
	g, rec := newGuard(t, Options{PII: Mask})
	for _, tc := range []struct{ name, value, rule string }{
		{"email", "jane.doe@example.org", RuleEmail},
		{"phone international", "+44 20 7946 0958", RulePhone},
		{"phone north american", "(415) 555-2671", RulePhone},
		{"card", "4111 1111 1111 1111", RuleCard},
		{"card without spaces", "5500005555555559", RuleCard},
		{"iban", "GB82 WEST 1234 5698 7654 32", RuleIBAN},
		{"iban compact", "DE89370400440532013000", RuleIBAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resultText(g.Result(context.Background(), testTool, textResult("contact: "+tc.value+".")))
			if want := "contact: [REDACTED:" + tc.rule + "]."; got != want {
				t.Errorf("masked = %q, want %q", got, want)
			}
			if !rec.has(observe.GuardPII, tc.rule, Mask) {
				t.Errorf("no pii event of rule %s", tc.rule)
			}
		})
	}
	// Look-alikes that fail the type's check stay.
	for _, s := range []string{"card 4111 1111 1111 1112", "iban GB00 WEST 1234 5698 7654 32", "call 555-1234", "v1.2.3.4"} {
		if got := resultText(g.Result(context.Background(), testTool, textResult(s))); got != s {
			t.Errorf("%q masked as %q, want it unchanged", s, got)
		}
	}
}

func TestPatternsActions(t *testing.T) {
	g, rec := newGuard(t, Options{Patterns: []Pattern{
		{Name: "employee-id", Regex: `EMP-[0-9]{6}`},
		{Name: "ticket", Regex: `TICKET-[0-9]+`, Action: Log},
		{Name: "codeword", Regex: `(?i)bluebird`, Action: Block},
	}})
	got := resultText(g.Result(context.Background(), testTool, textResult("EMP-123456 works on TICKET-9")))
	if got != "[REDACTED:employee-id] works on TICKET-9" {
		t.Errorf("masked = %q", got)
	}
	if !rec.has(observe.GuardPattern, "employee-id", Mask) || !rec.has(observe.GuardPattern, "ticket", Log) {
		t.Errorf("events = %+v", rec.all())
	}
	res := g.Result(context.Background(), testTool, textResult("the word is BlueBird"))
	if !res.IsError || strings.Contains(resultText(res), "BlueBird") || !strings.Contains(resultText(res), "codeword") {
		t.Errorf("blocked result = %+v %q", res, resultText(res))
	}

	for _, bad := range []Options{
		{Patterns: []Pattern{{Name: "x", Regex: "("}}},
		{Patterns: []Pattern{{Regex: "x"}}},
		{Patterns: []Pattern{{Name: "x", Regex: "x", Action: "drop"}}},
		{Secrets: "hide"},
		{PII: "yes"},
		{OnChange: "ignore"},
		{Scan: "mask"},
		{Approval: []string{"[a"}},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

func TestBlockTurnsTheResultIntoAToolError(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Block})
	res := g.Result(context.Background(), testTool, textResult("key="+awsKey))
	if !res.IsError || strings.Contains(resultText(res), awsKey) || !strings.Contains(resultText(res), "aws-access-token") {
		t.Errorf("result = %+v %q, want a tool error naming the rule", res, resultText(res))
	}
	if !rec.has(observe.GuardSecret, "aws-access-token", Block) {
		t.Errorf("events = %+v", rec.all())
	}
}

func TestLogOnlyReports(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Log})
	in := textResult(githubPAT)
	if out := g.Result(context.Background(), testTool, in); out != in {
		t.Errorf("result changed under log: %q", resultText(out))
	}
	if !rec.has(observe.GuardSecret, "github-pat", Log) {
		t.Errorf("events = %+v", rec.all())
	}
}

func TestEveryTextOfAResultIsScreened(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Mask})
	in := &mcp.CallToolResult{
		Content: []mcp.Content{
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///x", Text: "token " + githubPAT}},
			&mcp.ResourceLink{URI: "file:///y", Name: "y", Description: "has " + awsKey},
			&mcp.ImageContent{Data: []byte("png"), MIMEType: "image/png"},
		},
		StructuredContent: map[string]any{"items": []any{map[string]any{"key": awsKey, "n": 1}}},
	}
	out := g.Result(context.Background(), testTool, in)
	b, _ := json.Marshal(out)
	for _, s := range []string{githubPAT, awsKey} {
		if strings.Contains(string(b), s) {
			t.Errorf("result %s still carries a secret", b)
		}
	}
	for _, s := range []string{"[REDACTED:github-pat]", "[REDACTED:aws-access-token]", `"n":1`, "image/png"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("result %s lacks %s", b, s)
		}
	}
	if in.StructuredContent.(map[string]any)["items"].([]any)[0].(map[string]any)["key"] != awsKey {
		t.Errorf("the original structured content was modified")
	}
}

func TestArgumentsAreGuarded(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Mask, PII: Block})
	args, refusal := g.Arguments(context.Background(), testTool, json.RawMessage(`{"path":"/x","content":"key `+awsKey+`","n":12345678901234567890}`), nil)
	if refusal != "" {
		t.Fatalf("refused: %s", refusal)
	}
	if strings.Contains(string(args), awsKey) || !strings.Contains(string(args), "[REDACTED:aws-access-token]") ||
		!strings.Contains(string(args), "12345678901234567890") {
		t.Errorf("args = %s", args)
	}
	if !rec.has(observe.GuardSecret, "aws-access-token", Mask) {
		t.Errorf("events = %+v", rec.all())
	}
	_, refusal = g.Arguments(context.Background(), testTool, json.RawMessage(`{"to":"jane.doe@example.org"}`), nil)
	if !strings.Contains(refusal, "email") || strings.Contains(refusal, "jane.doe") {
		t.Errorf("refusal = %q, want it to name the rule and not the value", refusal)
	}
	clean := json.RawMessage(`{"path": "/tmp/a"}`)
	if args, _ := g.Arguments(context.Background(), testTool, clean, nil); string(args) != string(clean) {
		t.Errorf("clean args = %s, want them byte for byte", args)
	}
}

func TestMaskMergesOverlaps(t *testing.T) {
	got := mask("0123456789", []span{{2, 5, "b"}, {1, 4, "a"}, {7, 9, "c"}})
	if got != "0[REDACTED:a]56[REDACTED:c]9" {
		t.Errorf("mask = %q", got)
	}
}

func TestSecretsDeepInALongText(t *testing.T) {
	g, _ := newGuard(t, Options{Secrets: Mask})
	filler := strings.Repeat("İstanbul, Straße, ünïcode: a line of ordinary text\n", 2000)
	text := filler + "config:\n  password = \"Zq8vT3kP9mW2xR7n\"\n  aws = " + awsKey + "\n" + filler + githubPAT
	got, fs := g.inspectText(text)
	want := filler + "config:\n  password = [REDACTED:hashicorp-tf-password]\n  aws = [REDACTED:aws-access-token]\n" + filler + "[REDACTED:github-pat]"
	if got != want {
		t.Errorf("masked text differs from the text with the three secrets replaced (findings %+v):\n%s", fs, strings.ReplaceAll(got, filler, "..."))
	}
}

func TestWindowsCoverTheLinesAroundKeywords(t *testing.T) {
	var lines []string
	for i := range 20 {
		lines = append(lines, strings.Repeat("x", i))
	}
	lines[10] = "the KEY is here"
	text := strings.Join(lines, "\n")
	w := windows(text, asciiLower(text), []string{"key"})
	if len(w) != 1 {
		t.Fatalf("windows = %v", w)
	}
	got := text[w[0][0]:w[0][1]]
	want := strings.Join(lines[10-windowLines:10+windowLines+1], "\n") + "\n"
	if got != want {
		t.Errorf("window = %q, want %q", got, want)
	}
	if w := windows("key", "key", []string{"key"}); len(w) != 1 || w[0] != [2]int{0, 3} {
		t.Errorf("one-line text: %v", w)
	}
}

func TestEventsNameTheCaller(t *testing.T) {
	g, rec := newGuard(t, Options{Secrets: Log, Approval: []string{"fs__*"}})
	ctx := mcpclient.WithIdentity(context.Background(), "alice")
	g.Result(ctx, testTool, textResult(githubPAT))
	g.Arguments(ctx, testTool, json.RawMessage(`{}`), nil)
	ev := rec.all()
	if len(ev) != 2 || ev[0].Identity != "alice" || ev[1].Identity != "alice" || ev[1].Kind != observe.GuardApproval {
		t.Errorf("events = %+v, want both of alice", ev)
	}
}
