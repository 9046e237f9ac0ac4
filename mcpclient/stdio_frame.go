package mcpclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// defaultMaxFrameBytes bounds a stdio server's message when
// Options.MaxFrameBytes is 0.
const defaultMaxFrameBytes = 64 << 20

// Of a frame over the limit, only its first and last bytes are kept, to
// find its JSON-RPC id and kind.
const (
	frameHeadBytes = 4 << 10
	frameTailBytes = 1 << 10
)

// keepFrameBuffer is the largest frame buffer kept for the next frame; a
// larger one is let go once its frame was handed on.
const keepFrameBuffer = 1 << 20

// frameReader reads newline-delimited frames (JSON-RPC messages) of at most
// max bytes. It is not safe for concurrent use.
type frameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// oversized describes a frame longer than the limit, of which only the
// start and the end were kept.
type oversized struct {
	size int64  // the frame's length
	head []byte // its first frameHeadBytes
	tail []byte // its last frameTailBytes (or fewer)
}

// next returns the next frame without its line end, valid until the next
// call; or, for a frame over the limit, a nil frame and the description of
// the frame, which was read to its end but not kept. Empty lines are
// skipped. At the end of the input it returns the read error (io.EOF).
func (f *frameReader) next() ([]byte, *oversized, error) {
	if cap(f.buf) > keepFrameBuffer {
		f.buf = nil
	}
	f.buf = f.buf[:0]
	var big *oversized
	for {
		chunk, err := f.r.ReadSlice('\n')
		last := err == nil || (err != nil && !errors.Is(err, bufio.ErrBufferFull))
		if err == nil {
			chunk = bytes.TrimRight(chunk, "\r\n")
		}
		if big == nil && len(f.buf)+len(chunk) > f.max {
			big = &oversized{head: make([]byte, 0, frameHeadBytes)}
			big.add(f.buf)
			f.buf = nil
		}
		if big != nil {
			big.add(chunk)
		} else {
			f.buf = append(f.buf, chunk...)
		}
		if !last {
			continue
		}
		switch {
		case big != nil:
			return nil, big, nil
		case len(bytes.TrimSpace(f.buf)) > 0:
			// A last frame without a line end counts too.
			return f.buf, nil, nil
		case err != nil:
			return nil, nil, err
		}
		f.buf = f.buf[:0] // an empty line
	}
}

// add records the next bytes of the frame.
func (o *oversized) add(p []byte) {
	o.size += int64(len(p))
	if n := min(len(p), frameHeadBytes-len(o.head)); n > 0 {
		o.head = append(o.head, p[:n]...)
	}
	if len(p) >= frameTailBytes {
		o.tail = append(o.tail[:0], p[len(p)-frameTailBytes:]...)
		return
	}
	o.tail = append(o.tail, p...)
	if over := len(o.tail) - frameTailBytes; over > 0 {
		o.tail = append(o.tail[:0], o.tail[over:]...)
	}
}

// Kinds of a frame, as far as its start tells.
const (
	frameUnknown = iota
	frameResponse
	frameRequest // a request or a notification
)

// trailingID matches the id as the last member of a JSON object that ends
// the input, as servers that put the result first write it
// ({"result":...,"jsonrpc":"2.0","id":7}). Quotes inside strings are
// escaped, so an unescaped `"id"` followed by one brace at the very end is
// a member of the outermost object.
var trailingID = regexp.MustCompile(`[{,]\s*"id"\s*:\s*(-?[0-9]+|"(?:[^"\\]|\\.)*")\s*}\s*$`)

// id returns the JSON-RPC id of the frame and whether it is a response, a
// request or unknown, from the members at the frame's start and, when the
// id is not among them, from the frame's end. ok is false when no id was
// found.
func (o *oversized) id() (id jsonrpc.ID, kind int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(o.head))
	dec.UseNumber()
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
	members:
		for dec.More() {
			tok, err := dec.Token()
			key, isKey := tok.(string)
			if err != nil || !isKey {
				break
			}
			switch key {
			case "result", "error":
				if kind == frameUnknown {
					kind = frameResponse
				}
			case "method", "params":
				if kind == frameUnknown {
					kind = frameRequest
				}
			case "id":
				var raw json.RawMessage
				if dec.Decode(&raw) != nil {
					break members
				}
				id, ok = parseID(raw)
				continue
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				break // the value runs past the kept start
			}
		}
	}
	if !ok {
		if m := trailingID.FindSubmatch(o.tail); m != nil {
			id, ok = parseID(m[1])
		}
	}
	return id, kind, ok
}

// parseID reads a JSON-RPC id: an integer or a string.
func parseID(raw []byte) (jsonrpc.ID, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return jsonrpc.ID{}, false
	}
	switch v := v.(type) {
	case string:
		id, err := jsonrpc.MakeID(v)
		return id, err == nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return jsonrpc.ID{}, false
		}
		id, err := jsonrpc.MakeID(f)
		return id, err == nil
	}
	return jsonrpc.ID{}, false
}
