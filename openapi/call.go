package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// argumentError is a call whose arguments cannot make a request; the model
// reads it and can correct itself.
type argumentError struct{ msg string }

func (e *argumentError) Error() string { return e.msg }

func argErrorf(format string, args ...any) error {
	return &argumentError{msg: fmt.Sprintf(format, args...)}
}

// request builds the HTTP request of a call with args, a JSON object.
// headers are the configured headers, sent last so that they win over
// header parameters.
func (o *operation) request(ctx context.Context, args json.RawMessage, headers map[string]string) (*http.Request, error) {
	vals := map[string]any{}
	if a := bytes.TrimSpace(args); len(a) > 0 && string(a) != "null" {
		dec := json.NewDecoder(bytes.NewReader(a))
		dec.UseNumber()
		if err := dec.Decode(&vals); err != nil {
			return nil, argErrorf("arguments must be a JSON object: %v", err)
		}
	}
	consumed := map[string]bool{}

	path := o.path
	query := url.Values{}
	hdr := http.Header{}
	for _, p := range o.params {
		v, ok := vals[p.prop]
		consumed[p.prop] = true
		if !ok || v == nil {
			if p.required {
				return nil, argErrorf("missing required %s parameter %q", p.in, p.prop)
			}
			continue
		}
		if p.asJSON {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, argErrorf("parameter %q: %v", p.prop, err)
			}
			v = string(b)
		}
		switch p.in {
		case openapi3.ParameterInPath:
			s, err := pathValue(p, v)
			if err != nil {
				return nil, err
			}
			path = strings.ReplaceAll(path, "{"+p.name+"}", s)
		case openapi3.ParameterInQuery:
			if err := addQuery(query, p, v); err != nil {
				return nil, err
			}
		case openapi3.ParameterInHeader:
			s, err := joinValue(p, v, ",", url.QueryEscape)
			if err != nil {
				return nil, err
			}
			hdr.Set(p.name, s)
		}
	}

	var bodyBytes []byte
	if o.body != nil {
		var payload any
		if o.body.prop != "" {
			if v, ok := vals[o.body.prop]; ok {
				payload = v
			}
			consumed[o.body.prop] = true
		} else {
			obj := map[string]any{}
			for k, v := range vals {
				if !consumed[k] {
					obj[k] = v
				}
			}
			if len(obj) > 0 || o.body.required {
				payload = obj
			}
		}
		if payload == nil && o.body.required && o.body.prop != "" {
			return nil, argErrorf("missing the request body %q", o.body.prop)
		}
		if payload != nil {
			b, err := json.Marshal(payload)
			if err != nil {
				return nil, argErrorf("request body: %v", err)
			}
			bodyBytes = b
		}
	}

	u := *o.base
	// path holds escaped parameter values: keep them as they are.
	u.RawPath = strings.TrimSuffix(o.base.EscapedPath(), "/") + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, argErrorf("building the request path: %v", err)
	}
	u.Path = p
	if enc := query.Encode(); enc != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&" + enc
		} else {
			u.RawQuery = enc
		}
	}
	var rd io.Reader
	if bodyBytes != nil {
		rd = bytes.NewReader(bodyBytes)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(o.method), u.String(), rd)
	if err != nil {
		return nil, argErrorf("building the request: %v", unwrapURLError(err))
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if bodyBytes != nil {
		req.Header.Set("Content-Type", o.body.mediaType)
	}
	req.Header.Set("Accept", "application/json, */*;q=0.5")
	req.Header.Set("User-Agent", "mcp-bridge")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// scalar formats a primitive value; ok is false for arrays and objects.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64:
		b, _ := json.Marshal(x)
		return string(b), true
	case nil:
		return "", true
	}
	return "", false
}

// sortedKeys returns the keys of an object value in order, so that
// requests are deterministic.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// joinValue serialises a value in the simple style: arrays as a,b,c;
// objects as k,v,k,v or, exploded, k=v,k=v. Each part is escaped.
func joinValue(p param, v any, sep string, escape func(string) string) (string, error) {
	if s, ok := scalar(v); ok {
		return escape(s), nil
	}
	var parts []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			s, ok := scalar(e)
			if !ok {
				return "", argErrorf("parameter %q: nested arrays and objects cannot be sent in the %s", p.prop, p.in)
			}
			parts = append(parts, escape(s))
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			s, ok := scalar(x[k])
			if !ok {
				return "", argErrorf("parameter %q: nested arrays and objects cannot be sent in the %s", p.prop, p.in)
			}
			if p.explode {
				parts = append(parts, escape(k)+"="+escape(s))
			} else {
				parts = append(parts, escape(k), escape(s))
			}
		}
	}
	return strings.Join(parts, sep), nil
}

