package config

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
)

// testJWKS is the Ed25519 public key of RFC 8037's examples as a key set.
const testJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`

const authYAML = `listen: 127.0.0.1:9090
upstream:
  base_url: http://127.0.0.1:11434/v1
  forward_identity: {header: X-Bridge-User}
policies:
  readers:
    servers: ["fs", "docs"]
    tools: ["fs__read_*", "fs__list_*", "docs__*"]
    deny: ["*__delete*"]
    models: ["llama3*", "qwen*"]
    rate: {requests: 60, per: 1m, burst: 10}
    tool_calls: {requests: 300, per: 1m}
    tokens: {limit: 1000000, per: 24h}
    max_streams: 4
  ci: {models: ["llama3*"]}
auth:
  keys:
    - name: alice
      key: ${ALICE_KEY}
      policy: readers
      upstream_api_key: ${ALICE_OPENAI_KEY}
    - name: ci
      key: sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
      policy: ci
  api_keys: ["${MCP_BRIDGE_KEY}"]
  jwt:
    jwks: jwks.json
    issuer: https://idp.example.com
    audience: mcp-bridge
    name_claim: email
    policy_claim: groups
    default_policy: ""
mcpServers:
  remote:
    url: https://mcp.example.com/mcp
    forward_identity: {header: X-Bridge-User}
  local:
    command: echo
