package mcpclient

// Edges of the frame guard: the depth bounds it rewrites at, malformed
// frames from a server (which must pass through, not crash the reader), and
// the byte-level promises of the line and body guards.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// nest is a JSON object nesting n levels.
func nest(n int) string {
	return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1)
}

// deepTool is a tool whose schema nests 1001 levels, which takes any
// message holding it past go-sdk's limit.
const deepToolMarker = `{"name":"deep","inputSchema":{"type":"object","x-mcp-bridge-unusable":"schema nests 1001 levels, more than the 64 allowed"}}`

func deepTool() string { return `{"name":"deep","inputSchema":` + deepSchema(500) + `}` }

// The guard's depth bounds: what it keeps at each limit exactly.
func TestGuardFrameDepthBounds(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// The rewritten list nests exactly 1000 levels: go-sdk decodes it,
		// so it is sent rather than an error.
		{"rewritten list of 1000 levels kept",
			`{"jsonrpc":"2.0","id":5,"result":{"tools":[` + deepTool() + `],"_meta":{"x":` + strings.Repeat("[", 997) + strings.Repeat("]", 997) + `}}}`,
			`{"jsonrpc":"2.0","id":5,"result":{"tools":[` + deepToolMarker + `],"_meta":{"x":` + strings.Repeat("[", 997) + strings.Repeat("]", 997) + `}}}`},
		// A tool of 65 levels (a 64-level schema inside it) is within the
		// limit: it passes byte for byte, its spacing included.
		{"tool of 65 levels untouched",
			`{"jsonrpc":"2.0","id":6,"result":{"tools":[{"name":"edge", "inputSchema":` + nest(64) + `},` + deepTool() + `]}}`,
			`{"jsonrpc":"2.0","id":6,"result":{"tools":[{"name":"edge", "inputSchema":` + nest(64) + `},` + deepToolMarker + `]}}`},
		// In a tool that is too deep, a schema of exactly 64 levels is
		// still usable: only the member nested too deep goes.
		{"schema of 64 levels kept beside a deep member",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"t","inputSchema":` + nest(64) + `,"annotations":` + nest(1001) + `}]}}`,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"t","inputSchema":` + nest(64) + `}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if jsonDepth([]byte(tt.in)) <= frameDepthLimit {
				t.Fatalf("input nests %d levels: not a frame the guard rewrites", jsonDepth([]byte(tt.in)))
			}
			got := string(guardFrame([]byte(tt.in)))
			if got != tt.want {
				t.Errorf("guardFrame = %.400s\nwant %.400s", got, tt.want)
			}
			if _, err := jsonrpc.DecodeMessage([]byte(got)); err != nil {
				t.Errorf("go-sdk cannot decode the guarded message: %v", err)
			}
		})
	}
}

// A server can send anything: a frame too deep for go-sdk that is also
// cut short or malformed is passed on as it is (go-sdk then reports it),
// and the scan of it stops at the end of the bytes instead of reading
// past them.
func TestGuardFrameMalformedDeep(t *testing.T) {
	tooDeep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	head := `{"jsonrpc":"2.0","id":1,"result":` + tooDeep
	for name, in := range map[string]string{
		"ends after a comma":        head + `,`,
		"ends after a key":          head + `,"b"`,
		"ends after a colon":        head + `,"b":`,
		"ends inside a key":         head + `,"b`,
		"ends after an escape":      head + `,"b\`,
		"ends inside a number":      head + `,"b":1`,
		"ends inside a literal":     head + `,"b":tru`,
		"member without a value":    head + `,"b":}`,
		"never closes its brackets": `{"jsonrpc":"2.0","id":1,"result":` + strings.Repeat("[", 1001),
		"tools never close":         `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + strings.Repeat("[", 1001),
		"tools list cut short":      `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + tooDeep + `,`,
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("guardFrame panicked: %v", p)
				}
			}()
			if got := guardFrame([]byte(in)); string(got) != in {
				t.Errorf("guardFrame changed a malformed frame: %.300s", got)
			}
		})
	}
	// A well-formed message around a malformed tool list: the list cannot
	// be rescued, so the response becomes an error.
	in := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + tooDeep + `,]}}`
	want := `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"response nested deeper than 1000 levels"}}`
	if got := string(guardFrame([]byte(in))); got != want {
		t.Errorf("malformed tool list: guardFrame = %.300s", got)
	}
}

// The scanners' own contracts, for the inputs the frame guard never hands
// them: empty, cut short, empty containers and trailing bytes.
func TestGuardScanners(t *testing.T) {
	objects := []struct {
		in   string
		n    int
		want bool
	}{
		{"", 0, false}, {"   ", 0, false}, {"{", 0, false}, {"{ ", 0, false},
		{"{}", 0, true}, {" { } ", 0, true}, {"{} x", 0, false},
		{`{"a":1}`, 1, true}, {`{"a":1`, 0, false},
	}
	for _, tt := range objects {
		ms, ok := callNoPanic(t, "objectMembers("+tt.in+")", func() (int, bool) { ms, ok := objectMembers([]byte(tt.in)); return len(ms), ok })
		if ok != tt.want || ms != tt.n {
			t.Errorf("objectMembers(%q) = %d members, %v; want %d, %v", tt.in, ms, ok, tt.n, tt.want)
		}
	}
	arrays := []struct {
		in   string
		n    int
		want bool
	}{
		{"", 0, false}, {"  ", 0, false}, {"[", 0, false}, {"[ ", 0, false},
		{"[]", 0, true}, {" [ ] ", 0, true}, {"[] x", 0, false}, {"[]]", 0, false},
		{"[1, 2]", 2, true}, {"[1,", 0, false},
	}
	for _, tt := range arrays {
		es, ok := callNoPanic(t, "arrayElements("+tt.in+")", func() (int, bool) { es, ok := arrayElements([]byte(tt.in)); return len(es), ok })
		if ok != tt.want || es != tt.n {
			t.Errorf("arrayElements(%q) = %d elements, %v; want %d, %v", tt.in, es, ok, tt.n, tt.want)
		}
	}
}

func callNoPanic(t *testing.T, what string, f func() (int, bool)) (n int, ok bool) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v", what, p)
		}
	}()
	return f()
}

// sameLengthRewrite is a frame the guard rewrites into different bytes of
// exactly its own length: the deep member it drops is made up for by keys
// that re-encode longer ("<" becomes "\u003c") and by spacing it drops.
func sameLengthRewrite(t *testing.T) (in, out string) {
	t.Helper()
	for k := 0; k < 2000; k++ {
		build := func(spaces int) string {
			return `{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"t",` + strings.Repeat(" ", spaces) +
				`"` + strings.Repeat("<", k) + `":1,"annotations":` + nest(1001) + `}]}}`
		}
		in = build(0)
		diff := len(in) - len(guardFrame([]byte(in)))
		if diff > 0 {
			continue
		}
		in = build(-diff)
		out = string(guardFrame([]byte(in)))
		if len(out) != len(in) || out == in {
			t.Fatalf("no same-length rewrite: %d bytes in, %d out", len(in), len(out))
		}
		return in, out
	}
	t.Fatal("no same-length rewrite found")
	return "", ""
}

// A rewritten message of the same length as the original is still the
// rewritten one: the line guards tell "unchanged" by identity, not length.
func TestGuardLinesSameLengthRewrite(t *testing.T) {
	in, out := sameLengthRewrite(t)
	if got := string(guardNDJSONLine([]byte(in + "\n"))); got != out+"\n" {
		t.Errorf("NDJSON line = %.200s..., want the rewritten message", got)
	}
	if got := string(guardSSELine([]byte("data: " + in + "\r\n"))); got != "data: "+out+"\r\n" {
		t.Errorf("SSE line = %.200s..., want the rewritten message", got)
	}
}

// Lines the guard leaves alone come back byte for byte, and lines with
// nothing in them (a blank line, a bare "data:") do not trip it.
func TestGuardLinesUntouched(t *testing.T) {
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("a line guard panicked: %v", p)
		}
	}()
	for _, line := range []string{"data:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n", "data:", "data: ", "data:\n", "data: \r\n", "event: message\n"} {
		if got := string(guardSSELine([]byte(line))); got != line {
			t.Errorf("guardSSELine(%q) = %q", line, got)
		}
	}
	for _, line := range []string{"\n", "\r\n", "{}\n", " \n"} {
		if got := string(guardNDJSONLine([]byte(line))); got != line {
			t.Errorf("guardNDJSONLine(%q) = %q", line, got)
		}
	}
	in := "\n" + deepToolList() + "\n\n"
	got, err := io.ReadAll(newGuardReader(io.NopCloser(strings.NewReader(in)), guardNDJSONLine))
	if err != nil || string(got) != "\n"+guardedToolList+"\n\n" {
		t.Errorf("read %.300q, %v", got, err)
	}
}

// A line of exactly maxGuardedLine bytes is still guarded: a deep tool
// list that size, whose deep member takes most of it, reaches go-sdk
// rewritten and small rather than as it was.
func TestGuardReaderLineAtLimit(t *testing.T) {
	head := `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"deep","annotations":{"x":` + strings.Repeat("[", 900) + `"`
	tail := `"` + strings.Repeat("]", 900) + `},"inputSchema":` + deepSchema(500) + `}]}}`
	line := head + strings.Repeat("p", maxGuardedLine-len(head)-len(tail)) + tail
	if len(line) != maxGuardedLine {
		t.Fatalf("line of %d bytes", len(line))
	}
	got, err := io.ReadAll(newGuardReader(io.NopCloser(strings.NewReader(line+"\n")), guardNDJSONLine))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"jsonrpc":"2.0","id":7,"result":{"tools":[` + deepToolMarker + `]}}` + "\n"; string(got) != want {
		t.Errorf("read %d bytes: %.200s, want the guarded list", len(got), got)
	}
}

// A guarded HTTP body has no length any more: the guard may change it, so
// neither the response nor its header may claim the server's.
func TestGuardedBodyLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, deepToolList())
	}))
	defer srv.Close()
	resp, err := guardHTTPClient(srv.Client(), nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != guardedToolList {
		t.Errorf("body %.300s", body)
	}
	if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
		t.Errorf("ContentLength %d, header %q; want -1 and none (the body is %d bytes)", resp.ContentLength, resp.Header.Get("Content-Length"), len(body))
	}
}

// A ServerConfig.Transport's transports are guarded, and its errors come
// back as they were.
func TestGuardedTransportFunc(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	plain := &mcp.IOTransport{Reader: r, Writer: w}
	got, err := guardedTransportFunc(func(context.Context) (mcp.Transport, error) { return plain, nil })(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if iot, ok := got.(*mcp.IOTransport); !ok || iot == plain {
		t.Fatalf("transport %T %p, want a guarded copy of %p", got, got, plain)
	} else if _, ok := iot.Reader.(*guardReader); !ok {
		t.Errorf("reader %T, want the guard", iot.Reader)
	}
	boom := errors.New("boom")
	got, err = guardedTransportFunc(func(context.Context) (mcp.Transport, error) { return plain, boom })(t.Context())
	if !errors.Is(err, boom) || got != mcp.Transport(plain) {
		t.Errorf("with an error: %T, %v; want the transport and error as they were", got, err)
	}
	got, err = guardedTransportFunc(func(context.Context) (mcp.Transport, error) { return nil, nil })(t.Context())
	if got != nil || err != nil {
		t.Errorf("with no transport: %v, %v", got, err)
	}
}
