package bridge

import (
	"context"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// SharedState is the state replicas share (store.Redis), as /readyz
// reports it. Implementations are safe for concurrent use.
type SharedState interface {
	// Healthy returns nil when the shared state answers, else why (with
	// no credentials), within a short timeout.
	Healthy(ctx context.Context) error
	// OnDown is what the limits do while it does not answer: "fail_open"
	// (requests go on unlimited) or "fail_closed" (they are refused).
	OnDown() string
	// Shown names it without credentials.
	Shown() string
}

// stateStatus is the shared state in /readyz.
type stateStatus struct {
	Redis  string `json:"redis"`
	Up     bool   `json:"up"`
	OnDown string `json:"on_redis_down"`
	Error  string `json:"error,omitempty"`
}

// stateReady checks the shared state for /readyz: its status (nil when
// there is none), and whether the replica is not ready because of it
// (it is down and the limits fail closed; failing open, the replica
// serves, and says so in the status).
func (s *Server) stateReady(ctx context.Context) (*stateStatus, bool) {
	st := s.opts.State
	if st == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out := &stateStatus{Redis: st.Shown(), Up: true, OnDown: st.OnDown()}
	if err := st.Healthy(ctx); err != nil {
		out.Up, out.Error = false, mcpclient.Redact(err.Error(), s.opts.Secrets)
	}
	return out, !out.Up && out.OnDown == "fail_closed"
}
