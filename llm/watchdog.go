package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFirstByteTimeout is the cause (matched with errors.Is) of the *Error
// returned when the upstream sent no byte of its answer, neither the
// response's header nor the first byte of its body, within
// Options.FirstByteTimeout of the request being sent.
var ErrFirstByteTimeout = errors.New("first-byte timeout")

// ErrStallTimeout is the cause (matched with errors.Is) of the *Error
// returned by a response body's Read when the upstream sent nothing for
// Options.StallTimeout in the middle of its answer.
var ErrStallTimeout = errors.New("stall timeout")

// Defaults of Options.FirstByteTimeout and Options.StallTimeout. A local
// model server may load the model before it answers, which takes a while.
const (
	defaultFirstByteTimeout = 2 * time.Minute
	defaultStallTimeout     = 2 * time.Minute
)

// notReading is watchdog.waiting while no Read is under way.
const notReading = -1

// watchdog bounds one attempt of a request: it cancels the attempt's
// context with ErrFirstByteTimeout when no byte of the answer came within
// firstByte of the request, and with ErrStallTimeout when, once the answer
// has begun, a Read of its body waited stall for the next byte. Only time
// spent waiting in Read counts as a stall: a reader busy elsewhere (writing
// to a slow client, say) is not the upstream's silence. A duration <= 0
// disables its check. A Read costs a clock reading and two atomic stores;
// the timer, not the reader, works out whether the answer went silent, so
// a read never resets a timer.
type watchdog struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	firstByte time.Duration
	stall     time.Duration
	where     string // the upstream's address, for messages
	op        string
	start     time.Time
	// waiting is when the Read under way began, as time since start;
	// notReading when none is.
	waiting atomic.Int64

	// begun is set, under mu, when the first byte of the body came.
	begun atomic.Bool

	mu      sync.Mutex // guards timer and stopped
	timer   *time.Timer
	stopped bool
}

// newWatchdog starts watching an attempt made with the returned
// watchdog's ctx, a child of parent.
func (c *Client) newWatchdog(parent context.Context, op string) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, firstByte: c.firstByte, stall: c.stall,
		where: c.where, op: op, start: time.Now()}
	w.waiting.Store(notReading)
	if w.firstByte > 0 {
		w.mu.Lock()
		w.timer = time.AfterFunc(w.firstByte, w.check)
		w.mu.Unlock()
	}
	return w
}

// since returns the time since the attempt began.
func (w *watchdog) since() int64 { return int64(time.Since(w.start)) }

// check runs on the timer.
func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if !w.begun.Load() {
		w.cancel(ErrFirstByteTimeout)
		return
	}
	if w.stall <= 0 {
		return
	}
	waiting := w.waiting.Load()
	if waiting == notReading {
		w.timer.Reset(w.stall) // a Read that starts later gets its whole wait
		return
	}
	idle := time.Duration(w.since() - waiting)
	if idle >= w.stall {
		w.cancel(ErrStallTimeout)
		return
	}
	w.timer.Reset(w.stall - idle)
}

// begin records the body's first byte. The response's header alone does
// not count: an upstream can send it at once and then think.
func (w *watchdog) begin() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.begun.Load() {
		return
	}
	w.begun.Store(true)
	// From now on the timer watches for a stall.
	switch {
	case w.stopped:
	case w.stall <= 0:
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(w.stall, w.check)
	default:
		w.timer.Reset(w.stall)
	}
}

// stop ends the watch and releases the attempt's context.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancel(nil)
}

// err returns the *Error of a timeout that ended the attempt, nil when
// neither timeout fired (the parent context ending is not this watchdog's
// to report).
func (w *watchdog) err() *Error {
	switch context.Cause(w.ctx) {
	case ErrFirstByteTimeout:
		return &Error{Message: fmt.Sprintf("%s sent nothing within %s of the request", w.where, w.firstByte),
			Err: ErrFirstByteTimeout, op: w.op}
	case ErrStallTimeout:
		return &Error{Message: fmt.Sprintf("%s sent nothing for %s in the middle of its answer", w.where, w.stall),
			Err: ErrStallTimeout, op: w.op}
	}
	return nil
}

// watchedBody is a response body read under a watchdog: a read cut by a
// timeout fails with the timeout's *Error, and Close ends the watch.
type watchedBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *watchedBody) Read(p []byte) (int, error) {
	w := b.w
	w.waiting.Store(w.since())
	n, err := b.rc.Read(p)
	w.waiting.Store(notReading)
	if n > 0 && !w.begun.Load() {
		w.begin()
	}
	if err != nil && err != io.EOF {
		if te := b.w.err(); te != nil {
			return n, te
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.stop()
	return err
}
