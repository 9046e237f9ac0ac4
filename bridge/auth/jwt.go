package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// JWT verification constants.
const (
	// jwtLeeway is the clock skew allowed on exp and nbf.
	jwtLeeway = 30 * time.Second
	// jwksTimeout bounds one fetch of a JWKS URL with the default client.
	jwksTimeout = 10 * time.Second
)

// jwtMethods are the signature algorithms accepted; "none" and the
// HMAC ones (whose key would be the public one) never are.
var jwtMethods = []string{"RS256", "ES256", "EdDSA"}

// jwksIsURL reports whether the jwks setting is a URL rather than a file.
func jwksIsURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// check validates the JWT settings and returns the JWKS file's content
// (nil for a URL).
func (j *JWTConfig) check(policies map[string]*Policy, names []string) ([]byte, error) {
	switch {
	case strings.TrimSpace(j.JWKS) == "":
		return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: "required: the identity provider's JWKS URL, or a file holding the key set"}
	case strings.TrimSpace(j.Issuer) == "":
		return nil, &ConfigError{Key: "auth.jwt.issuer", Msg: "required: the iss of the identity provider's tokens"}
	case strings.TrimSpace(j.Audience) == "":
		return nil, &ConfigError{Key: "auth.jwt.audience", Msg: "required: without it a token issued for any other application of the identity provider would be accepted"}
	}
	if j.DefaultPolicy != "" && policies[j.DefaultPolicy] == nil {
		return nil, &ConfigError{Key: "auth.jwt.default_policy", Msg: fmt.Sprintf("unknown policy %q (policies: %s)", j.DefaultPolicy, knownList(names))}
	}
	if jwksIsURL(j.JWKS) {
		u, err := url.Parse(j.JWKS)
		if err != nil || u.Host == "" {
			return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: "expected an https:// URL or a file"}
		}
		if u.User != nil {
			return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: "credentials in the URL are not supported"}
		}
		if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
			return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: "expected https:// (http:// only on loopback): keys fetched in the clear could be replaced on the way"}
		}
		return nil, nil
	}
	file := strings.TrimPrefix(j.JWKS, "file://")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: fmt.Sprintf("reading the key set: %v", err)}
	}
	if _, err := parseJWKS(data); err != nil {
		return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: fmt.Sprintf("%s: %v", file, err)}
	}
	return data, nil
}

// parseJWKS parses a JSON Web Key Set holding at least one key.
func parseJWKS(data []byte) (keyfunc.Keyfunc, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no keys")
	}
	kf, err := keyfunc.NewJWKSetJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not a valid JSON Web Key Set: %v", err)
	}
	all, err := kf.Storage().KeyReadAll(context.Background())
	if err != nil || len(all) == 0 {
		return nil, errors.New("the key set has no usable keys")
	}
	return kf, nil
}

// IsLoopbackHost reports whether host (a name or an address, without port
// or brackets) is "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// jwtVerifier verifies bearer JWTs.
type jwtVerifier struct {
	cfg      JWTConfig
	kf       keyfunc.Keyfunc
	parser   *jwt.Parser
	policies map[string]*Policy
}

func newJWTVerifier(ctx context.Context, c JWTConfig, cc *compiled, o *Options) (*jwtVerifier, error) {
	v := &jwtVerifier{cfg: c, policies: cc.policies}
	if v.cfg.NameClaim == "" {
		v.cfg.NameClaim = "sub"
	}
	var err error
	if cc.jwks != nil {
		v.kf, err = parseJWKS(cc.jwks)
		if err != nil {
			return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: err.Error()}
		}
	} else {
		client := o.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: jwksTimeout}
		}
		log := o.Logger
		shown := mcpclient.RedactURLText(c.JWKS)
		v.kf, err = keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKS}, keyfunc.Override{
			Client:          client,
			HTTPTimeout:     jwksTimeout,
			RefreshInterval: o.RefreshInterval,
			RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					if !errors.Is(err, context.Canceled) {
						log.Warn("fetching the JWKS failed; tokens signed by keys not yet fetched are refused", "jwks", shown, "error", err)
					}
				}
			},
			// A token naming an unknown key id fetches the set again, at
			// most once a minute; other such tokens are refused at once
			// rather than wait.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
			RateLimitWaitMax:  time.Millisecond,
		})
		if err != nil {
			return nil, &ConfigError{Key: "auth.jwt.jwks", Msg: err.Error()}
		}
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(jwtMethods),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(o.Now),
	)
	return v, nil
}

