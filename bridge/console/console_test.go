package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandlerServesThePageWithItsHeaders(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, ctype, has string }{
		{"/ui/", "text/html", `<script src="app.js" defer></script>`},
		{"/ui/index.html", "", ""}, // redirected to /ui/ by the file server
		{"/ui/app.js", "text/javascript", "textContent"},
		{"/ui/style.css", "text/css", "prefers-color-scheme: dark"},
	} {
		resp := get(t, h, "GET", tc.path)
		body, _ := io.ReadAll(resp.Body)
		if tc.ctype == "" {
			if resp.StatusCode != http.StatusMovedPermanently {
				t.Errorf("%s: %d", tc.path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.has) {
			t.Errorf("%s: %d %q, body has %q: %t", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.has, strings.Contains(string(body), tc.has))
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-cache",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s is %q, want %q", tc.path, k, got, want)
			}
		}
	}
	csp := ContentSecurityPolicy
	for _, must := range []string{"default-src 'self'", "script-src 'self';", "frame-ancestors 'none'", "object-src 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, must) {
			t.Errorf("the CSP lacks %q: %s", must, csp)
		}
	}
	for _, never := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(csp, never) {
			t.Errorf("the CSP allows %q: %s", never, csp)
		}
	}
}

func TestHandlerRefusesWhatIsNotAFile(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/nope.js", "/ui/web/app.js", "/ui/../console.go", "/ui/%2e%2e/console.go"} {
		if resp := get(t, h, "GET", path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/ui/"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("POST /ui/: %d", resp.StatusCode)
	}
}

// TestFilesStayOnTheBridge reads the embedded files as an attacker would
// want them written, and finds none of it: no inline script or style the
// CSP would have to allow, no event handler attributes, no address of
// another host, and no API that turns a string into HTML or code, so that
// what a server says (a tool's description, an error, a result) can only
// ever be shown as text.
func TestFilesStayOnTheBridge(t *testing.T) {
	files := Files()
	names, err := fs.Glob(files, "*")
	if err != nil || len(names) < 3 {
		t.Fatalf("files %v: %v", names, err)
	}
	url := regexp.MustCompile(`(?i)\b(?:https?|wss?|ftp):\/\/[^\s"'<>)]*|//[a-z0-9.-]+\.[a-z]{2,}/`)
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, u := range url.FindAllString(text, -1) {
			if u != "http://www.w3.org/2000/svg" { // a namespace name, never fetched
				t.Errorf("%s names another host: %s", name, u)
			}
		}
		switch {
		case strings.HasSuffix(name, ".html"):
			for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(text, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s has an inline script: %s", name, m[0])
				}
			}
			if regexp.MustCompile(`(?i)<style\b|\sstyle=|\son[a-z]+=|javascript:`).MatchString(text) {
				t.Errorf("%s has inline style, an event handler attribute or a javascript: URL", name)
			}
		case strings.HasSuffix(name, ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
				"setTimeout(\"", "srcdoc", "createContextualFragment", "DOMParser", "localStorage", "?key=", "&key="} {
				if strings.Contains(text, bad) {
					t.Errorf("%s uses %s", name, bad)
				}
			}
		}
	}
}

func TestHandlerRevalidatesByContent(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		first := get(t, h, "GET", path)
		tag := first.Header.Get("ETag")
		if len(tag) < 10 || !strings.HasPrefix(tag, `"`) {
			t.Fatalf("%s: ETag %q", path, tag)
		}
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("If-None-Match", tag)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("%s with its ETag: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
		req.Header.Set("If-None-Match", `"stale"`)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("%s with a stale ETag: %d", path, rec.Code)
		}
	}
	if a, b := get(t, h, "GET", "/ui/app.js").Header.Get("ETag"), get(t, h, "GET", "/ui/style.css").Header.Get("ETag"); a == b {
		t.Errorf("two files, one ETag %s", a)
	}
}
