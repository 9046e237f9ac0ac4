package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	aliceKey = "alice-key-0123456789abcdef"
	bobKey   = "bob-key-0123456789abcdef"
	oldKey   = "old-key-0123456789abcdef"
)

func testConfig() Config {
	return Config{
		Policies: map[string]PolicyConfig{
			"readers": {Tools: []string{"fs__read_*"}, Models: []string{"llama*"}},
		},
		Keys: []Key{
			{Name: "alice", Key: aliceKey, Policy: "readers", UpstreamAPIKey: "sk-alice"},
			{Name: "bob", Key: HashKey(bobKey)},
		},
		APIKeys: []string{oldKey, "second-old-key-0123456789"},
	}
}

func request(header, value string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/v1/chat/completions", nil)
	if header != "" {
		r.Header.Set(header, value)
	}
	return r
}

func TestAuthenticateKeys(t *testing.T) {
	a, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tests := []struct {
		name       string
		header     string
		value      string
		wantName   string
		wantPolicy string
		status     int
	}{
		{"plain key as bearer", "Authorization", "Bearer " + aliceKey, "alice", "readers", 0},
		{"bearer is case-insensitive", "Authorization", "bearer " + aliceKey, "alice", "readers", 0},
		{"plain key as X-Api-Key", "X-Api-Key", aliceKey, "alice", "readers", 0},
		{"hashed key", "Authorization", "Bearer " + bobKey, "bob", "", 0},
		{"the hash itself is not the key", "Authorization", "Bearer " + HashKey(bobKey), "", "", 401},
		{"old api_keys are key-1", "X-Api-Key", oldKey, "key-1", "", 0},
		{"old api_keys are key-2", "X-Api-Key", "second-old-key-0123456789", "key-2", "", 0},
		{"wrong key", "Authorization", "Bearer nope-0123456789abcdef", "", "", 401},
		{"prefix of a key", "Authorization", "Bearer " + aliceKey[:10], "", "", 401},
		{"no key", "", "", "", "", 401},
		{"basic auth is not a key", "Authorization", "Basic " + aliceKey, "", "", 401},
		{"a JWT-shaped value without JWT configured", "Authorization", "Bearer a.b.c", "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(request(tc.header, tc.value))
			if tc.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("Authenticate = %v, %v; want a %d", p, err, tc.status)
				}
				if e.Type != TypeAuthentication || e.Code != CodeInvalidAPIKey {
					t.Errorf("error type %q code %q, want %q %q", e.Type, e.Code, TypeAuthentication, CodeInvalidAPIKey)
				}
				if tc.value != "" && strings.Contains(e.Message, strings.TrimPrefix(tc.value, "Bearer ")) {
					t.Errorf("the error %q echoes the credential", e.Message)
				}
				if e.Header.Get("WWW-Authenticate") != "" {
					t.Error("WWW-Authenticate without JWT configured")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tc.wantName || p.Source != SourceKey {
				t.Errorf("principal %q from %q, want %q from key", p.Name, p.Source, tc.wantName)
			}
			got := ""
			if p.Policy != nil {
				got = p.Policy.Name
			}
			if got != tc.wantPolicy {
				t.Errorf("policy %q, want %q", got, tc.wantPolicy)
			}
		})
	}
	p, _ := a.Authenticate(request("X-Api-Key", aliceKey))
	if p.UpstreamAPIKey != "sk-alice" || p.AllowsModel("gpt-4o") || !p.AllowsTool("fs__read_file", "fs") {
		t.Errorf("alice: upstream key %q, gpt-4o %v, fs__read_file %v", p.UpstreamAPIKey, p.AllowsModel("gpt-4o"), p.AllowsTool("fs__read_file", "fs"))
	}
}

