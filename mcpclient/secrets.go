package mcpclient

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redact replaces every secret of at least 4 bytes in s with "[redacted]",
// for messages that may quote configuration (keys, header values) back.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// RedactURL returns u without user information, query and fragment, which
// may hold secrets.
func RedactURL(u *url.URL) string {
	v := *u
	v.User = nil
	v.RawQuery = ""
	v.ForceQuery = false
	v.Fragment = ""
	return v.String()
}

// RedactURLText is RedactURL of a URL written as text, and says
// "(unparseable URL)" for text that does not parse, which may hold a secret
// all the same.
func RedactURLText(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return RedactURL(u)
}

// secretParam matches a query parameter whose name looks secret, with its
// value: "?api_key=...", "&access_token=...", "&client_secret=...". The
// value ends at the next parameter, fragment, quote or space.
var secretParam = regexp.MustCompile(`(?i)([?&;](?:[a-z0-9]+[_.-])*(?:key|api_key|apikey|token|access_token|secret|password|passwd|sig|signature|auth|code)=)[^&;#\s"'<>]*`)

// urlUserinfo matches the user information of a URL: "scheme://user:pass@"
// or "scheme://token@".
var urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@"'<>]+@`)

// RedactText is [Redact] followed by scrubbing credentials from URLs inside
// s: the user information of "scheme://user:pass@host" and the values of
// query parameters whose names look secret (key, api_key, apikey, token,
// access_token, secret, password, sig, signature, auth, code, also with a
// prefix such as client_secret or x-api-key) become "[redacted]". It is for
// text that may quote configuration or URLs back: log messages, errors.
func RedactText(s string, secrets []string) string {
	s = Redact(s, secrets)
	if !strings.Contains(s, "://") && !strings.ContainsAny(s, "?&;") {
		return s
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}[redacted]@")
	return secretParam.ReplaceAllString(s, "${1}[redacted]")
}

// NewRedactingHandler returns a handler that passes records to h after
// running the message and every string in their attributes through
// [RedactText]: string values, the text of errors and fmt.Stringers, values
// of slog.LogValuers, attributes in groups and those added with WithAttrs.
// Other values are redacted when their printed form holds something to
// redact, and then logged as that redacted text. A nil or empty secrets
// still scrubs URLs. The handler is safe for concurrent use if h is.
func NewRedactingHandler(h slog.Handler, secrets []string) slog.Handler {
	return &redactingHandler{h: h, secrets: slices.Clone(secrets)}
}

type redactingHandler struct {
	h       slog.Handler
	secrets []string
}

func (r *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return r.h.Enabled(ctx, level)
}

func (r *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, RedactText(rec.Message, r.secrets), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = r.attr(a)
	}
	return &redactingHandler{h: r.h.WithAttrs(red), secrets: r.secrets}
}

func (r *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{h: r.h.WithGroup(name), secrets: r.secrets}
}

// attr returns a with its value redacted.
func (r *redactingHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, RedactText(v.String(), r.secrets))
	case slog.KindGroup:
		group := v.Group()
		red := make([]slog.Attr, len(group))
		for i, g := range group {
			red[i] = r.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, RedactText(x.Error(), r.secrets))
		case fmt.Stringer:
			return slog.String(a.Key, RedactText(x.String(), r.secrets))
		case []byte:
			return slog.String(a.Key, RedactText(string(x), r.secrets))
		case nil:
			return slog.Attr{Key: a.Key, Value: v}
		default:
			s := fmt.Sprintf("%+v", x)
			if red := RedactText(s, r.secrets); red != s {
				return slog.String(a.Key, red)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
