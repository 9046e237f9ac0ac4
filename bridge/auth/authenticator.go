package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Key is one named API key as configured.
type Key struct {
	// Name identifies the caller everywhere a name is shown. Required.
	Name string
	// Key is the key itself, or "sha256:" and the 64 hex digits of its
	// SHA-256 digest (see HashKey). Required.
	Key string
	// Policy names a policy; "" means full access.
	Policy string
	// UpstreamAPIKey, when not empty, is sent upstream for this caller
	// instead of the configured upstream key.
	UpstreamAPIKey string
}

// JWTConfig says how bearer JWTs from an identity provider are verified.
type JWTConfig struct {
	// JWKS is the URL of the provider's JSON Web Key Set (fetched,
	// cached and refreshed; https, or http on loopback), or a file
	// holding one. Required.
	JWKS string
	// Issuer is the iss every token must carry. Required.
	Issuer string
	// Audience must be among every token's aud. Required: without it a
	// token the provider issued for any other application would do.
	Audience string
	// NameClaim is the claim naming the caller; "" means "sub". A dotted
	// name ("realm_access.name") looks into nested objects.
	NameClaim string
	// PolicyClaim is the claim (a string, space-separated words, or a
	// list of strings) whose first value naming a policy is the caller's
	// policy. "" means tokens name no policy: every valid token gets
	// DefaultPolicy, or full access when that is "" too.
	PolicyClaim string
	// DefaultPolicy is the policy of a valid token whose PolicyClaim
	// names no known policy. "" means such a token is refused (403).
	DefaultPolicy string
}

// Config is the configuration of an Authenticator. The zero Config
// requires nothing: every request is the anonymous principal with full
// access.
type Config struct {
	// Policies by name.
	Policies map[string]PolicyConfig
	// Keys are the named API keys.
	Keys []Key
	// APIKeys are unnamed full-access keys, named key-1, key-2, ... in
	// order.
	APIKeys []string
	// JWT, when not nil, accepts bearer JWTs.
	JWT *JWTConfig
}

// Options tunes an Authenticator. A nil *Options means the defaults.
type Options struct {
	// Logger receives JWKS refresh failures. Nil discards them.
	Logger *slog.Logger
	// HTTPClient fetches the JWKS. Nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// RefreshInterval is how often a JWKS URL is fetched again. Zero
	// means an hour. A token naming an unknown key id also fetches it
	// again, at most once a minute.
	RefreshInterval time.Duration
	// Now is the clock tokens are checked against. Nil means time.Now.
	Now func() time.Time
	// ResourceURL is the bridge's public URL (e.g. https://bridge.example),
	// used in the protected resource metadata. "" means the URL the
	// request was sent to (its Host, and https when it came over TLS or
	// with X-Forwarded-Proto: https).
	ResourceURL string
}

// Authenticator resolves the principal of a request. It is safe for
// concurrent use. Close stops its JWKS refresh.
type Authenticator struct {
	policies map[string]*Policy
	keys     []keyEntry
	jwt      *jwtVerifier
	opts     Options
	cancel   context.CancelFunc
}

type keyEntry struct {
	digest    [sha256.Size]byte
	principal *Principal
}

// HashKey returns the stored form of a key: "sha256:" and the hex
// digest of its SHA-256.
func HashKey(key string) string {
	d := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(d[:])
}

// keyDigest returns the SHA-256 digest a configured key value stands
// for: its hash when written "sha256:<hex>" (KeyIsHashed), else the hash
// of the value.
func keyDigest(v string) (d [sha256.Size]byte, err error) {
	if !KeyIsHashed(v) {
		return sha256.Sum256([]byte(v)), nil
	}
	b, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(v, "sha256:")))
	if err != nil || len(b) != sha256.Size {
		return d, fmt.Errorf("invalid sha256 form: expected sha256: and 64 hex digits (mcp-bridge hash-key KEY prints it)")
	}
	copy(d[:], b)
	return d, nil
}

