package auth

import (
	"fmt"
	"net/http"
)

// OpenAI error types and codes of the answers the routes give for what
// this package decides.
const (
	TypeAuthentication    = "authentication_error"
	TypePermission        = "permission_error"
	TypeRateLimit         = "rate_limit_error"
	TypeInsufficientQuota = "insufficient_quota"
	TypeInvalidRequest    = "invalid_request_error"

	CodeInvalidAPIKey      = "invalid_api_key"
	CodeInvalidToken       = "invalid_token"
	CodeNoPolicy           = "no_policy"
	CodeModelNotPermitted  = "model_not_permitted"
	CodeToolNotPermitted   = "tool_not_permitted"
	CodeRateLimitExceeded  = "rate_limit_exceeded"
	CodeInsufficientQuota  = "insufficient_quota"
	CodeTooManyStreams     = "too_many_streams"
	CodeInvalidHeader      = "invalid_header"
	CodeLimiterUnavailable = "limiter_unavailable"
)

// Error is a refusal the routes turn into an HTTP answer: Status (401,
// 403, 400 or 429), an OpenAI error body ({"error": {"message": Message,
// "type": Type, "code": Code}}) and Header (WWW-Authenticate,
// Retry-After, x-ratelimit-*), copied onto the response. Message says
// why, and never carries a key or a token.
type Error struct {
	Status  int
	Type    string
	Code    string
	Message string
	// Header holds the headers to send with the answer; nil means none.
	Header http.Header
}

func (e *Error) Error() string { return e.Message }

// ModelNotPermitted is the 403 for a model outside the caller's policy.
func ModelNotPermitted(model string) *Error {
	return &Error{Status: http.StatusForbidden, Type: TypePermission, Code: CodeModelNotPermitted,
		Message: fmt.Sprintf("the model %q is not permitted for this caller", model)}
}

// ToolNotPermitted is the 403 for a tool outside the caller's view (the
// OpenAPI face's POST /tools/{name}); chat answers the model with a tool
// message instead.
func ToolNotPermitted(name string) *Error {
	return &Error{Status: http.StatusForbidden, Type: TypePermission, Code: CodeToolNotPermitted,
		Message: fmt.Sprintf("the tool %q is not permitted for this caller", name)}
}

// ConfigError is a configuration mistake: Key is the path of the setting
// at fault, relative to what was being built ("auth.keys[2].policy",
// "policies.readers.tools[0]"), for the loader to turn into a file and
// line.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }
