package mcpclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// errFrameTooLarge is the error code of the answer that stands in for a
// server's answer over the frame limit.
const errFrameTooLarge = jsonrpc.CodeInternalError

// stdioTransport is an mcp.Transport that runs a command and exchanges
// newline-delimited JSON-RPC messages with it over its stdin and stdout.
//
// Unlike mcp.CommandTransport, it runs the command in a process group of
// its own and stops the whole group when the command ends or the
// connection is closed, and it bounds a message by maxFrame without ending
// the session when a longer one arrives: the longer message is skipped and,
// when it answers a call, that call fails alone.
type stdioTransport struct {
	cmd       *exec.Cmd     // not started; Connect sets its Stdin, Stdout and Stderr
	stderr    io.Writer     // receives the command's stderr; nil discards it
	terminate time.Duration // how long each step of the shutdown waits
	maxFrame  int           // the largest message read, in bytes
	log       *slog.Logger

	mu   sync.Mutex
	proc *process // set by Connect
}

// process is a started command and what follows its end.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returned
	waitErr error         // cmd.Wait's result, set before exited is closed
	done    chan struct{} // closed when the rest of the group was stopped and the pipes drained
}

// exitInfo describes how the process ended ("exit status 3", "signal:
// killed"), or "" while it runs.
func (t *stdioTransport) exitInfo() string {
	t.mu.Lock()
	p := t.proc
	t.mu.Unlock()
	if p == nil {
		return ""
	}
	select {
	case <-p.exited:
		return p.cmd.ProcessState.String()
	default:
		return ""
	}
}

// Connect starts the command. ctx is not used: the process lives until the
// connection is closed.
func (t *stdioTransport) Connect(context.Context) (mcp.Connection, error) {
	var pipes [6]*os.File // stdin r/w, stdout r/w, stderr r/w
	closeAll := func() {
		for _, f := range pipes {
			if f != nil {
				f.Close()
			}
		}
	}
	for i := 0; i < len(pipes); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("creating pipes: %w", err)
		}
		pipes[i], pipes[i+1] = r, w
	}
	stdinR, stdinW, stdoutR, stdoutW, stderrR, stderrW := pipes[0], pipes[1], pipes[2], pipes[3], pipes[4], pipes[5]
	// The command gets *os.File values, so that exec starts no copying
	// goroutines of its own and Wait returns when the process exits, even
	// when something it started still holds the pipes.
	t.cmd.Stdin, t.cmd.Stdout, t.cmd.Stderr = stdinR, stdoutW, stderrW
	setProcessGroup(t.cmd)
	if err := t.cmd.Start(); err != nil {
		closeAll()
		return nil, err
	}
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()

	p := &process{cmd: t.cmd, exited: make(chan struct{}), done: make(chan struct{})}
	t.mu.Lock()
	t.proc = p
	t.mu.Unlock()

	c := &stdioConn{
		proc:      p,
		stdin:     stdinW,
		stdout:    stdoutR,
		terminate: t.terminate,
		maxFrame:  t.maxFrame,
		log:       t.log,
		incoming:  make(chan msgOrErr),
		closed:    make(chan struct{}),
		eof:       make(chan struct{}),
	}
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		w := t.stderr
		if w == nil {
			w = io.Discard
		}
		_, _ = io.Copy(w, stderrR)
	}()
	go c.readLoop()
	go func() {
		defer close(p.done)
		p.waitErr = t.cmd.Wait()
		close(p.exited)
		stopGroup(t.cmd.Process, t.terminate)
		// A process that left the group may still hold the pipes: wait a
		// little for the ends of both streams, then stop reading them.
		expired := make(chan struct{})
		grace := time.AfterFunc(waitDelay, func() { close(expired) })
		defer grace.Stop()
		for _, ch := range []chan struct{}{c.eof, stderrDone} {
			select {
			case <-ch:
			case <-expired:
			}
		}
		stdoutR.Close()
		stderrR.Close()
		<-stderrDone
	}()
	return c, nil
}

