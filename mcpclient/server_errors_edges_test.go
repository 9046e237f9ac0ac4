package mcpclient

import (
	"strings"
	"testing"
)

// The cause quoted from a stdio server's stderr holds about causeBytes
// bytes: a last line of exactly that size is quoted whole and alone, and a
// line of exactly 100 runes is not cut even when it goes over the budget.
func TestStderrCauseBounds(t *testing.T) {
	full := strings.Repeat("z", causeBytes)
	hundred := strings.Repeat("a", 100)
	tests := []struct {
		name, tail, want string
	}{
		{"a last line of exactly causeBytes is whole and alone", "earlier\n" + full + "\n", full},
		{"a line of exactly 100 runes over the budget is not cut",
			hundred + "\n" + strings.Repeat("b", 450) + "\n", hundred + " | " + strings.Repeat("b", 450)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stderrCause(tt.tail); got != tt.want {
				t.Errorf("stderrCause = %q, want %q", got, tt.want)
			}
		})
	}
}

// A secret that holds another, shorter one is hidden whole, whatever the
// order the configuration gives them in: hiding the shorter first would
// leave the rest of the longer one in the text.
func TestRedactorLongestSecretFirst(t *testing.T) {
	r := newRedactor(ServerConfig{Env: map[string]string{"A": "tok1", "B": "tok1-and-the-rest"}}, []string{"abcd", "abcd-efgh-ijkl"})
	got := r.redact("env tok1-and-the-rest; configured abcd-efgh-ijkl")
	if want := "env [redacted]; configured [redacted]"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

// A URL's query is hidden whole too, also where it is written with
// escapes that neither its decoded values nor their re-escaped forms match.
func TestRedactorRawQuery(t *testing.T) {
	r := newRedactor(ServerConfig{URL: "http://host/mcp?key=%53ECRET123"}, nil)
	if got, want := r.redact("sent key=%53ECRET123"), "sent [redacted]"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}