// pathValue serialises a path parameter in its style (simple, label or
// matrix), escaped for a path segment.
func pathValue(p param, v any) (string, error) {
	switch p.style {
	case openapi3.SerializationLabel:
		sep := ","
		if p.explode {
			sep = "."
		}
		s, err := joinValue(p, v, sep, url.PathEscape)
		return "." + s, err
	case openapi3.SerializationMatrix:
		if arr, ok := v.([]any); ok && p.explode {
			var b strings.Builder
			for _, e := range arr {
				s, err := joinValue(p, e, ",", url.PathEscape)
				if err != nil {
					return "", err
				}
				b.WriteString(";" + url.PathEscape(p.name) + "=" + s)
			}
			return b.String(), nil
		}
		s, err := joinValue(p, v, ",", url.PathEscape)
		return ";" + url.PathEscape(p.name) + "=" + s, err
	default:
		s, err := joinValue(p, v, ",", url.PathEscape)
		if err == nil && s == "" {
			return "", argErrorf("path parameter %q must not be empty", p.prop)
		}
		return s, err
	}
}

// addQuery adds a query parameter in its style: form (exploded: repeated
// keys, or one key per object member), spaceDelimited, pipeDelimited or
// deepObject. Values are escaped by url.Values.Encode.
func addQuery(q url.Values, p param, v any) error {
	if s, ok := scalar(v); ok {
		q.Add(p.name, s)
		return nil
	}
	ident := func(s string) string { return s }
	switch x := v.(type) {
	case []any:
		switch {
		case p.style == openapi3.SerializationForm && p.explode:
			for _, e := range x {
				s, ok := scalar(e)
				if !ok {
					return argErrorf("parameter %q: nested arrays and objects cannot be sent in the query", p.prop)
				}
				q.Add(p.name, s)
			}
			return nil
		case p.style == openapi3.SerializationSpaceDelimited:
			s, err := joinValue(p, v, " ", ident)
			q.Add(p.name, s)
			return err
		case p.style == openapi3.SerializationPipeDelimited:
			s, err := joinValue(p, v, "|", ident)
			q.Add(p.name, s)
			return err
		default:
			s, err := joinValue(p, v, ",", ident)
			q.Add(p.name, s)
			return err
		}
	case map[string]any:
		switch {
		case p.style == openapi3.SerializationDeepObject:
			for _, k := range sortedKeys(x) {
				s, ok := scalar(x[k])
				if !ok {
					return argErrorf("parameter %q: nested arrays and objects cannot be sent in the query", p.prop)
				}
				q.Add(p.name+"["+k+"]", s)
			}
			return nil
		case p.explode:
			for _, k := range sortedKeys(x) {
				s, ok := scalar(x[k])
				if !ok {
					return argErrorf("parameter %q: nested arrays and objects cannot be sent in the query", p.prop)
				}
				q.Add(k, s)
			}
			return nil
		default:
			s, err := joinValue(p, v, ",", ident)
			q.Add(p.name, s)
			return err
		}
	}
	return argErrorf("parameter %q: unsupported value", p.prop)
}

// callResult runs the request and converts the response into a tool
// result: a first line with the status, then the body (JSON or text, cut
// at max bytes with a note; binary bodies described). A JSON object body of
// a successful response is also the structured content. Statuses other
// than 2xx, and requests that fail, are tool errors.
func callResult(client *http.Client, req *http.Request, max int) *mcp.CallToolResult {
	resp, err := client.Do(req)
	if err != nil {
		cause := unwrapURLError(err)
		if errors.Is(err, context.DeadlineExceeded) {
			cause = errors.New("timed out")
		}
		return errorResult(fmt.Sprintf("request failed: %s %s: %v", req.Method, mcpclient.RedactURL(req.URL), cause))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return errorResult(fmt.Sprintf("reading the response of %s %s: %v", req.Method, mcpclient.RedactURL(req.URL), unwrapURLError(err)))
	}
	truncated := len(data) > max
	if truncated {
		cut := max
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
		data = data[:cut]
	}
	ok := resp.StatusCode/100 == 2
	status := "HTTP " + resp.Status
	if !strings.HasPrefix(resp.Status, fmt.Sprint(resp.StatusCode)) {
		status = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}

	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	text := status
	res := &mcp.CallToolResult{IsError: !ok}
	switch {
	case len(data) == 0:
	case isTextual(ct, data):
		text += "\n" + string(data)
		if isJSONType(ct) && ok && !truncated && json.Valid(data) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			res.StructuredContent = json.RawMessage(bytes.TrimSpace(data))
		}
	default:
		text += fmt.Sprintf("\n[binary response: %s, %d bytes]", orUnknown(ct), len(data))
		truncated = false
	}
	if truncated {
		text += fmt.Sprintf("\n[response truncated: only the first %d bytes are shown]", len(data))
	}
	res.Content = []mcp.Content{&mcp.TextContent{Text: text}}
	return res
}

func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
}

func isJSONType(ct string) bool {
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// isTextual reports whether a body of content type ct can be shown as text.
func isTextual(ct string, data []byte) bool {
	switch {
	case strings.HasPrefix(ct, "text/"), isJSONType(ct), strings.HasSuffix(ct, "+xml"),
		ct == "application/xml", ct == "application/yaml", ct == "application/x-yaml",
		ct == "application/javascript", ct == "application/x-www-form-urlencoded":
		return true
	case ct == "" || ct == "application/octet-stream":
		return utf8.Valid(data) && !bytes.ContainsRune(data, 0)
	}
	return false
}

func orUnknown(ct string) string {
	if ct == "" {
		return "unknown type"
	}
	return ct
}
