package observe

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Argument settings of the audit log (AuditOptions.Arguments).
const (
	ArgumentsNone     = "none"
	ArgumentsRedacted = "redacted"
	ArgumentsFull     = "full"
)

// maxValueBytes bounds each string value of redacted arguments.
const maxValueBytes = 2 << 10

// masked replaces the value of a secret-looking key.
const masked = "[redacted]"

// secretWords are the parts of key names whose values are masked.
var secretWords = []string{"token", "secret", "password", "passwd", "passphrase", "authorization", "apikey",
	"api_key", "api-key", "credential", "private_key", "privatekey", "cookie", "session_id", "sessionid", "bearer"}

// secretKey reports whether an argument named k looks like it holds a
// secret: "key", "*_key", "*Key", or a name containing a secretWords entry.
func secretKey(k string) bool {
	l := strings.ToLower(k)
	if l == "key" || strings.HasSuffix(l, "_key") || strings.HasSuffix(l, "-key") || strings.HasSuffix(l, ".key") ||
		(strings.HasSuffix(k, "Key") && len(k) > 3) {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// RedactArguments returns tool arguments as the audit log shows them:
// the values of secret-looking keys masked at any depth, the secrets
// removed from every string with credentials in URLs (mcpclient.RedactText), and each string cut at
// 2 KiB. Arguments that are not JSON become one such string.
func RedactArguments(args json.RawMessage, secrets []string) json.RawMessage {
	var v any
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	if err := json.Unmarshal(args, &v); err != nil {
		v = string(args)
	}
	b, err := json.Marshal(redactValue(v, secrets))
	if err != nil {
		return json.RawMessage(`"[unprintable]"`)
	}
	return b
}

func redactValue(v any, secrets []string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secretKey(k) {
				v[k] = masked
			} else {
				v[k] = redactValue(x, secrets)
			}
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = redactValue(x, secrets)
		}
		return v
	case string:
		return cut(mcpclient.RedactText(v, secrets), maxValueBytes)
	}
	return v
}

// cut shortens s to at most n bytes on a character boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…[cut]"
}
