package guard

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Admit decides which tools are served (see mcpclient.Inspector): a
// definition that fails the poisoning scan is kept out with Scan Block,
// and a pinned tool whose definition changed with OnChange Block. Tools
// seen for the first time are pinned, all in one write of the pins file.
// Each finding is logged and reported once per tool and definition.
func (g *Guard) Admit(tools []mcpclient.Tool) []string {
	reasons := make([]string, len(tools))
	for i, t := range tools {
		reasons[i] = g.scan(t)
	}
	if g.pins == nil {
		return reasons
	}
	states, err := g.pins.CheckAll(tools)
	if err != nil && g.once(mcpclient.Tool{}, "pins-error", err.Error()) {
		g.log.Warn("guard: the pins file cannot be written", "file", g.pins.Path(), "err", err)
	}
	for i, t := range tools {
		if states[i] != PinChanged {
			continue
		}
		if g.once(t, "pin", DefinitionOf(t).Hash()) {
			g.obs.Guard(context.Background(), &observe.GuardEvent{Kind: observe.GuardPin, Rule: "changed", Action: g.opts.OnChange,
				Tool: t.Name, Server: t.Server, Where: "definition", Reason: "definition changed since it was pinned"})
			g.log.Warn("guard: a pinned tool's definition changed", "server", t.Server, "tool", t.Name, "action", g.opts.OnChange,
				"see", "mcp-bridge pins list")
		}
		if g.opts.OnChange == Block && reasons[i] == "" {
			reasons[i] = fmt.Sprintf("its definition changed since it was pinned (approve it with: mcp-bridge pins approve %s)", t.Name)
		}
	}
	return reasons
}

// scan runs the poisoning scan on t: why t is kept out, or "".
func (g *Guard) scan(t mcpclient.Tool) string {
	if g.opts.Scan != Warn && g.opts.Scan != Block {
		return ""
	}
	fs := ScanTool(t)
	if len(fs) == 0 {
		return ""
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Check + " in the " + f.Where
	}
	reason := "its definition looks like an attack on the model: " + strings.Join(parts, ", ")
	if g.once(t, "scan", reason) {
		for _, f := range fs {
			g.obs.Guard(context.Background(), &observe.GuardEvent{Kind: observe.GuardScan, Rule: f.Check, Action: g.opts.Scan,
				Tool: t.Name, Server: t.Server, Where: "definition", Reason: f.Where})
		}
		g.log.Warn("guard: suspicious tool definition", "server", t.Server, "tool", t.Name, "checks", strings.Join(parts, ", "), "action", g.opts.Scan)
	}
	if g.opts.Scan == Block {
		return reason
	}
	return ""
}

// once reports whether (t, what, key) is new: what was last reported of
// t under what was another key.
func (g *Guard) once(t mcpclient.Tool, what, key string) bool {
	k := t.Server + "\x00" + t.Name + "\x00" + what
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reported[k] == key {
		return false
	}
	if len(g.reported) >= 10000 {
		clear(g.reported)
	}
	g.reported[k] = key
	return true
}
