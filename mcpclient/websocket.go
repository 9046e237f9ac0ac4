package mcpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// WebSocketSubprotocol is the WebSocket subprotocol of MCP: the client asks
// for it in the handshake and a server accepting MCP over WebSocket selects
// it.
const WebSocketSubprotocol = "mcp"

// DefaultWebSocketReadLimit is the largest message a WebSocket MCP
// connection reads unless told otherwise: 16 MiB, as for stdio.
const DefaultWebSocketReadLimit = 16 << 20

// webSocketWriteTimeout bounds the writing of one message once it has the
// socket. A peer that takes longer to take a message is treated as gone:
// the socket is closed.
const webSocketWriteTimeout = 30 * time.Second

// WebSocketTransport is an [mcp.Transport] that connects to an MCP server
// over WebSocket, subprotocol "mcp", one JSON-RPC message per text message.
//
// Each Connect dials a new socket, so a WebSocketTransport may be used for
// any number of connections, concurrently, as long as its fields are not
// modified meanwhile.
type WebSocketTransport struct {
	// URL is the server's endpoint: ws:// or wss:// (http:// and https://
	// are taken as ws:// and wss://).
	URL string
	// Header is sent with the handshake request. A "Host" entry sets the
	// request's host. nil sends no extra header.
	Header http.Header
	// HTTPClient performs the handshake. nil means http.DefaultClient. Its
	// Timeout, if any, bounds only the handshake.
	HTTPClient *http.Client
	// ReadLimit is the largest message the connection reads; a larger one
	// ends the connection. 0 means DefaultWebSocketReadLimit; negative
	// means no limit.
	ReadLimit int64
}

// Connect implements [mcp.Transport]. It performs the WebSocket handshake,
// bounded by ctx; the connection it returns outlives ctx. It fails when the
// server does not switch protocols or selects a subprotocol other than
// "mcp" (a server that selects none is accepted). Errors name the URL
// without its user information and query, which may hold secrets.
func (t *WebSocketTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("invalid websocket url: %w", err)
	}
	header := t.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	host := header.Get("Host")
	header.Del("Host")
	c, resp, err := websocket.Dial(ctx, t.URL, &websocket.DialOptions{
		HTTPClient:   t.HTTPClient,
		HTTPHeader:   header,
		Host:         host,
		Subprotocols: []string{WebSocketSubprotocol},
	})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		// The url.Error text repeats the URL, which may hold a secret.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("websocket handshake with %s: %w", RedactURL(u), err)
	}
	// Dial has checked that the server selected "mcp" or no subprotocol.
	conn := NewWebSocketConnection(c)
	switch {
	case t.ReadLimit > 0:
		c.SetReadLimit(t.ReadLimit)
	case t.ReadLimit < 0:
		c.SetReadLimit(-1)
	}
	return conn, nil
}

// NewWebSocketConnection returns an [mcp.Connection] over c, an open
// WebSocket (accepted by a server or dialled by a client): each message is
// one JSON-RPC message. It sets c's read limit to DefaultWebSocketReadLimit;
// call c.SetReadLimit afterwards for another one. The connection owns c:
// use c no further, except to set its read limit.
//
// As [mcp.Connection] requires, Read may run concurrently with Close, which
// unblocks it; Write and Close are safe for concurrent use; Close may be
// called more than once and returns the same error every time. Reads must
// not run concurrently with each other.
//
// Read returns io.EOF once the connection is closed, locally or by the peer
// with a normal or going-away closure; other closures and failures are
// returned wrapped. A ctx that ends while Read waits for a message closes
// the socket (the websocket library offers no way to abandon a read), so
// only end it to give up the connection; the go-sdk never does.
//
// Write sends one text message. The ctx given to Write bounds only the wait
// for the socket: a message that has started going out is finished, within
// 30s, even when ctx ends meanwhile, because abandoning a message half
// written would tear the socket down. Write after Close, or after the
// socket was closed by the peer or by a failure, returns an error wrapping
// mcp.ErrConnectionClosed.
//
// Close sends a normal closure and waits for the peer's reply, up to 5s for
// each; when the peer is already gone it just closes the socket.
func NewWebSocketConnection(c *websocket.Conn) mcp.Connection {
	c.SetReadLimit(DefaultWebSocketReadLimit)
	return &wsConn{
		c:         c,
		writeSlot: make(chan struct{}, 1),
		closed:    make(chan struct{}),
	}
}

// wsConn is the mcp.Connection of NewWebSocketConnection.
type wsConn struct {
	c *websocket.Conn

	// writeSlot serialises Writes, so that one waiting for its turn can
	// give up when its ctx ends without touching the socket.
	writeSlot chan struct{}

	// broken is set when a read failed: the close handshake is then
	// skipped.
	broken atomic.Bool

	closeOnce sync.Once
	closed    chan struct{} // closed when Close starts
	closeErr  error
}

// SessionID implements [mcp.Connection]: a WebSocket connection has no
// session id.
func (w *wsConn) SessionID() string { return "" }

// isClosed reports whether Close has been called.
func (w *wsConn) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

// Read implements [mcp.Connection].
func (w *wsConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w.isClosed() {
		return nil, io.EOF
	}
	_, data, err := w.c.Read(ctx)
	if err != nil {
		w.broken.Store(true)
		switch status := websocket.CloseStatus(err); {
		case w.isClosed():
			return nil, io.EOF
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway:
			return nil, io.EOF
		case status != -1:
			return nil, fmt.Errorf("websocket closed by peer: %w", err)
		default:
			return nil, fmt.Errorf("reading websocket message: %w", err)
		}
	}
	// A message nested deeper than go-sdk decodes would end the whole
	// connection: guardFrame turns it into an error for its request alone.
	msg, err := jsonrpc.DecodeMessage(guardFrame(data))
	if err != nil {
		return nil, fmt.Errorf("decoding websocket message: %w", err)
	}
	return msg, nil
}

// Write implements [mcp.Connection].
func (w *wsConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("encoding message: %w", err)
	}
	select {
	case w.writeSlot <- struct{}{}:
		defer func() { <-w.writeSlot }()
	case <-ctx.Done():
		return ctx.Err()
	case <-w.closed:
		return fmt.Errorf("writing websocket message: %w", mcp.ErrConnectionClosed)
	}
	if w.isClosed() {
		return fmt.Errorf("writing websocket message: %w", mcp.ErrConnectionClosed)
	}
	// The websocket library closes the socket when the context of a write
	// ends mid-message; only the write timeout may do that.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webSocketWriteTimeout)
	defer cancel()
	if err := w.c.Write(wctx, websocket.MessageText, data); err != nil {
		switch {
		case w.isClosed():
			return fmt.Errorf("writing websocket message: %w", mcp.ErrConnectionClosed)
		case errors.Is(err, net.ErrClosed):
			return fmt.Errorf("writing websocket message: %w: %w", mcp.ErrConnectionClosed, err)
		default:
			return fmt.Errorf("writing websocket message: %w", err)
		}
	}
	return nil
}

// Close implements [mcp.Connection].
func (w *wsConn) Close() error {
	w.closeOnce.Do(func() {
		close(w.closed)
		var err error
		if w.broken.Load() {
			err = w.c.CloseNow()
		} else {
			err = w.c.Close(websocket.StatusNormalClosure, "")
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			w.closeErr = fmt.Errorf("closing websocket: %w", err)
		}
	})
	return w.closeErr
}
