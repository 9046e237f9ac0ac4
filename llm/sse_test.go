package llm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader) ([]Event, error) {
	t.Helper()
	er := NewEventReader(r)
	var evs []Event
	for range 10000 {
		ev, err := er.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	t.Fatal("too many events")
	return nil, nil
}

func TestEventReader(t *testing.T) {
	d := func(data string) Event { return Event{Data: []byte(data)} }
	tests := []struct {
		name  string
		input string
		want  []Event
	}{
		{"empty stream", "", nil},
		{"blank lines only", "\n\n\r\n\r", nil},
		{"one event", "data: a\n\n", []Event{d("a")}},
		{"no space after colon", "data:a\n\n", []Event{d("a")}},
		{"only one space dropped", "data:  a \n\n", []Event{d(" a ")}},
		{"two events", "data: a\n\ndata: b\n\n", []Event{d("a"), d("b")}},
		{"CRLF", "data: a\r\n\r\ndata: b\r\n\r\n", []Event{d("a"), d("b")}},
		{"CR", "data: a\r\rdata: b\r\r", []Event{d("a"), d("b")}},
		{"mixed endings", "data: a\r\ndata: b\rdata: c\n\r\n", []Event{d("a\nb\nc")}},
		{"multi-line data", "data: a\ndata: b\ndata:\n\n", []Event{d("a\nb\n")}},
		{"empty data", "data\n\ndata:\n\n", []Event{d(""), d("")}},
		{"comments skipped", ": keepalive\n\n:\ndata: x\n: inside\ndata: y\n\n", []Event{d("x\ny")}},
		{"unknown fields skipped", "retry: 100\nfoo: bar\nfoo\ndata: x\n\n", []Event{d("x")}},
		{"event name", "event: status\ndata: x\n\ndata: y\n\n", []Event{{Name: "status", Data: []byte("x")}, d("y")}},
		{"event without data skipped", "event: ping\n\ndata: x\n\n", []Event{d("x")}},
		{"id persists", "id: 5\ndata: x\n\ndata: y\n\nid\ndata: z\n\n", []Event{{ID: "5", Data: []byte("x")}, {ID: "5", Data: []byte("y")}, d("z")}},
		{"id with NUL ignored", "id: 1\ndata: x\n\nid: a\x00b\ndata: y\n\n", []Event{{ID: "1", Data: []byte("x")}, {ID: "1", Data: []byte("y")}}},
		{"id with leading NUL ignored", "id: 1\ndata: x\n\nid: \x00b\ndata: y\n\n", []Event{{ID: "1", Data: []byte("x")}, {ID: "1", Data: []byte("y")}}},
		{"LF line then CR lines", "data: a\n\ndata: b\r\r", []Event{d("a"), d("b")}},
		{"no trailing blank line", "data: a\n\ndata: b\n", []Event{d("a"), d("b")}},
		{"no trailing newline", "data: a\n\ndata: b", []Event{d("a"), d("b")}},
		{"no trailing CR", "data: a\r", []Event{d("a")}},
		{"byte order mark", "\xef\xbb\xbfdata: x\n\n", []Event{d("x")}},
		{"colon in value", "data: {\"a\":\"b:c\"}\n\n", []Event{d(`{"a":"b:c"}`)}},
		{"done", "data: {}\n\ndata: [DONE]\n\n", []Event{d("{}"), d("[DONE]")}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":     func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"data+EOF": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				got, err := readAll(t, mk(tt.input))
				if err != io.EOF {
					t.Fatalf("final error %v, want io.EOF", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("events of %q\n got %q\nwant %q", tt.input, got, tt.want)
				}
			})
		}
	}
}

func TestEventReaderLongLine(t *testing.T) {
	long := bytes.Repeat([]byte("a"), 1<<20)
	input := "data: " + string(long) + "\r\n\r\ndata: after\n\n"
	for name, r := range map[string]io.Reader{
		"whole": strings.NewReader(input),
		"half":  iotest.HalfReader(strings.NewReader(input)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("final error %v", err)
			}
			if len(got) != 2 || !bytes.Equal(got[0].Data, long) || string(got[1].Data) != "after" {
				t.Fatalf("got %d events, first %d bytes", len(got), len(got[0].Data))
			}
		})
	}
}

