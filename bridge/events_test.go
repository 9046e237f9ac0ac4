package bridge

import (
	"log/slog"
	"testing"
)

// TestFeedEncodesNothingWithoutListeners: with nobody subscribed to
// /v1/events and no bus, publishing an event costs no allocation (the
// agent round publishes several per tool call).
func TestFeedEncodesNothingWithoutListeners(t *testing.T) {
	e := newEvents(slog.New(slog.DiscardHandler), nil)
	defer e.srv.Close()
	if n := testing.AllocsPerRun(100, func() { e.publish(activity{Type: "tool_call_started", Tool: "fs__read", Server: "fs"}) }); n != 0 {
		t.Errorf("%v allocations per event with no listener, want 0", n)
	}
	e.listeners.Add(1)
	if n := testing.AllocsPerRun(100, func() { e.publish(activity{Type: "tool_call_started", Tool: "fs__read", Server: "fs"}) }); n == 0 {
		t.Error("with a listener the event was not encoded")
	}
}
