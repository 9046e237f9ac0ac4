package auth

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MemoryOptions tunes a MemoryLimiter. A nil *MemoryOptions means the
// defaults.
type MemoryOptions struct {
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// MaxKeys bounds the entries of each kind (buckets, budgets); past it,
	// entries that no longer matter (full buckets, past windows) are
	// dropped, then the least recently used. Zero means 100000.
	MaxKeys int
}

// MemoryLimiter is the in-process Limiter: token buckets from
// golang.org/x/time/rate, fixed-window counters and slot counts, in
// bounded maps. It is safe for concurrent use.
type MemoryLimiter struct {
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
	budgets map[string]*window
	streams map[string]int
}

type bucket struct {
	lim  *rate.Limiter
	r    Rate
	used time.Time
}

type window struct {
	start time.Time
	per   time.Duration
	spent int64
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty in-process Limiter.
func NewMemoryLimiter(o *MemoryOptions) *MemoryLimiter {
	m := &MemoryLimiter{now: time.Now, maxKeys: 100000,
		buckets: map[string]*bucket{}, budgets: map[string]*window{}, streams: map[string]int{}}
	if o != nil {
		if o.Now != nil {
			m.now = o.Now
		}
		if o.MaxKeys > 0 {
			m.maxKeys = o.MaxKeys
		}
	}
	return m
}

func limitOf(r Rate) rate.Limit {
	return rate.Limit(float64(r.Requests) / r.Window().Seconds())
}

// Allow implements Limiter.
func (m *MemoryLimiter) Allow(_ context.Context, key string, r Rate) (Decision, error) {
	if r.Unlimited() {
		return unlimited, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets[key]
	switch {
	case b == nil:
		if len(m.buckets) >= m.maxKeys {
			m.evictBuckets(now)
		}
		b = &bucket{lim: rate.NewLimiter(limitOf(r), r.BurstSize()), r: r}
		m.buckets[key] = b
	case b.r != r:
		// The policy changed (a reload): what was used stays used.
		used := int(float64(b.lim.Burst()) - b.lim.TokensAt(now))
		b.lim = rate.NewLimiter(limitOf(r), r.BurstSize())
		if used = min(used, r.BurstSize()); used > 0 {
			b.lim.ReserveN(now, used)
		}
		b.r = r
	}
	b.used = now
	d := Decision{Limit: int64(r.BurstSize())}
	d.Allowed = b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	d.Remaining = int64(max(tokens, 0))
	perToken := time.Duration(float64(time.Second) / float64(b.lim.Limit()))
	d.Reset = time.Duration((float64(r.BurstSize()) - tokens) * float64(perToken))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(perToken))
	}
	return d, nil
}

// evictBuckets makes room: buckets that are full again are the same as
// new ones and go first; then the least recently used tenth.
func (m *MemoryLimiter) evictBuckets(now time.Time) {
	evict(m.buckets, m.maxKeys,
		func(b *bucket) bool { return b.lim.TokensAt(now) >= float64(b.lim.Burst()) },
		func(b *bucket) time.Time { return b.used })
}

// evict makes room in entries, which hold max at the most: those that
// matter no longer (spent) go first; then, when that freed too little,
// the tenth whose age is oldest.
func evict[V any](entries map[string]V, max int, spent func(V) bool, age func(V) time.Time) {
	for k, v := range entries {
		if spent(v) {
			delete(entries, k)
		}
	}
	if len(entries) < max {
		return
	}
	keys := slices.SortedFunc(maps.Keys(entries), func(a, b string) int { return age(entries[a]).Compare(age(entries[b])) })
	for _, k := range keys[:len(keys)/10+1] {
		delete(entries, k)
	}
}

// windowStart is the start of b's window holding now.
func windowStart(now time.Time, b Budget) time.Time {
	return now.Truncate(b.Window())
}

// budgetDecision describes the window w of b at now.
func budgetDecision(now time.Time, b Budget, w *window) Decision {
	left := b.Limit - w.spent
	return Decision{Allowed: left > 0, Limit: b.Limit, Remaining: max(left, 0),
		Reset: w.start.Add(b.Window()).Sub(now)}
}

// current returns key's window for now, starting a new one when the
// last one is over.
func (m *MemoryLimiter) current(now time.Time, key string, b Budget) *window {
	start := windowStart(now, b)
	w := m.budgets[key]
	if w == nil {
		if len(m.budgets) >= m.maxKeys {
			m.evictBudgets(now)
		}
		w = &window{start: start, per: b.Window()}
		m.budgets[key] = w
	} else if !w.start.Equal(start) {
		w.start, w.per, w.spent = start, b.Window(), 0
	}
	return w
}

// evictBudgets drops windows that are over, then the oldest tenth.
func (m *MemoryLimiter) evictBudgets(now time.Time) {
	evict(m.budgets, m.maxKeys,
		func(w *window) bool { return !now.Before(w.start.Add(w.per)) },
		func(w *window) time.Time { return w.start })
}

// Spend implements Limiter.
func (m *MemoryLimiter) Spend(_ context.Context, key string, b Budget, tokens int64) (Decision, error) {
	if b.Unlimited() {
		return unlimited, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.current(now, key, b)
	w.spent += max(tokens, 0)
	return budgetDecision(now, b, w), nil
}

// Remaining implements Limiter.
func (m *MemoryLimiter) Remaining(_ context.Context, key string, b Budget) (Decision, error) {
	if b.Unlimited() {
		return unlimited, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.budgets[key]
	if w == nil || !w.start.Equal(windowStart(now, b)) {
		return budgetDecision(now, b, &window{start: windowStart(now, b)}), nil
	}
	return budgetDecision(now, b, w), nil
}

// Acquire implements Limiter.
func (m *MemoryLimiter) Acquire(_ context.Context, key string, limit int) (Decision, error) {
	if limit <= 0 {
		return unlimited, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.streams[key]
	if n >= limit {
		return Decision{Limit: int64(limit)}, nil
	}
	m.streams[key] = n + 1
	return Decision{Allowed: true, Limit: int64(limit), Remaining: int64(limit - n - 1)}, nil
}

// Release implements Limiter.
func (m *MemoryLimiter) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.streams[key]; n > 1 {
		m.streams[key] = n - 1
	} else {
		delete(m.streams, key)
	}
	return nil
}

// Len reports how many buckets, budget windows and stream counts are
// held (for tests and metrics).
func (m *MemoryLimiter) Len() (buckets, budgets, streams int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets), len(m.budgets), len(m.streams)
}
