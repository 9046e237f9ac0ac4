package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
)

// Each limit is one Lua script, run atomically by Redis with Redis's own
// clock (TIME), so that replicas whose clocks differ still count alike.
// Numbers are doubles in Lua: times are kept in microseconds (rates) or
// milliseconds (windows, leases), well within 2^53, and written with
// %.0f, since Lua's default formatting of large numbers loses digits.

// rateScript is GCRA (the generic cell rate algorithm, as in
// go-redis/redis_rate): the key holds the theoretical arrival time of the
// next request; a request is allowed when that time, less the burst, is
// not in the future. ARGV: burst, emission interval (µs per request).
// It returns allowed (0/1), remaining, retry after (µs), reset (µs).
var rateScript = redis.NewScript(`
local burst = tonumber(ARGV[1])
local emission = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - burst * emission
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / emission), 0, new_tat - now}
`)

// budgetScript is a fixed window aligned on multiples of its length since
// the Unix epoch (as auth.MemoryLimiter's). The key is a hash of the
// window's start and what was spent in it. ARGV: window (ms), tokens to
// add (0 only reads). It returns spent, ms until the window ends.
var budgetScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = now - (now % per)
local spent = 0
local cur = redis.call('HMGET', KEYS[1], 'start', 'spent')
if cur[1] and tonumber(cur[1]) == start then spent = tonumber(cur[2]) end
if tokens > 0 then
  spent = spent + tokens
  redis.call('HSET', KEYS[1], 'start', string.format('%.0f', start), 'spent', string.format('%.0f', spent))
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', start + per + 1000))
end
return {spent, start + per - now}
`)

// acquireScript takes a slot: the key is a sorted set of slots scored by
// when their lease ends; ended leases are dropped first. ARGV: max, lease
// (ms), member. It returns allowed (0/1), slots held after.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return {0, n} end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease), ARGV[3])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', lease))
return {1, n + 1}
`)

// Limiter is the shared auth.Limiter. While Redis cannot be reached,
// its checks follow the policy: FailOpen allows (an unlimited decision,
// without headers), FailClosed returns the error (the routes answer
// 503).
func (r *Redis) Limiter() auth.Limiter {
	return &limiter{r: r, held: map[string][]string{}}
}

type limiter struct {
	r   *Redis
	seq atomic.Uint64

	mu   sync.Mutex
	held map[string][]string // key -> slots this replica holds
}

var (
	_ auth.Limiter  = (*limiter)(nil)
	_ auth.Admitter = (*limiter)(nil)
)

// fail applies the outage policy to a failed check.
func (l *limiter) fail(op string, err error) (auth.Decision, error) {
	if l.r.onDown == FailOpen {
		l.r.failOpen.WithLabelValues(op).Inc()
		return auth.Decision{Allowed: true}, nil
	}
	return auth.Decision{}, err
}

func ints(v any, n int) ([]int64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	if len(list) != n {
		return nil, fmt.Errorf("script reply of %d items, want %d", len(list), n)
	}
	out := make([]int64, len(list))
	for i, x := range list {
		num, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("unexpected script reply item %T", x)
		}
		out[i] = num
	}
	return out, nil
}

// run runs a script under the call timeout and reads its integer reply.
func (l *limiter) run(ctx context.Context, op string, s *redis.Script, key string, n int, args ...any) ([]int64, error) {
	var out []int64
	err := l.r.call(ctx, op, func(ctx context.Context) error {
		v, err := s.Run(ctx, l.r.client, []string{key}, args...).Result()
		if err != nil {
			return err
		}
		out, err = ints(v, n)
		return err
	})
	return out, err
}

// rateArgs are rateScript's arguments for rt: the burst and the emission
// interval.
func rateArgs(rt auth.Rate) (burst int, emission int64) {
	return rt.BurstSize(), max(rt.Window().Microseconds()/int64(rt.Requests), 1)
}

// rateDecision reads rateScript's reply.
func rateDecision(v []int64, burst int) auth.Decision {
	return auth.Decision{Allowed: v[0] == 1, Limit: int64(burst), Remaining: v[1],
		RetryAfter: time.Duration(v[2]) * time.Microsecond, Reset: time.Duration(v[3]) * time.Microsecond}
}

// Allow implements auth.Limiter.
func (l *limiter) Allow(ctx context.Context, key string, rt auth.Rate) (auth.Decision, error) {
	if rt.Unlimited() {
		return auth.Decision{Allowed: true}, nil
	}
	burst, emission := rateArgs(rt)
	v, err := l.run(ctx, "rate", rateScript, l.r.key("rate", key), 4, burst, emission)
	if err != nil {
		return l.fail("rate", err)
	}
	return rateDecision(v, burst), nil
}

