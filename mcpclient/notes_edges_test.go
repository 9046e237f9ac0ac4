package mcpclient

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Calls wait for progress and log notifications, and for no other kind:
// a kind nothing counts as handled would hold every later result until
// the wait limit.
func TestNoteCounterCountsProgressAndLogOnly(t *testing.T) {
	n := newNoteCounter()
	for _, frame := range []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`,
		`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`,
		`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
		`{"jsonrpc":"2.0","id":7,"method":"notifications/progress"}`, // a call, not a notification
	} {
		n.sawFrame([]byte(frame))
	}
	if n.read != 2 {
		t.Errorf("read = %d after a progress, a log and three other messages, want 2", n.read)
	}
}

// watchedCtx is a context that counts how often a waiter looks at Done.
type watchedCtx struct {
	context.Context
	looked atomic.Int32
}

func (c *watchedCtx) Done() <-chan struct{} {
	c.looked.Add(1)
	return c.Context.Done()
}

// Once every notification read has been handled, await returns without
// waiting at all: it does not even look at the context.
func TestNoteCounterAwaitReturnsAtOnceWhenCaughtUp(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel() // should the mutant wait, it ends at once instead of hanging
	n := newNoteCounter()
	ctx := &watchedCtx{Context: done}
	n.await(ctx)
	if got := ctx.looked.Load(); got != 0 {
		t.Errorf("await with nothing read waited (looked at ctx.Done %d times)", got)
	}
	n.sawFrame([]byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{}}`))
	n.handledOne()
	n.await(ctx)
	if got := ctx.looked.Load(); got != 0 {
		t.Errorf("await with one read and one handled waited (looked at ctx.Done %d times)", got)
	}
}

// A notification that is read but never handled (go-sdk could not decode
// it) holds a result for noteWaitLimit, not for ever.
func TestNoteCounterAwaitGivesUpAfterTheLimit(t *testing.T) {
	n := newNoteCounter()
	n.sawFrame([]byte(`{"jsonrpc":"2.0","method":"notifications/message","params":"undecodable"}`))
	returned := make(chan struct{})
	go func() {
		n.await(context.Background())
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(30 * noteWaitLimit): // a hang, not a measurement
		t.Fatal("await never gave up on a notification that is never handled")
	}
}
