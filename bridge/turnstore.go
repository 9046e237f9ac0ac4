package bridge

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// TurnStore keeps the bridge's halves of mixed turns, and the rounds
// paused for approval (see pendingTurns and approvals). A turn is an
// opaque encoded value stored under several keys (each binds the caller
// to one of the client's call ids) until its time to live ends. memTurns
// keeps them in process; Redis (store.Turns) keeps them where every
// replica of the bridge finds them. Implementations are safe for
// concurrent use and bound each call with a short timeout.
type TurnStore interface {
	// Put stores turn under every key for ttl, replacing what they held.
	Put(ctx context.Context, keys []string, turn []byte, ttl time.Duration) error
	// Get returns the turn stored under key, or nil and no error when
	// there is none (never stored, or expired).
	Get(ctx context.Context, key string) ([]byte, error)
	// Take is Get that also removes what key held, at once, so that of two
	// replicas taking the same key only one gets it.
	Take(ctx context.Context, key string) ([]byte, error)
}

// memTurns is the in-process TurnStore: at most max entries, together at
// most maxTotal bytes (the length of their values; an entry stored under
// several keys counts once), the oldest evicted first to make room. An
// entry too large for maxTotal alone is kept alone. Expired entries are
// never returned, and are dropped by the next Put (those put before the
// first that is still live: with one ttl for every Put, all of them). A
// Take removes its key only; the entry goes with its last key. It never
// fails, keeps the values it is given (callers do not change them after),
// and is safe for concurrent use.
type memTurns struct {
	max      int
	maxTotal int64
	now      func() time.Time // read under mu; tests replace it

	mu    sync.Mutex
	byKey map[string]*memTurn
	order list.List // of *memTurn, oldest first
	total int64     // bytes held
}

// memTurn is an entry of memTurns.
type memTurn struct {
	keys    []string // the keys it was stored under
	live    int      // how many of them still lead to it
	value   []byte
	expires time.Time
	elem    *list.Element // in order
}

var _ TurnStore = (*memTurns)(nil)

func newMemTurns(max int, maxTotal int64) *memTurns {
	return &memTurns{max: max, maxTotal: maxTotal, now: time.Now, byKey: map[string]*memTurn{}}
}

// Put stores turn under every key for ttl, evicting what expired and then
// the oldest entries while the bounds leave no room for it.
func (m *memTurns) Put(_ context.Context, keys []string, turn []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for e := m.order.Front(); e != nil && now.After(e.Value.(*memTurn).expires); e = m.order.Front() {
		m.drop(e.Value.(*memTurn))
	}
	for _, k := range keys {
		m.unkey(k)
	}
	size := int64(len(turn))
	for m.order.Len() > 0 && (m.order.Len() >= m.max || m.total+size > m.maxTotal) {
		m.drop(m.order.Front().Value.(*memTurn))
	}
	t := &memTurn{value: turn, expires: now.Add(ttl)}
	for _, k := range keys {
		if _, dup := m.byKey[k]; !dup {
			m.byKey[k] = t
			t.keys = append(t.keys, k)
			t.live++
		}
	}
	if t.live == 0 {
		return nil
	}
	t.elem = m.order.PushBack(t)
	m.total += size
	return nil
}

// Get returns the live turn stored under key; nil, nil when there is none.
func (m *memTurns) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.byKey[key]; ok && !m.now().After(t.expires) {
		return t.value, nil
	}
	return nil, nil
}

// Take returns the live turn stored under key and removes key; nil, nil
// when there is none.
func (m *memTurns) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byKey[key]
	if !ok {
		return nil, nil
	}
	m.unkey(key)
	if m.now().After(t.expires) {
		return nil, nil
	}
	return t.value, nil
}

// empty reports whether no key is held, so that a caller may skip work
// that could only find nothing.
func (m *memTurns) empty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey) == 0
}

// len returns the number of entries held and their bytes, expired ones
// not yet dropped included.
func (m *memTurns) len() (int, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len(), m.total
}

// unkey removes key, and its entry when it was the entry's last key. m.mu
// is held.
func (m *memTurns) unkey(key string) {
	t, ok := m.byKey[key]
	if !ok {
		return
	}
	delete(m.byKey, key)
	if t.live--; t.live == 0 {
		m.order.Remove(t.elem)
		m.total -= int64(len(t.value))
	}
}

// drop removes t with every key that leads to it. m.mu is held.
func (m *memTurns) drop(t *memTurn) {
	for _, k := range t.keys {
		if m.byKey[k] == t {
			delete(m.byKey, k)
		}
	}
	m.order.Remove(t.elem)
	m.total -= int64(len(t.value))
}
