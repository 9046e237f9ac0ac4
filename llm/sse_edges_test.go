package llm

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// pieceReader hands out its pieces one Read at a time and records the
// largest buffer it was given to fill.
type pieceReader struct {
	pieces  []string
	maxRoom int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	r.maxRoom = max(r.maxRoom, len(p))
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	if r.pieces[0] == "" {
		r.pieces = r.pieces[1:]
	}
	return n, nil
}

// TestEventReaderCompactsBuffer checks a long stream whose reads always
// end in the middle of an event is read in a buffer of constant size: the
// bytes already returned are dropped before each read, rather than the
// buffer growing with everything the stream sent.
func TestEventReaderCompactsBuffer(t *testing.T) {
	// Events of 15 bytes read 15 at a time from the middle of the first:
	// no read ends where an event does, not even one cut short by the end
	// of a buffer of 2^k bytes.
	const events, size = 20000, 15
	var stream strings.Builder
	for i := range events {
		fmt.Fprintf(&stream, "data: %07d\n\n", i)
	}
	all := stream.String()
	r := &pieceReader{pieces: []string{all[:7]}}
	for rest := all[7:]; rest != ""; rest = rest[min(size, len(rest)):] {
		r.pieces = append(r.pieces, rest[:min(size, len(rest))])
	}
	er := NewEventReader(r)
	for i := range events {
		ev, err := er.Next()
		if want := fmt.Sprintf("%07d", i); err != nil || string(ev.Data) != want {
			t.Fatalf("event %d: %q, %v; want %q", i, ev.Data, err, want)
		}
	}
	if _, err := er.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if r.maxRoom > eventReaderBufSize {
		t.Errorf("the reader was handed %d bytes to fill: the buffer grew past %d for a stream of %d-byte events", r.maxRoom, eventReaderBufSize, size)
	}
}

// TestReleaseReturnsBufferToPool checks a released buffer goes back to the
// pool for the next reader, so a stream costs no new buffer per event. The
// pool may drop an item (it does so at random under the race detector),
// so the test asks only that the buffer come back at least once in 20
// tries.
func TestReleaseReturnsBufferToPool(t *testing.T) {
	reused := 0
	for range 20 {
		er := NewEventReader(strings.NewReader("data: a\n\ndata: b\n\n"))
		if ev, err := er.Next(); err != nil || string(ev.Data) != "a" {
			t.Fatalf("a: %q, %v", ev.Data, err)
		}
		if er.buf == nil {
			t.Fatal("a reader with unread bytes holds no buffer")
		}
		held := &er.buf[0]
		er.Release()
		b := bufPool.Get().(*[eventReaderBufSize]byte)
		if &b[0] == held {
			reused++
		}
		bufPool.Put(b)
	}
	if reused == 0 {
		t.Error("a released buffer never came back from the pool in 20 tries")
	}
}
