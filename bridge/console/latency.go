package console

import (
	"context"
	"sync"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// Latency keeps the durations of each server's latest tool calls, on every
// face, for the servers page's sparklines. It is an observe.Observer; its
// methods are safe for concurrent use. The zero value is not usable: make
// one with NewLatency.
type Latency struct {
	observe.Nop
	keep int

	mu      sync.Mutex
	servers map[string]*history
}

// history is one server's ring of recent calls.
type history struct {
	samples []Sample // ring, len <= keep
	next    int      // where the next sample goes once the ring is full
	calls   int64
	errors  int64
}

// Sample is one finished tool call: plain data, whose zero value is an
// instant successful call at the zero time.
type Sample struct {
	// At is when the call ended.
	At time.Time `json:"at"`
	// MS is its duration in milliseconds.
	MS int64 `json:"ms"`
	// Error says the call did not succeed (a tool error, a timeout, a
	// failure).
	Error bool `json:"error,omitempty"`
}

// maxServers bounds the servers Latency keeps histories of: server names
// come from the configuration, so this only guards against surprises.
const maxServers = 1024

// NewLatency returns a Latency that keeps the last keep calls of each
// server; keep <= 0 means 60.
func NewLatency(keep int) *Latency {
	if keep <= 0 {
		keep = 60
	}
	return &Latency{keep: keep, servers: map[string]*history{}}
}

var _ observe.Observer = (*Latency)(nil)

// ToolCallFinished records a call that ran: refused calls, calls of no
// known server and calls cancelled by their caller say nothing of a
// server's latency and are left out.
func (l *Latency) ToolCallFinished(_ context.Context, r *observe.ToolCallRecord) {
	if r.Server == "" || r.Outcome == observe.OutcomeDenied || r.Outcome == observe.OutcomeCancelled {
		return
	}
	l.add(r.Server, Sample{At: time.Now().UTC(), MS: r.Duration.Milliseconds(), Error: r.Outcome != observe.OutcomeOK})
}

func (l *Latency) add(server string, s Sample) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.servers[server]
	if h == nil {
		if len(l.servers) >= maxServers {
			return
		}
		h = &history{}
		l.servers[server] = h
	}
	h.calls++
	if s.Error {
		h.errors++
	}
	if len(h.samples) < l.keep {
		h.samples = append(h.samples, s)
		return
	}
	h.samples[h.next] = s
	h.next = (h.next + 1) % l.keep
}

// Of returns the server's recent calls, oldest first, and how many calls
// and failed calls it has had since the bridge started.
func (l *Latency) Of(server string) (samples []Sample, calls, errors int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.servers[server]
	if h == nil {
		return []Sample{}, 0, 0
	}
	out := make([]Sample, 0, len(h.samples))
	out = append(out, h.samples[h.next:]...)
	out = append(out, h.samples[:h.next]...)
	return out, h.calls, h.errors
}
