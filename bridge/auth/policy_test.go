package auth

import (
	"errors"
	"net/http"
	"testing"
)

func mustPolicy(t *testing.T, name string, c PolicyConfig) *Policy {
	t.Helper()
	p, err := NewPolicy(name, c)
	if err != nil {
		t.Fatalf("NewPolicy(%s): %v", name, err)
	}
	return p
}

func TestPolicyAllows(t *testing.T) {
	readers := mustPolicy(t, "readers", PolicyConfig{
		Servers: []string{"fs", "docs"},
		Tools:   []string{"fs__read_*", "fs__list_*", "docs__*"},
		Deny:    []string{"*__delete*"},
		Models:  []string{"llama3*", "qwen*", "openai/*"},
	})
	tests := []struct {
		name   string
		p      *Policy
		ask    string // "server", "tool" or "model"
		what   string
		server string
		want   bool
	}{
		{"nil policy allows any tool", nil, "tool", "x__y", "x", true},
		{"nil policy allows any model", nil, "model", "gpt-4o", "", true},
		{"nil policy allows any server", nil, "server", "x", "", true},
		{"listed server", readers, "server", "fs", "", true},
		{"unlisted server", readers, "server", "github", "", false},
		{"tool glob", readers, "tool", "fs__read_file", "fs", true},
		{"tool outside the globs", readers, "tool", "fs__write_file", "fs", false},
		{"tool of an unlisted server", readers, "tool", "gh__read_issue", "gh", false},
		{"tool glob on another server", readers, "tool", "docs__search", "docs", true},
		{"deny wins over tools", readers, "tool", "docs__delete_page", "docs", false},
		{"server with an empty name is not listed", readers, "tool", "fs__read_file", "", false},
		{"model glob", readers, "model", "llama3.1:8b", "", true},
		{"model outside the globs", readers, "model", "gpt-4o", "", false},
		{"model glob across a slash", readers, "model", "openai/gpt-4o", "", true},
		{"empty model", readers, "model", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			switch tc.ask {
			case "server":
				got = tc.p.AllowsServer(tc.what)
			case "tool":
				got = tc.p.AllowsTool(tc.what, tc.server)
			case "model":
				got = tc.p.AllowsModel(tc.what)
			}
			if got != tc.want {
				t.Errorf("Allows %s %q (server %q) = %v, want %v", tc.ask, tc.what, tc.server, got, tc.want)
			}
		})
	}
}

func TestPolicyOnlyDeny(t *testing.T) {
	p := mustPolicy(t, "nodelete", PolicyConfig{Deny: []string{"*__delete*"}})
	if !p.AllowsTool("fs__read_file", "fs") || p.AllowsTool("fs__delete_file", "fs") || !p.AllowsServer("any") {
		t.Errorf("a deny-only policy: read %v delete %v server %v, want true false true",
			p.AllowsTool("fs__read_file", "fs"), p.AllowsTool("fs__delete_file", "fs"), p.AllowsServer("any"))
	}
}

func TestNewPolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		c    PolicyConfig
		key  string
	}{
		{"bad tool glob", PolicyConfig{Tools: []string{"fs__*", "fs__[read"}}, "tools[1]"},
		{"bad server glob", PolicyConfig{Servers: []string{"[a-"}}, "servers[0]"},
		{"bad deny glob", PolicyConfig{Deny: []string{"\\"}}, "deny[0]"},
		{"bad model glob", PolicyConfig{Models: []string{"x", "y[", "z"}}, "models[1]"},
		{"empty glob", PolicyConfig{Tools: []string{" "}}, "tools[0]"},
		{"negative rate", PolicyConfig{Rate: Rate{Requests: -1}}, "rate.requests"},
		{"burst without requests", PolicyConfig{ToolCalls: Rate{Burst: 3}}, "tool_calls.requests"},
		{"negative burst", PolicyConfig{Rate: Rate{Requests: 1, Burst: -1}}, "rate.burst"},
		{"tokens per without limit", PolicyConfig{Tokens: Budget{Per: 3600e9}}, "tokens.limit"},
		{"negative streams", PolicyConfig{MaxStreams: -2}, "max_streams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPolicy("p", tc.c)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("NewPolicy = %v, want a *ConfigError at %s", err, tc.key)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	readers := mustPolicy(t, "readers", PolicyConfig{Servers: []string{"fs", "docs"}, Tools: []string{"fs__read_*", "docs__*"}})
	alice := &Principal{Name: "alice", Source: SourceKey, Policy: readers}
	root := &Principal{Name: "root", Source: SourceKey}
	type check struct {
		tool, server string
		want         bool
	}
	tests := []struct {
		name    string
		p       *Principal
		servers string
		tools   string
		checks  []check
		srv     map[string]bool
	}{
		{"servers narrow a full key", root, "fs, docs", "", []check{
			{"fs__write_file", "fs", true}, {"gh__issue", "gh", false}, {"docs__search", "docs", true}},
			map[string]bool{"fs": true, "gh": false}},
		{"tools narrow a full key", root, "", "fs__read_*,docs__search", []check{
			{"fs__read_file", "fs", true}, {"fs__write_file", "fs", false}, {"docs__search", "docs", true}, {"docs__fetch", "docs", false}},
			map[string]bool{"gh": true}},
		{"none takes every tool", root, "", "none", []check{
			{"fs__read_file", "fs", false}, {"docs__search", "docs", false}},
			map[string]bool{"fs": true}},
		{"None is case-insensitive", root, "", "None", []check{{"fs__read_file", "fs", false}}, nil},
		{"narrowing never widens the policy", alice, "fs,gh", "*", []check{
			{"fs__read_file", "fs", true}, {"fs__write_file", "fs", false}, {"gh__issue", "gh", false}, {"docs__search", "docs", false}},
			map[string]bool{"fs": true, "gh": false, "docs": false}},
		{"tools and servers together", alice, "docs", "docs__search,fs__read_file", []check{
			{"docs__search", "docs", true}, {"fs__read_file", "fs", false}, {"docs__fetch", "docs", false}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.servers != "" {
				h.Set(HeaderServers, tc.servers)
			}
			if tc.tools != "" {
				h.Set(HeaderTools, tc.tools)
			}
			n, err := Narrow(tc.p, h)
			if err != nil {
				t.Fatal(err)
			}
			if n == tc.p {
				t.Fatal("Narrow returned the principal itself although headers were sent")
			}
			for _, c := range tc.checks {
				if got := n.AllowsTool(c.tool, c.server); got != c.want {
					t.Errorf("AllowsTool(%s, %s) = %v, want %v", c.tool, c.server, got, c.want)
				}
			}
			for s, want := range tc.srv {
				if got := n.AllowsServer(s); got != want {
					t.Errorf("AllowsServer(%s) = %v, want %v", s, got, want)
				}
			}
			if n.Name != tc.p.Name || n.Policy != tc.p.Policy {
				t.Errorf("narrowed principal %q/%v, want the original's name and policy", n.Name, n.Policy)
			}
			if tc.p.narrow != nil {
				t.Error("Narrow modified the original principal")
			}
		})
	}
}

func TestNarrowTwiceKeepsBoth(t *testing.T) {
	h1 := hdr(HeaderTools, "fs__read_*")
	h2 := hdr(HeaderTools, "fs__*")
	a, _ := Narrow(&Principal{Name: "x"}, h1)
	b, err := Narrow(a, h2)
	if err != nil {
		t.Fatal(err)
	}
	if b.AllowsTool("fs__write_file", "fs") || !b.AllowsTool("fs__read_file", "fs") {
		t.Error("a second narrowing widened the first")
	}
	if b.ViewKey() == a.ViewKey() {
		t.Error("two different views share a key")
	}
}

func TestNarrowWithoutHeaders(t *testing.T) {
	p := &Principal{Name: "x"}
	n, err := Narrow(p, http.Header{"Other": {"v"}})
	if err != nil || n != p {
		t.Errorf("Narrow without headers = %p, %v; want the principal itself", n, err)
	}
}

func TestNarrowErrors(t *testing.T) {
	for _, h := range []http.Header{
		hdr(HeaderTools, "fs__[x"),
		hdr(HeaderServers, "[a-"),
		hdr(HeaderServers, " , "),
		hdr(HeaderTools, ""),
	} {
		_, err := Narrow(&Principal{}, h)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeInvalidHeader {
			t.Errorf("Narrow(%v) = %v, want a 400 invalid_header", h, err)
		}
	}
}

func TestViewKey(t *testing.T) {
	readers := mustPolicy(t, "readers", PolicyConfig{Tools: []string{"fs__read_*"}})
	readers2 := mustPolicy(t, "readers-too", PolicyConfig{Tools: []string{"fs__read_*"}, Models: []string{"x"}})
	writers := mustPolicy(t, "writers", PolicyConfig{Tools: []string{"fs__*"}})
	noDelete := mustPolicy(t, "nodelete", PolicyConfig{Deny: []string{"*__delete*"}})
	fsNoDelete := mustPolicy(t, "fs-nodelete", PolicyConfig{Servers: []string{"fs"}, Deny: []string{"*__delete*"}})
	onlyModels := mustPolicy(t, "models", PolicyConfig{Models: []string{"llama*"}})
	full := &Principal{Name: "root"}
	narrow := func(p *Principal, h http.Header) *Principal {
		n, err := Narrow(p, h)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if k := full.ViewKey(); k != "" {
		t.Errorf("full view key = %q, want empty", k)
	}
	if k := (&Principal{Policy: onlyModels}).ViewKey(); k != "" {
		t.Errorf("a policy of models only has view key %q, want the full view's", k)
	}
	keys := map[string]string{
		"readers":        (&Principal{Policy: readers}).ViewKey(),
		"writers":        (&Principal{Policy: writers}).ViewKey(),
		"nodelete":       (&Principal{Policy: noDelete}).ViewKey(),
		"fs nodelete":    (&Principal{Policy: fsNoDelete}).ViewKey(),
		"full fs,docs":   narrow(full, hdr(HeaderServers, "fs,docs")).ViewKey(),
		"full none":      narrow(full, hdr(HeaderTools, "none")).ViewKey(),
		"readers none":   narrow(&Principal{Policy: readers}, hdr(HeaderTools, "none")).ViewKey(),
		"full tools fs*": narrow(full, hdr(HeaderTools, "fs*")).ViewKey(),
		"full srv fs*":   narrow(full, hdr(HeaderServers, "fs*")).ViewKey(),
	}
	seen := map[string]string{}
	for name, k := range keys {
		if k == "" {
			t.Errorf("%s: empty view key", name)
		}
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s share the view key %q", name, other, k)
		}
		seen[k] = name
	}
	if a, b := (&Principal{Policy: readers}).ViewKey(), (&Principal{Policy: readers2}).ViewKey(); a != b {
		t.Errorf("policies with the same tools have view keys %q and %q, want one", a, b)
	}
	if a, b := narrow(full, hdr(HeaderServers, "fs,docs")).ViewKey(), narrow(full, hdr(HeaderServers, "docs, fs")).ViewKey(); a != b {
		t.Errorf("the same servers in another order: view keys %q and %q", a, b)
	}
}

func TestContext(t *testing.T) {
	ctx := t.Context()
	if p := FromContext(ctx); p.Source != SourceAnonymous || p.Policy != nil {
		t.Errorf("FromContext of an empty context = %+v, want the anonymous full-access principal", p)
	}
	alice := &Principal{Name: "alice", Source: SourceKey}
	if p := FromContext(NewContext(ctx, alice)); p != alice {
		t.Errorf("FromContext = %+v, want alice", p)
	}
	var nilP *Principal
	if !nilP.AllowsTool("a", "b") || !nilP.AllowsServer("b") || !nilP.AllowsModel("m") || nilP.ViewKey() != "" {
		t.Error("a nil principal does not have full access")
	}
}

// hdr is a header holding one value.
func hdr(name, value string) http.Header {
	h := http.Header{}
	h.Set(name, value)
	return h
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true,
		"10.0.0.1": false, "0.0.0.0": false, "example.com": false, "localhost.example": false, "": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
