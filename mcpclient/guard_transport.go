package mcpclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os/exec"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// maxGuardedLine is the longest message the guard inspects, go-sdk's own
// limit for a stdio frame: a longer line is passed on as it is, and go-sdk
// refuses it.
const maxGuardedLine = mcp.DefaultMaxLineLength

// guardTransport returns t with every message it receives passed through
// guardFrame before go-sdk decodes it, for the transports whose bytes can be
// reached: *mcp.CommandTransport (stdio), *mcp.IOTransport,
// *mcp.StreamableClientTransport and *mcp.SSEClientTransport (their HTTP
// response bodies). Other transports, among them mcp.InMemoryTransport,
// whose pipe is not exported, and WebSocketTransport, which decodes its own
// frames, are returned as they are. t itself is not modified; a transport
// guardTransport returned is returned as it is.
func guardTransport(t mcp.Transport) mcp.Transport {
	switch t := t.(type) {
	case *mcp.CommandTransport:
		return &guardedCommand{cmd: t.Command, terminate: t.TerminateDuration}
	case *mcp.IOTransport:
		if _, ok := t.Reader.(*guardReader); ok {
			return t
		}
		c := *t
		c.Reader = newGuardReader(t.Reader, guardNDJSONLine)
		return &c
	case *mcp.StreamableClientTransport:
		if guardedClient(t.HTTPClient) {
			return t
		}
		c := *t
		c.HTTPClient = guardHTTPClient(t.HTTPClient, nil)
		return &c
	case *mcp.SSEClientTransport:
		if guardedClient(t.HTTPClient) {
			return t
		}
		c := *t
		c.HTTPClient = guardHTTPClient(t.HTTPClient, nil)
		return &c
	}
	return t
}

// guardedCommand is mcp.CommandTransport with its stdout guarded. Closing it
// does what CommandTransport's Close does: close the server's stdin, wait
// for it to exit, then SIGTERM, then SIGKILL, each after terminate.
type guardedCommand struct {
	cmd       *exec.Cmd
	terminate time.Duration
}

// Connect starts the command.
func (t *guardedCommand) Connect(ctx context.Context) (mcp.Connection, error) {
	stdout, err := t.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := t.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	iot := &mcp.IOTransport{
		// The connection is closed by closing stdin, not stdout.
		Reader: newGuardReader(noClose{stdout}, guardNDJSONLine),
		Writer: &processStdin{WriteCloser: stdin, cmd: t.cmd, terminate: cmpOr(t.terminate, 5*time.Second)},
	}
	return iot.Connect(ctx)
}

// noClose is a reader whose Close does nothing.
type noClose struct{ io.Reader }

func (noClose) Close() error { return nil }

// processStdin is a stdio server's stdin; closing it ends the server.
type processStdin struct {
	io.WriteCloser
	cmd       *exec.Cmd
	terminate time.Duration
}

// Close closes stdin and waits for the process to exit, sending SIGTERM
// and then SIGKILL when it takes longer than terminate, as the MCP stdio
// transport asks.
func (p *processStdin) Close() error {
	if err := p.WriteCloser.Close(); err != nil {
		return fmt.Errorf("closing stdin: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	wait := func() (error, bool) {
		t := time.NewTimer(p.terminate)
		defer t.Stop()
		select {
		case err := <-exited:
			return err, true
		case <-t.C:
			return nil, false
		}
	}
	if err, ok := wait(); ok {
		return err
	}
	if p.cmd.Process.Signal(syscall.SIGTERM) == nil {
		if err, ok := wait(); ok {
			return err
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return err
	}
	if err, ok := wait(); ok {
		return err
	}
	return errors.New("unresponsive subprocess")
}

// guardHTTPClient returns a copy of c (nil means http.DefaultClient) whose
// responses' bodies are guarded, and whose notifications are counted in
// notes (nil counts nothing).
func guardHTTPClient(c *http.Client, notes *noteCounter) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	g := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	g.Transport = &guardRoundTripper{base: base, notes: notes}
	return &g
}

// guardedClient reports whether c is a client guardHTTPClient returned.
func guardedClient(c *http.Client) bool {
	if c == nil {
		return false
	}
	_, ok := c.Transport.(*guardRoundTripper)
	return ok
}

// guardRoundTripper guards the messages in JSON and event-stream responses.
// It is safe for concurrent use.
type guardRoundTripper struct {
	base  http.RoundTripper
	notes *noteCounter
}

// RoundTrip implements http.RoundTripper.
func (g *guardRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		resp.Body = newGuardReader(resp.Body, func(body []byte) []byte {
			out := guardJSONBody(body)
			g.notes.sawFrame(out)
			return out
		})
	case "text/event-stream":
		resp.Body = newGuardReader(resp.Body, func(line []byte) []byte {
			out := guardSSELine(line)
			if payload, ok := bytes.CutPrefix(out, []byte("data:")); ok {
				g.notes.sawFrame(payload)
			}
			return out
		})
	default:
		return resp, nil
	}
	resp.ContentLength = -1 // the guard may change it
	resp.Header.Del("Content-Length")
	return resp, nil
}

