package mcpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// noteWaitLimit bounds how long a call's result waits for the handling of
// notifications read before it: a notification that go-sdk reads but does
// not hand to a handler (it could not decode its params) is never counted
// as handled.
const noteWaitLimit = time.Second

// noteCounter lets a call's result wait for the progress and log
// notifications its server sent before it. go-sdk reads a connection on
// one goroutine and hands notifications, in order, to a handler goroutine,
// but it delivers a result as soon as it is read; so when a call returns,
// every notification sent before its result has been read, not necessarily
// handled. The connection counts the notifications it reads, the handlers
// count those they handled, and a call waits until the second count
// reaches what the first was when its result came.
//
// A nil *noteCounter counts nothing and never waits. It is safe for
// concurrent use.
type noteCounter struct {
	mu      sync.Mutex
	read    uint64
	handled uint64
	changed chan struct{} // closed and replaced each time handled grows
}

func newNoteCounter() *noteCounter {
	return &noteCounter{changed: make(chan struct{})}
}

// counted reports whether a message with this method is one a call waits
// for.
func counted(method string) bool {
	return method == "notifications/progress" || method == "notifications/message"
}

// sawMessage counts m when it is a counted notification.
func (n *noteCounter) sawMessage(m jsonrpc.Message) {
	if n == nil {
		return
	}
	if req, ok := m.(*jsonrpc.Request); ok && !req.IsCall() && counted(req.Method) {
		n.add()
	}
}

// sawFrame counts frame, the bytes of one JSON-RPC message (or batch),
// when it is a counted notification. Frames that cannot be one are passed
// over after one scan of their bytes.
func (n *noteCounter) sawFrame(frame []byte) {
	if n == nil || !bytes.Contains(frame, []byte(`"notifications/`)) {
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(frame, &msg) == nil && msg.ID == nil && counted(msg.Method) {
		n.add()
	}
}

func (n *noteCounter) add() {
	n.mu.Lock()
	n.read++
	n.mu.Unlock()
}

// handledOne records that a handler is done with a counted notification.
func (n *noteCounter) handledOne() {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.handled++
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// await returns once every counted notification read so far has been
// handled, or after noteWaitLimit, or when ctx ends.
func (n *noteCounter) await(ctx context.Context) {
	if n == nil {
		return
	}
	n.mu.Lock()
	target := n.read
	n.mu.Unlock()
	var limit <-chan time.Time
	for {
		n.mu.Lock()
		done, changed := n.handled >= target, n.changed
		n.mu.Unlock()
		if done {
			return
		}
		if limit == nil {
			t := time.NewTimer(noteWaitLimit)
			defer t.Stop()
			limit = t.C
		}
		select {
		case <-changed:
		case <-limit:
			return
		case <-ctx.Done():
			return
		}
	}
}

// countingTransport counts the notifications read on the connections of
// a transport whose connections are the bridge's own (stdio, WebSocket):
// go-sdk's HTTP connections implement unexported interfaces that a
// wrapper would hide, so those are counted on their bytes instead (see
// guardRoundTripper).
type countingTransport struct {
	mcp.Transport
	notes *noteCounter
}

func (t countingTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Connection: c, notes: t.notes}, nil
}

type countingConn struct {
	mcp.Connection
	notes *noteCounter
}

func (c *countingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if err == nil {
		c.notes.sawMessage(m)
	}
	return m, err
}
