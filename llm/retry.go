package llm

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryableStatus reports whether a response status is worth another
// attempt: the upstream is overloaded or a gateway in front of it failed.
// 500 is not retried: it usually means the request itself broke the model
// server.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// isConnectError reports whether err happened while connecting, so that
// the request certainly did not reach the upstream.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// backoff returns the delay before retry number attempt (0 for the first
// retry): base doubled per attempt, capped at limit, with the upper half
// jittered so that many clients do not retry in step.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base
	for range attempt {
		if d >= limit/2 {
			d = limit
			break
		}
		d *= 2
	}
	d = min(d, limit)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

// retryAfter parses a Retry-After header value, in seconds or as an HTTP
// date relative to now, capped at limit. ok is false when the value is
// absent or malformed.
func retryAfter(value string, now time.Time, limit time.Duration) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(limit/time.Second) {
			return limit, true
		}
		return min(time.Duration(secs)*time.Second, limit), true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), limit), true
}
