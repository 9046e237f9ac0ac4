package bridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// mountMCP serves the face on /mcp (streamable HTTP), /sse (the legacy
// HTTP+SSE transport) and /ws (WebSocket, subprotocol "mcp"), behind the
// API keys. Origins and hosts are checked for every route by the one
// policy (origin.go), so go-sdk's own localhost check is off: it would
// refuse the hosts that policy allows (host.docker.internal). New sessions
// are refused past Options.MaxSessions; streamable sessions end after
// Options.SessionIdleTimeout without a request. /mcp speaks both eras of
// the protocol (era.go): requests of the stateless revision go to a
// stateless handler of the same servers, the others to sessions.
func (s *Server) mountMCP(g *echo.Group) {
	getServer := s.face.server
	streamable := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		Logger:                     sdkLogger(s.log),
		SessionTimeout:             s.opts.SessionIdleTimeout,
		DisableLocalhostProtection: true,
	})
	stateless := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		Logger:                     sdkLogger(s.log),
		Stateless:                  true,
		DisableLocalhostProtection: true,
		// A stateless request is its POST: a client that stops waiting
		// cancels the call downstream.
		PropagateRequestCancellation: true,
	})
	sse := mcp.NewSSEHandler(getServer, &mcp.SSEOptions{DisableLocalhostProtection: true})
	g.Any("/mcp", byEra(streamable, stateless), s.eraOf, s.sessionCap, s.sessionOwner)
	g.Any("/sse", s.countSSE(echo.WrapHandler(sse)), s.sessionCap, s.sessionOwner)
	g.GET("/ws", s.serveWebSocket, s.sessionCap)
}

// countSSE counts the open GET streams of /sse, each of which is the
// life of one session (see face.sessions).
func (s *Server) countSSE(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet {
			s.face.sseStreams.Add(1)
			defer s.face.sseStreams.Add(-1)
		}
		return next(c)
	}
}

// sessionOwner refuses a request that names a session another caller
// opened (Mcp-Session-Id on /mcp, ?sessionid= on /sse): a session id that
// leaked must not let a different key or token use that session's view
// and limits.
func (s *Server) sessionOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get("Mcp-Session-Id")
		if req.URL.Path == "/sse" && req.Method == http.MethodPost {
			id = req.URL.Query().Get("sessionid")
		}
		if id == "" {
			return next(c)
		}
		switch s.face.bind(id, auth.FromContext(req.Context())) {
		case notYours:
			return &apiError{Status: http.StatusForbidden, Type: auth.TypePermission, Code: "session_not_yours",
				Message: "this MCP session was opened by another caller; open a session of your own"}
		case viewChanged:
			// 404 is how MCP says a session is gone: the client opens a new
			// one, which gets the policy of now.
			return &apiError{Status: http.StatusNotFound, Type: auth.TypePermission, Code: "session_policy_changed",
				Message: "your policy changed since this MCP session was opened; the session ended: open a new one"}
		}
		return next(c)
	}
}

