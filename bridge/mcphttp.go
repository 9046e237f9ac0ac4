package bridge

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// mountMCP serves the face on /mcp (streamable HTTP), /sse (the legacy
// HTTP+SSE transport) and /ws (WebSocket, subprotocol "mcp"), behind the
// API keys and the Origin check.
func (s *Server) mountMCP(g *echo.Group) {
	f := s.face
	getServer := func(*http.Request) *mcp.Server { return f.srv }
	streamable := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{Logger: s.log})
	sse := mcp.NewSSEHandler(getServer, nil)
	check := s.checkOrigin
	g.Any("/mcp", echo.WrapHandler(streamable), check)
	g.Any("/sse", echo.WrapHandler(sse), check)
	g.GET("/ws", s.serveWebSocket, check)
}

// serveWebSocket runs one MCP session over a WebSocket until either side
// ends it.
func (s *Server) serveWebSocket(c echo.Context) error {
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		Subprotocols: []string{mcpclient.WebSocketSubprotocol},
		// The Origin was checked by checkOrigin, with the configured list.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil // Accept has answered the client
	}
	if conn.Subprotocol() != mcpclient.WebSocketSubprotocol {
		_ = conn.Close(websocket.StatusPolicyViolation, `the WebSocket subprotocol must be "mcp"`)
		return nil
	}
	conn.SetReadLimit(mcpclient.DefaultWebSocketReadLimit)
	ss, err := s.face.srv.Connect(context.WithoutCancel(c.Request().Context()), &acceptedSocket{conn: conn, pin: true}, nil)
	if err != nil {
		_ = conn.Close(websocket.StatusInternalError, "starting the MCP session failed")
		return nil
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-c.Request().Context().Done():
			_ = ss.Close()
		case <-done:
		}
	}()
	_ = ss.Wait()
	close(done)
	return nil
}

// acceptedSocket is a Transport over a WebSocket the bridge accepted.
// When pin is set, sessions are held to mcpclient.ProtocolVersion.
type acceptedSocket struct {
	conn *websocket.Conn
	pin  bool
}

func (a *acceptedSocket) Connect(context.Context) (mcp.Connection, error) {
	c := mcpclient.NewWebSocketConnection(a.conn)
	if a.pin {
		return &pinnedConn{Connection: c}, nil
	}
	return c, nil
}

// pinnedConn holds a session to mcpclient.ProtocolVersion, the newest
// revision under which a server may ask its client for sampling or
// elicitation while serving a call (later revisions require multi round
// trip results, which downstream servers do not send). A newer client's
// server/discover is answered "method not found", which makes it fall back
// to initialize, and an initialize asking for a newer revision is lowered.
type pinnedConn struct {
	mcp.Connection
}

func (p *pinnedConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		msg, err := p.Connection.Read(ctx)
		if err != nil {
			return nil, err
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok {
			return msg, nil
		}
		switch req.Method {
		case "server/discover":
			if req.ID.IsValid() {
				resp := &jsonrpc.Response{ID: req.ID, Error: &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound,
					Message: "server/discover is not offered: this endpoint speaks protocol " + mcpclient.ProtocolVersion}}
				if err := p.Connection.Write(ctx, resp); err != nil {
					return nil, err
				}
			}
			continue
		case "initialize":
			var params map[string]json.RawMessage
			if json.Unmarshal(req.Params, &params) == nil {
				var v string
				if json.Unmarshal(params["protocolVersion"], &v) == nil && v > mcpclient.ProtocolVersion {
					params["protocolVersion"], _ = json.Marshal(mcpclient.ProtocolVersion)
					req.Params, _ = json.Marshal(params)
				}
			}
		}
		return req, nil
	}
}

// checkOrigin refuses browser requests from other sites (DNS rebinding,
// cross-site requests to a local bridge): a request with an Origin header
// passes only when that origin is in Options.AllowedOrigins, is on a
// loopback host, or is the host the request was sent to.
func (s *Server) checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin == "" || s.originAllowed(origin, c.Request().Host) {
			return next(c)
		}
		return &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "origin_not_allowed",
			Message: "origin " + origin + " is not allowed; add it to mcp.allowed_origins"}
	}
}

func (s *Server) originAllowed(origin, host string) bool {
	if slices.Contains(s.opts.AllowedOrigins, "*") || slices.Contains(s.opts.AllowedOrigins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return IsLoopbackHost(u.Hostname())
}

// IsLoopbackHost reports whether host (a name or an address, without port
// or brackets) is "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
