package bridge

import (
	"context"
	"net/http"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// denials records the refusals a bridge reports.
type denials struct {
	observe.Nop
	lockedList[observe.Denial]
}

func (d *denials) Denied(_ context.Context, x *observe.Denial) { d.add(*x) }

// TestDenialIdentity: a refusal of a known caller names the caller; one
// of a request that carried no credential names no one.
func TestDenialIdentity(t *testing.T) {
	a, err := auth.New(auth.Config{
		Policies: map[string]auth.PolicyConfig{"readers": {Tools: []string{"fs__read_*"}}},
		Keys:     []auth.Key{{Name: "reader", Key: readerKey, Policy: "readers"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log callLog
	obs := &denials{}
	h := newHarness(t, Options{Auth: a, Observer: obs}, []mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "read_file", "write_file"))})
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/tools/fs__write_file", "", keyHeader(readerKey), `{}`); status != http.StatusForbidden {
		t.Fatalf("the reader writing: %d %s", status, body)
	}
	if status, _, body := rawRequest(t, h.srv.URL, "GET", "/v1/models", "", nil, ""); status != http.StatusUnauthorized {
		t.Fatalf("no key: %d %s", status, body)
	}
	ds := obs.all()
	if len(ds) != 2 || ds[0].Status != http.StatusForbidden || ds[0].Identity != "reader" || ds[1].Status != http.StatusUnauthorized || ds[1].Identity != "" {
		t.Errorf("denials %+v, want the reader's 403 and an anonymous 401", ds)
	}
}

// TestFaceRecordsGeneratedRequestID: a face call whose client sent no
// X-Request-Id is recorded under the id the bridge gave its request (the
// one in the response's X-Request-Id).
func TestFaceRecordsGeneratedRequestID(t *testing.T) {
	var log callLog
	obs := &toolCalls{}
	h := newHarness(t, Options{Observer: obs}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	status, hdr, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calc__add","arguments":{},`+meta+`}}`,
		map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": "calc__add"})
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	id := hdr.Get("X-Request-Id")
	if recs := obs.all(); id == "" || len(recs) != 1 || recs[0].RequestID != id {
		t.Errorf("records %+v, want one under the request's id %q", recs, id)
	}
}
