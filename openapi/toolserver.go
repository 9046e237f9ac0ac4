package openapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Tools is the tool registry a ToolServer serves.
type Tools interface {
	// Tools returns the current tools, sorted by name. The slice is shared:
	// callers do not modify it.
	Tools() []mcpclient.Tool
	// Version changes whenever the tool set changes.
	Version() uint64
	// Call runs a tool. Tool failures are results with IsError; errors are
	// for calls that could not be made.
	Call(ctx context.Context, name string, args json.RawMessage) (*mcpclient.Result, error)
}

var _ Tools = (*mcpclient.Registry)(nil)

// ServerOptions configures a ToolServer. The zero value (or nil) gives the
// documented defaults.
type ServerOptions struct {
	// Title and Version fill the document's info. "" means "mcp-bridge
	// tools" and "dev".
	Title, Version string
	// Auth makes the document declare that every operation needs an API
	// key (bearer, or the X-Api-Key header). The ToolServer does not check
	// keys itself: whoever routes to it does.
	Auth bool
	// Allow, when set, says which tools a request may see and call; the
	// others are left out of its document and answer 404. nil allows all.
	Allow func(r *http.Request, t mcpclient.Tool) bool
	// MaxBodyBytes bounds a call's body. 0 means 16 MiB.
	MaxBodyBytes int64
	// Secrets are removed from error messages (not from tool results).
	Secrets []string
	// Logger receives the server's logs. nil discards them.
	Logger *slog.Logger
}

// ToolServer serves tools as an OpenAPI tool server: ServeDocument answers
// GET /openapi.json and ServeCall answers POST /tools/{name}. It is safe
// for concurrent use.
type ToolServer struct {
	tools Tools
	opts  ServerOptions
	valid *validators

	mu      sync.Mutex
	version uint64
	docs    map[string]cachedDocument // by server URL and visible tool set
}

// cachedDocument is an encoded document and its ETag.
type cachedDocument struct {
	body []byte
	etag string
}

// maxCachedDocuments bounds the documents kept per registry version (one
// per server URL and visible tool set).
const maxCachedDocuments = 64

// NewToolServer returns a ToolServer of tools. opts may be nil.
func NewToolServer(tools Tools, opts *ServerOptions) *ToolServer {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	o.Title = cmp.Or(o.Title, "mcp-bridge tools")
	o.Version = cmp.Or(o.Version, "dev")
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &ToolServer{tools: tools, opts: o, valid: &validators{log: o.Logger}}
}

// visible returns the tools r may use.
func (s *ToolServer) visible(r *http.Request) []mcpclient.Tool {
	all := s.tools.Tools()
	if s.opts.Allow == nil {
		return all
	}
	out := make([]mcpclient.Tool, 0, len(all))
	for _, t := range all {
		if s.opts.Allow(r, t) {
			out = append(out, t)
		}
	}
	return out
}

