package console

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

func finished(server, outcome string, ms int) *observe.ToolCallRecord {
	return &observe.ToolCallRecord{ToolCallStart: observe.ToolCallStart{Server: server, Tool: server + "__t"},
		Duration: time.Duration(ms) * time.Millisecond, Outcome: outcome}
}

func TestLatencyKeepsTheLatestCallsInOrder(t *testing.T) {
	l := NewLatency(3)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		outcome := observe.OutcomeOK
		if i == 4 {
			outcome = observe.OutcomeToolError
		}
		l.ToolCallFinished(ctx, finished("a", outcome, i*10))
	}
	l.ToolCallFinished(ctx, finished("b", observe.OutcomeTimeout, 7))
	// Say nothing of a server's latency: refused, cancelled, no server.
	l.ToolCallFinished(ctx, finished("a", observe.OutcomeDenied, 0))
	l.ToolCallFinished(ctx, finished("a", observe.OutcomeCancelled, 1))
	l.ToolCallFinished(ctx, finished("", observe.OutcomeFailed, 1))

	got, calls, errs := l.Of("a")
	if fmt.Sprint(msOf(got)) != "[30 40 50]" || calls != 5 || errs != 1 {
		t.Errorf("a: %v, %d calls, %d errors", msOf(got), calls, errs)
	}
	if !got[1].Error || got[0].Error || got[2].Error {
		t.Errorf("error marks: %+v", got)
	}
	if got, calls, errs := l.Of("b"); fmt.Sprint(msOf(got)) != "[7]" || calls != 1 || errs != 1 || !got[0].Error {
		t.Errorf("b: %+v, %d, %d", got, calls, errs)
	}
	if got, calls, _ := l.Of("none"); got == nil || len(got) != 0 || calls != 0 {
		t.Errorf("unknown server: %v %d", got, calls)
	}
	if n := len(l.servers); n != 2 {
		t.Errorf("%d histories, want 2", n)
	}
}

func TestLatencyDefaultAndBound(t *testing.T) {
	l := NewLatency(0)
	for i := range 100 {
		l.ToolCallFinished(context.Background(), finished("a", observe.OutcomeOK, i))
	}
	if got, calls, _ := l.Of("a"); len(got) != 60 || got[0].MS != 40 || got[59].MS != 99 || calls != 100 {
		t.Errorf("%d samples from %d to %d, %d calls", len(got), got[0].MS, got[len(got)-1].MS, calls)
	}
	for i := range maxServers + 10 {
		l.ToolCallFinished(context.Background(), finished(fmt.Sprint("s", i), observe.OutcomeOK, 1))
	}
	if n := len(l.servers); n != maxServers {
		t.Errorf("%d histories, want the bound %d", n, maxServers)
	}
}

func msOf(s []Sample) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = x.MS
	}
	return out
}
