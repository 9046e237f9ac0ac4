package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// newGuard builds the guardrails of the config; obs hears what they find
// (nil: no one).
func newGuard(c *config.Config, log *slog.Logger, obs observe.Observer) (*guard.Guard, error) {
	o := c.GuardOptions()
	o.Logger, o.Observer = log, obs
	return guard.New(o)
}

// watchPins reads the pins file again whenever it changes (mcp-bridge
// pins approve, in another process, wrote it) and has the registry ask
// the guard again about every tool, so that an approved tool comes back
// on every face without a restart.
func watchPins(ctx context.Context, g *guard.Guard, reg *mcpclient.Registry, log *slog.Logger) {
	p := g.Pins()
	if p == nil {
		return
	}
	err := config.Watch(ctx, p.Path(), func() {
		if err := p.Reload(); err != nil {
			log.Warn("guard: the pins file cannot be read; keeping the pins read before", "file", p.Path(), "err", err)
			return
		}
		reg.Recheck()
	})
	if err != nil {
		log.Warn("guard: the pins file is not watched: restart the bridge after mcp-bridge pins approve", "err", err)
	}
}

// warnBlocked tells which tools the guard keeps out, and why.
func warnBlocked(reg *mcpclient.Registry, stderr io.Writer) {
	for _, b := range reg.Blocked() {
		fmt.Fprintf(stderr, "warning: tool %s of %s is blocked: %s\n", termText(b.Name, false), termText(b.Server, false), termText(b.Reason, false))
	}
}

// cliGuardAudit writes the guard events of a command to the audit log,
// when there is one: opened for each event, as mcp-bridge call does for
// its call.
type cliGuardAudit struct {
	observe.Nop
	c      *config.Config
	stderr io.Writer
	mu     sync.Mutex
}

func (a *cliGuardAudit) Guard(ctx context.Context, e *observe.GuardEvent) {
	if a.c.Audit.File == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	au, err := observe.NewAudit(auditOptions(a.c))
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: a guard event is not in the audit log: %v\n", err)
		return
	}
	defer au.Close()
	e2 := *e
	e2.Identity = cliIdentity()
	au.Guard(ctx, &e2)
}

// terminalAsker asks on the terminal whether a call may run: the
// question goes to out, the answer (y or yes, any case, for yes) is a
// line of in.
func terminalAsker(in io.Reader, out io.Writer) guard.Asker {
	return func(ctx context.Context, tool string, args json.RawMessage) (bool, error) {
		if in == nil {
			return false, errors.New("there is no terminal to ask")
		}
		fmt.Fprintf(out, "%s needs your approval to run with these arguments:\n%s\nRun it? [y/N] ", termText(tool, false), termText(string(args), true))
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return false, fmt.Errorf("no answer on the terminal: %w", err)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes", "approve":
			return true, nil
		}
		return false, nil
	}
}

// approvalInput is where mcp-bridge call reads its approval answers: the
// terminal, when standard input carried the arguments, else standard
// input; nil when neither can be read.
func approvalInput(argsFromStdin bool) io.Reader {
	if !argsFromStdin {
		return os.Stdin
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return nil
	}
	return tty
}

const pinsHelp = `pins [-c FILE] list [--json] | approve [TOOL...]

list: show every pinned tool definition, and what changed, as a diff, for those
whose definition changed since it was pinned (those are blocked, or warned
about with guard.on_change: warn).
approve: pin the changed definitions of the named tools (of every changed tool
when none is named). A running bridge reads the pins file again and serves the
approved tools at once.`

// pinsCmd lists and approves pinned tool definitions.
func pinsCmd(cfgPath string, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	pos, err := commandFlags("pins", &cfgPath, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON (list)")
	})
	if err != nil {
		return err
	}
	if len(pos) == 0 || (pos[0] != "list" && pos[0] != "approve") {
		return errors.New("usage: mcp-bridge pins list [--json] | approve [TOOL...]")
	}
	c, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	path := c.GuardOptions().Pins
	if path == "" {
		return errors.New("pinning is off: set guard.pins in the config (for example pins: pins.json)")
	}
	pins, err := guard.OpenPins(path)
	if err != nil {
		return err
	}
	if pos[0] == "approve" {
		approved, err := pins.Approve(pos[1:]...)
		if err != nil {
			return err
		}
		if len(approved) == 0 {
			fmt.Fprintln(stdout, "nothing to approve: no pinned tool has changed")
			return nil
		}
		for _, name := range approved {
			fmt.Fprintf(stdout, "approved %s\n", termText(name, false))
			(&cliGuardAudit{c: c, stderr: stderr}).Guard(context.Background(), &observe.GuardEvent{Kind: observe.GuardPin, Rule: "changed",
				Action: "approved", Tool: name, Where: "definition", Reason: "approved with mcp-bridge pins approve"})
		}
		return nil
	}
	list, err := pins.List()
	if err != nil {
		return err
	}
	if asJSON {
		type jentry struct {
			Name    string `json:"name"`
			Server  string `json:"server"`
			Hash    string `json:"hash"`
			Changed bool   `json:"changed"`
			Diff    string `json:"diff,omitempty"`
		}
		out := make([]jentry, len(list))
		for i, e := range list {
			out[i] = jentry{e.Name, e.Server, e.Hash, e.Changed, e.Diff}
		}
		return printJSON(stdout, out)
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "no tools pinned yet in %s\n", path)
		return nil
	}
	for _, e := range list {
		state := "pinned"
		if e.Changed {
			state = "CHANGED (approve with: mcp-bridge pins approve " + e.Name + ")"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", termText(e.Name, false), termText(e.Server, false), e.Hash[:min(len(e.Hash), 19)], state)
		if e.Changed {
			fmt.Fprint(stdout, termText(e.Diff, true))
		}
	}
	return nil
}
