// Package console is the bridge's web console: a page served at /ui/ that
// shows the MCP servers, lets a person try the tools, follows the activity
// feed and talks to the models, all through the bridge's own routes.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no
// build step, nothing fetched from elsewhere). The files hold no data:
// they are served to anyone the origin and host policy lets through, and
// every piece of data the page shows comes from routes behind the keys
// (/v1/models, /v1/events, /openapi.json, /mcp, /v1/chat/completions and
// Servers below), with the key the person typed, which the page keeps in
// the tab's sessionStorage and sends in the Authorization header, never
// in a URL.
//
// The package knows nothing of the bridge's HTTP server: the bridge mounts
// [Handler] and [Servers], and adds a [Latency] to its observers.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed web
var web embed.FS

// Prefix is the path the console is served under.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every file of the console: scripts,
// styles and connections of the bridge's own origin only (no inline
// script, no eval), images of the origin or of data: URLs (tool results
// carry images as base64), no plugins, no frames either way, no forms
// posted anywhere.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Files returns the console's files, rooted at the directory served as
// Prefix.
func Files() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	return sub
}

// Handler serves the console's files under Prefix with the headers that
// keep the page to itself (see ContentSecurityPolicy, plus nosniff, no
// framing, no referrer, revalidation on every load, answered 304 while
// the file's ETag, a digest of its content, matches). A path that names
// no file is answered 404; directories other than the root are not
// listed. It is safe for concurrent use.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	root := Files()
	etags := map[string]string{} // by name; "" is the root's index.html
	_ = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	etags[""] = etags["index.html"]
	return http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		SecurityHeaders(h)
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "." {
			if st, err := fs.Stat(root, name); err != nil || st.IsDir() {
				http.NotFound(w, r)
				return
			}
		} else {
			name = ""
		}
		if tag := etags[name]; tag != "" {
			h.Set("ETag", tag) // the file server answers If-None-Match with it
		}
		files.ServeHTTP(w, r)
	}))
}

// SecurityHeaders sets the console's response headers on h (see Handler),
// replacing any values of the same names.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}
