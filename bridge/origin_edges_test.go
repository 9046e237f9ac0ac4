package bridge

import "testing"

// TestNormalizeOriginDefaultPorts checks only a scheme's own default port
// is dropped, so that an origin listed without it matches one sent with
// it, and a port of the other scheme stays part of the origin.
func TestNormalizeOriginDefaultPorts(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://ui.example:80", "http://ui.example"},
		{"https://ui.example:443", "https://ui.example"},
		{"https://ui.example:80", "https://ui.example:80"},
		{"http://ui.example:443", "http://ui.example:443"},
		{"HTTP://UI.example:8080", "http://ui.example:8080"},
	} {
		if got, ok := normalizeOrigin(c.in); !ok || got != c.want {
			t.Errorf("normalizeOrigin(%q) = %q, %v, want %q", c.in, got, ok, c.want)
		}
	}
	p := newOriginPolicy([]string{"http://ui.example"}, nil, true)
	if !p.originAllowed("http://ui.example:80", "127.0.0.1:9090") || p.originAllowed("https://ui.example:80", "127.0.0.1:9090") {
		t.Error("a listed origin is not matched by its default port alone")
	}
}
