package mcpclient_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// Close leaves no connection to a remote server open, with or without
// configured headers: the idle keep-alive connections are closed too.
func TestCloseClosesIdleConnections(t *testing.T) {
	for name, headers := range map[string]map[string]string{"no headers": nil, "headers": {"Authorization": "Bearer t0ken-value"}} {
		t.Run(name, func(t *testing.T) {
			srv := mcptest.NewServer()
			ts := httptest.NewUnstartedServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
			states := make(chan http.ConnState, 100)
			ts.Config.ConnState = func(_ net.Conn, s http.ConnState) { states <- s }
			ts.Start()
			defer ts.Close()

			r := mcpclient.NewRegistry([]mcpclient.ServerConfig{{Name: "remote", URL: ts.URL, Headers: headers}}, &mcpclient.Options{})
			r.Start(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := r.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Call(ctx, "remote__echo", []byte(`{"text":"x"}`)); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			open := 0
			timeout := time.After(waitTimeout)
			for {
				for len(states) > 0 {
					switch <-states {
					case http.StateNew:
						open++
					case http.StateClosed, http.StateHijacked:
						open--
					}
				}
				if open == 0 {
					return
				}
				select {
				case s := <-states:
					states <- s
				case <-timeout:
					t.Fatalf("%d connections still open %s after Close", open, waitTimeout)
				}
			}
		})
	}
}
