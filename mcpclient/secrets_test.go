package mcpclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

func TestRedactText(t *testing.T) {
	secrets := []string{"sk-live-123456", "abc"} // "abc" is too short to redact
	tests := []struct {
		name, in, want string
	}{
		{"plain", "nothing to see", "nothing to see"},
		{"configured secret", "key sk-live-123456 refused", "key [redacted] refused"},
		{"short secrets are kept", "abc", "abc"},
		{"userinfo", `dial https://bob:hunter2@example.com:8443/mcp failed`, `dial https://[redacted]@example.com:8443/mcp failed`},
		{"token as user", `git clone https://ghp_XYZ@github.com/a/b`, `git clone https://[redacted]@github.com/a/b`},
		{"userinfo in quotes", `url="wss://u:p@h/ws"`, `url="wss://[redacted]@h/ws"`},
		{"email is not a URL", "mail bob@example.com", "mail bob@example.com"},
		{"at sign in the path is kept", "https://example.com/users/@me", "https://example.com/users/@me"},
		{"secret parameters", `GET https://h/p?api_key=K1&q=cats&token=T2&sig=S3#frag`, `GET https://h/p?api_key=[redacted]&q=cats&token=[redacted]&sig=[redacted]#frag`},
		{"names are matched without case and with prefixes", `?APIKEY=a&Access_Token=b&client_secret=c&x-api-key=d&password=e&signature=f&auth=g&code=h&key=i&apikey=j&secret=k`,
			`?APIKEY=[redacted]&Access_Token=[redacted]&client_secret=[redacted]&x-api-key=[redacted]&password=[redacted]&signature=[redacted]&auth=[redacted]&code=[redacted]&key=[redacted]&apikey=[redacted]&secret=[redacted]`},
		{"other parameters are kept", `https://h/p?monkey=1&keyword=2&page=3`, `https://h/p?monkey=1&keyword=2&page=3`},
		{"query without a scheme", `POST /v1/x?token=abc123 404`, `POST /v1/x?token=[redacted] 404`},
		{"both", `Get "https://u:p@h/sse?access_token=zzz": EOF`, `Get "https://[redacted]@h/sse?access_token=[redacted]": EOF`},
		{"idempotent", `https://[redacted]@h/?token=[redacted]`, `https://[redacted]@h/?token=[redacted]`},
	}
	for _, tt := range tests {
		if got := mcpclient.RedactText(tt.in, secrets); got != tt.want {
			t.Errorf("%s: RedactText(%q) =\n%q, want\n%q", tt.name, tt.in, got, tt.want)
		}
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.StringValue(v.s) }

func TestRedactingHandler(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	var buf bytes.Buffer
	log := slog.New(mcpclient.NewRedactingHandler(slog.NewJSONHandler(&buf, nil), []string{secret}))
	u, _ := url.Parse("https://user:" + secret + "@example.com/x")

	log.With("with", "w-"+secret).WithGroup("g").Info("msg "+secret,
		"attr", "a-"+secret,
		slog.Group("grp", "inner", "i-"+secret, slog.Group("deeper", "x", "d-"+secret)),
		"err", fmt.Errorf("calling: %w", errors.New("e-"+secret)),
		"stringer", stringer{"st-" + secret},
		"valuer", valuer{"v-" + secret},
		"url", u,
		"bytes", []byte("b-"+secret),
		"map", map[string]string{"k": "m-" + secret},
		"link", "see https://example.com/?token=tok-123",
		"n", 42,
	)
	out := buf.String()
	if strings.Contains(out, secret) || strings.Contains(out, "tok-123") {
		t.Fatalf("a secret reached the log: %s", out)
	}
	for _, want := range []string{
		`"msg":"msg [redacted]"`, `"with":"w-[redacted]"`, `"attr":"a-[redacted]"`,
		`"grp":{"inner":"i-[redacted]","deeper":{"x":"d-[redacted]"}}`, `"err":"calling: e-[redacted]"`,
		`"stringer":"st-[redacted]"`, `"valuer":"v-[redacted]"`, `"url":"https://[redacted]@example.com/x"`,
		`"bytes":"b-[redacted]"`, `"map":"map[k:m-[redacted]]"`, `"link":"see https://example.com/?token=[redacted]"`,
		`"g":{`, `"n":42`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