// guardNDJSONLine guards one line of newline-delimited JSON.
func guardNDJSONLine(line []byte) []byte {
	body, eol := splitEOL(line)
	out := guardFrame(body)
	if len(out) == len(body) && (len(out) == 0 || &out[0] == &body[0]) {
		return line // unchanged
	}
	return append(out, eol...)
}

// guardSSELine guards the message of an event stream's data line.
func guardSSELine(line []byte) []byte {
	payload, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return line
	}
	payload, _ = bytes.CutPrefix(payload, []byte(" "))
	body, eol := splitEOL(payload)
	out := guardFrame(body)
	if len(out) == len(body) && (len(out) == 0 || &out[0] == &body[0]) {
		return line
	}
	return append(append([]byte("data: "), out...), eol...)
}

// guardJSONBody guards a whole JSON body (a "line" that ends at EOF: see
// newGuardReader's split).
func guardJSONBody(body []byte) []byte {
	return guardNDJSONLine(body)
}

// splitEOL splits a line into its content and its "\n" or "\r\n" end.
func splitEOL(line []byte) ([]byte, []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n], line[n:]
}

// guardReader passes each line of src through guard. A line found longer
// than maxGuardedLine is passed on unguarded; the length is looked at each
// time the 64 KiB read buffer fills, so lines up to one buffer past the
// bound are still guarded. It is not safe for concurrent
// reads (go-sdk reads a connection from one goroutine); Close closes src.
type guardReader struct {
	src     *bufio.Reader
	closer  io.Closer
	guard   func(line []byte) []byte
	line    []byte // the line being read, reused
	pending []byte // what Read returns next
	long    bool   // inside a line longer than maxGuardedLine
	err     error  // src's error, returned once pending is drained
}

// newGuardReader returns a guardReader over src. For a JSON body, where
// the whole body is one message, guard sees the body as one line when it
// has no newline, which is how JSON-RPC bodies are sent.
func newGuardReader(src io.ReadCloser, guard func([]byte) []byte) *guardReader {
	return &guardReader{src: bufio.NewReaderSize(src, 64<<10), closer: src, guard: guard}
}

// Read implements io.Reader.
func (g *guardReader) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.fill()
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// fill reads the next line (or the next piece of an over-long one) into
// pending.
func (g *guardReader) fill() {
	if g.long {
		chunk, err := g.src.ReadSlice('\n')
		g.line = append(g.line[:0], chunk...)
		g.pending = g.line
		switch {
		case err == nil:
			g.long = false
		case !errors.Is(err, bufio.ErrBufferFull):
			g.err = err
		}
		return
	}
	line := g.line[:0]
	for {
		chunk, err := g.src.ReadSlice('\n')
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > maxGuardedLine {
				g.line, g.pending, g.long = line, line, true
				return
			}
			continue
		}
		if err != nil {
			g.err = err
		}
		break
	}
	g.line = line
	g.pending = line
	if len(line) > 0 {
		g.pending = g.guard(line)
	}
}

// Close closes the underlying reader.
func (g *guardReader) Close() error { return g.closer.Close() }

// guardedTransportFunc wraps a ServerConfig.Transport so that the transports
// it makes are guarded (see guardTransport).
func guardedTransportFunc(f func(context.Context) (mcp.Transport, error)) func(context.Context) (mcp.Transport, error) {
	return func(ctx context.Context) (mcp.Transport, error) {
		t, err := f(ctx)
		if err != nil || t == nil {
			return t, err
		}
		return guardTransport(t), nil
	}
}
