package mcpclient_test

import (
	"slices"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// A configuration of only disabled and invalid servers still lists them
// all.
func TestServersWithNothingRunnable(t *testing.T) {
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{
		{Name: "off", Command: "x", Disabled: true},
		{Name: "bad"},
	}, &mcpclient.Options{Logger: newLogger(&syncbuf.Buffer{})})
	defer r.Close()
	got := r.Servers()
	if len(got) != 2 || got[0].Name != "bad" || got[0].State != mcpclient.StateFailed ||
		got[1].Name != "off" || got[1].State != mcpclient.StateDisabled {
		t.Errorf("Servers = %+v, want bad failed and off disabled", got)
	}
}

// A rebuild that finds the very same tools publishes nothing new: the
// version, which tells clients to fetch the list again, stays.
func TestRecheckOfSameToolsKeepsVersion(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))
	v, before := r.Version(), r.Tools()
	r.Recheck()
	r.Recheck()
	after := r.Tools()
	if r.Version() != v || len(after) != len(before) || &after[0] != &before[0] {
		t.Errorf("after Recheck of unchanged tools: version %d -> %d, tools rebuilt %v", v, r.Version(), &after[0] != &before[0])
	}
}

// A blocked tool is reported once per reason: not again on every
// rebuild, and again when the reason changes.
func TestToolBlockedEventOncePerReason(t *testing.T) {
	in := &inspector{block: map[string]string{"mem__add": "first reason"}}
	r, ev := start(t, &mcpclient.Options{Inspector: in}, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))
	if e := ev.wait(t, "mem", mcpclient.EventToolBlocked); e.Tool != "mem__add" || e.Err != "first reason" {
		t.Fatalf("blocked event = %+v", e)
	}
	blockedEvents := func() []string {
		var out []string
		for {
			select {
			case e := <-ev.ch:
				if e.Kind == mcpclient.EventToolBlocked {
					out = append(out, e.Tool+": "+e.Err)
				}
			default:
				return out
			}
		}
	}
	r.Recheck()
	r.Recheck()
	if got := blockedEvents(); len(got) != 0 {
		t.Errorf("Recheck with the same reason sent %q, want nothing", got)
	}
	in.setBlock("mem__add", "second reason")
	r.Recheck()
	r.Recheck()
	if got := blockedEvents(); !slices.Equal(got, []string{"mem__add: second reason"}) {
		t.Errorf("Recheck with a new reason sent %q, want it once", got)
	}
}
