// Package mcptest provides an MCP server with tools made for tests, and
// helpers that configure it for an mcpclient.Registry in memory or as a
// real stdio subprocess (the test binary itself).
package mcptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Sleep event kinds, as reported by [SleepEvent.Kind].
const (
	SleepStarted   = "started"
	SleepFinished  = "finished"
	SleepCancelled = "cancelled"
)

// SleepEvent reports progress of a call of the sleep tool.
type SleepEvent struct {
	ID   string // the call's "id" argument, else its sequence number ("1", "2", ...)
	Kind string // SleepStarted, SleepFinished or SleepCancelled
}

// Options configures a test server. The zero value gives the tools listed
// at [NewServer] and nothing else.
type Options struct {
	// MarkerDir, when set, receives an empty file "<kind>-<id>" for every
	// sleep event ("started-1", "cancelled-1", "finished-1"), so that a
	// test can observe a server running in another process.
	MarkerDir string
	// OnSleep, when set, is called for every sleep event, from the call's
	// goroutine: blocking in it on "started" holds the call.
	OnSleep func(SleepEvent)
	// AllowCrash lets the crash tool exit the process. Without it, crash
	// returns a tool error (a crash in memory would end the test binary).
	AllowCrash bool
	// PageSize is the server's tools/list page size; 0 means the go-sdk
	// default.
	PageSize int
	// ExtraTools adds that many tools "extra_000", "extra_001", ... that
	// return their own name.
	ExtraTools int
	// Logger receives the go-sdk server's logs; nil discards them.
	Logger *slog.Logger
}

// NewServer returns a server with sleep markers written to the directory
// named by $MCPTEST_MARKER_DIR, if set, and these tools:
//
//   - echo {text}: returns text.
//   - add {a, b}: returns the sum as text and as structured content {"sum": ...}.
//   - sleep {ms, id?}: returns after ms milliseconds or when cancelled,
//     reporting both (see [Options.MarkerDir], [Options.OnSleep]).
//   - fail {message?}: returns a tool error (isError).
//   - image: returns a 1x1 PNG image.
//   - big {bytes}: returns that many bytes of text.
//   - crash: exits the process with status 3 mid-call, after writing a line
//     to stderr (only over stdio, see [ServeStdioIfRequested]).
//   - add_tool: adds the tool "late" (which returns "late"), so that the
//     server sends notifications/tools/list_changed.
//   - protocol_error: fails with a JSON-RPC error (not a tool error).
//   - pid: returns the server's process id.
//   - chatty {count}: sends count progress notifications (when the call
//     has a progress token) and count log messages, then answers "sent
//     <count>".
func NewServer() *mcp.Server {
	return NewServerWithOptions(&Options{MarkerDir: os.Getenv(EnvMarkerDir)})
}

