// Package store keeps the state that outlives a request in Redis, so that
// several replicas of the bridge behind one load balancer share it: the
// policies' limits (an auth.Limiter), the bridge's halves of mixed tool
// turns and the activity feed's fan-out. Without it each replica keeps its
// own, in process, as a single bridge does.
//
// Every Redis call is bounded by a short timeout, so that a Redis that is
// gone or stalled never holds a request. What a replica does meanwhile is
// the configured policy for the limits (FailOpen or FailClosed); mixed
// turns and the feed degrade to this replica alone. Each failure is
// counted, the first of an outage is logged, and so is the recovery:
// the client reconnects by itself, nothing needs a restart.
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// What a replica does with the limits while Redis cannot be reached.
const (
	// FailOpen lets requests through unlimited (logged and counted).
	FailOpen = "fail_open"
	// FailClosed refuses requests that a limit applies to (503).
	FailClosed = "fail_closed"
)

// Options configures Open.
type Options struct {
	// URL is the Redis server: redis://[user:password@]host:port/db, or
	// rediss:// for TLS. Required.
	URL string
	// Prefix starts every key and channel name, so that one Redis can
	// serve several deployments. Empty means "mcp-bridge:".
	Prefix string
	// OnDown is FailOpen or FailClosed. Empty means FailOpen.
	OnDown string
	// Timeout bounds every Redis call (and dialing). Zero means 500 ms.
	Timeout time.Duration
	// RetryEvery is how often, during an outage, a call is let through to
	// find out whether Redis is back; the others fail at once with
	// ErrUnavailable rather than each wait for the timeout (a Redis that
	// hangs would otherwise slow every request by it). Healthy always
	// asks. Zero means one second.
	RetryEvery time.Duration
	// SlotLease is how long a concurrent-stream slot is held when its
	// release never comes (a replica that died): past it the slot is
	// free again. Zero means 15 minutes.
	SlotLease time.Duration
	// Logger receives the outages and recoveries. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics (mcp_bridge_state_*). Nil means
	// they are kept but not registered.
	Registerer prometheus.Registerer
}

// Redis is the state shared by replicas. Open it, hand its Limiter,
// its Turns and itself (the feed, the readiness) to the bridge, and Close
// it on shutdown. The zero Redis is not usable: use Open. It is safe for
// concurrent use.
type Redis struct {
	client  *redis.Client
	prefix  string
	onDown  string
	timeout time.Duration
	lease   time.Duration
	log     *slog.Logger
	shown   string // the URL without credentials, for logs and /readyz
	replica string // this process's id, for its stream slots

	down     atomic.Bool
	retry    time.Duration
	nextTry  atomic.Int64 // unix nanoseconds; during an outage, calls before it fail at once
	errs     *prometheus.CounterVec
	failOpen *prometheus.CounterVec
	up       prometheus.Gauge
}

// Open checks opts and makes the client. It does not connect: a Redis
// that is not up yet is reported by Healthy and handled as an outage
// until it comes. Its errors never contain the URL's credentials.
func Open(opts Options) (*Redis, error) {
	ro, shown, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	switch opts.OnDown {
	case "":
		opts.OnDown = FailOpen
	case FailOpen, FailClosed:
	default:
		return nil, fmt.Errorf("state.on_redis_down: expected %s or %s, got %q", FailOpen, FailClosed, opts.OnDown)
	}
	if opts.Prefix == "" {
		opts.Prefix = "mcp-bridge:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = time.Second
	}
	if opts.SlotLease <= 0 {
		opts.SlotLease = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every call bounded: dialing, reading, writing, waiting for a
	// connection of the pool; no retries that would multiply the wait.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries, ro.DialerRetries = -1, 1
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	r := &Redis{
		client: redis.NewClient(ro), prefix: opts.Prefix, onDown: opts.OnDown, timeout: opts.Timeout,
		lease: opts.SlotLease, retry: opts.RetryEvery, log: opts.Logger, shown: shown, replica: rand.Text(),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mcp_bridge", Name: "state_redis_errors_total",
			Help: "Redis calls of the shared state that failed, by operation."}, []string{"op"}),
		failOpen: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mcp_bridge", Name: "state_fail_open_total",
			Help: "Limit checks let through unchecked because Redis could not be reached (on_redis_down: fail_open), by operation."}, []string{"op"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "mcp_bridge", Name: "state_redis_up",
			Help: "1 while the last Redis call of the shared state succeeded, else 0."}),
	}
	r.up.Set(1)
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.errs, r.failOpen, r.up} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("registering the state metrics: %w", err)
			}
		}
	}
	return r, nil
}

