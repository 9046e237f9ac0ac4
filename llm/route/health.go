package route

import (
	"sync"
	"time"
)

// health is an upstream's circuit breaker and rate-limit cool-down.
//
// Closed, the breaker lets every request through and counts the failures
// in a row; at the threshold it opens for the cool-down, during which the
// upstream is skipped. Then one request at a time may probe it (half
// open): a success closes the breaker, a failure opens it again.
type health struct {
	mu        sync.Mutex
	fails     int       // failures in a row
	openUntil time.Time // the breaker is open until then (when fails >= threshold)
	probing   bool      // a probe is under way
	coolUntil time.Time // a 429's Retry-After: skipped until then
}

// verdict is what health says of a request about to be sent.
type verdict int

const (
	pass  verdict = iota // send it
	probe                // send it as the breaker's probe; report the outcome
	skip                 // the upstream is resting: try another first
)

// admit decides whether a request may go to the upstream at now.
func (h *health) admit(now time.Time, threshold int) verdict {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.coolUntil) {
		return skip
	}
	if threshold <= 0 || h.fails < threshold {
		return pass
	}
	if now.Before(h.openUntil) || h.probing {
		return skip
	}
	h.probing = true
	return probe
}

// succeeded closes the breaker. It reports whether it was open.
func (h *health) succeeded(threshold int) (wasOpen bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wasOpen = threshold > 0 && h.fails >= threshold
	h.fails, h.probing, h.openUntil = 0, false, time.Time{}
	return wasOpen
}

// failed counts a failure; it reports whether the breaker opened (or
// opened again after a probe).
func (h *health) failed(now time.Time, threshold int, cooldown time.Duration) (opened bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails++
	h.probing = false
	if threshold > 0 && h.fails >= threshold {
		h.openUntil = now.Add(cooldown)
		return true
	}
	return false
}

// coolDown skips the upstream until now+d (a 429's Retry-After).
func (h *health) coolDown(now time.Time, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := now.Add(d); t.After(h.coolUntil) {
		h.coolUntil = t
	}
	h.probing = false
}

// released ends a probe that told nothing (the caller went away).
func (h *health) released() {
	h.mu.Lock()
	h.probing = false
	h.mu.Unlock()
}
