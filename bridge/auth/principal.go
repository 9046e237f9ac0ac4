// Package auth decides who a request comes from and what it may use:
// identities (named API keys, stored plain or as SHA-256 digests, and JWTs
// verified against a JWKS), the policies they carry (servers, tools,
// models, limits), the per-request narrowing headers, and the limits
// themselves (request and tool-call rates, token budgets, concurrent
// streams) behind a small interface.
//
// It does no routing: the bridge's middleware calls
// [Authenticator.Authenticate] and [Narrow] once per request, puts the
// resulting [Principal] in the request's context with [NewContext], and
// every route asks it ([Principal.AllowsServer], [Principal.AllowsTool],
// [Principal.AllowsModel]).
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Sources of a Principal.
const (
	SourceKey       = "key"
	SourceJWT       = "jwt"
	SourceAnonymous = "anonymous"
)

// Principal is who a request comes from and what it may use.
//
// A Principal returned by [Authenticator.Authenticate] is shared between
// requests: it must not be modified. [Narrow] returns a copy. The methods
// are safe for concurrent use. A nil *Principal has full access.
type Principal struct {
	// Name identifies the caller in logs, audit, metrics and events: a
	// key's name, or a JWT's name claim. It is never a secret.
	Name string
	// Policy is what the caller may use; nil means full access.
	Policy *Policy
	// Source is how the caller was identified: SourceKey, SourceJWT or
	// SourceAnonymous.
	Source string
	// UpstreamAPIKey, when not empty, is sent upstream instead of the
	// configured upstream key. It is a secret.
	UpstreamAPIKey string
	// Expires is when the credential stops being valid (a JWT's exp);
	// zero for a key, which holds until the configuration drops it. A
	// connection that outlives its request (a WebSocket session) ends
	// then.
	Expires time.Time

	// narrow is set by Narrow: the caller's own restriction of its view.
	narrow *narrowing
	// view identifies the tool view (see ViewKey).
	view string
}

// Anonymous is the principal of requests when no keys and no JWT are
// configured: full access.
var anonymous = &Principal{Name: "anonymous", Source: SourceAnonymous}

// Anonymous returns the full-access principal of requests that carry no
// identity because none is required.
func Anonymous() *Principal { return anonymous }

type contextKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the principal ctx carries, or the anonymous
// full-access principal when it carries none (auth is off, or the request
// did not pass the auth middleware: only routes outside auth, such as
// health checks, may rely on that).
func FromContext(ctx context.Context) *Principal {
	if p, ok := ctx.Value(contextKey{}).(*Principal); ok && p != nil {
		return p
	}
	return anonymous
}

// AllowsServer reports whether the caller may use the server (an
// mcpServers or openapiServers name) at all: its policy's servers and
// the X-MCP-Servers header. Resources and prompts ask this; tools ask
// AllowsTool.
func (p *Principal) AllowsServer(name string) bool {
	if p == nil {
		return true
	}
	if !p.Policy.AllowsServer(name) {
		return false
	}
	return p.narrow.allowsServer(name)
}

// AllowsTool reports whether the caller may see and call the tool exposed
// as exposedName by server. The policy's deny globs win; then its servers,
// then its tools; then the narrowing headers, which can only take away.
func (p *Principal) AllowsTool(exposedName, server string) bool {
	if p == nil {
		return true
	}
	if !p.Policy.AllowsTool(exposedName, server) {
		return false
	}
	return p.narrow.allowsTool(exposedName, server)
}

// AllowsModel reports whether the caller may ask for the model.
func (p *Principal) AllowsModel(model string) bool {
	if p == nil {
		return true
	}
	return p.Policy.AllowsModel(model)
}

// ViewKey identifies the set of tools, servers, resources and prompts the
// caller sees: two principals with one ViewKey see the same things, so a
// route can cache one toolset (or one MCP server) per key. "" is the full
// view (no policy restricting tools or servers, no narrowing).
func (p *Principal) ViewKey() string {
	if p == nil {
		return ""
	}
	if p.narrow != nil {
		return p.view
	}
	return p.Policy.viewKey()
}

// LimitKey is the identity limits are counted against: one bucket per
// source and name, so that a key and a JWT subject of the same name do
// not share.
func (p *Principal) LimitKey() string {
	if p == nil {
		return SourceAnonymous + ":"
	}
	return p.Source + ":" + p.Name
}

// viewHash is a short stable digest of the parts of a view.
func viewHash(parts ...[]string) string {
	h := sha256.New()
	for _, ps := range parts {
		s := slices.Clone(ps)
		slices.Sort(s)
		s = slices.Compact(s)
		h.Write([]byte(strings.Join(s, "\x00")))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