// stopGroup ends what is left of the process group led by p after p
// exited: SIGTERM, then SIGKILL after terminate if some are still there.
func stopGroup(p *os.Process, terminate time.Duration) {
	if !groupAlive(p) || terminateGroup(p) != nil {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(terminate)
	defer deadline.Stop()
	for groupAlive(p) {
		select {
		case <-tick.C:
		case <-deadline.C:
			_ = killGroup(p)
			return
		}
	}
}

type msgOrErr struct {
	msg jsonrpc.Message
	err error
}

// stdioConn is the connection to a started stdio server. Read, Write and
// Close are safe for concurrent use; Close may be called more than once.
type stdioConn struct {
	proc      *process
	stdin     *os.File
	stdout    *os.File
	terminate time.Duration
	maxFrame  int
	log       *slog.Logger

	writeMu sync.Mutex

	incoming chan msgOrErr // from readLoop
	eof      chan struct{} // closed when readLoop returned

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// SessionID implements mcp.Connection: stdio has no sessions.
func (c *stdioConn) SessionID() string { return "" }

// readLoop reads the server's messages and hands them to Read, until the
// end of stdout or Close.
func (c *stdioConn) readLoop() {
	fr := newFrameReader(c.stdout, c.maxFrame)
	send := func(m msgOrErr) bool {
		select {
		case c.incoming <- m:
			return true
		case <-c.closed:
			return false
		}
	}
	defer close(c.eof)
	for {
		frame, big, err := fr.next()
		if err != nil {
			send(msgOrErr{err: err})
			return
		}
		if big != nil {
			if resp := c.tooLarge(big); resp != nil && !send(msgOrErr{msg: resp}) {
				return
			}
			continue
		}
		msgs, err := decodeFrame(frame)
		if err != nil {
			send(msgOrErr{err: err})
			return
		}
		for _, m := range msgs {
			if !send(msgOrErr{msg: m}) {
				return
			}
		}
	}
}

// tooLarge logs a skipped message over the frame limit and returns the
// answer that stands in for it when it answered a call, so that the call
// fails; nil otherwise.
func (c *stdioConn) tooLarge(big *oversized) jsonrpc.Message {
	id, kind, ok := big.id()
	attrs := []any{"bytes", big.size, "limit", c.maxFrame}
	if ok {
		attrs = append(attrs, "id", id.Raw())
	}
	if !ok || kind != frameResponse {
		c.log.Warn("mcp server: skipped a message larger than the frame limit", attrs...)
		return nil
	}
	c.log.Warn("mcp server: an answer was larger than the frame limit; its call fails", attrs...)
	return &jsonrpc.Response{ID: id, Error: &jsonrpc.Error{
		Code:    errFrameTooLarge,
		Message: fmt.Sprintf("the server's answer is larger than the %d-byte frame limit", c.maxFrame),
	}}
}

// decodeFrame decodes one message, or the messages of a batch, each
// through guardFrame: a message nested deeper than go-sdk decodes would
// end the whole connection.
func decodeFrame(frame []byte) ([]jsonrpc.Message, error) {
	if i := skipSpace(frame, 0); i < len(frame) && frame[i] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(frame, &raws); err != nil {
			return nil, fmt.Errorf("decoding a batch: %w", err)
		}
		if len(raws) == 0 {
			return nil, errors.New("empty batch")
		}
		msgs := make([]jsonrpc.Message, 0, len(raws))
		for _, raw := range raws {
			m, err := jsonrpc.DecodeMessage(guardFrame(raw))
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
		return msgs, nil
	}
	m, err := jsonrpc.DecodeMessage(guardFrame(frame))
	if err != nil {
		return nil, err
	}
	return []jsonrpc.Message{m}, nil
}

// Read implements mcp.Connection.
func (c *stdioConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case m := <-c.incoming:
		return m.msg, m.err
	case <-c.closed:
		return nil, io.EOF
	}
}

// Write implements mcp.Connection.
func (c *stdioConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("encoding message: %w", err)
	}
	data = append(data, '\n')
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.stdin.Write(data); err != nil {
		return fmt.Errorf("writing to the server: %w", err)
	}
	return nil
}

// Close implements mcp.Connection. As the MCP specification asks, it closes
// the server's stdin and waits for it to exit; then it sends SIGTERM to the
// server's process group, and at last SIGKILL, waiting terminate after
// each. Whatever is left of the group once the server exited is stopped
// too. It returns how the server exited when that was not a success
// ("signal: terminated").
func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		// What the server sends from now on is not read.
		close(c.closed)
		c.closeErr = c.shutdown()
		select {
		case <-c.proc.exited:
			<-c.proc.done // bounded: the rest of the group is being stopped
		default: // unresponsive: nothing more to wait for
		}
	})
	return c.closeErr
}

func (c *stdioConn) shutdown() error {
	// Not under writeMu: closing unblocks a Write to a server that does not
	// read.
	err := c.stdin.Close()
	if err != nil {
		err = fmt.Errorf("closing stdin: %w", err)
	}
	wait := func() bool {
		t := time.NewTimer(c.terminate)
		defer t.Stop()
		select {
		case <-c.proc.exited:
			return true
		case <-t.C:
			return false
		}
	}
	p := c.proc.cmd.Process
	if wait() {
		return errors.Join(err, c.proc.waitErr)
	}
	if terminateGroup(p) == nil && wait() {
		return errors.Join(err, c.proc.waitErr)
	}
	if kerr := killGroup(p); kerr != nil {
		return errors.Join(err, kerr)
	}
	if wait() {
		return errors.Join(err, c.proc.waitErr)
	}
	return errors.Join(err, errors.New("unresponsive subprocess"))
}
