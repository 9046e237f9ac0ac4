package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// idp is a test identity provider: three signing keys served as a JWKS.
type idp struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	other   *rsa.PrivateKey // not in the JWKS
	jwks    []byte
	srv     *httptest.Server
	fetches atomic.Int32
}

const (
	testIssuer   = "https://idp.example"
	testAudience = "mcp-bridge"
)

func newIDP(t *testing.T) *idp {
	t.Helper()
	d := &idp{}
	var err error
	if d.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if d.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if d.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, d.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	store := jwkset.NewMemoryStorage()
	for _, k := range []struct {
		kid string
		alg jwkset.ALG
		pub crypto.PublicKey
	}{{"rsa-1", jwkset.AlgRS256, &d.rsa.PublicKey}, {"ec-1", jwkset.AlgES256, &d.ec.PublicKey}, {"ed-1", jwkset.AlgEdDSA, d.ed.Public()}} {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.KeyWrite(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	if d.jwks, err = store.JSONPublic(t.Context()); err != nil {
		t.Fatal(err)
	}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.jwks)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// claims are a valid token's claims, changed by with.
func claims(with func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "carol",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		"groups": []string{"staff", "readers"},
	}
	if with != nil {
		with(c)
	}
	return c
}

func (d *idp) sign(t *testing.T, method jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwtAuthenticator(t *testing.T, d *idp, with func(*JWTConfig)) *Authenticator {
	t.Helper()
	jc := &JWTConfig{JWKS: d.srv.URL + "/jwks.json", Issuer: testIssuer, Audience: testAudience, PolicyClaim: "groups"}
	if with != nil {
		with(jc)
	}
	a, err := New(Config{
		Policies: map[string]PolicyConfig{"readers": {Tools: []string{"fs__read_*"}}, "guests": {Tools: []string{"docs__*"}}},
		Keys:     []Key{{Name: "alice", Key: aliceKey}},
		JWT:      jc,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// unsigned is a token with alg "none".
func unsigned(c jwt.MapClaims) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"rsa-1"}`))
	b, _ := json.Marshal(c)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

func TestJWT(t *testing.T) {
	d := newIDP(t)
	a := jwtAuthenticator(t, d, nil)
	tests := []struct {
		name       string
		token      string
		wantName   string
		wantPolicy string
		status     int
		msg        string
	}{
		{"RS256", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(nil)), "carol", "readers", 0, ""},
		{"ES256", d.sign(t, jwt.SigningMethodES256, "ec-1", d.ec, claims(nil)), "carol", "readers", 0, ""},
		{"EdDSA", d.sign(t, jwt.SigningMethodEdDSA, "ed-1", d.ed, claims(nil)), "carol", "readers", 0, ""},
		{"no kid tries every key", d.sign(t, jwt.SigningMethodES256, "", d.ec, claims(nil)), "carol", "readers", 0, ""},
		{"policy from a string claim", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["groups"] = "guests" })), "carol", "guests", 0, ""},
		{"policy from a padded string claim", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["groups"] = " guests " })), "carol", "guests", 0, ""},
		{"policy from a space-separated claim", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["groups"] = "x guests" })), "carol", "guests", 0, ""},
		{"first group naming a policy", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["groups"] = []string{"x", "guests", "readers"} })), "carol", "guests", 0, ""},
		{"exp within the leeway", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })), "carol", "readers", 0, ""},
		{"expired", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), "", "", 401, "expired"},
		{"not valid yet", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })), "", "", 401, "not valid yet"},
		{"no exp", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { delete(c, "exp") })), "", "", 401, "exp"},
		{"wrong audience", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["aud"] = "other-app" })), "", "", 401, "wrong audience"},
		{"wrong issuer", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "", "", 401, "wrong issuer"},
		{"unknown kid", d.sign(t, jwt.SigningMethodRS256, "rsa-9", d.other, claims(nil)), "", "", 401, `unknown key id "rsa-9"`},
		{"signed by another key under a known kid", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.other, claims(nil)), "", "", 401, "bad signature"},
		{"alg none", unsigned(claims(nil)), "", "", 401, `"none" is not accepted`},
		{"HS256 with the public key", d.sign(t, jwt.SigningMethodHS256, "rsa-1", []byte("secret"), claims(nil)), "", "", 401, `"HS256" is not accepted`},
		{"no policy named", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { c["groups"] = []string{"staff"} })), "", "", 403, "names no policy"},
		{"no name claim", d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(func(c jwt.MapClaims) { delete(c, "sub") })), "", "", 401, `no "sub" claim`},
		{"malformed", "abc.def.ghi", "", "", 401, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(request("Authorization", "Bearer "+tc.token))
			if tc.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(e.Message, tc.msg) {
					t.Fatalf("Authenticate = %v, %v; want %d ...%s...", p, err, tc.status, tc.msg)
				}
				if strings.Contains(e.Message, tc.token) || strings.Contains(e.Message, strings.Split(tc.token, ".")[1]) {
					t.Errorf("the error %q echoes the token", e.Message)
				}
				if tc.status == 401 {
					want := `Bearer resource_metadata="http://127.0.0.1:9090/.well-known/oauth-protected-resource/v1/chat/completions", error="invalid_token"`
					if got := e.Header.Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate = %s, want %s", got, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tc.wantName || p.Source != SourceJWT || p.Policy == nil || p.Policy.Name != tc.wantPolicy {
				t.Errorf("principal %+v, want %s from jwt with policy %s", p, tc.wantName, tc.wantPolicy)
			}
		})
	}
	// Keys still work beside JWTs.
	if p, err := a.Authenticate(request("Authorization", "Bearer "+aliceKey)); err != nil || p.Name != "alice" {
		t.Errorf("a key beside JWT: %+v, %v", p, err)
	}
	_, err := a.Authenticate(request("", ""))
	var e *Error
	if !errors.As(err, &e) || e.Header.Get("WWW-Authenticate") != `Bearer resource_metadata="http://127.0.0.1:9090/.well-known/oauth-protected-resource/v1/chat/completions"` {
		t.Errorf("no credential: %v, WWW-Authenticate %q", err, e.Header.Get("WWW-Authenticate"))
	}
}

func TestJWTDefaultPolicyAndClaims(t *testing.T) {
	d := newIDP(t)
	tests := []struct {
		name       string
		cfg        func(*JWTConfig)
		claims     func(jwt.MapClaims)
		wantName   string
		wantPolicy string // "" full access
	}{
		{"default policy for a token naming none", func(c *JWTConfig) { c.DefaultPolicy = "guests" },
			func(c jwt.MapClaims) { c["groups"] = []string{"staff"} }, "carol", "guests"},
		{"default policy when the claim is absent", func(c *JWTConfig) { c.DefaultPolicy = "guests" },
			func(c jwt.MapClaims) { delete(c, "groups") }, "carol", "guests"},
		{"no policy claim: full access", func(c *JWTConfig) { c.PolicyClaim = "" }, nil, "carol", ""},
		{"no policy claim: the default policy", func(c *JWTConfig) { c.PolicyClaim = ""; c.DefaultPolicy = "readers" }, nil, "carol", "readers"},
		{"name from email", func(c *JWTConfig) { c.NameClaim = "email" },
			func(c jwt.MapClaims) { c["email"] = "carol@example.com" }, "carol@example.com", "readers"},
		{"space-separated scope", func(c *JWTConfig) { c.PolicyClaim = "scope" },
			func(c jwt.MapClaims) { c["scope"] = "openid guests" }, "carol", "guests"},
		{"nested roles", func(c *JWTConfig) { c.PolicyClaim = "realm_access.roles" },
			func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": []string{"readers"}} }, "carol", "readers"},
		{"audience among several", nil,
			func(c jwt.MapClaims) { c["aud"] = []string{"account", testAudience} }, "carol", "readers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := jwtAuthenticator(t, d, tc.cfg)
			p, err := a.Authenticate(request("Authorization", "Bearer "+d.sign(t, jwt.SigningMethodRS256, "rsa-1", d.rsa, claims(tc.claims))))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p.Policy != nil {
				got = p.Policy.Name
			}
			if p.Name != tc.wantName || got != tc.wantPolicy {
				t.Errorf("principal %q policy %q, want %q policy %q", p.Name, got, tc.wantName, tc.wantPolicy)
			}
		})
	}
}

func TestJWTUnknownKidRefetchesBounded(t *testing.T) {
	d := newIDP(t)
	a := jwtAuthenticator(t, d, nil)
	start := d.fetches.Load()
	if start != 1 {
		t.Fatalf("fetches at start = %d, want 1", start)
	}
	for range 5 {
		tok := d.sign(t, jwt.SigningMethodRS256, "rotated", d.other, claims(nil))
		if _, err := a.Authenticate(request("Authorization", "Bearer "+tok)); err == nil {
			t.Fatal("a token of an unknown key was accepted")
		}
	}
	if n := d.fetches.Load() - start; n != 1 {
		t.Errorf("5 tokens with an unknown kid fetched the JWKS %d times, want 1 (once a minute at most)", n)
	}
}

func TestJWKSFile(t *testing.T) {
	d := newIDP(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, d.jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	a := jwtAuthenticator(t, d, func(c *JWTConfig) { c.JWKS = good })
	if p, err := a.Authenticate(request("Authorization", "Bearer "+d.sign(t, jwt.SigningMethodEdDSA, "ed-1", d.ed, claims(nil)))); err != nil || p.Name != "carol" {
		t.Errorf("token checked against a JWKS file: %+v, %v", p, err)
	}
	for name, content := range map[string]string{"not json": "{", "no keys": `{"keys":[]}`, "bad key": `{"keys":[{"kty":"RSA","n":"%%%","e":"AQAB"}]}`} {
		bad := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Config{JWT: &JWTConfig{JWKS: bad, Issuer: testIssuer, Audience: testAudience}}
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Key != "auth.jwt.jwks" || !strings.Contains(ce.Msg, bad) {
			t.Errorf("%s: Validate = %v, want an auth.jwt.jwks error naming the file", name, err)
		}
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	d := newIDP(t)
	a := jwtAuthenticator(t, d, nil)
	h := a.MetadataHandler()
	tests := []struct {
		path, host, proto string
		resource          string
	}{
		{"/.well-known/oauth-protected-resource/mcp", "bridge.example:9090", "", "http://bridge.example:9090/mcp"},
		{"/.well-known/oauth-protected-resource", "bridge.example", "https", "https://bridge.example"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var doc struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			BearerMethods        []string `json:"bearer_methods_supported"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %s", tc.path, w.Code, w.Body)
		}
		if doc.Resource != tc.resource || len(doc.AuthorizationServers) != 1 || doc.AuthorizationServers[0] != testIssuer ||
			len(doc.BearerMethods) != 1 || doc.BearerMethods[0] != "header" {
			t.Errorf("%s: %+v, want resource %s, authorization_servers [%s], bearer_methods_supported [header]", tc.path, doc, tc.resource, testIssuer)
		}
	}
	// The 401 of /mcp names the document whose resource is /mcp.
	r := httptest.NewRequest(http.MethodPost, "http://bridge.example/mcp", nil)
	if got, want := a.WWWAuthenticate(r, ""), `Bearer resource_metadata="http://bridge.example/.well-known/oauth-protected-resource/mcp"`; got != want {
		t.Errorf("WWWAuthenticate = %s, want %s", got, want)
	}
	// Without JWT there is no document.
	keysOnly, _ := New(Config{APIKeys: []string{oldKey}}, nil)
	w := httptest.NewRecorder()
	keysOnly.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://x/.well-known/oauth-protected-resource", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("metadata without JWT: %d, want 404", w.Code)
	}
}
