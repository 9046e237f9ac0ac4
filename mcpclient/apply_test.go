package mcpclient_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasTool(r *mcpclient.Registry, name string) bool {
	_, ok := r.Lookup(name)
	return ok
}

// An unchanged server keeps its process, a removed one stops and its
// tools leave, a changed one restarts as a new process, an added one
// starts; the version moves with the tool set.
func TestApplyDiff(t *testing.T) {
	r, ev := start(t, nil,
		mcptest.StdioServer("keep"), mcptest.StdioServer("gone"), mcptest.StdioServer("change"))
	keepPID := call(t, r, "keep__pid", "{}").Text
	changePID := call(t, r, "change__pid", "{}").Text
	before := r.Version()

	changed := mcptest.StdioServer("change", "CHANGED=1")
	if err := r.Apply([]mcpclient.ServerConfig{mcptest.StdioServer("keep"), changed, mcptest.StdioServer("added")}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if hasTool(r, "gone__pid") {
		t.Error("the removed server's tools are still listed right after Apply")
	}
	if r.Version() == before {
		t.Error("Version did not change when a server was removed")
	}
	if e := ev.wait(t, "gone", mcpclient.EventDown); e.Err == "" {
		t.Error("the removal's event has no reason")
	}
	waitFor(t, "the added and the changed server to be ready", func() bool {
		return hasTool(r, "added__pid") && status(t, r, "change").State == mcpclient.StateReady
	})

	if got := call(t, r, "keep__pid", "{}").Text; got != keepPID {
		t.Errorf("unchanged server: pid %s after Apply, %s before", got, keepPID)
	}
	if got := call(t, r, "change__pid", "{}").Text; got == changePID {
		t.Errorf("changed server: still pid %s after Apply", got)
	}
	call(t, r, "added__echo", `{"text":"hi"}`)
	_, err := r.Call(context.Background(), "gone__echo", []byte(`{"text":"hi"}`))
	if !errors.Is(err, mcpclient.ErrUnknownTool) {
		t.Errorf("call to a removed server's tool: %v, want ErrUnknownTool", err)
	}
	var names []string
	for _, s := range r.Servers() {
		names = append(names, s.Name)
	}
	if want := []string{"added", "change", "keep"}; !slices.Equal(names, want) {
		t.Errorf("Servers() = %v, want %v", names, want)
	}
}

// A removed server's calls in flight finish with their results, the one
// running and the one queued for the server's concurrency bound alike;
// the server's session ends only after them.
func TestApplyDrainsCallsInFlight(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	cancelled := make(chan string, 2)
	srv := mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) {
		switch e.Kind {
		case mcptest.SleepStarted:
			started <- struct{}{}
			if e.ID == "running" {
				<-release
			}
		case mcptest.SleepCancelled:
			cancelled <- e.ID
		}
	}})
	mem := mcptest.InMemory("mem", srv)
	mem.MaxConcurrency = 1
	other := mcptest.InMemory("other", mcptest.NewServer())
	r, ev := start(t, nil, mem, other)
	sessions := func() int {
		n := 0
		for range srv.Sessions() {
			n++
		}
		return n
	}

	type answer struct {
		res *mcpclient.Result
		err error
	}
	done := make(chan answer, 2)
	for _, id := range []string{"running", "queued"} {
		go func() {
			res, err := r.Call(context.Background(), "mem__sleep", []byte(`{"ms":0,"id":"`+id+`"}`))
			done <- answer{res, err}
		}()
		if id == "running" {
			<-started
		}
	}
	// The second call waits behind the first (MaxConcurrency 1).
	waitFor(t, "the queued call to enter", func() bool { return mcpclient.CallsEntered(r, "mem") == 2 })
	if err := r.Apply([]mcpclient.ServerConfig{other}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	ev.wait(t, "mem", mcpclient.EventDown)
	if hasTool(r, "mem__sleep") {
		t.Error("the removed server's tools are still listed")
	}
	close(release)
	for range 2 {
		a := <-done
		if a.err != nil || a.res.IsError || a.res.Text != "slept 0ms" {
			t.Errorf("a call in flight ended with %+v, %v; want its result", a.res, a.err)
		}
	}
	waitFor(t, "the removed server's session to end", func() bool { return sessions() == 0 })
	select {
	case id := <-cancelled:
		t.Errorf("the call %s was cancelled", id)
	default:
	}
}

// Apply before Start only records the servers; Start starts them. After
// Close it refuses.
func TestApplyBeforeStartAndAfterClose(t *testing.T) {
	r := mcpclient.NewRegistry(nil, &mcpclient.Options{MinBackoff: 10 * time.Millisecond})
	if err := r.Apply([]mcpclient.ServerConfig{mcptest.InMemory("mem", mcptest.NewServer())}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if s := r.Servers(); len(s) != 1 || s[0].State != mcpclient.StateConnecting {
		t.Fatalf("Servers() before Start = %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r.Start(ctx)
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	call(t, r, "mem__echo", `{"text":"x"}`)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(nil); !errors.Is(err, mcpclient.ErrClosed) {
		t.Errorf("Apply after Close = %v, want ErrClosed", err)
	}
}

// Invalid entries are listed as failed and returned, the rest applied.
func TestApplyInvalidEntries(t *testing.T) {
	r, ev := start(t, nil)
	err := r.Apply([]mcpclient.ServerConfig{{Name: "bad"}, mcptest.InMemory("mem", mcptest.NewServer())})
	if err == nil {
		t.Fatal("Apply with an invalid entry returned nil")
	}
	mustContain(t, "error", err.Error(), `"bad"`)
	ev.wait(t, "mem", mcpclient.EventUp)
	if s := status(t, r, "bad"); s.State != mcpclient.StateFailed {
		t.Errorf("bad: %+v", s)
	}
}

// Servers with a custom transport are compared by Fingerprint.
func TestApplyFingerprint(t *testing.T) {
	a := mcptest.InMemory("mem", mcptest.NewServer())
	a.Fingerprint = "v1"
	r, ev := start(t, nil, a)
	same := mcptest.InMemory("mem", mcptest.NewServer())
	same.Fingerprint = "v1"
	if err := r.Apply([]mcpclient.ServerConfig{same}); err != nil {
		t.Fatal(err)
	}
	if s := status(t, r, "mem"); s.State != mcpclient.StateReady {
		t.Errorf("same fingerprint: the server was restarted: %+v", s)
	}
	next := mcptest.InMemory("mem", mcptest.NewServer())
	next.Fingerprint = "v2"
	if err := r.Apply([]mcpclient.ServerConfig{next}); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "mem", mcpclient.EventDown)
	ev.wait(t, "mem", mcpclient.EventUp)
}
