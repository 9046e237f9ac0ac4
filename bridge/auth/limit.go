package auth

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Decision is a limiter's answer, carrying what a route needs to answer
// 429 or to tell the client where it stands.
type Decision struct {
	// Allowed says whether the request may go on.
	Allowed bool
	// Limit is the most that can be used at once (a rate's burst, a
	// budget's tokens per window, the streams at once); 0 when unlimited.
	Limit int64
	// Remaining is what is left after this decision.
	Remaining int64
	// Reset is how long until everything is available again (the bucket
	// is full, the window starts again).
	Reset time.Duration
	// RetryAfter, when refused, is how long until a request would be
	// allowed; 0 when that cannot be known (concurrent streams).
	RetryAfter time.Duration
}

// unlimited is the decision of a limit that limits nothing.
var unlimited = Decision{Allowed: true}

// Limiter keeps limit state, one entry per key. Implementations are safe
// for concurrent use; an in-process one is NewMemoryLimiter, and one
// shared by several replicas (Redis) can take its place. Errors mean the
// state could not be reached; routes decide whether that fails open or
// closed.
type Limiter interface {
	// Allow takes one request from the token bucket key, refilled at r.
	Allow(ctx context.Context, key string, r Rate) (Decision, error)
	// Spend adds tokens to what key spent in b's current window.
	// Allowed is false once the window's budget is spent (this spending
	// included).
	Spend(ctx context.Context, key string, b Budget, tokens int64) (Decision, error)
	// Remaining reports key's budget in b's current window without
	// spending; Allowed is false when nothing is left.
	Remaining(ctx context.Context, key string, b Budget) (Decision, error)
	// Acquire takes one of max concurrent slots of key; Allowed is false
	// when all are taken. Each allowed Acquire is paired with a Release.
	Acquire(ctx context.Context, key string, max int) (Decision, error)
	// Release gives back a slot taken by Acquire.
	Release(ctx context.Context, key string) error
}

// Admitter is a Limiter that takes a request from a rate and reads a
// budget in one exchange with its state (a Redis pipeline): what Allow
// and then Remaining would return, and their errors.
type Admitter interface {
	Admit(ctx context.Context, rateKey string, r Rate, budgetKey string, b Budget) (rate, budget Decision, rateErr, budgetErr error)
}

// Limits applies a principal's policy limits through a Limiter: the
// routes ask it, with the principal, and answer 429 with the Error it
// returns. A nil *Limits, or a principal without policy or limits, is
// never limited. Keys are the kind and the principal's LimitKey.
type Limits struct {
	// Limiter keeps the state; nil means no limits.
	Limiter Limiter
}

// Request takes one request (a chat completion, a face tool call, a
// /tools call) from the principal's rate. A refusal is an *Error (429,
// rate_limit_exceeded) carrying Retry-After and the x-ratelimit-*
// headers; the Decision is returned either way, for the headers of an
// allowed answer.
func (l *Limits) Request(ctx context.Context, p *Principal) (Decision, error) {
	if l == nil || l.Limiter == nil || p == nil || p.Policy == nil || p.Policy.Rate.Unlimited() {
		return unlimited, nil
	}
	return l.rate(ctx, "req:"+p.LimitKey(), p.Policy.Rate, "requests")
}

// ToolCall takes one tool execution from the principal's tool_calls rate.
// Chat answers a refusal to the model in a tool message; the faces
// answer 429 with the Error.
func (l *Limits) ToolCall(ctx context.Context, p *Principal) (Decision, error) {
	if l == nil || l.Limiter == nil || p == nil || p.Policy == nil || p.Policy.ToolCalls.Unlimited() {
		return unlimited, nil
	}
	return l.rate(ctx, "tool:"+p.LimitKey(), p.Policy.ToolCalls, "tool calls")
}

func (l *Limits) rate(ctx context.Context, key string, r Rate, what string) (Decision, error) {
	d, err := l.Limiter.Allow(ctx, key, r)
	return rateVerdict(d, err, r, what)
}

// rateVerdict is the answer to a rate's decision (or its error).
func rateVerdict(d Decision, err error, r Rate, what string) (Decision, error) {
	if err != nil {
		return d, limiterError(err)
	}
	if !d.Allowed {
		return d, &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: CodeRateLimitExceeded,
			Message: fmt.Sprintf("rate limit reached: %d %s per %s; try again in %s", r.Requests, what, r.Window(), ceilSeconds(d.RetryAfter)),
			Header:  RateHeaders(d)}
	}
	return d, nil
}

// Admit is Request and then Tokens, for a chat request: in one exchange
// with the limit state when the Limiter is an Admitter and both limits
// apply. The Decision is the rate's, for the headers of an allowed answer.
func (l *Limits) Admit(ctx context.Context, p *Principal) (Decision, error) {
	a, ok := l.admitter()
	if !ok || p == nil || p.Policy == nil || p.Policy.Rate.Unlimited() || p.Policy.Tokens.Unlimited() {
		d, err := l.Request(ctx, p)
		if err != nil {
			return d, err
		}
		if _, err := l.Tokens(ctx, p); err != nil {
			return d, err
		}
		return d, nil
	}
	rd, bd, rerr, berr := a.Admit(ctx, "req:"+p.LimitKey(), p.Policy.Rate, "tok:"+p.LimitKey(), p.Policy.Tokens)
	if d, err := rateVerdict(rd, rerr, p.Policy.Rate, "requests"); err != nil {
		return d, err
	}
	if _, err := budgetVerdict(bd, berr, p.Policy.Tokens); err != nil {
		return rd, err
	}
	return rd, nil
}

