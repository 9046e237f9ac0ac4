package mcpclient

import (
	"net/url"
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
