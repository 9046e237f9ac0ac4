package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

var (
	statuses = []mcpclient.ServerStatus{
		{Name: "fs", State: mcpclient.StateReady, Tools: 2, Transport: "stdio"},
		{Name: "calc", State: mcpclient.StateFailed, Restarts: 3, Transport: "streamable-http",
			Error: "connecting to https://user:pa55w0rd@calc.example/mcp?api_key=k3y: token s3cr3t-t0ken refused"},
	}
	tools = []mcpclient.Tool{
		{Name: "fs__read_file", Server: "fs"}, {Name: "fs__write_file", Server: "fs"}, {Name: "calc__add", Server: "calc"},
	}
	secrets = []string{"s3cr3t-t0ken"}
)

func principal(t *testing.T, pc auth.PolicyConfig) *auth.Principal {
	t.Helper()
	a, err := auth.New(auth.Config{Policies: map[string]auth.PolicyConfig{"p": pc},
		Keys: []auth.Key{{Name: "k", Key: "a-key-of-sixteen-chars", Policy: "p"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", ServersPath, nil)
	r.Header.Set("Authorization", "Bearer a-key-of-sixteen-chars")
	p, err := a.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServersViewAsksThePrincipal(t *testing.T) {
	lat := NewLatency(0)
	lat.ToolCallFinished(context.Background(), finished("fs", observe.OutcomeOK, 12))

	all := ServersView(auth.Anonymous(), statuses, tools, secrets, lat)
	if len(all) != 2 || all[0].Name != "fs" || all[0].Tools != 2 || all[1].Tools != 1 || all[0].Calls != 1 || len(all[0].Latency) != 1 {
		t.Fatalf("full view: %+v", all)
	}
	if all[1].Restarts != 3 || all[1].State != mcpclient.StateFailed || all[1].Transport != "streamable-http" || all[1].Latency == nil {
		t.Errorf("calc: %+v", all[1])
	}
	for _, secret := range []string{"pa55w0rd", "k3y", "s3cr3t-t0ken"} {
		if strings.Contains(all[1].Error, secret) {
			t.Errorf("the error shows %q: %s", secret, all[1].Error)
		}
	}
	if !strings.Contains(all[1].Error, "calc.example") {
		t.Errorf("the error lost what it says: %s", all[1].Error)
	}

	// A policy of fs's reading tools: fs only, with one tool.
	readers := ServersView(principal(t, auth.PolicyConfig{Servers: []string{"fs"}, Tools: []string{"fs__read_*"}}), statuses, tools, secrets, lat)
	if len(readers) != 1 || readers[0].Name != "fs" || readers[0].Tools != 1 {
		t.Errorf("restricted view: %+v", readers)
	}
	// Tools denied, server allowed: the server shows, with no tools.
	denied := ServersView(principal(t, auth.PolicyConfig{Deny: []string{"calc__*"}}), statuses, tools, secrets, nil)
	if len(denied) != 2 || denied[1].Tools != 0 || denied[0].Calls != 0 {
		t.Errorf("deny view: %+v", denied)
	}
}

func TestWriteServers(t *testing.T) {
	r := httptest.NewRequest("GET", ServersPath, nil)
	p := principal(t, auth.PolicyConfig{Servers: []string{"calc"}})
	r = r.WithContext(auth.NewContext(r.Context(), p))
	rec := httptest.NewRecorder()
	WriteServers(rec, r, statuses, tools, secrets, NewLatency(0))
	var body struct {
		Servers []Server `json:"servers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if len(body.Servers) != 1 || body.Servers[0].Name != "calc" || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("%v %v", body, rec.Header())
	}
	if !strings.Contains(rec.Body.String(), `"latency":[]`) {
		t.Errorf("latency should be an empty list: %s", rec.Body)
	}
}
