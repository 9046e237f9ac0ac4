package mcpclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestRegistryToolsAndCalls(t *testing.T) {
	r, _ := start(t, &mcpclient.Options{MaxResultBytes: 1000},
		mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))

	if got, want := toolNames(r), prefixed("mem", mcptest.ToolNames()...); !slices.Equal(got, want) {
		t.Fatalf("tools = %q, want %q", got, want)
	}
	echo, ok := r.Lookup("mem__echo")
	if !ok {
		t.Fatal("Lookup(mem__echo) failed")
	}
	if echo.Server != "mem" || echo.Original != "echo" || echo.Description != "Returns its text." {
		t.Errorf("echo = %+v", echo)
	}
	var schema map[string]any
	if err := json.Unmarshal(echo.InputSchema, &schema); err != nil || schema["type"] != "object" || schema["properties"] == nil {
		t.Errorf("echo schema = %s (%v)", echo.InputSchema, err)
	}
	if _, ok := schema["$schema"]; ok {
		t.Errorf("echo schema kept $schema: %s", echo.InputSchema)
	}

	if res := call(t, r, "mem__echo", `{"text":"hi"}`); res.Text != "hi" || res.IsError {
		t.Errorf("echo = %+v", res)
	}
	if res := call(t, r, "mem__add", `{"a":1,"b":2}`); res.Text != "1 + 2 = 3" || string(res.Structured) != `{"sum":3}` {
		t.Errorf("add = %+v (structured %s)", res, res.Structured)
	}
	if res := call(t, r, "mem__fail", ``); res.Text != "failure requested" || !res.IsError {
		t.Errorf("fail = %+v", res)
	}
	if res := call(t, r, "mem__image", `null`); res.Text != fmt.Sprintf("[image: image/png, %d bytes]", len(mcptest.PNG())) {
		t.Errorf("image = %+v", res)
	}
	res := call(t, r, "mem__big", `{"bytes":5000}`)
	mustContain(t, "big", res.Text, strings.Repeat("x", 1000)+"\n[output truncated: 4000 of 5000 bytes omitted]")
	if res := call(t, r, "mem__crash", `{}`); !res.IsError {
		t.Errorf("crash in memory = %+v, want a tool error", res)
	}

	st := status(t, r, "mem")
	if st.State != mcpclient.StateReady || st.Tools != len(mcptest.ToolNames()) || st.Transport != mcpclient.TransportCustom || st.Error != "" {
		t.Errorf("status = %+v", st)
	}
}

func TestCallErrors(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))
	ctx := context.Background()

	_, err := r.Call(ctx, "mem__nope", nil)
	if !errors.Is(err, mcpclient.ErrUnknownTool) {
		t.Errorf("unknown tool: err = %v", err)
	}
	mustContain(t, "unknown tool error", err.Error(), `"mem__nope"`)

	for _, args := range []string{`[1]`, `"x"`, `{"text":`} {
		_, err := r.Call(ctx, "mem__echo", []byte(args))
		if !errors.Is(err, mcpclient.ErrInvalidArguments) {
			t.Errorf("args %s: err = %v, want ErrInvalidArguments", args, err)
		}
	}

	// A JSON-RPC error is an error naming the tool and the server.
	_, err = r.Call(ctx, "mem__protocol_error", nil)
	if err == nil || errors.Is(err, mcpclient.ErrUnknownTool) {
		t.Fatalf("protocol_error: err = %v", err)
	}
	mustContain(t, "protocol error", err.Error(), `"protocol_error"`, `"mem"`, mcptest.ProtocolErrorMessage)

	// Arguments failing the tool's schema give a tool error the model can read.
	res, err := r.Call(ctx, "mem__add", []byte(`{"a":"not a number"}`))
	if err != nil || !res.IsError {
		t.Fatalf("add with a string = %+v, %v; want a tool error", res, err)
	}
}

func TestAllowDeny(t *testing.T) {
	cfg := mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil))
	cfg.Allow = []string{"e*", "add*", "fail"}
	cfg.Deny = []string{"add_tool", "fail"}
	r, _ := start(t, nil, cfg)
	if got, want := toolNames(r), []string{"mem__add", "mem__echo"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %q, want %q", got, want)
	}
	if _, err := r.Call(context.Background(), "mem__fail", nil); !errors.Is(err, mcpclient.ErrUnknownTool) {
		t.Fatalf("denied tool: err = %v, want ErrUnknownTool", err)
	}
}

