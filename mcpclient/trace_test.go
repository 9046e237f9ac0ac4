package mcpclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

type traceKey struct{}

// propagateFromContext is a stand-in for the OpenTelemetry propagator: it
// sets the traceparent carried by the context.
func propagateFromContext(ctx context.Context, h http.Header) {
	if v, ok := ctx.Value(traceKey{}).(string); ok {
		h.Set("Traceparent", v)
	}
}

// TestPropagateTraceContext: a remote server receives the call's trace
// context both as an HTTP header and in the tools/call request's _meta.
func TestPropagateTraceContext(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "traced", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "meta", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tp, _ := req.Params.GetMeta()["traceparent"].(string)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: tp}}}, nil
		})
	var mu sync.Mutex
	var headers []string
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Get("Traceparent"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	r, _ := start(t, &mcpclient.Options{Propagate: propagateFromContext},
		mcpclient.ServerConfig{Name: "remote", URL: hs.URL})
	if st := status(t, r, "remote"); st.State != mcpclient.StateReady {
		t.Fatalf("status = %+v", st)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	res, err := r.Call(context.WithValue(context.Background(), traceKey{}, tp), "remote__meta", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != tp {
		t.Errorf("_meta.traceparent = %q, want %q", res.Text, tp)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(headers, tp) {
		t.Errorf("no request carried traceparent %q; saw %q", tp, headers)
	}
}
