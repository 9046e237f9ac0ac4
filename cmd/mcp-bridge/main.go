// Command mcp-bridge serves an OpenAI-compatible chat endpoint that gives
// any chat client the tools of MCP servers.
//
// Usage:
//
//	mcp-bridge [-c FILE] [serve]       run the bridge
//	mcp-bridge [-c FILE] tools [--json] list the aggregated tools
//	mcp-bridge [-c FILE] call TOOL [JSON-ARGS]
//	mcp-bridge [-c FILE] resources [--json] [URI]
//	mcp-bridge [-c FILE] prompts [--json] [NAME [JSON-ARGS]]
//	mcp-bridge [-c FILE] check         connect every server and report
//	mcp-bridge version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ex exitError
		if !errors.As(err, &ex) {
			fmt.Fprintln(os.Stderr, "mcp-bridge:", termText(err.Error(), true))
			os.Exit(1)
		}
		os.Exit(int(ex))
	}
}

// exitError ends the program with a status and no further message (the
// command already printed its report).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usage is printed for -h and for unknown commands.
const usage = `mcp-bridge: an OpenAI-compatible chat endpoint with the tools of MCP servers.

Usage:
  mcp-bridge [-c FILE] [serve]              run the bridge (the default)
  mcp-bridge [-c FILE] tools [--json]       list the aggregated tools
  mcp-bridge [-c FILE] call TOOL [JSON]     call one tool and print its result
  mcp-bridge [-c FILE] resources [--json] [URI]
                                            list resources and templates, or read one
  mcp-bridge [-c FILE] prompts [--json] [NAME [JSON]]
                                            list prompts, or get one with arguments
  mcp-bridge [-c FILE] check                validate the config, connect every server, report
  mcp-bridge [-c FILE] pins list | approve [TOOL...]
                                            show changed tool definitions, or approve them
  mcp-bridge hash-key KEY | -               print the sha256: form of a key for auth.keys
  mcp-bridge version                        print the version

The config file is -c FILE, else $MCP_BRIDGE_CONFIG, else ./mcp-bridge.yaml if present.
"mcp-bridge COMMAND --help" shows a command's flags and the environment variables it reads.
`

// run parses args and runs one command. It returns when the command is
// done or ctx is cancelled (serve then shuts down gracefully).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfgPath, rest, err := globalFlags(args)
	if err != nil {
		fmt.Fprint(stderr, usage)
		return err
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	err = runCommand(ctx, cmd, cfgPath, rest, stdout, stderr)
	var help *helpRequested
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text)
		return nil
	}
	return err
}

// runCommand runs the command named cmd.
func runCommand(ctx context.Context, cmd, cfgPath string, rest []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "serve":
		return serveCmd(ctx, cfgPath, rest, stderr)
	case "tools":
		return toolsCmd(ctx, cfgPath, rest, stdout, stderr)
	case "call":
		return callCmd(ctx, cfgPath, rest, stdout, stderr)
	case "resources":
		return resourcesCmd(ctx, cfgPath, rest, stdout, stderr)
	case "prompts":
		return promptsCmd(ctx, cfgPath, rest, stdout, stderr)
	case "check":
		return checkCmd(ctx, cfgPath, rest, stdout, stderr)
	case "hash-key":
		return hashKeyCmd(rest, os.Stdin, stdout, stderr)
	case "pins":
		return pinsCmd(cfgPath, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mcp-bridge", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// globalFlags takes -c FILE (or --config) off the front of args.
func globalFlags(args []string) (cfg string, rest []string, err error) {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-c" || a == "--config" || a == "-config":
			if len(args) < 2 {
				return "", nil, fmt.Errorf("%s needs a file name", a)
			}
			cfg, args = args[1], args[2:]
		case len(a) > 3 && a[:3] == "-c=":
			cfg, args = a[3:], args[1:]
		case len(a) > 9 && a[:9] == "--config=":
			cfg, args = a[9:], args[1:]
		case len(a) > 8 && a[:8] == "-config=":
			cfg, args = a[8:], args[1:]
		default:
			return cfg, args, nil
		}
	}
	return cfg, nil, nil
}
