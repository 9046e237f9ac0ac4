package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// statelessRevision is the first MCP revision without sessions: no
// initialize, no Mcp-Session-Id, each request carrying its version in the
// Mcp-Protocol-Version header and in _meta. Revisions compare as strings.
const statelessRevision = "2026-07-28"

// eraPeekBytes bounds how much of a /mcp request body is read to find its
// method and _meta version. go-sdk refuses larger bodies anyway
// (mcp.DefaultMaxRequestBodyBytes); a larger one is left to the stateful
// handler whole.
const eraPeekBytes = mcp.DefaultMaxRequestBodyBytes

type statelessKey struct{}

// eraOf marks the /mcp requests that belong to the stateless revision, so
// that they reach the stateless handler and open no session. One URL
// serves both eras, as the revision's negotiation asks: a request is
// stateless when its Mcp-Protocol-Version header names statelessRevision
// or later, when (without that header) its _meta does, or when it is a
// server/discover, which is answered with every revision the face speaks.
// Everything else (initialize, requests of a session, the GET stream,
// DELETE) is the stateful handler's.
func (s *Server) eraOf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if requestIsStateless(req) {
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), statelessKey{}, true)))
		}
		return next(c)
	}
}

// isStateless reports whether eraOf marked the request stateless.
func isStateless(ctx context.Context) bool {
	v, _ := ctx.Value(statelessKey{}).(bool)
	return v
}

func requestIsStateless(req *http.Request) bool {
	if v := req.Header.Get("Mcp-Protocol-Version"); v != "" {
		return v >= statelessRevision
	}
	if req.Method != http.MethodPost || req.Header.Get("Mcp-Session-Id") != "" || req.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(req.Body, eraPeekBytes+1))
	req.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), req.Body), req.Body}
	if err != nil || len(head) > eraPeekBytes {
		return false
	}
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(head, &msg) != nil { // a batch or not JSON: a session's
		return false
	}
	if msg.Method == "server/discover" {
		return true
	}
	v, _ := msg.Params.Meta[mcp.MetaKeyProtocolVersion].(string)
	return v >= statelessRevision
}

// byEra serves a /mcp request with the stateless handler when eraOf
// marked it, else with the stateful one. Both serve the same per-view
// go-sdk servers.
func byEra(stateful, stateless http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := stateful
		if isStateless(c.Request().Context()) {
			h = stateless
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
