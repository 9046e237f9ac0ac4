package auth

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// MetadataPath is where the protected resource metadata (RFC 9728) is
// served. A resource at a path (the MCP face at /mcp) has its document at
// MetadataPath + that path (/.well-known/oauth-protected-resource/mcp),
// as RFC 9728 and the MCP authorization spec say; MetadataPath itself
// describes the bridge's root.
const MetadataPath = "/.well-known/oauth-protected-resource"

// baseURL is the bridge's URL as the request saw it (or as configured),
// without a trailing slash.
func (a *Authenticator) baseURL(r *http.Request) string {
	if a.opts.ResourceURL != "" {
		return strings.TrimRight(a.opts.ResourceURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ResourceMetadataURL is the URL of the protected resource metadata of
// the resource r was sent to (its path: /mcp, /sse, ...).
func (a *Authenticator) ResourceMetadataURL(r *http.Request) string {
	p := strings.TrimRight(r.URL.Path, "/")
	if strings.HasPrefix(p, MetadataPath) {
		p = ""
	}
	return a.baseURL(r) + MetadataPath + p
}

// WWWAuthenticate is the WWW-Authenticate value of a 401 for r:
// `Bearer resource_metadata="<url>"`, with error="<oauthErr>" when not
// empty (RFC 6750: "invalid_token" when a credential was refused).
func (a *Authenticator) WWWAuthenticate(r *http.Request, oauthErr string) string {
	v := `Bearer resource_metadata="` + a.ResourceMetadataURL(r) + `"`
	if oauthErr != "" {
		v += `, error="` + oauthErr + `"`
	}
	return v
}

// MetadataHandler serves the protected resource metadata (RFC 9728) at
// MetadataPath and below it: resource is the bridge's URL followed by the
// path after MetadataPath, authorization_servers the JWT issuer,
// bearer_methods_supported ["header"]. It answers 404 when JWT is not
// configured. Mount it for MetadataPath and MetadataPath + "/*"; it
// needs no credentials.
func (a *Authenticator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.JWT() || !strings.HasPrefix(r.URL.Path, MetadataPath) {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest := strings.TrimRight(strings.TrimPrefix(r.URL.Path, MetadataPath), "/")
		if rest != "" && !strings.HasPrefix(rest, "/") {
			http.NotFound(w, r)
			return
		}
		resource := a.baseURL(r) + rest
		body, _ := json.Marshal(&oauthex.ProtectedResourceMetadata{
			Resource:               resource,
			AuthorizationServers:   []string{a.jwt.cfg.Issuer},
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "mcp-bridge",
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(body)
	})
}
