package bridge

import (
	"testing"
	"time"
)

// TestDefaultsOfZeroAndNegativeOptions checks New puts its default in
// place of every zero or negative option that has one, and keeps a
// negative Keepalive and WarnToolsBytes (which turn those off).
func TestDefaultsOfZeroAndNegativeOptions(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	base := h.b.opts
	for _, sign := range []int{0, -1} {
		n := time.Duration(sign)
		b, err := New(Options{Upstream: base.Upstream, Tools: base.Tools,
			MaxRounds: sign, Deadline: n, SearchThreshold: sign, MaxParallel: sign, MaxBodyBytes: int64(sign),
			PendingTTL: n, ReadHeaderTimeout: n, BodyReadTimeout: n, IdleTimeout: n, SessionIdleTimeout: n,
			MaxSessions: sign, MaxPendingBytes: int64(sign), Keepalive: n, WarnToolsBytes: sign})
		if err != nil {
			t.Fatal(err)
		}
		o := b.opts
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"MaxRounds", o.MaxRounds, 8},
			{"Deadline", o.Deadline, 10 * time.Minute},
			{"SearchThreshold", o.SearchThreshold, 40},
			{"MaxParallel", o.MaxParallel, 8},
			{"MaxBodyBytes", o.MaxBodyBytes, int64(16 << 20)},
			{"PendingTTL", o.PendingTTL, 30 * time.Minute},
			{"ReadHeaderTimeout", o.ReadHeaderTimeout, 10 * time.Second},
			{"BodyReadTimeout", o.BodyReadTimeout, 30 * time.Second},
			{"IdleTimeout", o.IdleTimeout, 2 * time.Minute},
			{"SessionIdleTimeout", o.SessionIdleTimeout, 10 * time.Minute},
			{"MaxSessions", o.MaxSessions, 1000},
			{"MaxPendingBytes", o.MaxPendingBytes, int64(64 << 20)},
		} {
			if c.got != c.want {
				t.Errorf("%s given %d: %v, want %v", c.name, sign, c.got, c.want)
			}
		}
		if sign == 0 && (o.Keepalive != 15*time.Second || o.WarnToolsBytes != 256<<10) {
			t.Errorf("zero Keepalive %v, WarnToolsBytes %d", o.Keepalive, o.WarnToolsBytes)
		}
		if sign < 0 && (o.Keepalive != -1 || o.WarnToolsBytes != -1) {
			t.Errorf("negative Keepalive %v, WarnToolsBytes %d: not kept", o.Keepalive, o.WarnToolsBytes)
		}
		b.Close()
	}
}
