package bridge

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// TestDefaultsOfZeroAndNegativeOptions checks New puts its default in
// place of every zero or negative option that has one, and keeps a
// negative Keepalive and WarnToolsBytes (which turn those off).
func TestDefaultsOfZeroAndNegativeOptions(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	base := h.b.opts
	for _, sign := range []int{0, -1} {
		n := time.Duration(sign)
		b, err := New(Options{Upstream: base.Upstream, Tools: base.Tools,
			MaxRounds: sign, Deadline: n, SearchThreshold: sign, MaxParallel: sign, MaxBodyBytes: int64(sign),
			PendingTTL: n, ReadHeaderTimeout: n, BodyReadTimeout: n, IdleTimeout: n, SessionIdleTimeout: n,
			MaxSessions: sign, MaxPendingBytes: int64(sign), Keepalive: n, WarnToolsBytes: sign})
		if err != nil {
			t.Fatal(err)
		}
		o := b.opts
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"MaxRounds", o.MaxRounds, 8},
			{"Deadline", o.Deadline, 10 * time.Minute},
			{"SearchThreshold", o.SearchThreshold, 40},
			{"MaxParallel", o.MaxParallel, 8},
			{"MaxBodyBytes", o.MaxBodyBytes, int64(16 << 20)},
			{"PendingTTL", o.PendingTTL, 30 * time.Minute},
			{"ReadHeaderTimeout", o.ReadHeaderTimeout, 10 * time.Second},
			{"BodyReadTimeout", o.BodyReadTimeout, 30 * time.Second},
			{"IdleTimeout", o.IdleTimeout, 2 * time.Minute},
			{"SessionIdleTimeout", o.SessionIdleTimeout, 10 * time.Minute},
			{"MaxSessions", o.MaxSessions, 1000},
			{"MaxPendingBytes", o.MaxPendingBytes, int64(64 << 20)},
		} {
			if c.got != c.want {
				t.Errorf("%s given %d: %v, want %v", c.name, sign, c.got, c.want)
			}
		}
		if sign == 0 && (o.Keepalive != 15*time.Second || o.WarnToolsBytes != 256<<10) {
			t.Errorf("zero Keepalive %v, WarnToolsBytes %d", o.Keepalive, o.WarnToolsBytes)
		}
		if sign < 0 && (o.Keepalive != -1 || o.WarnToolsBytes != -1) {
			t.Errorf("negative Keepalive %v, WarnToolsBytes %d: not kept", o.Keepalive, o.WarnToolsBytes)
		}
		b.Close()
	}
}

// TestCloseEndsMCPSessions checks Close ends the MCP face's open
// sessions, whose streams would otherwise hold a graceful shutdown.
func TestCloseEndsMCPSessions(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("test", mcptest.NewServerWithOptions(nil))})
	faceClientOf(t, t.Context(), h.srv.URL, nil, mcpclient.ProtocolVersion)
	if n := h.b.face.sessions(); n != 1 {
		t.Fatalf("%d sessions open, want 1", n)
	}
	h.b.Close()
	if n := h.b.face.sessions(); n != 0 {
		t.Errorf("%d sessions open after Close", n)
	}
}

// TestHTTPErrorOfEcho checks an error echo raises is answered in the
// OpenAI shape with its own message, and typed server_error from 500 on.
func TestHTTPErrorOfEcho(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	for _, c := range []struct {
		err      error
		status   int
		msg, typ string
	}{
		{echo.NewHTTPError(http.StatusMethodNotAllowed, "use POST here"), 405, "use POST here", "invalid_request_error"},
		{echo.NewHTTPError(http.StatusTeapot), 418, "I'm a teapot", "invalid_request_error"},
		{echo.NewHTTPError(http.StatusInternalServerError, "broken"), 500, "broken", "server_error"},
		{echo.NewHTTPError(http.StatusServiceUnavailable), 503, "Service Unavailable", "server_error"},
	} {
		rec := httptest.NewRecorder()
		h.b.httpError(c.err, echo.New().NewContext(httptest.NewRequest("GET", "/x", nil), rec))
		var v struct {
			Error struct{ Message, Type string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != c.status || v.Error.Message != c.msg || v.Error.Type != c.typ {
			t.Errorf("%v: %d %s, want %d %q %q", c.err, rec.Code, rec.Body, c.status, c.msg, c.typ)
		}
	}
}