// KeyIsHashed reports whether a configured key value is in the
// "sha256:<hex>" form (whose length says nothing of the key's strength).
func KeyIsHashed(v string) bool { return strings.HasPrefix(v, "sha256:") }

// Validate checks c without fetching anything: policies and their
// globs, keys (names, values, policies, duplicates by digest, so that a
// key and its sha256 form clash), and the JWT settings (a JWKS file is
// read and parsed; a URL only checked). Errors are *ConfigError whose Key
// is the setting's path ("policies.NAME.tools[0]", "auth.keys[1].policy",
// "auth.api_keys[0]", "auth.jwt.jwks").
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compiled is a validated Config.
type compiled struct {
	policies map[string]*Policy
	keys     []keyEntry
	jwks     []byte // the JWKS file's content; nil for a URL
}

func (c Config) compile() (*compiled, error) {
	out := &compiled{policies: map[string]*Policy{}}
	names := make([]string, 0, len(c.Policies))
	for n := range c.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			return nil, &ConfigError{Key: "policies", Msg: "a policy needs a name"}
		}
		p, err := NewPolicy(n, c.Policies[n])
		if err != nil {
			ce := err.(*ConfigError)
			return nil, &ConfigError{Key: "policies." + n + "." + ce.Key, Msg: ce.Msg}
		}
		out.policies[n] = p
	}
	byName := map[string]string{}
	byDigest := map[[sha256.Size]byte]string{}
	// add adds a key configured at key; its name and value are at
	// nameKey and valueKey.
	add := func(key, nameKey, valueKey, name, value, policy, upstream string) error {
		if strings.TrimSpace(name) == "" {
			return &ConfigError{Key: nameKey, Msg: "a key needs a name (shown in logs, audit and metrics)"}
		}
		if where, ok := byName[name]; ok {
			return &ConfigError{Key: nameKey, Msg: fmt.Sprintf("the name %q is already used by %s", name, where)}
		}
		if strings.TrimSpace(value) == "" {
			return &ConfigError{Key: valueKey, Msg: "a key must not be empty"}
		}
		d, err := keyDigest(value)
		if err != nil {
			return &ConfigError{Key: valueKey, Msg: err.Error()}
		}
		if where, ok := byDigest[d]; ok {
			return &ConfigError{Key: valueKey, Msg: fmt.Sprintf("the same key as %s (each key identifies one caller)", where)}
		}
		var pol *Policy
		if policy != "" {
			pol = out.policies[policy]
			if pol == nil {
				return &ConfigError{Key: key + ".policy", Msg: fmt.Sprintf("unknown policy %q (policies: %s)", policy, knownList(names))}
			}
		}
		byName[name] = key
		byDigest[d] = key
		out.keys = append(out.keys, keyEntry{digest: d, principal: &Principal{
			Name: name, Policy: pol, Source: SourceKey, UpstreamAPIKey: upstream}})
		return nil
	}
	for i, k := range c.Keys {
		at := fmt.Sprintf("auth.keys[%d]", i)
		if err := add(at, at+".name", at+".key", k.Name, k.Key, k.Policy, k.UpstreamAPIKey); err != nil {
			return nil, err
		}
	}
	for i, k := range c.APIKeys {
		at := fmt.Sprintf("auth.api_keys[%d]", i)
		if err := add(at, at, at, fmt.Sprintf("key-%d", i+1), k, "", ""); err != nil {
			return nil, err
		}
	}
	if c.JWT != nil {
		jwks, err := c.JWT.check(out.policies, names)
		if err != nil {
			return nil, err
		}
		out.jwks = jwks
	}
	return out, nil
}

func knownList(names []string) string {
	if len(names) == 0 {
		return "none defined"
	}
	return strings.Join(names, ", ")
}

