package mcpclient

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// The memory of warnings already logged holds at most maxWarned of them,
// and forgets older ones only once it is full.
func TestWarnOnceMemoryBound(t *testing.T) {
	r := NewRegistry(nil, &Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer r.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnOnce("s", "first", "p", "m")
	r.warnOnce("s", "second", "p", "m")
	if len(r.warned) != 2 {
		t.Fatalf("two warnings remembered as %d", len(r.warned))
	}
	for i := 2; i < maxWarned; i++ {
		r.warnOnce("s", fmt.Sprint(i), "p", "m")
	}
	if len(r.warned) != maxWarned {
		t.Fatalf("%d warnings remembered as %d", maxWarned, len(r.warned))
	}
	r.warnOnce("s", "one more", "p", "m")
	if len(r.warned) != 1 {
		t.Errorf("after %d warnings the memory holds %d, want it cleared to the new one", maxWarned+1, len(r.warned))
	}
}
