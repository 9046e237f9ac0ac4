package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestSearchableToolsetOfAProfile checks search mode shares the toolset
// of a profile without a tool limit, and gets its own, uncut, for one
// with a limit.
func TestSearchableToolsetOfAProfile(t *testing.T) {
	src := &versionedTools{}
	src.tools.Store(&[]mcpclient.Tool{{Name: "a__one"}, {Name: "a__two"}})
	c := &toolCache{src: src, log: slog.New(slog.DiscardHandler)}
	strict := &route.Profile{Name: "strict", Refused: []string{"format"}}
	if c.getSearchable(nil, strict) != c.getFor(nil, strict) {
		t.Error("a profile without a limit built a second toolset for search mode")
	}
	one := &route.Profile{Name: "one", MaxTools: 1}
	cut, whole := c.getFor(nil, one), c.getSearchable(nil, one)
	if len(cut.tools) != 1 || len(whole.tools) != 2 {
		t.Errorf("a profile of 1 tool: %d tools, %d in search mode, want 1 and 2", len(cut.tools), len(whole.tools))
	}
}

// TestToolCacheKeepsAtMostMaxViews checks the toolsets kept for one
// version stay within maxViews.
func TestToolCacheKeepsAtMostMaxViews(t *testing.T) {
	src := &versionedTools{}
	src.tools.Store(&[]mcpclient.Tool{{Name: "a__one"}})
	c := &toolCache{src: src}
	for i := range maxViews + 1 {
		c.getFor(nil, &route.Profile{Name: fmt.Sprint("p", i), MaxTools: 10})
		c.mu.Lock()
		n := len(c.views)
		c.mu.Unlock()
		if n > maxViews {
			t.Fatalf("%d toolsets kept after %d views, at most %d", n, i+1, maxViews)
		}
	}
}

// TestToolsWarningPastTheBound checks the size warning is given for a
// tool array past WarnToolsBytes, not for one of exactly that size.
func TestToolsWarningPastTheBound(t *testing.T) {
	src := &versionedTools{}
	src.tools.Store(&[]mcpclient.Tool{{Name: "a__one", Description: "One."}})
	size := len((&toolCache{src: src}).get(nil).joined)
	for _, c := range []struct {
		bound int
		warn  bool
	}{{size, false}, {size - 1, true}} {
		var logs bytes.Buffer
		(&toolCache{src: src, warnBytes: c.bound, log: slog.New(slog.NewTextHandler(&logs, nil))}).get(nil)
		if got := strings.Contains(logs.String(), "are large"); got != c.warn {
			t.Errorf("%d bytes against a bound of %d: warned %v, want %v", size, c.bound, got, c.warn)
		}
	}
}

// TestMergeToolsWithTheClients checks the client's tools come first and
// every bridge tool follows when no profile limits them, and as many as
// the limit leaves room for when one does.
func TestMergeToolsWithTheClients(t *testing.T) {
	src := &versionedTools{}
	src.tools.Store(&[]mcpclient.Tool{{Name: "a__one"}, {Name: "a__two"}, {Name: "a__three"}})
	c := &toolCache{src: src, log: slog.New(slog.DiscardHandler)}
	client := []json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"ask_user"}}`)}
	names := func(tools json.RawMessage) []string {
		var v []struct{ Function struct{ Name string } }
		if err := json.Unmarshal(tools, &v); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range v {
			out = append(out, x.Function.Name)
		}
		return out
	}
	tools, left := mergeTools(client, map[string]bool{"ask_user": true}, c.get(nil))
	if got := names(tools); !slices.Equal(got, []string{"ask_user", "a__one", "a__two", "a__three"}) || left != nil {
		t.Errorf("no limit: %v, left out %v", got, left)
	}
	tools, left = mergeTools(client, map[string]bool{"ask_user": true}, c.getFor(nil, &route.Profile{Name: "three", MaxTools: 3}))
	if got := names(tools); !slices.Equal(got, []string{"ask_user", "a__one", "a__two"}) || !slices.Equal(left, []string{"a__three"}) {
		t.Errorf("a limit of 3: %v, left out %v", got, left)
	}
}

// TestToolsForWarnsOnlyOfToolsLeftOut checks the warning that the
// client's tools crowd out the bridge's is given when some are left out,
// and only then.
func TestToolsForWarnsOnlyOfToolsLeftOut(t *testing.T) {
	src := &versionedTools{}
	src.tools.Store(&[]mcpclient.Tool{{Name: "a__one"}, {Name: "a__two"}})
	client := []json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"ask_user"}}`)}
	for _, c := range []struct {
		limit int
		warn  bool
	}{{3, false}, {2, true}} {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		r := &run{s: &Server{tools: &toolCache{src: src, log: slog.New(slog.DiscardHandler)}, log: log},
			req: &chatRequest{clientTools: client, clientToolNames: map[string]bool{"ask_user": true}}}
		r.toolsFor(&route.Profile{Name: "p", MaxTools: c.limit})
		if got := strings.Contains(logs.String(), "leave no room"); got != c.warn {
			t.Errorf("limit %d: warned %v, want %v: %s", c.limit, got, c.warn, logs.String())
		}
	}
}
