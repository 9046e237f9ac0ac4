package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// statusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's convention).
const statusClientClosed = 499

// observeHTTP reports every request to the observer by route template and
// status, and every refusal (authentication, policy, rate limit, origin)
// as a denial. It also puts the request id on the request's headers, so
// that handlers that see only the headers (the MCP face) find it.
func (s *Server) observeHTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := c.Response().Header().Get(echo.HeaderXRequestID)
		if req.Header.Get(echo.HeaderXRequestID) == "" && id != "" {
			req.Header.Set(echo.HeaderXRequestID, id)
		}
		err := next(c)
		if err != nil {
			s.deniedBy(c, err)
			// Answered here so that the status recorded is the one sent.
			c.Error(err)
		}
		s.obs.HTTPRequest(c.Request().Context(), &observe.HTTPRecord{Method: req.Method, Route: c.Path(),
			Code: c.Response().Status, Duration: time.Since(start)})
		return nil
	}
}

// deniedBy reports err to the observer when it is a refusal.
func (s *Server) deniedBy(c echo.Context, err error) {
	d := &observe.Denial{RequestID: requestID(c), Method: c.Request().Method, Route: c.Path()}
	var ae *auth.Error
	var api *apiError
	switch {
	case errors.As(err, &ae):
		d.Status, d.Code, d.Reason = ae.Status, ae.Code, ae.Message
	case errors.As(err, &api) && (api.Code == "origin_not_allowed" || api.Code == "host_not_allowed"):
		d.Status, d.Code, d.Reason = api.Status, api.Code.(string), api.Message
	default:
		return
	}
	if p := auth.FromContext(c.Request().Context()); p.Source != auth.SourceAnonymous {
		d.Identity = p.Name
	}
	d.Reason = mcpclient.Redact(d.Reason, s.opts.Secrets)
	s.obs.Denied(c.Request().Context(), d)
}

// requestID is the id of c's request (echo's RequestID middleware).
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// identity is the name audit and metrics know p by.
func identity(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Name
}

// serverOf returns the server of a registry tool; "" when none has it.
func (s *Server) serverOf(name string) string {
	if t, ok := s.tools.get(nil).lookup(name); ok {
		return t.Server
	}
	return ""
}

// upstreamLabel names the upstream of the request for metrics and audit:
// "builtin", the one that answered the last round, or before any round
// the first one routing chose (route.Candidate.Label: the upstream's name,
// or the base URL without credentials of a single upstream).
func (r *run) upstreamLabel() string {
	switch {
	case r.s.builtin(r.req.model):
		return "builtin"
	case r.pin.Name != "":
		return r.pin.Label
	case len(r.cands) > 0:
		return r.cands[0].Label
	}
	return ""
}

// toolFinished reports a chat tool call's outcome.
func (r *run) toolFinished(ctx context.Context, st *observe.ToolCallStart, o toolOutcome) {
	rec := &observe.ToolCallRecord{ToolCallStart: *st, Duration: o.dur, Outcome: o.outcome, ResultBytes: o.resultBytes}
	rec.Server = o.server
	if o.outcome != observe.OutcomeOK {
		rec.Error = o.text
	}
	r.s.obs.ToolCallFinished(ctx, rec)
}

// statusOf is the status a request that failed with err was answered.
func statusOf(err error, started bool) int {
	if started {
		return http.StatusOK
	}
	return toAPIError(err, nil).Status
}
