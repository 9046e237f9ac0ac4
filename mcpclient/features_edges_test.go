package mcpclient_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// resourceServer is a server with resources doc://<name>/r00... (the first
// one described) and the given URI templates.
func resourceServer(name string, resources int, templates ...string) mcpclient.ServerConfig {
	srv := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	read := func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
	}
	for i := range resources {
		r := &mcp.Resource{URI: fmt.Sprintf("doc://%s/r%02d", name, i), Name: fmt.Sprintf("r%02d", i)}
		if i == 0 {
			r.Description = "The first one. It has more to say.\nAnd more."
		}
		srv.AddResource(r, read)
	}
	for _, tpl := range templates {
		srv.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: tpl, Name: tpl}, read)
	}
	cfg := mcptest.InMemory(name, srv)
	cfg.ExposeResources = true
	return cfg
}

// The read_resource tool's description names at most 30 resources (with
// the first sentence of their descriptions) and then how many more there
// are, then every URI template, each list under its heading once.
func TestReadResourceToolDescription(t *testing.T) {
	r, _ := start(t, nil, resourceServer("many", 35, "doc://many/a/{id}", "doc://many/b/{id}"))
	tool, ok := r.Lookup("many__read_resource")
	if !ok {
		t.Fatalf("no read tool among %v", toolNames(r))
	}
	var want strings.Builder
	want.WriteString("Reads a resource of the many server by its URI. Resources: doc://many/r00 (The first one);")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&want, " doc://many/r%02d;", i)
	}
	want.WriteString(" (and 5 more) URI templates: doc://many/a/{id}; doc://many/b/{id};")
	if tool.Description != want.String() {
		t.Errorf("description\n%s\nwant\n%s", tool.Description, want.String())
	}
}

// A server exposing its resources gets the read tool when it has
// resources or templates, either alone, and not when it has neither.
func TestReadResourceToolPresence(t *testing.T) {
	r, _ := start(t, nil,
		resourceServer("plain", 2),
		resourceServer("templated", 0, "doc://templated/{id}"),
		resourceServer("empty", 0))
	for name, want := range map[string]string{
		"plain":     "Reads a resource of the plain server by its URI. Resources: doc://plain/r00 (The first one); doc://plain/r01;",
		"templated": "Reads a resource of the templated server by its URI. URI templates: doc://templated/{id};",
	} {
		tool, ok := r.Lookup(name + "__read_resource")
		if !ok {
			t.Errorf("%s: no read tool among %v", name, toolNames(r))
			continue
		}
		if tool.Description != want {
			t.Errorf("%s: description %q, want %q", name, tool.Description, want)
		}
	}
	if _, ok := r.Lookup("empty__read_resource"); ok {
		t.Error("a server with no resources and no templates has a read tool")
	}
}
