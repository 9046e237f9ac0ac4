package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// AuditOptions configures an Audit.
type AuditOptions struct {
	// File is where the lines go: a path (created, appended to, mode
	// 0600), or "-" for standard output. Ignored when Writer is set.
	File string
	// Writer, when not nil, receives the lines instead of File (tests);
	// Reopen does nothing then.
	Writer io.Writer
	// Arguments is how tool arguments are written: ArgumentsNone (not at
	// all), ArgumentsRedacted (see RedactArguments) or ArgumentsFull (as
	// sent). Empty means ArgumentsRedacted.
	Arguments string
	// Secrets are removed from every argument and message written.
	Secrets []string
	// Logger receives write errors, at error level. Nil discards them.
	Logger *slog.Logger
	// Stdout is the writer of File "-". Nil means os.Stdout.
	Stdout io.Writer
}

// Audit writes the audit log: one JSON object per line, for each chat
// request, tool call, refusal and configuration reload, with time (RFC
// 3339, UTC), event, request_id and identity (a name, never a key).
//
// Lines are written in the order of the calls, each with one write under
// a mutex: a slow disk slows the requests rather than lose lines. A write
// error is logged and makes Healthy report it until a write succeeds
// again. It is safe for concurrent use.
type Audit struct {
	Nop
	opts AuditOptions
	log  *slog.Logger

	mu   sync.Mutex
	w    io.Writer
	file *os.File // nil for a Writer or stdout
	err  error    // the last write's error
}

var _ Observer = (*Audit)(nil)

// NewAudit opens the audit log.
func NewAudit(opts AuditOptions) (*Audit, error) {
	switch opts.Arguments {
	case "":
		opts.Arguments = ArgumentsRedacted
	case ArgumentsNone, ArgumentsRedacted, ArgumentsFull:
	default:
		return nil, fmt.Errorf("audit: arguments must be none, redacted or full, got %q", opts.Arguments)
	}
	a := &Audit{opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Writer != nil:
		a.w = opts.Writer
	case opts.File == "-":
		a.w = opts.Stdout
		if a.w == nil {
			a.w = os.Stdout
		}
	case opts.File == "":
		return nil, fmt.Errorf("audit: a file is required")
	default:
		f, err := openAudit(opts.File)
		if err != nil {
			return nil, err
		}
		a.w, a.file = f, f
	}
	return a, nil
}

func openAudit(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening %w", err)
	}
	return f, nil
}

// Reopen closes the file and opens it again under its name, so that a
// file renamed by logrotate is left complete and a new one begins. It
// does nothing for standard output or a Writer. On error the old file
// stays in use.
func (a *Audit) Reopen() error {
	if a.file == nil {
		return nil
	}
	f, err := openAudit(a.opts.File)
	if err != nil {
		a.log.Error("audit log: cannot reopen; writing on to the old file", "err", err)
		return err
	}
	a.mu.Lock()
	old := a.file
	a.w, a.file = f, f
	a.mu.Unlock()
	return old.Close()
}

// Close closes the file. Lines written after it fail.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}

// Healthy returns the last write's error, nil when it succeeded.
func (a *Audit) Healthy() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return fmt.Errorf("audit log: %w", a.err)
	}
	return nil
}

// line is the part of every audit line.
type line struct {
	Time      string `json:"time"`
	Event     string `json:"event"`
	RequestID string `json:"request_id"`
	Identity  string `json:"identity"`
}

func newLine(event, requestID, identity string) line {
	if identity == "" {
		identity = "anonymous"
	}
	return line{Time: time.Now().UTC().Format(time.RFC3339Nano), Event: event, RequestID: requestID, Identity: identity}
}

func (a *Audit) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("audit log: encoding a line", "err", err)
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.w.Write(b)
	if err != nil && a.err == nil {
		a.log.Error("audit log: write failed; lines are being lost", "err", err)
	} else if err == nil && a.err != nil {
		a.log.Info("audit log: writing again")
	}
	a.err = err
}

func (a *Audit) redact(s string) string { return mcpclient.RedactText(s, a.opts.Secrets) }

// ChatFinished writes a chat line.
func (a *Audit) ChatFinished(_ context.Context, r *ChatRecord) {
	a.write(struct {
		line
		Model            string `json:"model"`
		Upstream         string `json:"upstream"`
		Stream           bool   `json:"stream"`
		Rounds           int    `json:"rounds"`
		ToolCalls        int    `json:"tool_calls"`
		PromptTokens     int    `json:"prompt_tokens"`
		CompletionTokens int    `json:"completion_tokens"`
		DurationMS       int64  `json:"duration_ms"`
		Status           int    `json:"status"`
		Outcome          string `json:"outcome"`
		Error            string `json:"error,omitempty"`
		UserID           string `json:"openwebui_user_id,omitempty"`
		ChatID           string `json:"openwebui_chat_id,omitempty"`
	}{newLine("chat", r.RequestID, r.Identity), r.Model, a.redact(r.Upstream), r.Stream, r.Rounds, r.ToolCalls,
		r.PromptTokens, r.CompletionTokens, r.Duration.Milliseconds(), r.Status, r.Outcome,
		cut(a.redact(r.Error), maxValueBytes), cut(r.UserID, 256), cut(r.ChatID, 256)})
}

// ToolCallFinished writes a tool_call line.
func (a *Audit) ToolCallFinished(_ context.Context, r *ToolCallRecord) {
	var args json.RawMessage
	switch a.opts.Arguments {
	case ArgumentsRedacted:
		args = RedactArguments(r.Arguments, a.opts.Secrets)
	case ArgumentsFull:
		args = r.Arguments
		if len(args) == 0 {
			args = json.RawMessage("{}")
		} else if !json.Valid(args) {
			args, _ = json.Marshal(string(args))
		}
	}
	a.write(struct {
		line
		Face        string          `json:"face"`
		Server      string          `json:"server"`
		Tool        string          `json:"tool"`
		CallID      string          `json:"call_id,omitempty"`
		Arguments   json.RawMessage `json:"arguments,omitempty"`
		DurationMS  int64           `json:"duration_ms"`
		Outcome     string          `json:"outcome"`
		ResultBytes int             `json:"result_bytes"`
		Error       string          `json:"error,omitempty"`
	}{newLine("tool_call", r.RequestID, r.Identity), r.Face, r.Server, cut(r.Tool, 256), cut(r.CallID, 256), args,
		r.Duration.Milliseconds(), r.Outcome, r.ResultBytes, cut(a.redact(r.Error), maxValueBytes)})
}

// Denied writes a denied line.
func (a *Audit) Denied(_ context.Context, d *Denial) {
	a.write(struct {
		line
		Status int    `json:"status"`
		Code   string `json:"code,omitempty"`
		Reason string `json:"reason"`
		Method string `json:"method,omitempty"`
		Route  string `json:"route,omitempty"`
		Tool   string `json:"tool,omitempty"`
	}{newLine("denied", d.RequestID, d.Identity), d.Status, d.Code, cut(a.redact(d.Reason), maxValueBytes), d.Method, d.Route, cut(d.Tool, 256)})
}

// ConfigReload writes a config line.
func (a *Audit) ConfigReload(_ context.Context, ok bool, reason string) {
	result := "applied"
	if !ok {
		result = "rejected"
	}
	a.write(struct {
		line
		Result string `json:"result"`
		Reason string `json:"reason,omitempty"`
	}{newLine("config", "", "system"), result, cut(a.redact(reason), maxValueBytes)})
}