// invalidToken is a 401 saying why a token was refused.
func invalidToken(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: CodeInvalidToken, Message: "invalid token: " + msg}
}

// verify checks a JWT and returns its principal.
func (v *jwtVerifier) verify(ctx context.Context, raw string) (*Principal, error) {
	alg, kid := tokenHeader(raw)
	if alg != "" && !slices.Contains(jwtMethods, alg) {
		return nil, invalidToken(fmt.Sprintf("the signing algorithm %q is not accepted (%s)", clip(alg), strings.Join(jwtMethods, ", ")))
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, v.kf.KeyfuncCtx(ctx))
	if err != nil {
		return nil, v.explain(err, kid)
	}
	name := claimStrings(claims, v.cfg.NameClaim)
	if len(name) == 0 || strings.TrimSpace(name[0]) == "" {
		return nil, invalidToken(fmt.Sprintf("the token has no %q claim to name the caller", v.cfg.NameClaim))
	}
	p := &Principal{Name: name[0], Source: SourceJWT}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.Expires = exp.Time
	}
	if v.cfg.PolicyClaim == "" {
		p.Policy = v.policies[v.cfg.DefaultPolicy] // nil: full access
		return p, nil
	}
	for _, val := range claimStrings(claims, v.cfg.PolicyClaim) {
		if pol := v.policies[val]; pol != nil {
			p.Policy = pol
			return p, nil
		}
	}
	if v.cfg.DefaultPolicy != "" {
		p.Policy = v.policies[v.cfg.DefaultPolicy]
		return p, nil
	}
	return nil, &Error{Status: http.StatusForbidden, Type: TypePermission, Code: CodeNoPolicy,
		Message: fmt.Sprintf("the token is valid but its %q claim names no policy of this bridge", v.cfg.PolicyClaim)}
}

// explain turns a verification error into a 401 saying why.
func (v *jwtVerifier) explain(err error, kid string) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken("malformed")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalidToken("expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalidToken("not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalidToken(fmt.Sprintf("wrong audience (want %q)", v.cfg.Audience))
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalidToken(fmt.Sprintf("wrong issuer (want %q)", v.cfg.Issuer))
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalidToken("no exp claim: tokens must expire")
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return invalidToken(fmt.Sprintf("unknown key id %q: no key of the JWKS has it", clip(kid)))
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		if kid != "" {
			return invalidToken(fmt.Sprintf("no usable key for key id %q in the JWKS", clip(kid)))
		}
		return invalidToken("no key of the JWKS can verify it")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidToken("bad signature")
	}
	return invalidToken("claims are not valid")
}

// clip bounds a value taken from a token's header before it is shown.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// tokenHeader returns the alg and kid of a JWT's header, "" when absent
// or unreadable. Nothing is trusted: it only words errors and refuses
// algorithms early.
func tokenHeader(raw string) (alg, kid string) {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	if err != nil {
		return "", ""
	}
	var hdr struct {
		Alg any `json:"alg"`
		Kid any `json:"kid"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return "", ""
	}
	alg, _ = hdr.Alg.(string)
	kid, _ = hdr.Kid.(string)
	if hdr.Alg != nil && alg == "" {
		alg = fmt.Sprint(hdr.Alg)
	}
	return alg, kid
}

// claimStrings returns the values of a claim: a string (also split on
// spaces, as scope is), or a list of strings. A dotted name that is not
// a claim itself looks into nested objects ("realm_access.roles").
func claimStrings(claims map[string]any, name string) []string {
	v, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		var cur any = claims
		for _, part := range strings.Split(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				cur = nil
				break
			}
			cur = m[part]
		}
		v = cur
	}
	switch v := v.(type) {
	case string:
		// The value as sent, then its words when they differ from it:
		// a space-separated list, or one word with spaces around it.
		out := []string{v}
		if f := strings.Fields(v); len(f) != 1 || f[0] != v {
			out = append(out, f...)
		}
		return out
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