`

var authEnv = getenvFrom(map[string]string{
	"ALICE_KEY": "alice-0123456789abcdef", "ALICE_OPENAI_KEY": "sk-alice-upstream", "MCP_BRIDGE_KEY": "old-key-0123456789abcdef",
})

func TestAuthConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "jwks.json", testJWKS)
	c := mustLoad(t, writeFile(t, dir, "bridge.yaml", authYAML), authEnv)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	r := c.Policies["readers"]
	want := Policy{
		Servers: []string{"fs", "docs"}, Tools: []string{"fs__read_*", "fs__list_*", "docs__*"}, Deny: []string{"*__delete*"},
		Models: []string{"llama3*", "qwen*"}, Rate: Rate{Requests: 60, Per: Duration(time.Minute), Burst: 10},
		ToolCalls: Rate{Requests: 300, Per: Duration(time.Minute)}, Tokens: Budget{Limit: 1000000, Per: Duration(24 * time.Hour)},
		MaxStreams: 4,
	}
	if !equalPolicy(r, want) {
		t.Errorf("readers:\n got %+v\nwant %+v", r, want)
	}
	if len(c.Auth.Keys) != 2 || c.Auth.Keys[0] != (Key{Name: "alice", Key: "alice-0123456789abcdef", Policy: "readers", UpstreamAPIKey: "sk-alice-upstream"}) {
		t.Errorf("keys: %+v", c.Auth.Keys)
	}
	if c.Auth.JWT.Issuer != "https://idp.example.com" || c.Auth.JWT.NameClaim != "email" || c.Auth.JWT.PolicyClaim != "groups" {
		t.Errorf("jwt: %+v", c.Auth.JWT)
	}
	if c.Upstream.ForwardIdentity.Header != "X-Bridge-User" || c.ForwardIdentity["remote"].Header != "X-Bridge-User" || len(c.ForwardIdentity) != 1 {
		t.Errorf("forward_identity: upstream %+v, servers %+v", c.Upstream.ForwardIdentity, c.ForwardIdentity)
	}

	// The relative JWKS file is found next to the config file.
	if got := c.AuthSettings().JWT.JWKS; got != filepath.Join(dir, "jwks.json") {
		t.Errorf("jwks = %s, want it next to the config", got)
	}
	a, err := auth.New(c.AuthSettings(), &auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for key, wantName := range map[string]string{"alice-0123456789abcdef": "alice", "secret": "ci", "old-key-0123456789abcdef": "key-1"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090/v1/models", nil)
		req.Header.Set("X-Api-Key", key)
		p, err := a.Authenticate(req)
		if err != nil || p.Name != wantName {
			t.Errorf("key of %s: %+v, %v", wantName, p, err)
		}
	}
	if p := a.Policy("readers"); p == nil || p.Rate.Burst != 10 || p.Tokens.Per != 24*time.Hour || p.MaxStreams != 4 {
		t.Errorf("readers compiled: %+v", p)
	}

	// Every key value and upstream key is a secret; a sha256 form is not.
	s := c.Secrets()
	for _, v := range []string{"alice-0123456789abcdef", "sk-alice-upstream", "old-key-0123456789abcdef"} {
		if !slices.Contains(s, v) {
			t.Errorf("secrets lack %q", v)
		}
	}
}

func equalPolicy(a, b Policy) bool {
	return slices.Equal(a.Servers, b.Servers) && slices.Equal(a.Tools, b.Tools) && slices.Equal(a.Deny, b.Deny) &&
		slices.Equal(a.Models, b.Models) && a.Rate == b.Rate && a.ToolCalls == b.ToolCalls && a.Tokens == b.Tokens && a.MaxStreams == b.MaxStreams
}

func TestAuthConfigErrors(t *testing.T) {
	const head = "policies:\n  readers:\n    tools: [\"fs__read_*\"]\nauth:\n  keys:\n    - name: alice\n      key: alice-0123456789abcdef\n      policy: readers\n"
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"unknown policy", head + "    - name: bob\n      key: bob-0123456789abcdef\n      policy: writers\n",
			[]string{"line 11", "auth.keys[1].policy", `unknown policy "writers"`}},
		{"two keys with one name", head + "    - name: alice\n      key: bob-0123456789abcdef\n",
			[]string{"line 9", "auth.keys[1].name", `"alice" is already used`}},
		{"two keys with one value", head + "    - name: bob\n      key: alice-0123456789abcdef\n",
			[]string{"line 10", "auth.keys[1].key", "the same key as auth.keys[0]"}},
		{"a key and its sha256 form", head + "    - name: bob\n      key: " + auth.HashKey("alice-0123456789abcdef") + "\n",
			[]string{"line 10", "auth.keys[1].key", "the same key as auth.keys[0]"}},
		{"an api_key and a key", head + "  api_keys: [\"alice-0123456789abcdef\"]\n",
			[]string{"line 9", "auth.api_keys[0]", "the same key as auth.keys[0]"}},
		{"invalid sha256 form", head + "    - name: bob\n      key: sha256:12ab\n",
			[]string{"line 10", "auth.keys[1].key", "invalid sha256 form"}},
		{"a glob that cannot compile", "policies:\n  readers:\n    tools: [\"fs__*\", \"fs__[read\"]\n",
			[]string{"line 3", "policies.readers.tools[1]", "invalid glob"}},
		{"a policy name with a dot", "policies:\n  team.a:\n    models:\n      - \"[x\"\n",
			[]string{"line 4", "policies.team.a.models[0]", "invalid glob"}},
		{"a JWKS that cannot be parsed", "auth:\n  jwt:\n    jwks: bad.json\n    issuer: i\n    audience: a\n",
			[]string{"line 3", "auth.jwt.jwks", "bad.json", "not a JSON Web Key Set"}},
		{"jwt without an audience", "auth:\n  jwt:\n    jwks: https://idp.example/jwks\n    issuer: i\n",
			[]string{"line 2", "auth.jwt.audience", "required"}},
		{"an unknown key in a policy", "policies:\n  readers:\n    tool: [x]\n",
			[]string{"line 3", "policies.readers.tool"}},
		{"an unknown key in a key", "auth:\n  keys:\n    - name: a\n      value: x\n",
			[]string{"line 4", `"auth.keys[0].value"`}},
		{"an unknown key in jwt", "auth:\n  jwt:\n    jwks_url: x\n",
			[]string{"line 3", "auth.jwt.jwks_url"}},
		{"a rate that is not a mapping", "policies:\n  readers:\n    rate: 60\n",
			[]string{"policies.readers", "expected a mapping"}},
		{"a bad duration", "policies:\n  readers:\n    rate: {requests: 1, per: soon}\n",
			[]string{"line 3", "duration"}},
		{"a bad forward_identity header", "mcpServers:\n  remote:\n    url: https://x.example/mcp\n    forward_identity: {header: \"X Bridge\"}\n",
			[]string{"mcpServers.remote.forward_identity.header", "not a valid header name"}},
		{"a bad upstream forward_identity header", "upstream:\n  forward_identity: {header: \"a:b\"}\n",
			[]string{"upstream.forward_identity.header"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "bad.json", `{"keys": "nope"}`)
			path := writeFile(t, dir, "bridge.yaml", tc.content)
			msg := loadErr(t, path, noEnv)
			mustContain(t, "error", msg, append([]string{path}, tc.want...)...)
			if strings.Contains(msg, "alice-0123456789abcdef") {
				t.Errorf("the error %q shows a key", msg)
			}
		})
	}
}

func TestCheckExposureWithNamedKeysAndJWT(t *testing.T) {
	tests := []struct {
		name    string
		auth    Auth
		refused string
	}{
		{"named keys guard", Auth{Keys: []Key{{Name: "a", Key: "0123456789abcdef"}}}, ""},
		{"a short named key", Auth{Keys: []Key{{Name: "a", Key: "0123456789abcdef"}, {Name: "b", Key: "short"}}}, "auth.keys[1] (b) of 5 characters"},
		{"a sha256 form cannot be measured", Auth{Keys: []Key{{Name: "a", Key: auth.HashKey("x")}}}, ""},
		{"JWT guards", Auth{JWT: JWT{JWKS: "https://idp/jwks", Issuer: "i", Audience: "a"}}, ""},
		{"nothing", Auth{}, "without API keys"},
	}
	for _, tc := range tests {
		c := &Config{Listen: "0.0.0.0:9090", Auth: tc.auth}
		err := c.CheckExposure()
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: CheckExposure = %v, want ...%s...", tc.name, err, tc.refused)
		}
	}
}
