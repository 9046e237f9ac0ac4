package mcpclient_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// connTransport is an mcp.Transport over an already open connection.
type connTransport struct{ conn mcp.Connection }

func (t connTransport) Connect(context.Context) (mcp.Connection, error) { return t.conn, nil }

// wsServer serves a go-sdk MCP server over WebSocket, like the bridge's /ws
// face: it accepts subprotocol "mcp" and runs one server session per socket.
type wsServer struct {
	srv *mcp.Server
	hs  *httptest.Server
	wg  sync.WaitGroup

	away     atomic.Bool  // answer 503 instead of accepting
	accepted atomic.Int64 // sockets accepted so far

	mu      sync.Mutex
	sockets map[*websocket.Conn]bool // open server-side sockets
	headers []http.Header            // of every handshake request
	hosts   []string
}

func newWSServer(t *testing.T, srv *mcp.Server) *wsServer {
	t.Helper()
	s := &wsServer{srv: srv, sockets: make(map[*websocket.Conn]bool)}
	s.hs = httptest.NewServer(s)
	// Cleanups run last registered first: the registry of a test, started
	// after this, is closed before the server goes.
	t.Cleanup(func() {
		s.hs.Close()
		s.goAway()
		s.wg.Wait()
	})
	return s
}

// url returns the ws:// URL of the server's endpoint.
func (s *wsServer) url() string {
	return "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/mcp"
}

func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Clone())
	s.hosts = append(s.hosts, r.Host)
	s.mu.Unlock()
	if s.away.Load() {
		http.Error(w, "server restarting", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{mcpclient.WebSocketSubprotocol}})
	if err != nil {
		return // Accept answered the request
	}
	s.accepted.Add(1)
	s.mu.Lock()
	s.sockets[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sockets, c)
		s.mu.Unlock()
	}()
	conn := mcpclient.NewWebSocketConnection(c)
	ss, err := s.srv.Connect(context.Background(), connTransport{conn}, nil)
	if err != nil {
		conn.Close()
		return
	}
	ss.Wait()
}

// goAway closes every open socket as a server shutting down does.
func (s *wsServer) goAway() {
	s.mu.Lock()
	sockets := make([]*websocket.Conn, 0, len(s.sockets))
	for c := range s.sockets {
		sockets = append(sockets, c)
	}
	s.mu.Unlock()
	for _, c := range sockets {
		c.Close(websocket.StatusGoingAway, "shutting down")
	}
}

// handshakes returns the headers and hosts of every handshake so far.
func (s *wsServer) handshakes() ([]http.Header, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.headers), slices.Clone(s.hosts)
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noEvent fails the test if an event of kind from server is pending.
func (e *events) noEvent(t *testing.T, server, kind string) {
	t.Helper()
	for {
		select {
		case ev := <-e.ch:
			if ev.Server == server && ev.Kind == kind {
				t.Fatalf("unexpected event %+v", ev)
			}
		default:
			return
		}
	}
}

func TestWebSocketRegistry(t *testing.T) {
	ws := newWSServer(t, mcptest.NewServerWithOptions(nil))
	cfg := mcpclient.ServerConfig{
		Name:    "sock",
		URL:     ws.url(),
		Headers: map[string]string{"Authorization": "Bearer secret", "Host": "mcp.example"},
	}
	r, ev := start(t, &mcpclient.Options{MaxResultBytes: -1}, cfg)

	if st := status(t, r, "sock"); st.State != mcpclient.StateReady || st.Transport != mcpclient.TransportWS {
		t.Fatalf("status = %+v", st)
	}
	if got, want := toolNames(r), prefixed("sock", mcptest.ToolNames()...); !slices.Equal(got, want) {
		t.Fatalf("tools = %q, want %q", got, want)
	}
	if res := call(t, r, "sock__add", `{"a":2,"b":3}`); res.Text != "2 + 3 = 5" {
		t.Fatalf("add = %+v", res)
	}

	// Messages far above the websocket library's 32 KiB default read limit
	// go both ways: the argument to the server, the result back.
	big := strings.Repeat("0123456789abcdef", 3<<15) // 1.5 MiB
	args, err := json.Marshal(map[string]string{"text": big})
	if err != nil {
		t.Fatal(err)
	}
	if res := call(t, r, "sock__echo", string(args)); res.Text != big {
		t.Fatalf("echo of %d bytes returned %d bytes", len(big), len(res.Text))
	}

	// Server-to-client notifications arrive over the same socket.
	call(t, r, "sock__add_tool", ``)
	ev.wait(t, "sock", mcpclient.EventToolsChanged)
	if res := call(t, r, "sock__late", ``); res.Text != "late" {
		t.Fatalf("late = %+v", res)
	}

	headers, hosts := ws.handshakes()
	if len(headers) != 1 || ws.accepted.Load() != 1 {
		t.Fatalf("%d handshakes, %d accepted; want one socket for everything", len(headers), ws.accepted.Load())
	}
	h := headers[0]
	if h.Get("Authorization") != "Bearer secret" || hosts[0] != "mcp.example" {
		t.Errorf("handshake headers %v, host %q", h, hosts[0])
	}
	if h.Get("Sec-WebSocket-Protocol") != mcpclient.WebSocketSubprotocol {
		t.Errorf("Sec-WebSocket-Protocol = %q, want %q", h.Get("Sec-WebSocket-Protocol"), mcpclient.WebSocketSubprotocol)
	}
}