// New builds an Authenticator from c (see Config.Validate for its
// errors). With a JWKS URL it fetches the set once (waiting up to the
// HTTP client's timeout; a failure is logged, not returned, and the set
// is fetched again when a token needs it) and refreshes it until Close.
func New(c Config, opts *Options) (*Authenticator, error) {
	a := &Authenticator{}
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.Logger == nil {
		a.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if a.opts.Now == nil {
		a.opts.Now = time.Now
	}
	cc, err := c.compile()
	if err != nil {
		return nil, err
	}
	a.policies, a.keys = cc.policies, cc.keys
	if c.JWT != nil {
		ctx, cancel := context.WithCancel(context.Background())
		a.cancel = cancel
		a.jwt, err = newJWTVerifier(ctx, *c.JWT, cc, &a.opts)
		if err != nil {
			cancel()
			return nil, err
		}
	}
	return a, nil
}

// Close stops refreshing the JWKS. It may be called more than once.
func (a *Authenticator) Close() error {
	if a != nil && a.cancel != nil {
		a.cancel()
	}
	return nil
}

// Enabled reports whether requests must identify themselves: keys or
// JWT are configured. A nil Authenticator is not enabled.
func (a *Authenticator) Enabled() bool {
	return a != nil && (len(a.keys) > 0 || a.jwt != nil)
}

// JWT reports whether bearer JWTs are accepted (and so whether the
// protected resource metadata is served).
func (a *Authenticator) JWT() bool { return a != nil && a.jwt != nil }

// Policy returns the policy named name, nil when there is none.
func (a *Authenticator) Policy(name string) *Policy {
	if a == nil {
		return nil
	}
	return a.policies[name]
}

// Policies returns the policies, sorted by name.
func (a *Authenticator) Policies() []*Policy {
	if a == nil {
		return nil
	}
	out := make([]*Policy, 0, len(a.policies))
	for _, p := range a.policies {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Presented returns the credential a request carries: the X-Api-Key
// header, else an "Authorization: Bearer" value; bearer says which.
func Presented(r *http.Request) (cred string, bearer bool) {
	if k := strings.TrimSpace(r.Header.Get("X-Api-Key")); k != "" {
		return k, false
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

// Authenticate resolves the principal of r, reading only its headers.
// When auth is not enabled it is the anonymous principal with full
// access. A key is compared, as a SHA-256 digest in constant time,
// against every configured key; a bearer value shaped like a JWT (two
// dots) that matches no key is verified as a JWT when JWT is configured.
// Refusals are *Error: 401 (no credential, an unknown key, an invalid
// token: expired, wrong audience or issuer, unknown key id, ...) or 403
// (a valid token naming no known policy). With JWT configured, 401s
// carry WWW-Authenticate naming the protected resource metadata.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	if !a.Enabled() {
		return anonymous, nil
	}
	cred, bearer := Presented(r)
	if cred == "" {
		return nil, a.unauthorized(r, CodeInvalidAPIKey, "", "missing credentials: send an API key as 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'"+a.orToken())
	}
	d := sha256.Sum256([]byte(cred))
	found, idx := 0, 0
	for i := range a.keys {
		eq := subtle.ConstantTimeCompare(d[:], a.keys[i].digest[:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
		found |= eq
	}
	if found == 1 {
		return a.keys[idx].principal, nil
	}
	if a.jwt != nil && bearer && strings.Count(cred, ".") == 2 {
		p, err := a.jwt.verify(r.Context(), cred)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Status == http.StatusUnauthorized {
				return nil, a.unauthorized(r, e.Code, "invalid_token", e.Message)
			}
			return nil, err
		}
		return p, nil
	}
	return nil, a.unauthorized(r, CodeInvalidAPIKey, "invalid_token", "invalid API key"+a.orToken())
}

func (a *Authenticator) orToken() string {
	if a.jwt != nil {
		return " (or a JWT from the identity provider as 'Authorization: Bearer TOKEN')"
	}
	return ""
}

// unauthorized is a 401, with WWW-Authenticate when JWT is configured.
// oauthErr is the RFC 6750 error code, "" when no credential was sent.
func (a *Authenticator) unauthorized(r *http.Request, code, oauthErr, msg string) *Error {
	e := &Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: code, Message: msg}
	if a.jwt != nil {
		e.Header = http.Header{"Www-Authenticate": {a.WWWAuthenticate(r, oauthErr)}}
	}
	return e
}
