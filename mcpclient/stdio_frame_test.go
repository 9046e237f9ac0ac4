package mcpclient

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameReader(t *testing.T) {
	big := `{"jsonrpc":"2.0","id":7,"result":{"text":"` + strings.Repeat("x", 200<<10) + `"}}`
	in := "\n" + `{"a":1}` + "\r\n\n" + big + "\n" + strings.Repeat("y", 100) + "\n" + `{"b":2}`
	fr := newFrameReader(strings.NewReader(in), 100)

	frame, o, err := fr.next()
	if err != nil || o != nil || string(frame) != `{"a":1}` {
		t.Fatalf("first frame = %q, %v, %v", frame, o, err)
	}
	_, o, err = fr.next()
	if err != nil || o == nil || o.size != int64(len(big)) || string(o.head) != big[:frameHeadBytes] || string(o.tail) != big[len(big)-frameTailBytes:] {
		t.Fatalf("oversized frame: %v, %+v", err, o)
	}
	frame, o, err = fr.next()
	if err != nil || o != nil || len(frame) != 100 {
		t.Fatalf("a frame of exactly the limit = %d bytes, %v, %v", len(frame), o, err)
	}
	frame, o, err = fr.next()
	if err != nil || o != nil || string(frame) != `{"b":2}` {
		t.Fatalf("last frame without a line end = %q, %v, %v", frame, o, err)
	}
	if _, _, err := fr.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestOversizedID(t *testing.T) {
	pad := strings.Repeat("x", 10<<10)
	tests := []struct {
		name   string
		frame  string
		wantOK bool
		wantID any
		kind   int
	}{
		{"go-sdk order", `{"jsonrpc":"2.0","id":7,"result":{"t":"` + pad + `"}}`, true, int64(7), frameResponse},
		{"result first, id last", `{"result":{"t":"` + pad + `"},"jsonrpc":"2.0","id":12}`, true, int64(12), frameResponse},
		{"string id", `{"id":"abc-1","jsonrpc":"2.0","error":{"message":"` + pad + `"}}`, true, "abc-1", frameResponse},
		{"string id last", `{"result":{"t":"` + pad + `"},"id":"a\"}b" }` + "\r", true, `a"}b`, frameResponse},
		{"request", `{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{"t":"` + pad + `"}}`, true, int64(3), frameRequest},
		{"notification", `{"method":"notifications/message","params":{"t":"` + pad + `"},"jsonrpc":"2.0"}`, false, nil, frameRequest},
		{"id inside the result only", `{"jsonrpc":"2.0","result":{"t":"` + pad + `","id":5}}`, false, nil, frameResponse},
		{"escaped id in a string at the end", `{"result":"` + pad + `,\"id\":5}"}`, false, nil, frameResponse},
		{"not an object", `["` + pad + `"]`, false, nil, frameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &oversized{}
			o.add([]byte(tt.frame))
			id, kind, ok := o.id()
			if ok != tt.wantOK || kind != tt.kind || (ok && id.Raw() != tt.wantID) {
				t.Errorf("id() = %v, %d, %v; want %v, %d, %v", id.Raw(), kind, ok, tt.wantID, tt.kind, tt.wantOK)
			}
		})
	}
}