// admitter returns the Limiter as an Admitter, when it is one.
func (l *Limits) admitter() (Admitter, bool) {
	if l == nil || l.Limiter == nil {
		return nil, false
	}
	a, ok := l.Limiter.(Admitter)
	return a, ok
}

// Tokens checks, before a chat request, that the principal's token budget
// is not spent; a refusal is an *Error (429, insufficient_quota).
func (l *Limits) Tokens(ctx context.Context, p *Principal) (Decision, error) {
	if l == nil || l.Limiter == nil || p == nil || p.Policy == nil || p.Policy.Tokens.Unlimited() {
		return unlimited, nil
	}
	d, err := l.Limiter.Remaining(ctx, "tok:"+p.LimitKey(), p.Policy.Tokens)
	return budgetVerdict(d, err, p.Policy.Tokens)
}

// budgetVerdict is the answer to a budget's decision (or its error).
func budgetVerdict(d Decision, err error, b Budget) (Decision, error) {
	if err != nil {
		return d, limiterError(err)
	}
	if !d.Allowed {
		h := http.Header{}
		h.Set("Retry-After", strconv.FormatInt(int64(ceilSeconds(d.Reset)/time.Second), 10))
		h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(d.Limit, 10))
		h.Set("X-Ratelimit-Remaining-Tokens", "0")
		h.Set("X-Ratelimit-Reset-Tokens", formatReset(d.Reset))
		return d, &Error{Status: http.StatusTooManyRequests, Type: TypeInsufficientQuota, Code: CodeInsufficientQuota,
			Message: fmt.Sprintf("token budget spent: %d tokens per %s; it renews in %s", b.Limit, b.Window(), ceilSeconds(d.Reset)),
			Header:  h}
	}
	return d, nil
}

// Spend records tokens the principal used (usage summed over rounds),
// once the request is done.
func (l *Limits) Spend(ctx context.Context, p *Principal, tokens int64) error {
	if l == nil || l.Limiter == nil || p == nil || p.Policy == nil || p.Policy.Tokens.Unlimited() || tokens <= 0 {
		return nil
	}
	_, err := l.Limiter.Spend(ctx, "tok:"+p.LimitKey(), p.Policy.Tokens, tokens)
	return err
}

// Stream takes one of the principal's concurrent streams. release gives
// it back (it may be called more than once; it is never nil). A refusal
// is an *Error (429, too_many_streams).
func (l *Limits) Stream(ctx context.Context, p *Principal) (release func(), err error) {
	noop := func() {}
	if l == nil || l.Limiter == nil || p == nil || p.Policy == nil || p.Policy.MaxStreams <= 0 {
		return noop, nil
	}
	key := "stream:" + p.LimitKey()
	d, err := l.Limiter.Acquire(ctx, key, p.Policy.MaxStreams)
	if err != nil {
		return noop, limiterError(err)
	}
	if !d.Allowed {
		h := http.Header{}
		h.Set("Retry-After", "1")
		return noop, &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: CodeTooManyStreams,
			Message: fmt.Sprintf("too many streaming answers at once: at most %d", p.Policy.MaxStreams), Header: h}
	}
	var once sync.Once
	return func() {
		once.Do(func() { _ = l.Limiter.Release(context.WithoutCancel(ctx), key) })
	}, nil
}

// limiterError is the answer when the limit state cannot be reached.
func limiterError(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Type: TypeRateLimit, Code: CodeLimiterUnavailable,
		Message: "limits cannot be checked right now; try again"}
}

// RateHeaders are the headers OpenAI clients read, for a decision of a
// request rate: x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
// x-ratelimit-reset-requests (a duration such as "1s" or "6m0s"), and
// Retry-After (whole seconds, at least 1) when refused. An unlimited
// decision has none.
func RateHeaders(d Decision) http.Header {
	h := http.Header{}
	if d.Limit <= 0 {
		return h
	}
	h.Set("X-Ratelimit-Limit-Requests", strconv.FormatInt(d.Limit, 10))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(max(d.Remaining, 0), 10))
	h.Set("X-Ratelimit-Reset-Requests", formatReset(d.Reset))
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(int64(ceilSeconds(d.RetryAfter)/time.Second), 10))
	}
	return h
}

// formatReset writes a duration the way OpenAI's headers do: "1s",
// "6m0s", "20ms".
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Second {
		return strconv.FormatInt(int64(math.Ceil(float64(d)/float64(time.Millisecond))), 10) + "ms"
	}
	return d.Round(time.Second).String()
}

// ceilSeconds rounds d up to whole seconds, at least one.
func ceilSeconds(d time.Duration) time.Duration {
	s := time.Duration(math.Ceil(d.Seconds())) * time.Second
	return max(s, time.Second)
}