// go-redis logs every failed dial to the standard logger; the store logs
// an outage once, and its end, itself. The logger is go-redis's global,
// set once for the process.
var quietOnce sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// parseURL reads a redis:// or rediss:// URL. Its errors and the shown
// form never carry the password.
func parseURL(raw string) (*redis.Options, string, error) {
	if raw == "" {
		return nil, "", errors.New("state.redis: a redis:// or rediss:// URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", errors.New("state.redis: not a URL (expected redis://host:port/db or rediss://...)")
	}
	shownURL := *u
	if u.User != nil {
		shownURL.User = url.User("xxxxx")
	}
	shownURL.RawQuery, shownURL.Fragment = "", ""
	shown := shownURL.String()
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, "", fmt.Errorf("state.redis: expected a redis:// or rediss:// URL, got %s", shown)
	}
	ro, err := redis.ParseURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("state.redis: %s: %s", shown, redactErr(err.Error(), u))
	}
	return ro, shown, nil
}

// redactErr removes u's credentials from msg.
func redactErr(msg string, u *url.URL) string {
	if u.User == nil {
		return msg
	}
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// Shown is the Redis URL without credentials.
func (r *Redis) Shown() string { return r.shown }

// OnDown is the policy applied to the limits during an outage.
func (r *Redis) OnDown() string { return r.onDown }

// Close closes the client's connections and subscriptions.
func (r *Redis) Close() error { return r.client.Close() }

// ErrUnavailable is the error of a call not made because Redis was found
// unreachable less than Options.RetryEvery ago.
var ErrUnavailable = errors.New("redis unreachable; the next attempt is due shortly")

// Healthy pings Redis, even during an outage: nil when it answers, else
// why not (without credentials).
func (r *Redis) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.done("ping", r.client.Ping(ctx).Err())
}

// done records the outcome of a call: a failure is counted and, the
// first of an outage, logged; a success after an outage is logged as the
// recovery. It returns err wrapped with the operation.
func (r *Redis) done(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		if r.down.CompareAndSwap(true, false) {
			r.up.Set(1)
			r.log.Info("redis reachable again: state is shared with the other replicas", "redis", r.shown)
		}
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err // the client left; Redis is not at fault
	}
	r.errs.WithLabelValues(op).Inc()
	r.nextTry.Store(time.Now().Add(r.retry).UnixNano())
	if r.down.CompareAndSwap(false, true) {
		r.up.Set(0)
		r.log.Warn("redis unreachable: limits "+map[string]string{FailOpen: "are not enforced (fail_open)",
			FailClosed: "refuse requests (fail_closed)"}[r.onDown]+"; mixed turns and the activity feed stay on this replica",
			"redis", r.shown, "op", op, "err", err)
	}
	return fmt.Errorf("redis %s: %w", op, err)
}

// key is a key (or channel) name under the prefix.
func (r *Redis) key(parts ...string) string {
	return r.prefix + strings.Join(parts, ":")
}

// call runs f with the call timeout; during an outage, only once per
// Options.RetryEvery.
func (r *Redis) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	if r.down.Load() && time.Now().UnixNano() < r.nextTry.Load() {
		r.errs.WithLabelValues(op).Inc()
		return fmt.Errorf("redis %s: %w", op, ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.done(op, f(ctx))
}
