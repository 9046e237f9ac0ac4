package store

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOpenDefaults checks what Open puts in place of zero or negative
// options, that it keeps those given, and that the client never retries
// a call itself (a failure goes to the outage policy at once).
func TestOpenDefaults(t *testing.T) {
	for _, n := range []time.Duration{0, -1} {
		r, err := Open(Options{URL: "redis://127.0.0.1:1/0", Timeout: n, RetryEvery: n, SlotLease: n})
		if err != nil {
			t.Fatal(err)
		}
		if r.timeout != 500*time.Millisecond || r.retry != time.Second || r.lease != 15*time.Minute {
			t.Errorf("given %v: timeout %v, retry every %v, slot lease %v", n, r.timeout, r.retry, r.lease)
		}
		if o := r.client.Options(); o.MaxRetries != 0 || o.ReadTimeout != 500*time.Millisecond {
			t.Errorf("client retries %d times, read timeout %v", o.MaxRetries, o.ReadTimeout)
		}
		r.Close()
	}
	r, err := Open(Options{URL: "redis://127.0.0.1:1/0", Timeout: time.Second, RetryEvery: 3 * time.Second, SlotLease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.timeout != time.Second || r.retry != 3*time.Second || r.lease != time.Minute {
		t.Errorf("given values replaced: timeout %v, retry every %v, slot lease %v", r.timeout, r.retry, r.lease)
	}
}

// TestParseURLSchemes checks redis:// and rediss:// (TLS) are read, and
// another scheme is refused.
func TestParseURLSchemes(t *testing.T) {
	for _, raw := range []string{"redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1"} {
		if _, shown, err := parseURL(raw); err != nil || shown != raw {
			t.Errorf("%s: %q %v", raw, shown, err)
		}
	}
	if _, _, err := parseURL("http://cache.example:6379/0"); err == nil || !strings.Contains(err.Error(), "expected a redis://") {
		t.Errorf("http:// accepted: %v", err)
	}
}

// TestRedactErr checks a message loses the URL's password wherever it
// appears, and that one without a password is left as it is.
func TestRedactErr(t *testing.T) {
	u, _ := url.Parse("redis://app:s3cr3t-pw@cache.example:6379/0")
	if got := redactErr("dial app:s3cr3t-pw@cache.example: refused (s3cr3t-pw)", u); strings.Contains(got, "s3cr3t") || !strings.Contains(got, "xxxxx") {
		t.Errorf("password left in %q", got)
	}
	for _, raw := range []string{"redis://cache.example:6379/0", "redis://app@cache.example:6379/0", "redis://app:@cache.example:6379/0"} {
		u, _ := url.Parse(raw)
		if got := redactErr("refused by app", u); got != "refused by app" {
			t.Errorf("%s: %q", raw, got)
		}
	}
}
