package mcpclient

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// How much of a stdio server's stderr an error quotes as the cause of a
// failure: the last few meaningful lines.
const (
	causeLines = 5
	causeBytes = 500
)

// redactor hides what a server's configuration holds secret in the texts
// shown about it: the configured secrets, the server's env and header
// values, and its URL's user information and query.
type redactor struct {
	secrets []string
	urls    []string // forms of the URL as errors quote it, longest first
	safeURL string   // what they become
}

func newRedactor(cfg ServerConfig, secrets []string) *redactor {
	r := &redactor{secrets: slices.Clone(secrets)}
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		r.secrets = append(r.secrets, cfg.Env[k])
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Headers)) {
		r.secrets = append(r.secrets, cfg.Headers[k])
	}
	if u, err := url.Parse(cfg.URL); cfg.URL != "" && err == nil {
		r.addURL(cfg.URL, u)
	}
	// Longest first, so that a form is not cut by a shorter one inside it.
	slices.SortFunc(r.urls, func(a, b string) int { return len(b) - len(a) })
	// Longest first, so that a secret that holds another is hidden whole.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// addURL adds the server's URL: its forms as errors quote it, and the
// secrets in its user information and query.
func (r *redactor) addURL(raw string, u *url.URL) {
	r.safeURL = RedactURL(u)
	r.urls = []string{raw, u.String()}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			r.secrets = append(r.secrets, pw, url.QueryEscape(pw))
			// net/http quotes the URL with the password replaced so.
			r.urls = append(r.urls, strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			r.secrets = append(r.secrets, v, url.QueryEscape(v))
		}
	}
	if u.RawQuery != "" {
		r.secrets = append(r.secrets, u.RawQuery)
	}
}

// redact returns s with the server's URL shown without its secret parts
// and every secret of at least 4 bytes replaced by "[redacted]".
func (r *redactor) redact(s string) string {
	for _, u := range r.urls {
		s = strings.ReplaceAll(s, u, r.safeURL)
	}
	return Redact(s, r.secrets)
}

// stderrCause returns the last meaningful lines of a stdio server's stderr
// on one line, " | " between them: at most causeLines lines and about
// causeBytes bytes. Blank lines, stack frames ("at f (file:1:2)") and lines
// of punctuation alone are left out.
func stderrCause(tail string) string {
	var lines []string
	size := 0
	rest := strings.TrimRight(tail, "\n")
	for rest != "" && len(lines) < causeLines && size < causeBytes {
		var line string
		if i := strings.LastIndexByte(rest, '\n'); i >= 0 {
			rest, line = rest[:i], rest[i+1:]
		} else {
			rest, line = "", rest
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "at ") || !strings.ContainsFunc(line, isAlnum) {
			continue
		}
		if r := []rune(line); size+len(line) > causeBytes && len(r) > 100 {
			line = "..." + string(r[len(r)-100:])
		}
		lines = append(lines, line)
		size += len(line)
	}
	slices.Reverse(lines)
	return strings.Join(lines, " | ")
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