// NewServerWithOptions is [NewServer] configured by opts (nil means the
// zero Options: no markers).
func NewServerWithOptions(opts *Options) *mcp.Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcptest", Version: "1.0.0"}, &mcp.ServerOptions{
		Logger:   logger,
		PageSize: o.PageSize,
	})
	var sleeps atomic.Int64

	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return text(in.Text), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, addOut, error) {
			sum := in.A + in.B
			return text(fmt.Sprintf("%g + %g = %g", in.A, in.B, sum)), addOut{Sum: sum}, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "sleep", Description: "Sleeps for ms milliseconds, or until cancelled."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in sleepIn) (*mcp.CallToolResult, any, error) {
			id := in.ID
			if id == "" {
				id = strconv.FormatInt(sleeps.Add(1), 10)
			}
			o.sleepEvent(id, SleepStarted)
			t := time.NewTimer(time.Duration(in.MS) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				o.sleepEvent(id, SleepFinished)
				return text(fmt.Sprintf("slept %dms", in.MS)), nil, nil
			case <-ctx.Done():
				o.sleepEvent(id, SleepCancelled)
				return nil, nil, ctx.Err()
			}
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "fail", Description: "Returns a tool error."},
		func(_ context.Context, _ *mcp.CallToolRequest, in failIn) (*mcp.CallToolResult, any, error) {
			msg := in.Message
			if msg == "" {
				msg = "failure requested"
			}
			res := text(msg)
			res.IsError = true
			return res, nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "image", Description: "Returns a 1x1 PNG image."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{MIMEType: "image/png", Data: PNG()}}}, nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "big", Description: "Returns bytes bytes of text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in bigIn) (*mcp.CallToolResult, any, error) {
			return text(strings.Repeat("x", max(in.Bytes, 0))), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "crash", Description: "Exits the server process mid-call."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			if !o.AllowCrash {
				res := text("crash is only available over stdio")
				res.IsError = true
				return res, nil, nil
			}
			fmt.Fprintln(os.Stderr, CrashMessage)
			os.Exit(3)
			return nil, nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "add_tool", Description: `Adds the tool "late".`},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			mcp.AddTool(srv, &mcp.Tool{Name: "late", Description: "Added at run time."},
				func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
					return text("late"), nil, nil
				})
			return text("added tool late"), nil, nil
		})
	srv.AddTool(&mcp.Tool{
		Name:        "protocol_error",
		Description: "Fails with a JSON-RPC error instead of a result.",
		InputSchema: map[string]any{"type": "object"},
	}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return nil, errors.New(ProtocolErrorMessage)
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "chatty", Description: "Sends count progress notifications and log messages, then answers."},
		func(ctx context.Context, req *mcp.CallToolRequest, in chattyIn) (*mcp.CallToolResult, any, error) {
			tok := req.Params.GetProgressToken()
			for i := range in.Count {
				if tok != nil {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: float64(in.Count)})
				}
				_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: fmt.Sprintf("note %d", i+1)})
			}
			return text(fmt.Sprintf("sent %d", in.Count)), nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "pid", Description: "Returns the server's process id."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return text(strconv.Itoa(os.Getpid())), nil, nil
		})
	for i := range o.ExtraTools {
		name := fmt.Sprintf("extra_%03d", i)
		mcp.AddTool(srv, &mcp.Tool{Name: name, Description: "Returns its own name."},
			func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return text(name), nil, nil
			})
	}
	return srv
}

// ProtocolErrorMessage is the message of the protocol_error tool's error.
const ProtocolErrorMessage = "protocol error requested"

// CrashMessage is what the crash tool writes to stderr before exiting.
const CrashMessage = "mcptest: crash requested, exiting with status 3"

// ToolNames returns the names of the tools of [NewServer], sorted.
func ToolNames() []string {
	return []string{"add", "add_tool", "big", "chatty", "crash", "echo", "fail", "image", "pid", "protocol_error", "sleep"}
}

type echoIn struct {
	Text string `json:"text" jsonschema:"the text to return"`
}

type addIn struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

type addOut struct {
	Sum float64 `json:"sum"`
}

type sleepIn struct {
	MS int    `json:"ms" jsonschema:"milliseconds to sleep"`
	ID string `json:"id,omitempty" jsonschema:"names the call in sleep events"`
}

type chattyIn struct {
	Count int `json:"count" jsonschema:"how many progress notifications and log messages to send"`
}

type failIn struct {
	Message string `json:"message,omitempty"`
}

type bigIn struct {
	Bytes int `json:"bytes"`
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// sleepEvent reports a sleep event through the marker directory and hook.
func (o *Options) sleepEvent(id, kind string) {
	if o.MarkerDir != "" {
		// A failure to write shows up as a missing marker in the test.
		_ = os.WriteFile(filepath.Join(o.MarkerDir, kind+"-"+id), nil, 0o644)
	}
	if o.OnSleep != nil {
		o.OnSleep(SleepEvent{ID: id, Kind: kind})
	}
}

// PNG returns a valid 1x1 transparent PNG image (a new slice every call).
func PNG() []byte {
	return []byte{
		0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
		0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
		0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
		0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49,
		0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
	}
}