func TestPrefixes(t *testing.T) {
	unprefixed, short := "", "s"
	a := mcptest.InMemory("alpha", mcptest.NewServerWithOptions(nil))
	a.Prefix = &unprefixed
	a.Allow = []string{"echo", "add"}
	b := mcptest.InMemory("beta", mcptest.NewServerWithOptions(nil))
	b.Prefix = &unprefixed
	b.Allow = []string{"echo"}
	c := mcptest.InMemory("gamma server", mcptest.NewServerWithOptions(nil))
	c.Allow = []string{"echo"}
	d := mcptest.InMemory("delta", mcptest.NewServerWithOptions(nil))
	d.Prefix = &short
	d.Allow = []string{"echo"}
	r, _ := start(t, nil, a, b, c, d)

	names := toolNames(r)
	var betaEcho string
	for _, n := range names {
		if strings.HasPrefix(n, "echo_") {
			betaEcho = n
		}
	}
	want := []string{"add", "echo", betaEcho, "gamma_server__echo", "s__echo"}
	if betaEcho == "" || !slices.Equal(names, want) {
		t.Fatalf("tools = %q, want %q with echo_<hash>", names, want)
	}
	for name, server := range map[string]string{"echo": "alpha", betaEcho: "beta", "gamma_server__echo": "gamma server", "s__echo": "delta"} {
		tool, ok := r.Lookup(name)
		if !ok || tool.Server != server || tool.Original != "echo" {
			t.Errorf("Lookup(%s) = %+v, %v; want echo of %s", name, tool, ok, server)
		}
		if res := call(t, r, name, `{"text":"x"}`); res.Text != "x" {
			t.Errorf("%s = %+v", name, res)
		}
	}
}

func TestPagination(t *testing.T) {
	srv := mcptest.NewServerWithOptions(&mcptest.Options{PageSize: 4, ExtraTools: 25})
	r, _ := start(t, nil, mcptest.InMemory("p", srv))
	if got, want := len(r.Tools()), len(mcptest.ToolNames())+25; got != want {
		t.Fatalf("got %d tools over pages of 4, want %d", got, want)
	}
	if res := call(t, r, "p__extra_024", ``); res.Text != "extra_024" {
		t.Fatalf("extra_024 = %+v", res)
	}
}

func TestToolListChanged(t *testing.T) {
	r, ev := start(t, nil, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))
	v := r.Version()
	before := r.Tools()
	if _, ok := r.Lookup("mem__late"); ok {
		t.Fatal("late exists before add_tool")
	}
	call(t, r, "mem__add_tool", ``)
	e := ev.wait(t, "mem", mcpclient.EventToolsChanged)
	if e.Tools != len(mcptest.ToolNames())+1 {
		t.Errorf("tools_changed event = %+v", e)
	}
	if r.Version() == v {
		t.Error("Version did not change")
	}
	if res := call(t, r, "mem__late", ``); res.Text != "late" {
		t.Errorf("late = %+v", res)
	}
	if len(before) != len(mcptest.ToolNames()) {
		t.Error("an earlier snapshot was modified")
	}
}

func TestToolsSnapshotIsCached(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))
	a, b := r.Tools(), r.Tools()
	if len(a) == 0 || &a[0] != &b[0] {
		t.Fatal("Tools() rebuilt its slice without a change")
	}
	v := r.Version()
	if v == 0 {
		t.Fatal("Version() = 0 after a server came up")
	}
	allocs := testing.AllocsPerRun(100, func() { _ = r.Tools() })
	if allocs != 0 {
		t.Fatalf("Tools() allocates %v times per call", allocs)
	}
}

func TestConcurrencyBound(t *testing.T) {
	started := make(chan string, 10)
	release := make(chan struct{})
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		if e.Kind == mcptest.SleepStarted {
			started <- e.ID
			<-release
		}
	}})
	cfg := mcptest.InMemory("mem", srv)
	cfg.MaxConcurrency = 2
	r, _ := start(t, nil, cfg)

	const calls = 4
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := r.Call(context.Background(), "mem__sleep", []byte(`{"ms":0}`))
			errs <- err
		}()
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(waitTimeout):
			t.Fatal("two calls did not start")
		}
	}
	// With two calls held, no third call reaches the server.
	select {
	case id := <-started:
		t.Fatalf("call %s started beyond the bound of 2", id)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if n := len(started); n != calls-2 {
		t.Errorf("%d more calls started after the release, want %d", n, calls-2)
	}
}