func TestWebSocketCancelledCallKeepsSocket(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	ws := newWSServer(t, mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		switch e.Kind {
		case mcptest.SleepStarted:
			started <- struct{}{}
		case mcptest.SleepCancelled:
			cancelled <- struct{}{}
		}
	}}))
	r, ev := start(t, nil, mcpclient.ServerConfig{Name: "sock", URL: ws.url()})

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	if _, err := r.Call(ctx, "sock__sleep", []byte(`{"ms":60000}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call = %v, want context.Canceled", err)
	}
	// The server hears of the cancellation over the socket...
	select {
	case <-cancelled:
	case <-time.After(waitTimeout):
		t.Fatal("the server did not see the call cancelled")
	}
	// ...which is still the same, working one.
	if res := call(t, r, "sock__echo", `{"text":"after"}`); res.Text != "after" {
		t.Fatalf("echo = %+v", res)
	}
	ev.noEvent(t, "sock", mcpclient.EventDown)
	if st := status(t, r, "sock"); st.State != mcpclient.StateReady || st.Restarts != 0 || ws.accepted.Load() != 1 {
		t.Fatalf("status = %+v, %d sockets accepted; want the first one still", st, ws.accepted.Load())
	}
}

func TestWebSocketReconnect(t *testing.T) {
	ws := newWSServer(t, mcptest.NewServerWithOptions(nil))
	r, ev := start(t, nil, mcpclient.ServerConfig{Name: "sock", URL: ws.url()})
	if res := call(t, r, "sock__echo", `{"text":"before"}`); res.Text != "before" {
		t.Fatalf("echo = %+v", res)
	}

	// The server goes away: its socket is closed and handshakes fail.
	ws.away.Store(true)
	ws.goAway()
	ev.wait(t, "sock", mcpclient.EventDown)
	if _, err := r.Call(context.Background(), "sock__echo", []byte(`{}`)); !errors.Is(err, mcpclient.ErrServerNotConnected) {
		t.Fatalf("Call while away = %v, want ErrServerNotConnected", err)
	}
	eventually(t, "a failed reconnection attempt", func() bool {
		st := status(t, r, "sock")
		return st.State == mcpclient.StateFailed && strings.Contains(st.Error, "503")
	})
	if n := len(toolNames(r)); n != 0 {
		t.Fatalf("%d tools listed while the server is away", n)
	}

	// It comes back: the registry reconnects.
	ws.away.Store(false)
	ev.wait(t, "sock", mcpclient.EventUp)
	if res := call(t, r, "sock__echo", `{"text":"after"}`); res.Text != "after" {
		t.Fatalf("echo = %+v", res)
	}
	if st := status(t, r, "sock"); st.State != mcpclient.StateReady || st.Restarts < 2 || ws.accepted.Load() != 2 {
		t.Fatalf("status = %+v, %d sockets accepted", st, ws.accepted.Load())
	}
}

// echoServer accepts sockets offering the given subprotocols and sends back
// every JSON-RPC message it reads.
func echoServer(t *testing.T, subprotocols ...string) *httptest.Server {
	t.Helper()
	var wg sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: subprotocols})
		if err != nil {
			return
		}
		conn := mcpclient.NewWebSocketConnection(c)
		defer conn.Close()
		for {
			msg, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if err := conn.Write(context.Background(), msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		hs.Close()
		wg.Wait()
	})
	return hs
}

// wsURL turns an httptest URL into a ws:// one.
func wsURL(hs *httptest.Server) string { return "ws" + strings.TrimPrefix(hs.URL, "http") }

// request returns a JSON-RPC request whose params hold text.
func request(t *testing.T, id int64, text string) *jsonrpc.Request {
	t.Helper()
	rid, err := jsonrpc.MakeID(float64(id))
	if err != nil {
		t.Fatal(err)
	}
	params, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		t.Fatal(err)
	}
	return &jsonrpc.Request{ID: rid, Method: "echo", Params: params}
}

// roundTrip writes req and reads it back from an echo server.
func roundTrip(t *testing.T, conn mcp.Connection, req *jsonrpc.Request) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := conn.Write(ctx, req); err != nil {
		t.Fatalf("Write: %v", err)
	}
	readBack(t, conn, req)
}

// readBack reads a message and checks that it is req.
func readBack(t *testing.T, conn mcp.Connection, req *jsonrpc.Request) {
	t.Helper()
	msg, err := conn.Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	got, ok := msg.(*jsonrpc.Request)
	if !ok || got.ID != req.ID || got.Method != req.Method || string(got.Params) != string(req.Params) {
		t.Fatalf("read back %T with %d bytes of params, want the request written (%d bytes)", msg, len(got.Params), len(req.Params))
	}
}

// gate holds the next write to a socket until released, once armed.
type gate struct {
	mu      sync.Mutex
	blocked chan struct{} // closed when a write is held
	release chan struct{} // closing it lets the write through
}

// arm makes the next write wait; it returns the gate's channels.
func (g *gate) arm() (blocked, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked, g.release = make(chan struct{}), make(chan struct{})
	return g.blocked, g.release
}

func (g *gate) wait() {
	g.mu.Lock()
	blocked, release := g.blocked, g.release
	g.blocked, g.release = nil, nil
	g.mu.Unlock()
	if blocked != nil {
		close(blocked)
		<-release
	}
}

// await waits for ch to be closed, failing the test after waitTimeout.
func await(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not within %s", what, waitTimeout)
	}
}

// gatedConn is a net.Conn whose writes pass through a gate.
type gatedConn struct {
	net.Conn
	g *gate
}

func (c gatedConn) Write(p []byte) (int, error) {
	c.g.wait()
	return c.Conn.Write(p)
}

// gatedClient returns an HTTP client whose connections' writes pass through g.
func gatedClient(g *gate) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	dial := base.DialContext
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return gatedConn{Conn: c, g: g}, nil
	}
	return &http.Client{Transport: base}
}

func TestWebSocketConnection(t *testing.T) {
	hs := echoServer(t, mcpclient.WebSocketSubprotocol)
	g := &gate{}
	// The connection outlives the context of Connect.
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := (&mcpclient.WebSocketTransport{URL: wsURL(hs), HTTPClient: gatedClient(g)}).Connect(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if conn.SessionID() != "" {
		t.Errorf("SessionID() = %q", conn.SessionID())
	}
	roundTrip(t, conn, request(t, 1, "hello"))

	t.Run("cancelled mid-write", func(t *testing.T) {
		// A write whose context ends while the message is going out finishes
		// the message, and the socket lives on.
		req := request(t, 2, strings.Repeat("x", 256<<10))
		blocked, release := g.arm()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- conn.Write(ctx, req) }()
		await(t, "write reaching the socket", blocked)
		cancel()
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Write = %v, want the message written", err)
		}
		readBack(t, conn, req)
		roundTrip(t, conn, request(t, 3, "still here"))
	})

	t.Run("cancelled while waiting for the socket", func(t *testing.T) {
		first, second := request(t, 4, "first"), request(t, 5, "second")
		blocked, release := g.arm()
		done := make(chan error, 1)
		go func() { done <- conn.Write(context.Background(), first) }()
		await(t, "write reaching the socket", blocked)
		ctx, cancel := context.WithCancel(context.Background())
		waiting := make(chan error, 1)
		go func() { waiting <- conn.Write(ctx, second) }()
		cancel()
		if err := <-waiting; !errors.Is(err, context.Canceled) {
			t.Fatalf("Write = %v, want context.Canceled", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		readBack(t, conn, first)
		roundTrip(t, conn, request(t, 6, "still here"))
	})

	t.Run("read with a cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := conn.Read(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
		roundTrip(t, conn, request(t, 7, "still here"))
	})

	t.Run("close", func(t *testing.T) {
		read := make(chan error, 1)
		go func() {
			_, err := conn.Read(context.Background())
			read <- err
		}()
		if err := conn.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		select {
		case err := <-read:
			if err != io.EOF {
				t.Fatalf("Read during Close = %v, want io.EOF", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Close did not unblock Read")
		}
		if err := conn.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if _, err := conn.Read(context.Background()); err != io.EOF {
			t.Fatalf("Read after Close = %v, want io.EOF", err)
		}
		if err := conn.Write(context.Background(), request(t, 8, "late")); !errors.Is(err, mcp.ErrConnectionClosed) {
			t.Fatalf("Write after Close = %v, want mcp.ErrConnectionClosed", err)
		}
	})
}

func TestWebSocketConcurrentWrites(t *testing.T) {
	hs := echoServer(t, mcpclient.WebSocketSubprotocol)
	conn, err := (&mcpclient.WebSocketTransport{URL: wsURL(hs)}).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		req := request(t, int64(i), strings.Repeat("y", 100<<10))
		go func() { errs <- conn.Write(context.Background(), req) }()
	}
	seen := make(map[jsonrpc.ID]bool)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		msg, err := conn.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen[msg.(*jsonrpc.Request).ID] = true
	}
	if len(seen) != n {
		t.Fatalf("read back %d distinct messages, want %d", len(seen), n)
	}
}

func TestWebSocketReadLimit(t *testing.T) {
	hs := echoServer(t, mcpclient.WebSocketSubprotocol)
	conn, err := (&mcpclient.WebSocketTransport{URL: wsURL(hs), ReadLimit: 1 << 10}).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, request(t, 1, "small"))
	if err := conn.Write(context.Background(), request(t, 2, strings.Repeat("z", 2<<10))); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(context.Background()); !errors.Is(err, websocket.ErrMessageTooBig) {
		t.Fatalf("Read = %v, want websocket.ErrMessageTooBig", err)
	}
	// The socket is gone.
	if err := conn.Write(context.Background(), request(t, 3, "after")); !errors.Is(err, mcp.ErrConnectionClosed) {
		t.Fatalf("Write after a failed read = %v, want mcp.ErrConnectionClosed", err)
	}
}

// otherSubprotocolServer completes WebSocket handshakes selecting the
// subprotocol "other", which the client did not offer.
func otherSubprotocolServer(t *testing.T) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: other\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
		brw.Flush()
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestWebSocketSubprotocol(t *testing.T) {
	tests := []struct {
		name    string
		server  *httptest.Server
		wantErr string
	}{
		{"mcp", echoServer(t, mcpclient.WebSocketSubprotocol), ""},
		{"none selected", echoServer(t), ""},
		{"another one", otherSubprotocolServer(t), `"other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := (&mcpclient.WebSocketTransport{URL: wsURL(tt.server)}).Connect(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Connect = %v, want an error containing %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			roundTrip(t, conn, request(t, 1, "hi"))
		})
	}
}

func TestWebSocketHandshakeErrors(t *testing.T) {
	notWS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer notWS.Close()
	tests := []struct {
		name, url string
		want      []string
	}{
		{"refused", "ws://127.0.0.1:1/mcp?token=secret", []string{"ws://127.0.0.1:1/mcp", "refused"}},
		{"not switching", wsURL(notWS) + "/mcp?token=secret", []string{"401"}},
		{"bad url", "ws://x/%zz?token=secret", []string{"invalid websocket url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&mcpclient.WebSocketTransport{URL: tt.url}).Connect(context.Background())
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			mustContain(t, "error", err.Error(), tt.want...)
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q leaks the query", err)
			}
		})
	}
}
