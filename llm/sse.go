package llm

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// Event is one server-sent event.
type Event struct {
	// Name is the "event" field, "" when the event had none.
	Name string
	// ID is the last "id" field seen in the stream so far (the EventSource
	// "last event ID"), "" when none.
	ID string
	// Data is the event's "data" lines joined with "\n". It is a fresh
	// slice owned by the caller.
	Data []byte
}

// EventReader reads server-sent events from a stream. Lines may end in
// "\n", "\r\n" or "\r" and have no length limit. Comment lines (":...") and
// unknown fields are skipped, several "data" lines are joined with "\n", a
// single space after the colon is dropped, events without data are skipped,
// and a final event not followed by a blank line is still returned at the
// end of the stream. It is not safe for concurrent use.
type EventReader struct {
	r   io.Reader
	err error // sticky error from r

	buf        []byte
	start, end int // unread bytes are buf[start:end]
	scanned    int // buf[start:start+scanned] holds no line terminator
	skipLF     bool
	bomChecked bool

	noBlock bool // set by TryNext: do not read from r
	pooled  bool // buf came from bufPool

	data    []byte // data of the event being read
	hasData bool
	name    []byte
	id      string
}

const (
	eventReaderBufSize = 4 << 10
	// maxRetainedBuf is the largest buffer kept once the long line or
	// event that needed it has been returned.
	maxRetainedBuf = 64 << 10
)

// bufPool holds the read buffers of EventReaders between reads: a stream
// that waits for its next event holds none.
var bufPool = sync.Pool{New: func() any { return new([eventReaderBufSize]byte) }}

// NewEventReader returns a reader of the events in r. It reads r in blocks
// of at least 4 KiB and does not close it.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{r: r}
}

// Next returns the next event. It returns io.EOF once the stream has ended
// cleanly and every event has been returned, and the reader's error
// otherwise (an event cut short by an error is dropped).
func (r *EventReader) Next() (Event, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			if err == errWouldBlock {
				return Event{}, err // the event read so far is kept
			}
			if err == io.EOF && r.hasData {
				return r.dispatch(), nil
			}
			r.reset()
			return Event{}, err
		}
		if len(line) == 0 {
			if r.hasData {
				ev := r.dispatch()
				r.releaseIfEmpty()
				return ev, nil
			}
			r.reset()
			continue
		}
		r.field(line)
	}
}

// errWouldBlock is what readLine returns, under TryNext, when the next line
// is not in the buffer yet.
var errWouldBlock = errors.New("sse: no complete event buffered")

// TryNext returns the next event if the bytes already read hold all of it,
// without reading more: ok is false when Next would have to wait for the
// stream. Errors are Next's. A caller that handles several events at once
// (writing them out with one flush, say) takes what TryNext gives after a
// Next.
func (r *EventReader) TryNext() (ev Event, ok bool, err error) {
	r.noBlock = true
	ev, err = r.Next()
	r.noBlock = false
	if err == errWouldBlock {
		return Event{}, false, nil
	}
	return ev, err == nil, err
}

// releaseIfEmpty returns the read buffer to the pool when it holds no
// unread byte.
func (r *EventReader) releaseIfEmpty() {
	if r.start == r.end && r.pooled {
		r.Release()
	}
}

// Release returns the reader's buffer to a pool shared by all readers; a
// later read takes one again. Call it when done with the reader.
func (r *EventReader) Release() {
	if r.pooled && r.buf != nil {
		bufPool.Put((*[eventReaderBufSize]byte)(r.buf[:eventReaderBufSize]))
	}
	r.buf, r.pooled = nil, false
	r.start, r.end, r.scanned = 0, 0, 0
}

// field processes one non-empty line.
func (r *EventReader) field(line []byte) {
	if line[0] == ':' {
		return
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "event":
		r.name = append(r.name[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = string(value)
		}
	}
}

// dispatch returns the event read so far and resets the event state.
func (r *EventReader) dispatch() Event {
	ev := Event{ID: r.id, Data: bytes.Clone(r.data)}
	if ev.Data == nil {
		ev.Data = []byte{}
	}
	if len(r.name) > 0 {
		ev.Name = string(r.name)
	}
	r.reset()
	return ev
}

func (r *EventReader) reset() {
	if cap(r.data) > maxRetainedBuf {
		r.data = nil
	}
	r.data = r.data[:0]
	r.hasData = false
	r.name = r.name[:0]
}

// readLine returns the next line without its terminator. The line is valid
// until the next call. At the end of the stream, a last line without a
// terminator is returned before io.EOF.
func (r *EventReader) readLine() ([]byte, error) {
	line, err := r.nextLine()
	if err == nil && !r.bomChecked {
		r.bomChecked = true
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	return line, err
}

func (r *EventReader) nextLine() ([]byte, error) {
	for {
		if r.skipLF && r.start < r.end {
			if r.buf[r.start] == '\n' {
				r.start++
			}
			r.skipLF = false
		}
		if line, ok := r.cutLine(); ok {
			return line, nil
		}
		if r.err != nil {
			if r.start < r.end {
				line := r.buf[r.start:r.end]
				r.start, r.end, r.scanned = 0, 0, 0
				return line, nil
			}
			return nil, r.err
		}
		if r.noBlock {
			return nil, errWouldBlock
		}
		r.fill()
	}
}

// cutLine takes the next complete line out of the buffer.
func (r *EventReader) cutLine() ([]byte, bool) {
	avail := r.buf[r.start+r.scanned : r.end]
	lf := bytes.IndexByte(avail, '\n')
	searchCR := avail
	if lf >= 0 {
		searchCR = avail[:lf]
	}
	n := -1 // line length from start
	crlf := false
	if cr := bytes.IndexByte(searchCR, '\r'); cr >= 0 {
		n = r.scanned + cr
		if r.start+n+1 < r.end {
			crlf = r.buf[r.start+n+1] == '\n'
		} else {
			r.skipLF = true // the '\n' of a "\r\n", if any, is not read yet
		}
	} else if lf >= 0 {
		n = r.scanned + lf
	}
	if n < 0 {
		r.scanned = r.end - r.start
		return nil, false
	}
	line := r.buf[r.start : r.start+n]
	r.start += n + 1
	if crlf {
		r.start++
	}
	r.scanned = 0
	return line, true
}

// fill reads more bytes into the buffer, making room first. It sets r.err
// when the reader fails or makes no progress.
func (r *EventReader) fill() {
	if r.buf == nil || (r.start == r.end && len(r.buf) > maxRetainedBuf) {
		r.buf, r.pooled = bufPool.Get().(*[eventReaderBufSize]byte)[:], true
		r.start, r.end = 0, 0
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
		r.pooled = false // a grown buffer is not the pool's size
	}
	for range 100 {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}
