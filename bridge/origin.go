package bridge

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
)

// originPolicy is the one place that decides which browsers and which Host
// names may reach the bridge. It runs before routing, for every route: a
// web page the user happens to visit must never be able to run a tool or
// read an answer, whether it calls the bridge directly (cross-site
// requests, "simple" requests without a preflight) or through DNS
// rebinding (its own name resolving to 127.0.0.1).
//
// The rules:
//   - A request with an Origin passes when that origin is in the allowed
//     list, is on a loopback host, or is the bridge itself (the origin's
//     host equals a Host header that passed the Host check below by being
//     loopback or listed). Anything else is refused with 403 before a
//     handler runs. Requests without an Origin (curl, SDKs, servers) pass,
//     unless the browser says they are cross-site (Sec-Fetch-Site).
//   - While the bridge listens on loopback, or when allowed hosts are
//     configured, the Host header must be a loopback name or address or
//     one of the allowed hosts.
//   - CORS headers are sent only to allowed origins; preflights from
//     other origins are refused.
//   - POST bodies must be JSON (415 otherwise, see requireJSON), so that a
//     form or a text/plain "simple" request never reaches a handler.
//
// It is safe for concurrent use.
type originPolicy struct {
	anyOrigin bool
	origins   map[string]bool // normalised "scheme://host[:port]"
	anyHost   bool
	hosts     map[string]bool // lower-case "name" (any port) or "name:port"
	// checkHost is set when the Host header is checked: the bridge
	// listens on loopback, or allowed hosts are configured.
	checkHost bool
}

// newOriginPolicy builds the policy from the configured origins and hosts.
// loopbackOnly says the bridge listens on a loopback address only.
func newOriginPolicy(origins, hosts []string, loopbackOnly bool) *originPolicy {
	p := &originPolicy{origins: map[string]bool{}, hosts: map[string]bool{}, checkHost: loopbackOnly || len(hosts) > 0}
	for _, o := range origins {
		if o = strings.TrimSpace(o); o == "*" {
			p.anyOrigin = true
		} else if n, ok := normalizeOrigin(o); ok {
			p.origins[n] = true
		}
	}
	for _, h := range hosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h == "*" {
			p.anyHost = true
		} else if h != "" {
			p.hosts[h] = true
		}
	}
	return p
}

// normalizeOrigin returns origin as "scheme://host[:port]", lower case,
// without a default port; ok is false when origin is not a URL with a
// scheme and a host ("null" included).
func normalizeOrigin(origin string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// hostAllowed reports whether a Host header value passes: a loopback name
// or address, or a listed host (by name, any port, or name:port). When
// the Host header is not checked, every host passes.
func (p *originPolicy) hostAllowed(hostport string) bool {
	if !p.checkHost {
		return true
	}
	return p.hostListed(hostport)
}

// hostListed reports whether hostport is loopback or in the allowed hosts.
func (p *originPolicy) hostListed(hostport string) bool {
	if p.anyHost {
		return true
	}
	hostport = strings.ToLower(hostport)
	name := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	return auth.IsLoopbackHost(name) || p.hosts[name] || p.hosts[hostport]
}

// originAllowed reports whether a browser page of origin may use the
// bridge, which it reached under the Host header host.
func (p *originPolicy) originAllowed(origin, host string) bool {
	n, ok := normalizeOrigin(origin)
	if !ok {
		return false
	}
	if p.anyOrigin || p.origins[n] {
		return true
	}
	u, _ := url.Parse(n)
	if auth.IsLoopbackHost(strings.Trim(u.Hostname(), "[]")) {
		return true
	}
	// The bridge's own pages (a console behind a proxy): same origin, and
	// that host is one the Host check vouches for, so a rebinding name
	// (whose Origin equals its Host too) does not pass.
	self, ok := normalizeOrigin(u.Scheme + "://" + host)
	return ok && self == n && p.hostListed(host)
}

// Headers that browsers may send to the bridge and read from it.
var (
	corsAllowHeaders  = "Authorization, Content-Type, X-Api-Key, If-None-Match, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, Accept"
	corsExposeHeaders = "ETag, Mcp-Session-Id, Mcp-Protocol-Version, X-Request-Id"
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
)

// middleware enforces the policy. Refusals are answered in the OpenAI
// error shape; preflights of allowed origins are answered here.
func (p *originPolicy) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, h := c.Request(), c.Response().Header()
		if !p.hostAllowed(req.Host) {
			return &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "host_not_allowed",
				Message: "host " + strconv.Quote(req.Host) + " is not allowed: the bridge answers to loopback names; " +
					"add the name clients use to cors.allowed_hosts"}
		}
		origin := req.Header.Get("Origin")
		if origin == "" {
			// Browsers send Origin on every cross-origin request that can
			// carry a body; Sec-Fetch-Site catches the rest (navigations,
			// images) from pages of other sites.
			if req.Header.Get("Sec-Fetch-Site") == "cross-site" {
				return originRefused("a page of another site")
			}
		} else {
			h.Add("Vary", "Origin")
			if !p.originAllowed(origin, req.Host) {
				return originRefused("origin " + strconv.Quote(origin))
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				if req.Header.Get("Access-Control-Request-Private-Network") == "true" {
					h.Set("Access-Control-Allow-Private-Network", "true")
				}
				return c.NoContent(http.StatusNoContent)
			}
		}
		return next(c)
	}
}

// requireJSON refuses POSTs whose body is not declared JSON (415), so that
// a form or a text/plain "simple" request, which a page may send without a
// preflight, never reaches a handler. It runs after authentication.
func requireJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method == http.MethodPost && !isJSONContentType(req.Header.Get("Content-Type")) {
			c.Response().Header().Set("Connection", "close") // the body is not read
			return &apiError{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error", Code: "unsupported_media_type",
				Message: "the request body must be JSON: send Content-Type: application/json"}
		}
		return next(c)
	}
}

func originRefused(who string) *apiError {
	return &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "origin_not_allowed",
		Message: who + " may not use this bridge; add the origin to cors.allowed_origins if it should"}
}

// isJSONContentType reports whether a Content-Type is application/json or
// a +json type, with any parameters.
func isJSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