func TestAuthenticateDisabled(t *testing.T) {
	a, err := New(Config{Policies: map[string]PolicyConfig{"x": {}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Enabled() {
		t.Error("Enabled with no keys and no JWT")
	}
	p, err := a.Authenticate(request("", ""))
	if err != nil || p.Source != SourceAnonymous || p.Policy != nil {
		t.Errorf("Authenticate without auth = %+v, %v; want the anonymous full-access principal", p, err)
	}
	var nilA *Authenticator
	if nilA.Enabled() {
		t.Error("a nil Authenticator is enabled")
	}
	if p, err := nilA.Authenticate(request("", "")); err != nil || p.Source != SourceAnonymous {
		t.Errorf("nil Authenticator: %+v, %v", p, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		msg    string
	}{
		{"unknown policy", func(c *Config) { c.Keys[0].Policy = "writers" }, "auth.keys[0].policy", `unknown policy "writers" (policies: readers)`},
		{"two keys with one name", func(c *Config) { c.Keys[1].Name = "alice" }, "auth.keys[1].name", `"alice" is already used by auth.keys[0]`},
		{"two keys with one value", func(c *Config) { c.Keys[1].Key = aliceKey }, "auth.keys[1].key", "the same key as auth.keys[0]"},
		{"a key and its hash", func(c *Config) { c.Keys[1].Key = HashKey(aliceKey) }, "auth.keys[1].key", "the same key as auth.keys[0]"},
		{"an upper-case hash of the same key", func(c *Config) { c.Keys[1].Key = "sha256:" + strings.ToUpper(HashKey(aliceKey)[7:]) }, "auth.keys[1].key", "the same key"},
		{"an api_key and a named key", func(c *Config) { c.APIKeys[1] = bobKey }, "auth.api_keys[1]", "the same key as auth.keys[1]"},
		{"an api_key name taken", func(c *Config) { c.Keys[1].Name = "key-1" }, "auth.api_keys[0]", `"key-1" is already used by auth.keys[1]`},
		{"invalid sha256", func(c *Config) { c.Keys[1].Key = "sha256:abc" }, "auth.keys[1].key", "invalid sha256 form"},
		{"sha256 not hex", func(c *Config) { c.Keys[1].Key = "sha256:" + strings.Repeat("z", 64) }, "auth.keys[1].key", "invalid sha256 form"},
		{"empty key", func(c *Config) { c.Keys[0].Key = " " }, "auth.keys[0].key", "must not be empty"},
		{"empty name", func(c *Config) { c.Keys[0].Name = "" }, "auth.keys[0].name", "needs a name"},
		{"empty api_key", func(c *Config) { c.APIKeys[0] = "" }, "auth.api_keys[0]", "must not be empty"},
		{"bad glob", func(c *Config) { c.Policies["readers"] = PolicyConfig{Tools: []string{"fs__[read"}} }, "policies.readers.tools[0]", "invalid glob"},
		{"jwt without jwks", func(c *Config) { c.JWT = &JWTConfig{Issuer: "i", Audience: "a"} }, "auth.jwt.jwks", "required"},
		{"jwt without audience", func(c *Config) { c.JWT = &JWTConfig{JWKS: "https://idp/jwks", Issuer: "i"} }, "auth.jwt.audience", "required"},
		{"jwt over plain http", func(c *Config) { c.JWT = &JWTConfig{JWKS: "http://idp.example/jwks", Issuer: "i", Audience: "a"} }, "auth.jwt.jwks", "https"},
		{"jwt default policy unknown", func(c *Config) {
			c.JWT = &JWTConfig{JWKS: "https://idp/jwks", Issuer: "i", Audience: "a", DefaultPolicy: "nope"}
		}, "auth.jwt.default_policy", "unknown policy"},
		{"jwks file missing", func(c *Config) { c.JWT = &JWTConfig{JWKS: "/nonexistent/jwks.json", Issuer: "i", Audience: "a"} }, "auth.jwt.jwks", "reading"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.mutate(&c)
			err := c.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(ce.Msg, tc.msg) {
				t.Fatalf("Validate = %v, want %s: ...%s...", err, tc.key, tc.msg)
			}
			if strings.Contains(err.Error(), aliceKey) || strings.Contains(err.Error(), bobKey) {
				t.Errorf("the error %q shows a key", err)
			}
			if _, err := New(c, nil); err == nil {
				t.Error("New accepted what Validate refused")
			}
		})
	}
	if err := testConfig().Validate(); err != nil {
		t.Errorf("the valid config: %v", err)
	}
}

func TestHashKey(t *testing.T) {
	// echo -n secret | sha256sum
	const want = "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
	if got := HashKey("secret"); got != want {
		t.Errorf("HashKey = %s, want %s", got, want)
	}
	if !KeyIsHashed(want) || KeyIsHashed("secret") {
		t.Error("KeyIsHashed")
	}
}
