package bridge

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// mountMCP serves the face on /mcp (streamable HTTP), /sse (the legacy
// HTTP+SSE transport) and /ws (WebSocket, subprotocol "mcp"), behind the
// API keys. Origins and hosts are checked for every route by the one
// policy (origin.go), so go-sdk's own localhost check is off: it would
// refuse the hosts that policy allows (host.docker.internal). New sessions
// are refused past Options.MaxSessions; streamable sessions end after
// Options.SessionIdleTimeout without a request.
func (s *Server) mountMCP(g *echo.Group) {
	f := s.face
	getServer := func(*http.Request) *mcp.Server { return f.srv }
	streamable := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		Logger:                     sdkLogger(s.log),
		SessionTimeout:             s.opts.SessionIdleTimeout,
		DisableLocalhostProtection: true,
	})
	sse := mcp.NewSSEHandler(getServer, &mcp.SSEOptions{DisableLocalhostProtection: true})
	g.Any("/mcp", echo.WrapHandler(streamable), s.sessionCap)
	g.Any("/sse", echo.WrapHandler(sse), s.sessionCap)
	g.GET("/ws", s.serveWebSocket, s.sessionCap)
}

// sessionCap refuses requests that would open a new MCP session while
// Options.MaxSessions are open: a streamable POST without a session id, a
// GET of /sse (which opens its session), a WebSocket upgrade.
func (s *Server) sessionCap(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		opens := false
		switch req.URL.Path {
		case "/mcp":
			opens = req.Method == http.MethodPost && req.Header.Get("Mcp-Session-Id") == ""
		case "/sse", "/ws":
			opens = req.Method == http.MethodGet
		}
		if opens && s.face.sessions() >= s.opts.MaxSessions {
			c.Response().Header().Set("Retry-After", "5")
			return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "too_many_sessions",
				Message: "the bridge holds its limit of MCP sessions (mcp.max_sessions); close unused sessions or try again later"}
		}
		return next(c)
	}
}

// serveWebSocket runs one MCP session over a WebSocket until either side
// ends it.
func (s *Server) serveWebSocket(c echo.Context) error {
	conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		Subprotocols: []string{mcpclient.WebSocketSubprotocol},
		// The Origin was checked by the origin policy, with the configured
		// list, before this handler ran.
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

// IsLoopbackHost reports whether host (a name or an address, without port
// or brackets) is "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
