package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// mountOpenAPI serves the tools as an OpenAPI tool server (the kind Open
// WebUI mounts): GET /openapi.json and POST /tools/:name on the
// authenticated group api. Browsers reach them under the one origin policy
// (origin.go), which also answers their preflights.
func (s *Server) mountOpenAPI(api *echo.Group) {
	ts := openapi.NewToolServer(s.opts.Tools, &openapi.ServerOptions{
		Title:        "mcp-bridge tools",
		Version:      s.opts.Version,
		Auth:         s.opts.Auth.Enabled(),
		MaxBodyBytes: s.opts.MaxBodyBytes,
		Secrets:      s.opts.Secrets,
		Logger:       s.log,
		// The document shows the caller's tools only.
		Allow: func(r *http.Request, t mcpclient.Tool) bool {
			return auth.FromContext(r.Context()).AllowsTool(t.Name, t.Server)
		},
	})
	api.GET("/openapi.json", func(c echo.Context) error {
		ts.ServeDocument(c.Response(), c.Request())
		return nil
	})
	api.POST("/tools/:name", func(c echo.Context) error {
		r, name := c.Request(), c.Param("name")
		p := auth.FromContext(r.Context())
		st := &observe.ToolCallStart{RequestID: requestID(c), Identity: identity(p), Face: observe.FaceOpenAPI, Tool: name}
		t, known := s.tools.get(nil).lookup(name)
		if known {
			st.Server = t.Server
			if !p.AllowsTool(t.Name, t.Server) {
				return s.openAPIDenied(c, st, auth.ToolNotPermitted(name))
			}
		}
		d, err := s.opts.Limits.Request(r.Context(), p)
		if err != nil {
			return s.openAPIDenied(c, st, err)
		}
		setRateHeaders(c.Response().Header(), d)
		if _, err := s.opts.Limits.ToolCall(r.Context(), p); err != nil {
			return s.openAPIDenied(c, st, err)
		}
		args := &capturedBody{ReadCloser: r.Body}
		r.Body = args
		ctx := s.obs.ToolCallStarted(r.Context(), st)
		w := &capturedAnswer{ResponseWriter: c.Response()}
		start := time.Now()
		ts.ServeCall(w, r.WithContext(callContext(ctx, p)), name)
		st.Arguments = args.buf.Bytes()
		rec := &observe.ToolCallRecord{ToolCallStart: *st, Duration: time.Since(start), Outcome: w.outcome(ctx), ResultBytes: w.n}
		if rec.Outcome != observe.OutcomeOK {
			rec.Error = w.head.String()
		}
		s.obs.ToolCallFinished(ctx, rec)
		return nil
	})
}

// openAPIDenied reports a refused POST /tools/{name} as a tool call and
// returns err, which the HTTP observer reports as a denial.
func (s *Server) openAPIDenied(c echo.Context, st *observe.ToolCallStart, err error) error {
	s.obs.ToolCallFinished(c.Request().Context(), &observe.ToolCallRecord{ToolCallStart: *st, Outcome: observe.OutcomeDenied,
		Error: toAPIError(err, s.opts.Secrets).Message})
	return err
}

// capturedBody keeps the first 64 KiB of a request body as it is read:
// the arguments of a /tools call, for the observers.
type capturedBody struct {
	io.ReadCloser
	buf bytes.Buffer
}

func (b *capturedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// capturedAnswer records the status, size and first bytes of an answer,
// and whether it is a tool's failure.
type capturedAnswer struct {
	http.ResponseWriter
	status    int
	n         int
	head      bytes.Buffer
	toolError bool // a 502 whose body says "type":"tool_error"
}

// toolErrorMark is in the body of a 502 that reports a tool's failure.
// The body is written at once, so the mark is found past the head too,
// after a long message.
var toolErrorMark = []byte(`"type":"tool_error"`)

func (w *capturedAnswer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *capturedAnswer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := 512 - w.head.Len(); room > 0 {
		w.head.Write(p[:min(len(p), room)])
	}
	if w.status == http.StatusBadGateway && !w.toolError {
		w.toolError = bytes.Contains(p, toolErrorMark)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}

// outcome classifies the answer of a /tools call (see
// openapi.ToolServer.ServeCall).
func (w *capturedAnswer) outcome(ctx context.Context) string {
	switch {
	case w.status == 0 && ctx.Err() != nil:
		return observe.OutcomeCancelled
	case w.status == http.StatusOK:
		return observe.OutcomeOK
	case w.status == http.StatusGatewayTimeout:
		return observe.OutcomeTimeout
	case w.toolError:
		return observe.OutcomeToolError
	}
	return observe.OutcomeFailed
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *capturedAnswer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
