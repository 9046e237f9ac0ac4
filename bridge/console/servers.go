package console

import (
	"encoding/json"
	"net/http"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// ServersPath is the route of the servers page's data.
const ServersPath = Prefix + "api/servers"

// Server is one server as the servers page shows it: plain data, whose
// zero value is a server of which nothing is known.
type Server struct {
	Name      string `json:"name"`
	Transport string `json:"transport"`
	State     string `json:"state"`
	// Tools counts the server's tools that the caller may use.
	Tools    int `json:"tools"`
	Restarts int `json:"restarts"`
	// Error is the server's last failure, redacted of the secrets and
	// of URL credentials.
	Error string `json:"error,omitempty"`
	// Calls and Errors count the server's tool calls since the bridge
	// started, and those that failed.
	Calls  int64 `json:"calls"`
	Errors int64 `json:"errors"`
	// Latency holds its latest calls, oldest first.
	Latency []Sample `json:"latency"`
}

// ServersView is what a caller sees of the servers: those its principal
// allows (p.AllowsServer), each with the number of its tools p may use
// (p.AllowsTool), errors redacted of secrets, and the call history of lat
// (nil means none). It decides nothing itself: the principal does.
func ServersView(p *auth.Principal, servers []mcpclient.ServerStatus, tools []mcpclient.Tool, secrets []string, lat *Latency) []Server {
	count := map[string]int{}
	for _, t := range tools {
		if p.AllowsTool(t.Name, t.Server) {
			count[t.Server]++
		}
	}
	out := make([]Server, 0, len(servers))
	for _, sv := range servers {
		if !p.AllowsServer(sv.Name) {
			continue
		}
		s := Server{Name: sv.Name, Transport: sv.Transport, State: sv.State, Tools: count[sv.Name], Restarts: sv.Restarts,
			Error: mcpclient.RedactText(sv.Error, secrets), Latency: []Sample{}}
		if lat != nil {
			s.Latency, s.Calls, s.Errors = lat.Of(sv.Name)
		}
		out = append(out, s)
	}
	return out
}

// WriteServers answers GET ServersPath with {"servers": [...]}: the
// servers of ServersView for the principal of r's context (put there by
// the bridge's authentication, which runs first).
func WriteServers(w http.ResponseWriter, r *http.Request, servers []mcpclient.ServerStatus, tools []mcpclient.Tool, secrets []string, lat *Latency) {
	body, err := json.Marshal(map[string]any{"servers": ServersView(auth.FromContext(r.Context()), servers, tools, secrets, lat)})
	if err != nil {
		http.Error(w, "encoding the servers", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
