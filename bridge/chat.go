package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// chat answers POST /v1/chat/completions.
func (s *Server) chat(c echo.Context) error {
	req := c.Request()
	data, err := readBody(req)
	if err != nil {
		return err
	}
	cr, err := parseChatRequest(data)
	if err != nil {
		return err
	}

	ts := s.tools.get()
	r := &run{
		s:        s,
		req:      cr,
		ts:       ts,
		tools:    mergeTools(cr.clientTools, cr.clientToolNames, ts),
		messages: cr.messages,
	}
	stripped := stripDetails(cr.messages)
	r.owner, r.conv = callerID(req, len(s.opts.APIKeys) > 0), conversationHash(stripped)
	if msgs := s.pending.splice(r.owner, stripped); !sameSlice(msgs, cr.messages) {
		r.messages, r.grown = msgs, true
	}

	id, created := "chatcmpl-"+rand.Text(), time.Now().Unix()
	var col *collector
	if cr.stream {
		w := newSSEWriter(c.Response(), id, created, cr.model, cr.includeUsage)
		w.startKeepalive(s.opts.Keepalive)
		// Nothing may write to the response once the handler returns.
		defer w.close()
		r.out = w
	} else {
		col = &collector{id: id, created: created, model: cr.model}
		r.out = col
	}

	ctx := req.Context()
	if sd := s.opts.Shutdown; sd != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		defer context.AfterFunc(sd, func() { cancel(errShuttingDown) })()
	}
	err = r.loop(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errShuttingDown) {
		err = shuttingDown() // whatever the cut-off round made of it
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// The client went away; there is no one to tell.
			s.log.Debug("client went away", "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			return nil
		}
		ae := toAPIError(err, s.opts.Secrets)
		var bad *errBadUpstream
		if errors.As(err, &bad) {
			ae = &apiError{Status: http.StatusBadGateway, Type: "upstream_error", Code: "bad_upstream_response",
				Message: mcpclient.Redact(bad.msg, s.opts.Secrets)}
		}
		s.log.Warn("chat request failed", "err", ae.Message, "status", ae.Status, "started", r.out.started())
		if r.out.started() {
			// After the first byte the status is sent; all that is left is
			// an error event and the end of the stream.
			_ = r.out.fail(ae)
			return nil
		}
		return ae
	}
	if col != nil {
		return c.JSONBlob(http.StatusOK, col.completion(r.records))
	}
	return nil
}

// upstreamFor returns the upstream that answers model: the built-in model
// for BuiltinModel unless Options.DisableBuiltinModel, else Options.Upstream.
func (s *Server) upstreamFor(model string) Upstream {
	if model == BuiltinModel && !s.opts.DisableBuiltinModel {
		return builtinModel{}
	}
	return s.opts.Upstream
}

// sameSlice reports whether a and b are the same slice.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// callerID names who sent a request, for binding state to its caller: the
// key it presented when keys are configured (as a hash), else the client's
// address.
func callerID(req *http.Request, keyed bool) string {
	if keyed {
		sum := sha256.Sum256([]byte(presentedKey(req)))
		return "key:" + hex.EncodeToString(sum[:12])
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	return "addr:" + host
}