// sessionCap refuses requests that would open a new MCP session while
// Options.MaxSessions are open: a streamable POST without a session id, a
// GET of /sse (which opens its session), a WebSocket upgrade. A stateless
// request opens no session; it is refused only when its view cannot be
// made.
func (s *Server) sessionCap(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		opens, stateless := false, isStateless(req.Context())
		switch req.URL.Path {
		case "/mcp":
			opens = !stateless && req.Method == http.MethodPost && req.Header.Get("Mcp-Session-Id") == ""
		case "/sse", "/ws":
			opens = req.Method == http.MethodGet
		}
		if (opens || stateless) && s.face.view(auth.FromContext(req.Context())) == nil {
			return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "too_many_views",
				Message: "the MCP face serves too many distinct views (policies and narrowing headers); try again later"}
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
	p := auth.FromContext(c.Request().Context())
	v := s.face.view(p)
	if v == nil {
		_ = conn.Close(websocket.StatusTryAgainLater, "too many distinct views")
		return nil
	}
	id := rand.Text()
	s.face.bind(id, p)
	end := func(reason string) { _ = conn.Close(websocket.StatusPolicyViolation, reason) }
	ls, forget := s.face.watchSocket(id, c.Request(), p, end)
	defer forget()
	// A reload applied after this request was authenticated but before
	// the line above did not see the socket: judge it by the settings of
	// now.
	if now := s.settings.Load().Auth; now != s.viewOf(c).opts.Auth {
		ls.judge(resolverOf(now))
	}
	ss, err := v.srv.Connect(context.WithoutCancel(c.Request().Context()), &acceptedSocket{conn: conn, pin: true, id: id}, nil)
	if err != nil {
		_ = conn.Close(websocket.StatusInternalError, "starting the MCP session failed")
		return nil
	}
	// The request's context is taken here: echo reuses c once this
	// handler returns, which may come before the goroutine reads it.
	reqDone := c.Request().Context().Done()
	done := make(chan struct{})
	go func() {
		select {
		case <-reqDone:
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
	id   string // the session's id, by which its owner is known
}

func (a *acceptedSocket) Connect(context.Context) (mcp.Connection, error) {
	var c mcp.Connection = &namedConn{Connection: mcpclient.NewWebSocketConnection(a.conn), id: a.id}
	if a.pin {
		return &pinnedConn{Connection: c}, nil
	}
	return c, nil
}

// namedConn gives a connection the session id it is known by.
type namedConn struct {
	mcp.Connection
	id string
}

func (n *namedConn) SessionID() string { return n.id }

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

// A WebSocket session sends its credentials once, with the handshake, so
// unlike an HTTP session (judged on each request by authenticate and
// sessionOwner) it is judged again when they may have stopped holding:
// at a reload (recheckSockets) and when its token expires. It ends with
// close code 1008 and a reason; the client opens a new one, which gets
// what the caller may use now.
const (
	closeRevoked       = "the bridge no longer accepts this connection's credentials"
	closePolicyChanged = "your policy changed since this session opened; reconnect"
	closeExpired       = "your token expired; reconnect with a new one"
)

// liveSocket is an open /ws session: its handshake's headers, by which it
// is judged again, the principal it opened with, and how to end it.
type liveSocket struct {
	req *http.Request // the handshake without its context or body
	p   *auth.Principal
	end func(reason string)
}

// watchSocket records the /ws session id, opened by r as p, and ends it
// when p's credential expires; forget forgets it.
func (f *face) watchSocket(id string, r *http.Request, p *auth.Principal, end func(string)) (ls *liveSocket, forget func()) {
	ls = &liveSocket{req: r.Clone(context.Background()), p: p, end: end}
	ls.req.Body = http.NoBody
	f.mu.Lock()
	f.sockets[id] = ls
	f.mu.Unlock()
	stop := func() bool { return false }
	if !p.Expires.IsZero() {
		stop = time.AfterFunc(time.Until(p.Expires), func() { end(closeExpired) }).Stop
	}
	return ls, func() {
		stop()
		f.mu.Lock()
		delete(f.sockets, id)
		f.mu.Unlock()
	}
}

// recheckSockets judges each open /ws session again by resolve (the
// identity rule of a reload's settings).
func (f *face) recheckSockets(resolve func(*http.Request) (*auth.Principal, error)) {
	f.mu.Lock()
	open := make([]*liveSocket, 0, len(f.sockets))
	for _, ls := range f.sockets {
		open = append(open, ls)
	}
	f.mu.Unlock()
	for _, ls := range open {
		ls.judge(resolve)
	}
}

// judge ends the session when its handshake's credentials no longer pass
// resolve, now name another caller, or give the caller another view (a
// changed policy).
func (ls *liveSocket) judge(resolve func(*http.Request) (*auth.Principal, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	p, err := resolve(ls.req.WithContext(ctx))
	cancel()
	switch {
	case err != nil || p.LimitKey() != ls.p.LimitKey():
		ls.end(closeRevoked)
	case p.ViewKey() != ls.p.ViewKey():
		ls.end(closePolicyChanged)
	}
}
