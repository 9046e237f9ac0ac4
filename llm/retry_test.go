package llm

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{
		200: false, 400: false, 401: false, 404: false, 408: false, 429: true,
		500: false, 501: false, 502: true, 503: true, 504: true,
	} {
		if got := retryableStatus(status); got != want {
			t.Errorf("retryableStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestIsConnectError(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		err  error
		want bool
	}{
		{dial, true},
		{fmt.Errorf("post: %w", dial), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}, false},
		{errors.New("EOF"), false},
	}
	for _, tt := range tests {
		if got := isConnectError(tt.err); got != tt.want {
			t.Errorf("isConnectError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	const base, limit = 100 * time.Millisecond, time.Second
	tests := []struct {
		attempt int
		nominal time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{60, time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			d := backoff(tt.attempt, base, limit)
			if d < tt.nominal/2 || d > tt.nominal {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.nominal/2, tt.nominal)
			}
		}
	}
	if d := backoff(0, time.Nanosecond, time.Second); d != time.Nanosecond {
		t.Errorf("backoff of 1ns = %v", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const limit = 10 * time.Second
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"10", 10 * time.Second, true},
		{"11", limit, true},
		{"99999999999999999", limit, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(4 * time.Second).Format(http.TimeFormat), 4 * time.Second, true},
		{now.Add(time.Hour).Format(http.TimeFormat), limit, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.value, now, limit)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
	// A limit that is not a whole number of seconds caps only what is above
	// it: the whole seconds below it are kept as asked.
	const odd = 10*time.Second + 500*time.Millisecond
	for value, want := range map[string]time.Duration{"10": 10 * time.Second, "11": odd} {
		if got, ok := retryAfter(value, now, odd); got != want || !ok {
			t.Errorf("retryAfter(%q) capped at %v = %v, %v; want %v", value, odd, got, ok, want)
		}
	}
}

// TestBackoffJitterRange checks the jittered delay spans the whole upper
// half, [d/2, d], down to delays of a few nanoseconds (an odd number of
// nanoseconds reaches d-1 at most, which is of no matter).
func TestBackoffJitterRange(t *testing.T) {
	for _, d := range []time.Duration{2, 3, 4, 5} {
		seen := map[time.Duration]bool{}
		for range 500 {
			got := backoff(0, d, time.Second)
			if got < d/2 || got > d {
				t.Fatalf("backoff of %v = %v, want within [%v, %v]", d, got, d/2, d)
			}
			seen[got] = true
		}
		if top := d / 2 * 2; !seen[top] || !seen[d/2] {
			t.Errorf("backoff of %v: drew %v in 500 tries, want both bounds %v and %v", d, seen, d/2, d/2*2)
		}
	}
}
