package mcpclient

import (
	"runtime"
	"strings"
	"testing"
)

// Variable names are matched with their case outside Windows: a pattern
// "path" passes no PATH through, nor "PATH" a variable "path".
func TestEnvNameMatchCase(t *testing.T) {
	insensitive := runtime.GOOS == "windows"
	if got := envNameMatch([]string{"path"}, "PATH"); got != insensitive {
		t.Errorf(`envNameMatch(["path"], "PATH") = %v on %s`, got, runtime.GOOS)
	}
	if got := envNameMatch([]string{"PATH"}, "path"); got != insensitive {
		t.Errorf(`envNameMatch(["PATH"], "path") = %v on %s`, got, runtime.GOOS)
	}
	if got := envNameMatch([]string{"node_*"}, "NODE_OPTIONS"); got != insensitive {
		t.Errorf(`envNameMatch(["node_*"], "NODE_OPTIONS") = %v on %s`, got, runtime.GOOS)
	}
}

// A frame of blanks alone is an error, not a crash.
func TestDecodeFrameBlank(t *testing.T) {
	for _, frame := range []string{"", "  \t"} {
		if msgs, err := decodeFrame([]byte(frame)); err == nil {
			t.Errorf("decodeFrame(%q) = %v, want an error", frame, msgs)
		}
	}
}

// The limit counts the whole frame when it comes in several reads of the
// buffered reader (64 KiB each): one byte over the limit is over it, and a
// frame of exactly the limit is a frame.
func TestFrameReaderLimitAcrossReads(t *testing.T) {
	const max = 100 << 10
	in := strings.Repeat("x", max+1) + "\n" + strings.Repeat("y", max) + "\n"
	fr := newFrameReader(strings.NewReader(in), max)
	frame, o, err := fr.next()
	if err != nil || o == nil || o.size != max+1 {
		t.Fatalf("a frame one byte over the limit = %d bytes, %+v, %v; want it oversized", len(frame), o, err)
	}
	frame, o, err = fr.next()
	if err != nil || o != nil || len(frame) != max {
		t.Fatalf("a frame of exactly the limit = %d bytes, %v, %v", len(frame), o, err)
	}
}

// The frame buffer is kept for the next frame up to keepFrameBuffer
// bytes of capacity, and let go above it: a stdio connection reads
// frames without an allocation each, and holds no huge buffer after a
// huge frame.
func TestFrameReaderKeepsBuffer(t *testing.T) {
	for _, tt := range []struct {
		capacity int
		kept     bool
	}{{64, true}, {keepFrameBuffer, true}, {keepFrameBuffer + 1, false}} {
		fr := newFrameReader(strings.NewReader(`{"a":1}`+"\n"), 100)
		fr.buf = make([]byte, 1, tt.capacity)
		frame, _, err := fr.next()
		if err != nil || string(frame) != `{"a":1}` {
			t.Fatalf("next = %q, %v", frame, err)
		}
		if kept := cap(frame) == tt.capacity; kept != tt.kept {
			t.Errorf("a buffer of capacity %d: kept %v, want %v", tt.capacity, kept, tt.kept)
		}
	}
}
