package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
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

	// Who asks, and what they may use and spend, is decided once, here.
	p := auth.FromContext(req.Context())
	if !p.AllowsModel(cr.model) {
		return auth.ModelNotPermitted(cr.model)
	}
	d, err := s.opts.Limits.Admit(req.Context(), p)
	if err != nil {
		return err
	}
	setRateHeaders(c.Response().Header(), d)
	if cr.stream {
		release, err := s.opts.Limits.Stream(req.Context(), p)
		if err != nil {
			return err
		}
		defer release()
	}

	// Route once: every round of the answer tries the same upstreams.
	var cands []route.Candidate
	if !s.builtin(cr.model) {
		if cands, err = s.opts.Router.Candidates(cr.model); err != nil {
			return err
		}
	}

	ts := s.tools.get(p)
	r := &run{
		cands:    cands,
		s:        s,
		p:        p,
		req:      cr,
		ts:       ts,
		messages: cr.messages,
		reqID:    requestID(c),
	}
	r.searching = s.searching(ts, cr, cands)
	if !r.searching {
		r.tools, _ = mergeTools(cr.clientTools, cr.clientToolNames, ts) // no limit without a profile
	}
	stripped := stripDetails(cr.messages)
	r.owner, r.stripped = callerID(req, s.opts.Auth.Enabled()), stripped
	if msgs := s.pending.splice(r.owner, stripped); !sameSlice(msgs, cr.messages) {
		r.messages, r.grown = msgs, true
	}
	r.base = len(r.messages)
	r.resumeFrom(stripped) // a reply to an approval question (approval.go)

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

	ctx := llm.WithHeaders(req.Context(), s.upstreamHeaders(p))
	rec := &observe.ChatRecord{ChatStart: observe.ChatStart{RequestID: r.reqID, Identity: identity(p), Model: cr.model,
		Upstream: r.upstreamLabel(), Stream: cr.stream,
		UserID: req.Header.Get("X-OpenWebUI-User-Id"), ChatID: req.Header.Get("X-OpenWebUI-Chat-Id")}}
	ctx = s.obs.ChatStarted(ctx, &rec.ChatStart)
	if cr.stream {
		s.obs.ActiveStreams(ctx, 1)
		defer s.obs.ActiveStreams(ctx, -1)
	}
	start := time.Now()
	// The record is completed below, however the request ends.
	rec.Status, rec.Outcome = http.StatusOK, observe.ChatOK
	defer func() {
		rec.Upstream = r.upstreamLabel() // the one that answered
		rec.Rounds, rec.ToolCalls, rec.Duration = r.rounds, len(r.records), time.Since(start)
		rec.PromptTokens, rec.CompletionTokens = r.usage.PromptTokens, r.usage.CompletionTokens
		s.obs.ChatFinished(context.WithoutCancel(ctx), rec)
	}()
	// What was used is counted however the request ends.
	defer func() {
		if err := s.opts.Limits.Spend(context.WithoutCancel(ctx), p, int64(r.usage.TotalTokens)); err != nil {
			s.log.Warn("counting the tokens of a request", "identity", p.Name, "err", err)
		}
	}()
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
			rec.Status, rec.Outcome, rec.Error = statusClientClosed, observe.ChatCancelled, "the client went away"
			return nil
		}
		ae := toAPIError(err, s.opts.Secrets)
		var bad *errBadUpstream
		if errors.As(err, &bad) {
			ae = &apiError{Status: http.StatusBadGateway, Type: "upstream_error", Code: "bad_upstream_response",
				Message: mcpclient.Redact(bad.msg, s.opts.Secrets)}
		}
		s.log.Warn("chat request failed", "err", ae.Message, "status", ae.Status, "started", r.out.started())
		rec.Status, rec.Outcome, rec.Error = statusOf(ae, r.out.started()), observe.ChatError, ae.Message
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

// builtin reports whether model is answered by the built-in model:
// BuiltinModel unless Options.DisableBuiltinModel.
func (s *Server) builtin(model string) bool {
	return model == BuiltinModel && !s.opts.DisableBuiltinModel
}

// sameSlice reports whether a and b are the same slice.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// upstreamHeaders are what the caller adds to its upstream requests: its
// own upstream key, and its name under Options.ForwardIdentityHeader.
func (s *Server) upstreamHeaders(p *auth.Principal) http.Header {
	var h http.Header
	if p.UpstreamAPIKey != "" {
		h = http.Header{}
		h.Set("Authorization", "Bearer "+p.UpstreamAPIKey)
	}
	if name := s.opts.ForwardIdentityHeader; name != "" && p.Source != auth.SourceAnonymous {
		if h == nil {
			h = http.Header{}
		}
		h.Set(name, p.Name)
	}
	return h
}

// callerID names who sent a request, for binding state to its caller:
// its identity when auth is on (the key's name or the token's subject),
// else the client's address.
func callerID(req *http.Request, authOn bool) string {
	if authOn {
		return "id:" + auth.FromContext(req.Context()).LimitKey()
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	return "addr:" + host
}

// setRateHeaders puts the x-ratelimit-* headers of a rate's decision on
// an allowed answer; with no rate, none (and nothing is allocated).
func setRateHeaders(h http.Header, d auth.Decision) {
	if d.Limit <= 0 {
		return
	}
	for k, v := range auth.RateHeaders(d) {
		h[k] = v
	}
}