// ServeDocument answers GET /openapi.json with the OpenAPI 3.1 document of
// the tools r may use (see the package documentation for its shape). Its
// servers entry is the URL the request came to: the Host header, the
// scheme of X-Forwarded-Proto (else of the connection) and the path of
// X-Forwarded-Prefix, for a bridge behind a proxy. The document is built
// once per registry version and server URL; a strong ETag comes with it,
// and a request whose If-None-Match names it gets 304 Not Modified.
func (s *ToolServer) ServeDocument(w http.ResponseWriter, r *http.Request) {
	version := s.tools.Version()
	tools := s.visible(r)
	serverURL := requestURL(r)
	key := serverURL
	if s.opts.Allow != nil {
		h := sha256.New()
		for _, t := range tools {
			h.Write([]byte(t.Name))
			h.Write([]byte{0})
		}
		key += "\x00" + hex.EncodeToString(h.Sum(nil))
	}

	s.mu.Lock()
	if s.docs == nil || s.version != version || len(s.docs) >= maxCachedDocuments {
		s.docs, s.version = map[string]cachedDocument{}, version
	}
	doc, ok := s.docs[key]
	s.mu.Unlock()
	if !ok {
		body, err := buildDocument(tools, documentInfo{
			title: s.opts.Title, version: s.opts.Version, serverURL: serverURL, auth: s.opts.Auth,
			description: "The tools of mcp-bridge. POST a tool's arguments as a JSON object to /tools/{name}.",
		})
		if err != nil {
			s.opts.Logger.Error("openapi tool server: building the document", "error", err)
			writeError(w, http.StatusInternalServerError, "server_error", "", "internal_error", "building the OpenAPI document: "+err.Error())
			return
		}
		sum := sha256.Sum256(body)
		doc = cachedDocument{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		s.mu.Lock()
		if s.version == version {
			s.docs[key] = doc
		}
		s.mu.Unlock()
	}

	h := w.Header()
	h.Set("ETag", doc.etag)
	h.Set("Cache-Control", "no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// etagMatch applies If-None-Match's weak comparison.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// requestURL is the base URL a request came to.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(p), "https") {
		scheme = "https"
	} else if strings.EqualFold(strings.TrimSpace(p), "http") {
		scheme = "http"
	}
	prefix, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Prefix"), ",")
	prefix = strings.TrimRight(strings.TrimSpace(prefix), "/")
	if prefix != "" && (!strings.HasPrefix(prefix, "/") || strings.ContainsFunc(prefix, unsafeURLRune)) {
		prefix = ""
	}
	host := r.Host
	if host == "" || strings.ContainsFunc(host, unsafeURLRune) || strings.ContainsAny(host, "/?#@") {
		return cmp.Or(prefix, "/")
	}
	return scheme + "://" + host + prefix
}

func unsafeURLRune(c rune) bool {
	return c <= ' ' || c >= 0x7f || strings.ContainsRune(`"<>\^`+"`{|}", c)
}

// ServeCall answers POST /tools/{name}: it checks the body (a JSON object;
// empty means {}) against the tool's input schema and calls the tool.
//
// A result with structured content is answered with that JSON object as it
// is; any other with {"result": "<text>"}. Open WebUI hands either to the
// model as it is.
//
// Failures are JSON bodies {"error":{"message","type","param","code"}}:
// 404 for a tool that does not exist or that r may not use; 400 for a body
// that is not JSON; 422 for arguments that do not match the input schema
// (param names the failing path, code "invalid_arguments"); 503 when the
// tool's server is not connected; 504 when the call timed out; 502 when
// the server failed. A tool that reports a failure (isError) is answered
// with 502 and {"error":{"message": <the tool's text>, "type":
// "tool_error"}}: the tool's failure is a bad answer from behind the
// gateway, not the caller's fault.
func (s *ToolServer) ServeCall(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "method_not_allowed", "use POST to call a tool")
		return
	}
	version := s.tools.Version()
	var tool *mcpclient.Tool
	for _, t := range s.visible(r) {
		if t.Name == name {
			tool = &t
			break
		}
	}
	if tool == nil && s.opts.Allow != nil && !s.opts.Allow(r, mcpclient.Tool{Name: name}) {
		writeError(w, http.StatusNotFound, "not_found_error", "name", "tool_not_found", fmt.Sprintf("no tool named %q (see /openapi.json)", name))
		return
	}
	// A tool missing from the current list is still called: the registry
	// tells a tool whose server is down (503) from an unknown one (404).
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "body_too_large",
				fmt.Sprintf("request body is larger than the limit of %d bytes", s.opts.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "unreadable_body", "reading request body: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	var args any
	if err := json.Unmarshal(data, &args); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "invalid_json", "request body is not valid JSON: "+err.Error())
		return
	}
	if tool != nil {
		if ae := validateArguments(s.valid.get(version, *tool), args); ae != nil {
			writeArgumentsError(w, name, ae)
			return
		}
	}

	res, err := s.tools.Call(r.Context(), name, json.RawMessage(data))
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left; there is no one to answer
		}
		status, typ, code := callErrorStatus(err)
		if status == http.StatusNotFound {
			writeError(w, status, typ, "name", code, fmt.Sprintf("no tool named %q (see /openapi.json)", name))
			return
		}
		if status >= 500 {
			s.opts.Logger.Warn("openapi tool server: call failed", "tool", name, "status", status, "error", err)
		}
		writeError(w, status, typ, "", code, mcpclient.Redact(err.Error(), s.opts.Secrets))
		return
	}
	if res.IsError {
		writeError(w, http.StatusBadGateway, "tool_error", "", "tool_error", res.Text)
		return
	}
	if len(res.Structured) > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(res.Structured)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": res.Text})
}

// writeArgumentsError answers 422 for arguments that fail the schema.
func writeArgumentsError(w http.ResponseWriter, tool string, ae *argumentsError) {
	msg := fmt.Sprintf("the arguments of tool %q do not match its input schema", tool)
	if ae.path != "" {
		msg += " at " + ae.path
	}
	writeError(w, http.StatusUnprocessableEntity, "invalid_request_error", ae.path, "invalid_arguments", msg+": "+ae.msg)
}

// callErrorStatus maps a failed call to its status, error type and code.
func callErrorStatus(err error) (int, string, string) {
	switch {
	case errors.Is(err, mcpclient.ErrUnknownTool):
		return http.StatusNotFound, "not_found_error", "tool_not_found"
	case errors.Is(err, mcpclient.ErrInvalidArguments):
		return http.StatusUnprocessableEntity, "invalid_request_error", "invalid_arguments"
	case errors.Is(err, mcpclient.ErrServerNotConnected), errors.Is(err, mcpclient.ErrClosed):
		return http.StatusServiceUnavailable, "server_error", "server_unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timeout_error", "tool_timeout"
	default:
		return http.StatusBadGateway, "server_error", "call_failed"
	}
}

// errorBody is the inside of an error answer.
// errorBody is the OpenAI error shape: all four members are always
// present, param and code null when they do not apply.
type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// orNull is s, or nil (null) when s is empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func writeError(w http.ResponseWriter, status int, typ, param, code, msg string) {
	writeJSON(w, status, map[string]any{"error": errorBody{Message: msg, Type: typ, Param: orNull(param), Code: orNull(code)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