func TestEventReaderReleasesLongLineMemory(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "data: "+long+"\n\n")
		io.WriteString(pw, "data: small\n\n")
		pw.Close()
	}()
	er := NewEventReader(pr)
	if ev, err := er.Next(); err != nil || len(ev.Data) != len(long) {
		t.Fatalf("long event: %d bytes, %v", len(ev.Data), err)
	}
	if ev, err := er.Next(); err != nil || string(ev.Data) != "small" {
		t.Fatalf("small event: %q, %v", ev.Data, err)
	}
	if len(er.buf) > maxRetainedBuf || cap(er.data) > maxRetainedBuf {
		t.Errorf("reader still holds %d + %d bytes", len(er.buf), cap(er.data))
	}
}

func TestEventReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: cut"), iotest.ErrReader(boom))
	got, err := readAll(t, r)
	if !errors.Is(err, boom) {
		t.Fatalf("final error %v, want boom", err)
	}
	if len(got) != 1 || string(got[0].Data) != "a" {
		t.Fatalf("events %q, want only the complete one", got)
	}
	er := NewEventReader(r)
	if _, err := er.Next(); !errors.Is(err, boom) {
		t.Fatalf("a new reader on the failed stream: %v", err)
	}
}

func TestEventReaderNoProgress(t *testing.T) {
	_, err := NewEventReader(zeroReader{}).Next()
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestEventReaderDataIsOwned(t *testing.T) {
	er := NewEventReader(strings.NewReader("data: first\n\ndata: second\n\n"))
	a, err := er.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := er.Next(); err != nil {
		t.Fatal(err)
	}
	if string(a.Data) != "first" {
		t.Fatalf("first event's data became %q", a.Data)
	}
}

func BenchmarkEventReader(b *testing.B) {
	var stream bytes.Buffer
	for range 1000 {
		stream.WriteString("data: " + benchChunks["content"] + "\n\n")
	}
	data := stream.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		er := NewEventReader(bytes.NewReader(data))
		for {
			if _, err := er.Next(); err != nil {
				break
			}
		}
	}
}

// TestTryNext checks TryNext returns the events already read and no more,
// keeps a partly read event for the next call, and never reads.
func TestTryNext(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewEventReader(pr)
	go func() { _, _ = pw.Write([]byte("data: one\n\ndata: two\n\ndata: thr")) }()
	ev, err := r.Next()
	if err != nil || string(ev.Data) != "one" {
		t.Fatalf("Next: %q %v", ev.Data, err)
	}
	ev, ok, err := r.TryNext()
	if !ok || err != nil || string(ev.Data) != "two" {
		t.Fatalf("TryNext: %q %v %v", ev.Data, ok, err)
	}
	if _, ok, err := r.TryNext(); ok || err != nil {
		t.Fatalf("TryNext on a partial event: %v %v", ok, err)
	}
	go func() { _, _ = pw.Write([]byte("ee\ndata: more\n\n")); pw.Close() }()
	ev, err = r.Next()
	if err != nil || string(ev.Data) != "three\nmore" {
		t.Fatalf("Next after TryNext: %q %v", ev.Data, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestEventReaderReleasesIdleBuffer checks a reader waiting for its next
// event holds no buffer, and one with unread bytes keeps them.
func TestEventReaderReleasesIdleBuffer(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewEventReader(pr)
	go func() { _, _ = pw.Write([]byte("data: a\n\n")) }()
	if ev, err := r.Next(); err != nil || string(ev.Data) != "a" {
		t.Fatalf("a: %q %v", ev.Data, err)
	}
	if r.buf != nil {
		t.Error("a reader with nothing unread holds its buffer")
	}
	go func() { _, _ = pw.Write([]byte("data: b\n\ndata: c")); pw.Close() }()
	if ev, err := r.Next(); err != nil || string(ev.Data) != "b" {
		t.Fatalf("b: %q %v", ev.Data, err)
	}
	if r.buf == nil {
		t.Fatal("unread bytes were dropped with the buffer")
	}
	if ev, err := r.Next(); err != nil || string(ev.Data) != "c" {
		t.Fatalf("c: %q %v", ev.Data, err)
	}
	r.Release()
	if r.buf != nil {
		t.Error("Release kept the buffer")
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after Release: %v", err)
	}
}