// Admit implements auth.Admitter: the rate's script and the budget's, sent
// together in one pipeline, so that a limited request costs one round
// trip to Redis before it runs rather than two.
func (l *limiter) Admit(ctx context.Context, rateKey string, rt auth.Rate, budgetKey string, b auth.Budget) (auth.Decision, auth.Decision, error, error) {
	if rt.Unlimited() || b.Unlimited() {
		rd, rerr := l.Allow(ctx, rateKey, rt)
		bd, berr := l.Remaining(ctx, budgetKey, b)
		return rd, bd, rerr, berr
	}
	burst, emission := rateArgs(rt)
	var rv, bv []int64
	err := l.r.call(ctx, "admit", func(ctx context.Context) error {
		pipe := l.r.client.Pipeline()
		// EVAL, not EVALSHA: a pipeline cannot fall back on a script
		// Redis does not have cached.
		rc := rateScript.Eval(ctx, pipe, []string{l.r.key("rate", rateKey)}, burst, emission)
		bc := budgetScript.Eval(ctx, pipe, []string{l.r.key("budget", budgetKey)}, max(b.Window().Milliseconds(), 1), 0)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		var err error
		if rv, err = ints(rc.Val(), 4); err != nil {
			return err
		}
		bv, err = ints(bc.Val(), 2)
		return err
	})
	if err != nil {
		rd, rerr := l.fail("rate", err)
		bd, berr := l.fail("budget", err)
		return rd, bd, rerr, berr
	}
	return rateDecision(rv, burst), budgetDecision(bv, b), nil, nil
}

func (l *limiter) budget(ctx context.Context, op, key string, b auth.Budget, tokens int64) (auth.Decision, error) {
	if b.Unlimited() {
		return auth.Decision{Allowed: true}, nil
	}
	v, err := l.run(ctx, op, budgetScript, l.r.key("budget", key), 2, max(b.Window().Milliseconds(), 1), max(tokens, 0))
	if err != nil {
		return l.fail(op, err)
	}
	return budgetDecision(v, b), nil
}

// budgetDecision reads budgetScript's reply.
func budgetDecision(v []int64, b auth.Budget) auth.Decision {
	left := b.Limit - v[0]
	return auth.Decision{Allowed: left > 0, Limit: b.Limit, Remaining: max(left, 0), Reset: time.Duration(v[1]) * time.Millisecond}
}

// Spend implements auth.Limiter.
func (l *limiter) Spend(ctx context.Context, key string, b auth.Budget, tokens int64) (auth.Decision, error) {
	return l.budget(ctx, "spend", key, b, tokens)
}

// Remaining implements auth.Limiter.
func (l *limiter) Remaining(ctx context.Context, key string, b auth.Budget) (auth.Decision, error) {
	return l.budget(ctx, "budget", key, b, 0)
}

// Acquire implements auth.Limiter. Slots are leased (Options.SlotLease),
// so that those of a replica that died come back by themselves.
func (l *limiter) Acquire(ctx context.Context, key string, limit int) (auth.Decision, error) {
	if limit <= 0 {
		return auth.Decision{Allowed: true}, nil
	}
	member := l.r.replica + ":" + strconv.FormatUint(l.seq.Add(1), 10)
	v, err := l.run(ctx, "acquire", acquireScript, l.r.key("streams", key), 2, limit, max(l.r.lease.Milliseconds(), 1), member)
	if err != nil {
		d, err := l.fail("acquire", err)
		if d.Allowed {
			member = "" // not held: its Release gives nothing back
			l.hold(key, member)
		}
		return d, err
	}
	if v[0] != 1 {
		return auth.Decision{Limit: int64(limit)}, nil
	}
	l.hold(key, member)
	return auth.Decision{Allowed: true, Limit: int64(limit), Remaining: int64(limit) - v[1]}, nil
}

// Release implements auth.Limiter. A slot taken while Redis was down
// (fail_open) was never held and there is nothing to give back; one whose
// release fails ends with its lease.
func (l *limiter) Release(ctx context.Context, key string) error {
	l.mu.Lock()
	list := l.held[key]
	if len(list) == 0 {
		l.mu.Unlock()
		return nil
	}
	member := list[len(list)-1]
	if len(list) == 1 {
		delete(l.held, key)
	} else {
		l.held[key] = list[:len(list)-1]
	}
	l.mu.Unlock()
	if member == "" {
		return nil
	}
	return l.r.call(ctx, "release", func(ctx context.Context) error {
		return l.r.client.ZRem(ctx, l.r.key("streams", key), member).Err()
	})
}

// hold remembers a slot this replica took, to be given back by Release.
func (l *limiter) hold(key, member string) {
	l.mu.Lock()
	l.held[key] = append(l.held[key], member)
	l.mu.Unlock()
}
