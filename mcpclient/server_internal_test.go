package mcpclient

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	steps := []struct {
		lived time.Duration
		want  time.Duration
	}{
		{0, 100 * time.Millisecond},
		{0, 200 * time.Millisecond},
		{time.Second, 400 * time.Millisecond}, // a short session does not reset
		{0, 800 * time.Millisecond},
		{0, time.Second},
		{0, time.Second},
		{stableSession, 100 * time.Millisecond}, // a stable session resets
		{0, 200 * time.Millisecond},
	}
	for i, s := range steps {
		if got := b.next(s.lived); got != s.want {
			t.Fatalf("step %d: next(%s) = %s, want %s", i, s.lived, got, s.want)
		}
	}
}

func TestCallArguments(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"", "{}", ""},
		{"  ", "{}", ""},
		{"null", "{}", ""},
		{` {"a":1} `, `{"a":1}`, ""},
		{`{}`, `{}`, ""},
		{`[1]`, "", "arguments must be a JSON object (got an array)"},
		{`"s"`, "", "arguments must be a JSON object (got a string)"},
		{`12`, "", "arguments must be a JSON object (got a number)"},
		{`true`, "", "arguments must be a JSON object (got a boolean)"},
		{`{"a":`, "", "arguments must be a JSON object (got invalid JSON)"},
	}
	for _, tt := range tests {
		got, err := callArguments([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInvalidArguments) {
				t.Errorf("callArguments(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("callArguments(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := (*Options)(nil).withDefaults()
	if o.CallTimeout != 60*time.Second || o.MaxConcurrency != 8 || o.ConnectTimeout != 30*time.Second ||
		o.MinBackoff != 500*time.Millisecond || o.MaxBackoff != 30*time.Second || o.MaxResultBytes != 256<<10 ||
		o.ClientName != "mcp-bridge" || o.ClientVersion != "dev" || o.TerminateTimeout != 5*time.Second || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	o = (&Options{MinBackoff: time.Minute, MaxResultBytes: -1}).withDefaults()
	if o.MaxBackoff != time.Minute || o.MaxResultBytes != 0 {
		t.Fatalf("MaxBackoff = %s (want raised to MinBackoff), MaxResultBytes = %d (want 0 = no cap)", o.MaxBackoff, o.MaxResultBytes)
	}
}

func TestTimeoutError(t *testing.T) {
	err := error(&TimeoutError{Tool: "srv__sleep", Timeout: 50 * time.Millisecond})
	if err.Error() != `tool "srv__sleep" timed out after 50ms` {
		t.Errorf("Error() = %q", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("TimeoutError does not match context.DeadlineExceeded")
	}
}
