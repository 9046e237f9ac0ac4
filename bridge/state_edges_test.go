package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// boundedState is a SharedState that is healthy while the context it is
// checked with is live, and records that context's deadline.
type boundedState struct {
	fakeState
	mu       sync.Mutex
	deadline time.Time
	bounded  bool
}

func (b *boundedState) Healthy(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline, b.bounded = ctx.Deadline()
	return ctx.Err()
}

// TestReadyzBoundsTheStateCheck checks /readyz asks the shared state with
// a live context bounded to 2 seconds, so that a Redis that hangs does
// not hang the probe, and one that answers is reported up.
func TestReadyzBoundsTheStateCheck(t *testing.T) {
	const key = "readyz-key-0123456789"
	st := &boundedState{fakeState: fakeState{onDown: "fail_closed"}}
	h := newHarness(t, Options{State: st, APIKeys: []string{key}}, nil)
	status, _, body := rawRequest(t, h.srv.URL, "GET", "/readyz", "", http.Header{"Authorization": {"Bearer " + key}}, "")
	var v struct{ State stateStatus }
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || !v.State.Up {
		t.Errorf("readyz %d %s", status, body)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.bounded || time.Until(st.deadline) > 2*time.Second {
		t.Errorf("the state was checked with deadline %v (bounded %v), want one within 2s", st.deadline, st.bounded)
	}
}

// TestReadyzWithNothingBlocked checks /readyz has no blocked_tools member
// when the guard keeps no tool out.
func TestReadyzWithNothingBlocked(t *testing.T) {
	const key = "readyz-key-0123456789"
	h := newHarness(t, Options{APIKeys: []string{key}}, nil)
	status, _, body := rawRequest(t, h.srv.URL, "GET", "/readyz", "", http.Header{"Authorization": {"Bearer " + key}}, "")
	if status != http.StatusOK || !strings.Contains(body, `"servers"`) || strings.Contains(body, "blocked_tools") {
		t.Errorf("readyz %d %s", status, body)
	}
}
