package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// apiError is an error in the OpenAI error shape, with the HTTP status it
// is answered with before the first byte of a response.
type apiError struct {
	Status int `json:"-"`
	// Header is sent with the answer (Retry-After, x-ratelimit-*,
	// WWW-Authenticate); nil means none.
	Header  http.Header `json:"-"`
	Message string      `json:"message"`
	Type    string      `json:"type"`
	Param   any         `json:"param"`
	Code    any         `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

// body is the JSON sent to clients: {"error":{...}}.
func (e *apiError) body() []byte {
	b, _ := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	return b
}

// errShuttingDown is the cause of a request ended by Options.Shutdown.
var errShuttingDown = errors.New("the bridge is shutting down")

// shuttingDown is the answer to a request ended by Options.Shutdown.
func shuttingDown() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "shutting_down",
		Message: "the bridge is shutting down"}
}

// invalidRequest is a 400 naming the offending request member (param may be "").
func invalidRequest(param, msg string) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Message: msg, Type: "invalid_request_error"}
	if param != "" {
		e.Param = param
	}
	return e
}

// upstreamStatus maps an upstream HTTP status to the one the bridge answers
// with: client-side statuses pass through (the client can act on them),
// server-side ones become 502 because the fault is past the bridge.
var upstreamStatus = map[int]int{
	http.StatusBadRequest:            http.StatusBadRequest,
	http.StatusUnauthorized:          http.StatusUnauthorized,
	http.StatusForbidden:             http.StatusForbidden,
	http.StatusNotFound:              http.StatusNotFound,
	http.StatusRequestEntityTooLarge: http.StatusRequestEntityTooLarge,
	http.StatusUnprocessableEntity:   http.StatusUnprocessableEntity,
	http.StatusTooManyRequests:       http.StatusTooManyRequests,
	http.StatusGatewayTimeout:        http.StatusGatewayTimeout,
}

// upstreamTimeoutSetting names the setting behind the llm timeout that
// ended e, for the user who wants to change it: the single upstream
// block's key, or the key of the named upstream of the upstreams list;
// "" for any other failure.
func upstreamTimeoutSetting(e *llm.Error, upstream string) string {
	var key string
	switch {
	case errors.Is(e, llm.ErrFirstByteTimeout):
		key = "first_byte_timeout"
	case errors.Is(e, llm.ErrStallTimeout):
		key = "stall_timeout"
	default:
		return ""
	}
	if upstream == "" || upstream == route.DefaultName {
		return "upstream." + key
	}
	return fmt.Sprintf("%s of the upstream %q in upstreams", key, upstream)
}

// timedOutAt is err, a failure of the upstream configured as name, with
// that name when it is a timeout, so that the client's message names the
// setting to change; any other err is returned as it is.
func timedOutAt(name string, err error) error {
	var ue *llm.Error
	if name == "" || !errors.As(err, &ue) || upstreamTimeoutSetting(ue, "") == "" {
		return err
	}
	return &upstreamTimeout{upstream: name, err: err}
}

// upstreamTimeout is a timeout of the upstream configured as upstream.
type upstreamTimeout struct {
	upstream string
	err      error
}

func (e *upstreamTimeout) Error() string { return e.err.Error() }
func (e *upstreamTimeout) Unwrap() error { return e.err }

// name is the upstream's name; "" for a nil e.
func (e *upstreamTimeout) name() string {
	if e == nil {
		return ""
	}
	return e.upstream
}

// toAPIError converts any failure of a request into the error sent to the
// client. It is the one place where errors are inspected. secrets are
// removed from every message.
func toAPIError(err error, secrets []string) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		return &apiError{Status: authErr.Status, Type: authErr.Type, Code: authErr.Code, Header: authErr.Header,
			Message: mcpclient.Redact(authErr.Message, secrets)}
	}
	var nr *route.NoRouteError
	if errors.As(err, &nr) {
		return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: mcpclient.Redact(nr.Error(), secrets)}
	}
	var ue *llm.Error
	if errors.As(err, &ue) {
		var at *upstreamTimeout
		errors.As(err, &at)
		if setting := upstreamTimeoutSetting(ue, at.name()); setting != "" {
			return &apiError{Status: http.StatusGatewayTimeout, Type: "upstream_error", Code: "upstream_timeout",
				Message: mcpclient.Redact("upstream timed out: "+ue.Message+" ("+setting+")", secrets)}
		}
		if ue.StatusCode == 0 {
			// The transport's error says where and why (address, refusal,
			// DNS); a URL in it could carry credentials, hence redact.
			cause := ue.Message
			var ne *net.OpError
			if errors.As(ue.Err, &ne) {
				cause = ne.Error()
			}
			if errors.Is(ue.Err, context.DeadlineExceeded) {
				return &apiError{Status: http.StatusGatewayTimeout, Type: "upstream_error", Code: "upstream_timeout",
					Message: mcpclient.Redact("upstream did not answer in time: "+cause, secrets)}
			}
			return &apiError{Status: http.StatusBadGateway, Type: "upstream_error", Code: "upstream_unreachable",
				Message: mcpclient.Redact("upstream unreachable: "+cause, secrets)}
		}
		status, ok := upstreamStatus[ue.StatusCode]
		if !ok {
			status = http.StatusBadGateway
		}
		typ := ue.Type
		if typ == "" {
			typ = "upstream_error"
		}
		var code any = ue.Code
		if ue.Code == "" {
			code = nil
		}
		return &apiError{Status: status, Type: typ, Code: code,
			Message: mcpclient.Redact(fmt.Sprintf("upstream returned %d: %s", ue.StatusCode, ue.Message), secrets)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Status: http.StatusGatewayTimeout, Type: "timeout_error", Message: "request timed out"}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: mcpclient.Redact(err.Error(), secrets)}
}
