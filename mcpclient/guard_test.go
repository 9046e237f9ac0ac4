package mcpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// deepSchema is an object schema nesting 2*levels+1 JSON levels.
func deepSchema(levels int) string {
	return strings.Repeat(`{"type":"object","properties":{"a":`, levels) + `{"type":"string"}` + strings.Repeat(`}}`, levels)
}

// deepToolList is a tools/list response with a normal tool and a tool whose
// schema nests 1001 levels.
func deepToolList() string {
	return `{"jsonrpc":"2.0","id":7,"result":{"tools":[` +
		`{"name":"normal","inputSchema":{"type":"object"}},` +
		`{"name":"deep","description":"d","annotations":{"x":` + strings.Repeat("[", 900) + strings.Repeat("]", 900) + `},"inputSchema":` + deepSchema(500) + `}` +
		`],"nextCursor":"c"}}`
}

const guardedToolList = `{"jsonrpc":"2.0","id":7,"result":{"tools":[` +
	`{"name":"normal","inputSchema":{"type":"object"}},` +
	`{"name":"deep","description":"d","inputSchema":{"type":"object","x-mcp-bridge-unusable":"schema nests 1001 levels, more than the 64 allowed"}}` +
	`],"nextCursor":"c"}}`

func TestGuardFrame(t *testing.T) {
	tooDeep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	veryDeep := strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat(`}`, 100_000)
	tests := []struct {
		name, in, want string
	}{
		{"shallow message unchanged", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`, ""},
		{"1000 levels unchanged", `{"jsonrpc":"2.0","id":1,"result":{"x":` + strings.Repeat("[", 998) + strings.Repeat("]", 998) + `}}`, ""},
		{"tool list rescued", deepToolList(), guardedToolList},
		{"other response becomes an error", `{"jsonrpc":"2.0","id":"r-1","result":{"content":` + tooDeep + `}}`,
			`{"jsonrpc":"2.0","id":"r-1","error":{"code":-32603,"message":"response nested deeper than 1000 levels"}}`},
		{"100,000 levels", `{"jsonrpc":"2.0","id":2,"result":` + veryDeep + `}`,
			`{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"response nested deeper than 1000 levels"}}`},
		{"tool list with another deep member", `{"jsonrpc":"2.0","id":3,"result":{"tools":[],"_meta":` + tooDeep + `}}`,
			`{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"response nested deeper than 1000 levels"}}`},
		{"request from the server unchanged", `{"jsonrpc":"2.0","id":4,"method":"x","params":` + tooDeep + `}`, ""},
		{"notification unchanged", `{"jsonrpc":"2.0","method":"x","params":` + tooDeep + `}`, ""},
		{"object id unchanged", `{"jsonrpc":"2.0","id":{},"result":` + tooDeep + `}`, ""},
		{"batch unchanged", `[` + tooDeep + `]`, ""},
		{"malformed unchanged", `{"id":1,"result":` + tooDeep, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			got := string(guardFrame([]byte(tt.in)))
			if got != want {
				t.Errorf("guardFrame = %.300s\nwant %.300s", got, want)
			}
			if tt.want != "" {
				if _, err := jsonrpc.DecodeMessage([]byte(got)); err != nil {
					t.Errorf("go-sdk cannot decode the guarded message: %v", err)
				}
			}
		})
	}
}

func TestGuardReader(t *testing.T) {
	long := `{"x":"` + strings.Repeat("y", maxGuardedLine) + `"}` + "\n"
	in := deepToolList() + "\r\n" + `{"jsonrpc":"2.0","id":1,"result":{}}` + "\n" + long + deepToolList()
	r := newGuardReader(io.NopCloser(strings.NewReader(in)), guardNDJSONLine)
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := guardedToolList + "\r\n" + `{"jsonrpc":"2.0","id":1,"result":{}}` + "\n" + long + guardedToolList
	if string(got) != want {
		t.Errorf("read %d bytes, want %d: %.300s", len(got), len(want), got)
	}
}

// A real stdio server whose first line is too deep for go-sdk: through the
// guarded CommandTransport, the connection reads it as a tool list.
func TestGuardedCommandTransport(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh is needed: ", err)
	}
	cmd := exec.Command("sh", "-c", `printf '%s\n' "$FRAME"; cat >/dev/null`)
	cmd.Env = []string{"FRAME=" + deepToolList()}
	tr := guardTransport(&mcp.CommandTransport{Command: cmd, TerminateDuration: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tr.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	resp, ok := msg.(*jsonrpc.Response)
	if !ok || string(resp.Result) != `{"tools":[{"name":"normal","inputSchema":{"type":"object"}},{"name":"deep","description":"d","inputSchema":{"type":"object","x-mcp-bridge-unusable":"schema nests 1001 levels, more than the 64 allowed"}}],"nextCursor":"c"}` {
		t.Errorf("read %T %+v", msg, msg)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("server process: %v, want it to have exited when its stdin closed", cmd.ProcessState)
	}
}

func TestGuardedHTTPBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, deepToolList())
		case "/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: message\nid: 1\ndata: "+deepToolList()+"\n\n: comment\ndata:"+deepToolList()+"\r\n\r\n")
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, deepToolList())
		}
	}))
	defer srv.Close()
	tr, ok := guardTransport(&mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: srv.Client()}).(*mcp.StreamableClientTransport)
	if !ok || guardTransport(tr) != mcp.Transport(tr) {
		t.Fatalf("guardTransport(streamable) = %T, or not idempotent", tr)
	}
	if sse, ok := guardTransport(&mcp.SSEClientTransport{Endpoint: srv.URL}).(*mcp.SSEClientTransport); !ok || sse.HTTPClient == nil {
		t.Fatalf("guardTransport(sse) = %+v", sse)
	}
	get := func(path string) string {
		resp, err := tr.HTTPClient.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := get("/json"); got != guardedToolList {
		t.Errorf("JSON body = %.300s", got)
	}
	if got, want := get("/sse"), "event: message\nid: 1\ndata: "+guardedToolList+"\n\n: comment\ndata: "+guardedToolList+"\r\n\r\n"; got != want {
		t.Errorf("event stream = %.300s", got)
	}
	if got := get("/text"); got != deepToolList() {
		t.Errorf("text body changed: %.300s", got)
	}
	var v any
	if err := json.Unmarshal([]byte(guardedToolList), &v); err != nil {
		t.Fatal(err)
	}
}

// The bridge's own stdio transport decodes through the guard too: a tool
// list too deep for go-sdk is read as the guarded list, alone or in a
// batch, rather than ending the connection.
func TestStdioFramesGuarded(t *testing.T) {
	for _, frame := range []string{deepToolList(), "[" + deepToolList() + "]"} {
		msgs, err := decodeFrame([]byte(frame))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("decodeFrame: %d messages, %v", len(msgs), err)
		}
		resp, ok := msgs[0].(*jsonrpc.Response)
		if !ok || !bytes.Contains(resp.Result, []byte("x-mcp-bridge-unusable")) || !bytes.Contains(resp.Result, []byte(`"name":"normal"`)) {
			t.Errorf("decoded %T %s", msgs[0], resp.Result)
		}
	}
}