func TestWaitingForASlotRespectsContext(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		if e.Kind == mcptest.SleepStarted && e.ID == "hold" {
			started <- struct{}{}
			<-release
		}
	}})
	cfg := mcptest.InMemory("mem", srv)
	cfg.MaxConcurrency = 1
	r, _ := start(t, nil, cfg)

	go r.Call(context.Background(), "mem__sleep", []byte(`{"ms":0,"id":"hold"}`))
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Call(ctx, "mem__echo", []byte(`{"text":"x"}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued call with a cancelled context: err = %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	cancelled := make(chan string, 1)
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		if e.Kind == mcptest.SleepCancelled {
			cancelled <- e.ID
		}
	}})
	cfg := mcptest.InMemory("mem", srv)
	cfg.Timeout = 50 * time.Millisecond
	r, _ := start(t, nil, cfg)

	_, err := r.Call(context.Background(), "mem__sleep", []byte(`{"ms":60000,"id":"slow"}`))
	var te *mcpclient.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if err.Error() != `tool "mem__sleep" timed out after 50ms` {
		t.Errorf("err = %q", err)
	}
	select {
	case id := <-cancelled:
		if id != "slow" {
			t.Errorf("cancelled %q", id)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the server never saw the cancellation")
	}
	// The session survives.
	if res := call(t, r, "mem__echo", `{"text":"still here"}`); res.Text != "still here" {
		t.Errorf("echo = %+v", res)
	}
}

func TestCallCancellationReachesServer(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		switch e.Kind {
		case mcptest.SleepStarted:
			started <- struct{}{}
		case mcptest.SleepCancelled:
			cancelled <- struct{}{}
		}
	}})
	r, _ := start(t, nil, mcptest.InMemory("mem", srv))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Call(ctx, "mem__sleep", []byte(`{"ms":60000}`))
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(waitTimeout):
		t.Fatal("the server never saw the cancellation")
	}
}

func TestSessionLossAndReconnect(t *testing.T) {
	srv := mcptest.NewServerWithOptions(nil)
	other := mcptest.InMemory("other", mcptest.NewServerWithOptions(nil))
	other.Allow = []string{"echo"}
	r, ev := start(t, nil, mcptest.InMemory("mem", srv), other)
	if n := len(r.Tools()); n != len(mcptest.ToolNames())+1 {
		t.Fatalf("%d tools", n)
	}
	v := r.Version()

	for ss := range srv.Sessions() {
		ss.Close()
	}
	down := ev.wait(t, "mem", mcpclient.EventDown)
	if down.Err == "" {
		t.Errorf("down event without a reason: %+v", down)
	}
	// Tools vanish at once; the other server is untouched. (The server may
	// already be back: then all its tools are there again.)
	if got := toolNames(r); !slices.Equal(got, []string{"other__echo"}) && len(got) != len(mcptest.ToolNames())+1 {
		t.Errorf("tools after the session loss = %q", got)
	}
	up := ev.wait(t, "mem", mcpclient.EventUp)
	if up.Tools != len(mcptest.ToolNames()) {
		t.Errorf("up event = %+v", up)
	}
	if r.Version() <= v {
		t.Errorf("Version %d did not move past %d", r.Version(), v)
	}
	if res := call(t, r, "mem__echo", `{"text":"back"}`); res.Text != "back" {
		t.Errorf("echo = %+v", res)
	}
	if st := status(t, r, "mem"); st.Restarts != 1 || st.State != mcpclient.StateReady {
		t.Errorf("status = %+v", st)
	}
}

func TestUnavailableServer(t *testing.T) {
	var fail atomic.Bool
	srv := mcptest.NewServerWithOptions(nil)
	cfg := mcptest.InMemory("mem", srv)
	inner := cfg.Transport
	cfg.Transport = func(ctx context.Context) (mcp.Transport, error) {
		if fail.Load() {
			return nil, errors.New("no route to the moon")
		}
		return inner(ctx)
	}
	r, ev := start(t, &mcpclient.Options{MinBackoff: time.Hour}, cfg)
	call(t, r, "mem__echo", `{"text":"x"}`)

	fail.Store(true)
	for ss := range srv.Sessions() {
		ss.Close()
	}
	ev.wait(t, "mem", mcpclient.EventDown)
	// The tool is gone, but a call names the server and why it is down
	// rather than calling the tool unknown.
	_, err := r.Call(context.Background(), "mem__echo", []byte(`{"text":"x"}`))
	if !errors.Is(err, mcpclient.ErrServerNotConnected) {
		t.Fatalf("err = %v, want ErrServerNotConnected", err)
	}
	mustContain(t, "error", err.Error(), `"mem__echo"`, `server "mem"`, "connecting")
	if _, ok := r.Lookup("mem__echo"); ok {
		t.Error("the tool of a down server is still listed")
	}
}

func TestBrokenServersDoNotBlock(t *testing.T) {
	logs := &syncbuf.Buffer{}
	hang := mcpclient.ServerConfig{Name: "hang", Transport: func(ctx context.Context) (mcp.Transport, error) {
		pr, _ := io.Pipe() // nothing ever answers
		return &mcp.IOTransport{Reader: pr, Writer: discardCloser{}}, nil
	}}
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{
		{Name: "missing", Command: "/nonexistent/mcp-server-that-does-not-exist"},
		hang,
		mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)),
		{Name: "off", Command: "x", Disabled: true},
		{Name: "bad"},
		{Name: "mem", Command: "duplicate"},
		{Name: "ws", URL: "ws://127.0.0.1:1/mcp"},
	}, &mcpclient.Options{Logger: newLogger(logs), MinBackoff: time.Hour, ConnectTimeout: 200 * time.Millisecond})
	defer r.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin := time.Now()
	r.Start(ctx)
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("Start took %s", d)
	}
	wctx, wcancel := context.WithTimeout(ctx, waitTimeout)
	defer wcancel()
	if err := r.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"bad":     mcpclient.StateFailed,
		"hang":    mcpclient.StateFailed,
		"mem":     mcpclient.StateReady,
		"missing": mcpclient.StateFailed,
		"off":     mcpclient.StateDisabled,
		"ws":      mcpclient.StateFailed,
	}
	got := r.Servers()
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		if w, ok := want[s.Name]; ok && s.State != w && !(s.Name == "mem" && s.Error != "") {
			t.Errorf("%s: state %s, want %s (%+v)", s.Name, s.State, w, s)
		}
	}
	if !slices.Equal(names, []string{"bad", "hang", "mem", "mem", "missing", "off", "ws"}) {
		t.Errorf("servers = %q", names)
	}
	for _, s := range got {
		switch {
		case s.Name == "missing":
			mustContain(t, "missing error", s.Error, "/nonexistent/mcp-server-that-does-not-exist")
		case s.Name == "hang":
			mustContain(t, "hang error", s.Error, "timed out after 200ms")
		case s.Name == "mem" && s.State == mcpclient.StateFailed:
			mustContain(t, "duplicate error", s.Error, "duplicate server name")
		case s.Name == "ws":
			mustContain(t, "ws error", s.Error, "websocket handshake with ws://127.0.0.1:1/mcp")
		case s.Name == "bad":
			mustContain(t, "bad error", s.Error, "either command (stdio) or url (remote) is required")
		}
	}
	if res := call(t, r, "mem__echo", `{"text":"fine"}`); res.Text != "fine" {
		t.Errorf("echo = %+v", res)
	}
	mustContain(t, "logs", logs.String(), "mcp server failed to connect", "server=missing")
}

func TestCloseIsIdempotentAndEndsCalls(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		if e.Kind == mcptest.SleepStarted {
			started <- struct{}{}
		}
	}})
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.InMemory("mem", srv)}, nil)
	r.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := r.Call(ctx, "mem__sleep", []byte(`{"ms":60000}`))
		errc <- err
	}()
	<-started
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, mcpclient.ErrClosed) {
		t.Errorf("call in flight at Close: err = %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if len(r.Tools()) != 0 {
		t.Errorf("tools after Close: %q", toolNames(r))
	}
	if err := r.WaitReady(ctx); !errors.Is(err, mcpclient.ErrClosed) {
		t.Errorf("WaitReady after Close = %v", err)
	}
	if _, err := r.Call(ctx, "mem__echo", nil); err == nil {
		t.Error("Call after Close succeeded")
	}
}

func TestStartContextBoundsLife(t *testing.T) {
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil))}, nil)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx)
	wctx, wcancel := context.WithTimeout(context.Background(), waitTimeout)
	defer wcancel()
	if err := r.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := r.Close(); err != nil { // waits for the servers to stop
		t.Fatal(err)
	}
	if st := status(t, r, "mem"); st.State != mcpclient.StateFailed || st.Error != "closed" {
		t.Errorf("status after the context ended = %+v", st)
	}
}

func TestWaitReadyBeforeStart(t *testing.T) {
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil))}, nil)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady before Start = %v, want the context's error", err)
	}
	empty := mcpclient.NewRegistry(nil, nil)
	if err := empty.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady without servers = %v", err)
	}
	if tools := empty.Tools(); tools == nil || len(tools) != 0 {
		t.Fatalf("Tools() of an empty registry = %#v", tools)
	}
}

// discardCloser is an io.WriteCloser that discards what it is given.
type discardCloser struct{}

func (discardCloser) Write(p []byte) (int, error) { return len(p), nil }
func (discardCloser) Close() error                { return nil }
